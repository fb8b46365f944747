//! Resilience test 5.4: make a MirrorMaker 2 source task fail for real under load — a record larger
//! than the workers' producers may send (a "poison" record: the source topic accepts it, the
//! mirror cannot write it) — then observe FAILED, try a plain restart, fix the configuration
//! through the REST API and measure the recovery.

use kscen_sdk::connect::{self, ConnectorStatus, State};
use kscen_sdk::mm2::{self, ConnectorRole};
use kscen_sdk::prelude::*;

struct TaskFailure;

/// Larger than the Java producer's default max.request.size (1 MiB).
const POISON_BYTES: u32 = 2 * 1024 * 1024;

/// Defaults of the tracked load every MM2 scenario shares.
const TRACKED: mm2::TrackedLoadDefaults = mm2::TrackedLoadDefaults {
    topic: "test-mm2-perf",
    rate: 500.0,
    partitions: 4,
    grace: "60s",
};

impl Scenario for TaskFailure {
    fn describe() -> ScenarioInfo {
        Describe::new("task-failure", "Fail a MM2 source task with a poison record, then recover it (5.4)")
            .description(
                "Tracked load on a source topic that accepts records up to 4 MiB. One 2 MiB record is \
                 produced: the mirror's producer refuses it (max.request.size 1 MiB) and the task that \
                 reads it fails for real. Measured: time until a task is FAILED (`failed_ms`), whether \
                 a plain restart helps (`restart_refailed`), and after the fix — \
                 `producer.override.max.request.size` set through PUT config — the time until every \
                 task runs again (`recovery_ms`) and the target has caught up (`catch_up_ms`).",
            )
            .param(spec::duration("warmup", "20s", "steady load before the poison record"))
            .param(spec::duration("timeout", "3m", "longest wait for each stage"))
            .param(spec::duration(
                "hold",
                "0s",
                "how long the task stays failed after the plain restart before the fix, as an \
                 on-call team takes to react: long enough for an alert rule's `for` to fire it",
            ))
            .param(spec::duration(
                "offset_flush",
                "70s",
                "wait before restoring the config: more than the workers' offset.flush.interval.ms",
            ))
            .param(spec::int("caught_up_lag", 1000, "lag (records) under which the target has caught up"))
            .apply(|d| mm2::tracked_load_params(d, TRACKED))
        .cluster("source")
            .cluster("target")
            .connect()
            .build()
    }

    fn run() -> Result<(), ScenarioError> {
        let timeout = param::duration("timeout")?;
        let poll = Duration::from_millis(100);
        let mirror = mm2::mirror()?;
        let connectors = mirror.connector_names();
        let source = mirror.connector_name(ConnectorRole::Source)?;
        let original = connect::get_config(&source)?;

        phase("before");
        let max_bytes = [(
            "max.message.bytes".to_string(),
            (4 * 1024 * 1024).to_string(),
        )];
        let (load, topic) = mm2::start_tracked_load(&max_bytes)?;
        sleep(param::duration("warmup")?);

        phase("poison");
        let poisoned_at = monotonic_now();
        Load::to("source", &topic)
            .count(1)
            .record_size(POISON_BYTES)
            .producer("message.max.bytes", &(POISON_BYTES * 2).to_string())
            .start()?
            .wait()?;
        event(
            "poison",
            &format!("one {POISON_BYTES}-byte record produced to {topic}"),
        );
        let any_failed = |s: &[ConnectorStatus]| !mm2::failed_tasks(s).is_empty();
        let failed = mm2::wait_until(timeout, poll, || {
            Ok(any_failed(&mm2::statuses(&[&source])?))
        })?;
        let Some(failed) = failed else {
            return Err("no task failed: did the mirror replicate the 2 MiB record?".into());
        };
        figure("failed_ms", failed.as_secs_f64() * 1000.0, "ms");
        for status in mm2::statuses(&[&source])? {
            for task in status.tasks.iter().filter(|t| t.state == State::Failed) {
                let first_line = task
                    .trace
                    .as_deref()
                    .unwrap_or("")
                    .lines()
                    .next()
                    .unwrap_or("")
                    .to_string();
                event(
                    "task-failed",
                    &format!("{}/{}: {first_line}", status.name, task.id),
                );
            }
        }

        phase("plain-restart");
        connect::restart(&source, true, true)?;
        let refailed = mm2::wait_until(Duration::from_secs(30), poll, || {
            let statuses = mm2::statuses(&[&source])?;
            Ok(any_failed(&statuses)
                && !statuses
                    .iter()
                    .any(|s| s.tasks.iter().any(|t| t.state == State::Restarting)))
        })?;
        figure(
            "restart_refailed",
            if refailed.is_some() { 1.0 } else { 0.0 },
            "",
        );
        let hold = param::duration("hold")?;
        if !hold.is_zero() {
            phase("hold");
            sleep(hold);
        }

        phase("fix");
        let fixed_at = monotonic_now();
        let mut fixed = original.clone();
        fixed.retain(|(k, _)| k != "producer.override.max.request.size");
        fixed.push((
            "producer.override.max.request.size".into(),
            (POISON_BYTES * 2).to_string(),
        ));
        connect::put_config(&source, &fixed)?;
        connect::restart(&source, true, true)?;
        let recovered = mm2::wait_healthy(&connectors, timeout, poll)?;
        if recovered.is_some() {
            figure(
                "recovery_ms",
                (monotonic_now() - fixed_at).as_secs_f64() * 1000.0,
                "ms",
            );
        }
        let caught_up_lag = param::int("caught_up_lag")? as u64;
        if mm2::wait_until(timeout, poll, || {
            Ok(load
                .status()
                .replication
                .is_some_and(|r| r.lag_records <= caught_up_lag))
        })?
        .is_some()
        {
            figure(
                "catch_up_ms",
                (monotonic_now() - poisoned_at).as_secs_f64() * 1000.0,
                "ms",
            );
        }

        // The original config cannot copy the poison record again: wait until the tasks have
        // committed past it before restoring, or they would fail on it once more.
        phase("restore");
        sleep(param::duration("offset_flush")?);
        connect::put_config(&source, &original)?;
        mm2::wait_healthy(&connectors, timeout, poll)?;
        mm2::finish_tracked_load(load);
        Ok(())
    }
}

kscen_sdk::export_scenario!(TaskFailure);
