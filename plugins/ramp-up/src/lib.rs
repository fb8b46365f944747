//! PERF-02: steps of increasing rate (1×, 1.5×, 2×, 2.5×, 3× nominal, then unthrottled), each its
//! own phase, stopping early when p99, the producer's backlog or, through a mirror, the
//! replication lag shows the system has given up.

use kscen_sdk::kafka::LoadStatus;
use kscen_sdk::mm2;
use kscen_sdk::prelude::*;

struct RampUp;

/// How often the stop conditions are checked within a step.
const CHECK_EVERY: Duration = Duration::from_secs(1);

impl Scenario for RampUp {
    fn describe() -> ScenarioInfo {
        Describe::new("ramp-up", "Rate steps from nominal to unthrottled, one phase per step (PERF-02)")
            .description(
                "One load job steps through `multipliers` × `nominal_rate`, each step lasting \
                 `step_duration`, then (with `unthrottled_step`) a last step with no rate limit. \
                 The run stops early when the step's corrected p99 exceeds `max_p99_ms` or the \
                 producer's backlog (records due but not acknowledged) exceeds `max_backlog`. Where \
                 the environment has a `target` cluster and a mirror, every record is followed \
                 across it, and the ramp also stops when the replication lag exceeds \
                 `max_lag_records` or its oldest record waits more than `max_lag_s` — the seeds' \
                 stop conditions (p99 > 10 s, lag > 1M records). The limit that stopped it is an \
                 event and the figure `stopped_by` (0 none, 1 p99, 2 backlog, 3 lag records, \
                 4 lag time); each step's largest lag is a figure (`step-N.lag_records_max`, \
                 `step-N.lag_ms_max`). Elsewhere it runs producer-only \
                 and says so.",
            )
            .param(spec::text("topic", "test-mm2-perf", "topic to produce to"))
            .param(spec::float("nominal_rate", 1000.0, "nominal records per second"))
            .param(spec::float_list("multipliers", &[1.0, 1.5, 2.0, 2.5, 3.0], "rate steps, × nominal_rate"))
            .param(spec::flag("unthrottled_step", true, "end with a step at maximum throughput"))
            .param(spec::duration("step_duration", "10m", "duration of each step"))
            .param(spec::size("record_size", "1024", "record value size"))
            .param(spec::int("max_p99_ms", 10_000, "stop when a step's corrected p99 exceeds this many ms"))
            .param(spec::int("max_backlog", 1_000_000, "stop when this many records are due but unacknowledged"))
            .param(spec::int("max_lag_records", 1_000_000, "through a mirror: stop when this many records are not on the target yet"))
            .param(spec::int("max_lag_s", 300, "through a mirror: stop when a record has waited this many seconds for the target"))
            .param(spec::int("partitions", 6, "partitions when the topic is created"))
            .cluster("source")
            .apply(mm2::follow_when_mirrored)
            .build()
    }

    fn run() -> Result<(), ScenarioError> {
        let topic = param::text("topic")?;
        let nominal = param::float("nominal_rate")?;
        let step_duration = param::duration("step_duration")?;
        let limits = Limits {
            p99_us: param::int("max_p99_ms")? as u64 * 1000,
            backlog: param::int("max_backlog")? as u64,
            lag_records: param::int("max_lag_records")? as u64,
            lag_ms: param::int("max_lag_s")? as u64 * 1000,
        };
        create_topic("source", &topic, param::int("partitions")? as u32)?;
        let mirror = mm2::mirror_to_follow(&topic)?;

        let mut steps: Vec<Option<f64>> = param::float_list("multipliers")?
            .into_iter()
            .map(Some)
            .collect();
        if param::flag("unthrottled_step")? {
            steps.push(None);
        }
        let step_name = |index: usize| match steps[index] {
            Some(multiplier) => format!("step-{} {multiplier}x", index + 1),
            None => format!("step-{} max", index + 1),
        };
        // The first phase opens before the load starts, so every record belongs to a step.
        phase(&step_name(0));
        let mut load = Load::to("source", &topic).record_size(param::size("record_size")? as u32);
        load = match steps.first().copied().flatten() {
            Some(multiplier) => load.rate(multiplier * nominal),
            None => load.unthrottled(),
        };
        let load = mm2::followed(load, mirror.as_ref())?.start()?;

        let mut stopped_by = None;
        for (index, step) in steps.iter().enumerate() {
            let name = step_name(index);
            if index > 0 {
                phase(&name);
                match step {
                    Some(multiplier) => load.set_rate(multiplier * nominal)?,
                    None => load.unthrottle()?,
                }
            }
            let held = hold_step(&load, step_duration, &limits);
            if let Some(lag) = held.largest_lag {
                let step = index + 1;
                figure(
                    &format!("step-{step}.lag_records_max"),
                    lag.records as f64,
                    "records",
                );
                figure(&format!("step-{step}.lag_ms_max"), lag.ms as f64, "ms");
            }
            if let Some((limit, reason)) = held.stopped_by {
                event("stop-condition", &format!("{name}: {reason}"));
                warn(&format!("stopping the ramp-up in {name}: {reason}"));
                stopped_by = Some(limit);
                break;
            }
        }
        figure(
            "stopped_by",
            stopped_by.map_or(0.0, |limit| limit as u8 as f64),
            "",
        );
        let status = load.stop();
        end_phase();
        mm2::record_verdict(&status);
        Ok(())
    }
}

/// The stop conditions.
struct Limits {
    p99_us: u64,
    backlog: u64,
    lag_records: u64,
    lag_ms: u64,
}

/// Which limit stopped the ramp; its number is the figure `stopped_by`.
#[derive(Clone, Copy)]
enum Limit {
    P99 = 1,
    Backlog = 2,
    LagRecords = 3,
    LagTime = 4,
}

#[derive(Default, Clone, Copy)]
struct Lag {
    records: u64,
    ms: u64,
}

/// How a step went: its largest replication lag (when followed), and the limit that ended it
/// early, with why.
struct Held {
    largest_lag: Option<Lag>,
    stopped_by: Option<(Limit, String)>,
}

/// Keeps the step running for `duration`, checking the limits every second.
fn hold_step(load: &Load, duration: Duration, limits: &Limits) -> Held {
    let end = monotonic_now() + duration;
    let mut held = Held {
        largest_lag: None,
        stopped_by: None,
    };
    loop {
        let now = monotonic_now();
        if now >= end {
            return held;
        }
        sleep((end - now).min(CHECK_EVERY));
        let status = load.status();
        if let Some(replication) = &status.replication {
            let largest = held.largest_lag.get_or_insert_with(Lag::default);
            largest.records = largest.records.max(replication.lag_records);
            largest.ms = largest.ms.max(replication.lag_ms);
        }
        held.stopped_by = exceeded(&status, limits);
        if held.stopped_by.is_some() {
            return held;
        }
    }
}

/// The first limit `status` exceeds, with the figures that show it.
fn exceeded(status: &LoadStatus, limits: &Limits) -> Option<(Limit, String)> {
    if status.corrected_p99_us > limits.p99_us {
        return Some((
            Limit::P99,
            format!(
                "corrected p99 {} ms > {} ms",
                status.corrected_p99_us / 1000,
                limits.p99_us / 1000
            ),
        ));
    }
    if status.backlog > limits.backlog {
        return Some((
            Limit::Backlog,
            format!(
                "producer backlog {} records > {}",
                status.backlog, limits.backlog
            ),
        ));
    }
    let replication = status.replication.as_ref()?;
    if replication.lag_records > limits.lag_records {
        return Some((
            Limit::LagRecords,
            format!(
                "replication lag {} records > {}",
                replication.lag_records, limits.lag_records
            ),
        ));
    }
    if replication.lag_ms > limits.lag_ms {
        return Some((
            Limit::LagTime,
            format!(
                "replication lag {} s > {} s",
                replication.lag_ms / 1000,
                limits.lag_ms / 1000
            ),
        ));
    }
    None
}

kscen_sdk::export_scenario!(RampUp);
