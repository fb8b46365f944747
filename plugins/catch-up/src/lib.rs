//! PERF-07: pause the MirrorMaker 2 connectors, build a backlog of N records, resume, and
//! measure the time until the target has caught up and the drain rate.

use kscen_sdk::connect::{self, State};
use kscen_sdk::mm2;
use kscen_sdk::prelude::*;

struct CatchUp;

impl Scenario for CatchUp {
    fn describe() -> ScenarioInfo {
        Describe::new("catch-up", "Pause MM2, create a backlog, resume, time the catch-up (PERF-07)")
            .description(
                "Waits until MirrorMaker 2 replicates `topic`, pauses the mirror's MM2 connectors (found by class, whatever their names), \
                 produces `backlog` records as fast as possible (every record tracked), resumes the \
                 connectors and measures the time until every backlog record is on the target \
                 (`catch_up_ms`) and the drain rate (`drain_rate`, records/s).",
            )
            .param(spec::text("topic", "test-mm2-perf", "source topic (a fresh suffix is added per run)"))
            .param(spec::int("backlog", 100_000, "records produced while MM2 is paused"))
            .param(spec::size("record_size", "1024", "record value size"))
            .param(spec::int("partitions", 8, "partitions of the source topic"))
            .param(spec::duration("timeout", "1h", "longest wait for the catch-up"))
            .param(spec::duration("grace", "60s", "a record not on target this long after its ack is lost"))
            .cluster("source")
            .cluster("target")
            .connect()
            .build()
    }

    fn run() -> Result<(), ScenarioError> {
        let topic = format!(
            "{}-{}",
            param::text("topic")?,
            kscen_sdk::clock::wall_now_ms()
        );
        let size = param::size("record_size")? as u32;
        let grace = param::duration("grace")?;
        create_topic("source", &topic, param::int("partitions")? as u32)?;
        let connectors = mm2::mirror()?.connector_names();

        phase("discovery");
        let probe = Load::to("source", &topic)
            .rate(20.0)
            .record_size(size)
            .replicate_to("target")
            .grace(grace)
            .start()?;
        mm2::wait_first_replicated(&probe, Duration::from_secs(120))?;
        probe.stop();

        phase("backlog");
        for connector in &connectors {
            connect::pause(connector)?;
        }
        let paused = mm2::wait_until(Duration::from_secs(60), Duration::from_millis(200), || {
            Ok(mm2::statuses(&connectors)?
                .iter()
                .all(|s| s.state == State::Paused))
        })?;
        event("mirror", &format!("connectors paused after {paused:?}"));
        let backlog = param::int("backlog")? as u64;
        let started = monotonic_now();
        let load = Load::to("source", &topic)
            .unthrottled()
            .count(backlog)
            .record_size(size)
            .replicate_to("target")
            .grace(grace)
            .start()?;
        wait_for_acks(&load, backlog)?;
        figure(
            "backlog_produce_ms",
            (monotonic_now() - started).as_secs_f64() * 1000.0,
            "ms",
        );

        phase("catch-up");
        let resumed = monotonic_now();
        for connector in &connectors {
            connect::resume(connector)?;
        }
        let caught_up = mm2::wait_until(
            param::duration("timeout")?,
            Duration::from_millis(100),
            || {
                Ok(load
                    .status()
                    .replication
                    .is_some_and(|r| r.replicated >= backlog))
            },
        )?;
        match caught_up {
            Some(_) => {
                let seconds = (monotonic_now() - resumed).as_secs_f64();
                figure("catch_up_ms", seconds * 1000.0, "ms");
                figure("drain_rate", backlog as f64 / seconds, "records/s");
            }
            None => warn("the target did not catch up within the timeout"),
        }
        let status = load.wait()?;
        end_phase();
        if let Some(verdict) = status.replication {
            figure("lost", verdict.lost as f64, "records");
            figure("duplicates", verdict.duplicates as f64, "records");
        }
        Ok(())
    }
}

/// A count-bounded load finishes by itself; wait for it without its replication grace.
fn wait_for_acks(load: &Load, count: u64) -> Result<(), ScenarioError> {
    mm2::wait_until(
        Duration::from_secs(3600),
        Duration::from_millis(100),
        || {
            let status = load.status();
            Ok(status.acked + status.failed >= count)
        },
    )?;
    Ok(())
}

kscen_sdk::export_scenario!(CatchUp);
