//! PERF-02: steps of increasing rate (1×, 1.5×, 2×, 2.5×, 3× nominal, then unthrottled), each its
//! own phase, stopping early when p99 or the backlog shows the system has given up.

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
                 The run stops early when the step's corrected p99 exceeds `max_p99` or the backlog \
                 (records due but not acknowledged) exceeds `max_backlog` — the seeds' stop \
                 conditions (p99 > 10 s, lag > 1M records).",
            )
            .param(spec::text("topic", "test-mm2-perf", "topic to produce to"))
            .param(spec::float("nominal_rate", 1000.0, "nominal records per second"))
            .param(spec::float_list("multipliers", &[1.0, 1.5, 2.0, 2.5, 3.0], "rate steps, × nominal_rate"))
            .param(spec::flag("unthrottled_step", true, "end with a step at maximum throughput"))
            .param(spec::duration("step_duration", "10m", "duration of each step"))
            .param(spec::size("record_size", "1024", "record value size"))
            .param(spec::int("max_p99_ms", 10_000, "stop when a step's corrected p99 exceeds this many ms"))
            .param(spec::int("max_backlog", 1_000_000, "stop when this many records are due but unacknowledged"))
            .param(spec::int("partitions", 6, "partitions when the topic is created"))
            .cluster("source")
            .build()
    }

    fn run() -> Result<(), ScenarioError> {
        let topic = param::text("topic")?;
        let nominal = param::float("nominal_rate")?;
        let step_duration = param::duration("step_duration")?;
        let max_p99_us = param::int("max_p99_ms")? as u64 * 1000;
        let max_backlog = param::int("max_backlog")? as u64;
        create_topic("source", &topic, param::int("partitions")? as u32)?;

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
        let load = load.start()?;

        for (index, step) in steps.iter().enumerate() {
            let name = step_name(index);
            if index > 0 {
                phase(&name);
                match step {
                    Some(multiplier) => load.set_rate(multiplier * nominal)?,
                    None => load.unthrottle()?,
                }
            }
            if let Some(reason) = hold_step(&load, step_duration, max_p99_us, max_backlog) {
                event("stop-condition", &format!("{name}: {reason}"));
                warn(&format!("stopping the ramp-up in {name}: {reason}"));
                break;
            }
        }
        load.stop();
        end_phase();
        Ok(())
    }
}

/// Keeps the step running for `duration`; returns why it had to stop early, if it did.
fn hold_step(load: &Load, duration: Duration, max_p99_us: u64, max_backlog: u64) -> Option<String> {
    let end = monotonic_now() + duration;
    loop {
        let now = monotonic_now();
        if now >= end {
            return None;
        }
        sleep((end - now).min(CHECK_EVERY));
        let status = load.status();
        if status.corrected_p99_us > max_p99_us {
            return Some(format!(
                "corrected p99 {} ms > {} ms",
                status.corrected_p99_us / 1000,
                max_p99_us / 1000
            ));
        }
        if status.backlog > max_backlog {
            return Some(format!(
                "backlog {} records > {max_backlog}",
                status.backlog
            ));
        }
    }
}

kscen_sdk::export_scenario!(RampUp);
