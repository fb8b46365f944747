//! PERF-06: end-to-end replication latency across the mirror, on one clock — first at a low
//! fixed rate (the seed sends one record a second), then under the nominal load.

use kscen_sdk::mm2;
use kscen_sdk::prelude::*;

struct E2eLatency;

impl Scenario for E2eLatency {
    fn describe() -> ScenarioInfo {
        Describe::new(
            "e2e-latency",
            "Replicated latency source → target at a low fixed rate and under load (PERF-06)",
        )
        .description(
            "Produces to `topic` on `source` and follows every record to the remote topic on \
             `target` (default `<source alias>.<topic>`). Replicated latency is measured from each \
             record's intended send time to its arrival on the target, on the host's one \
             monotonic clock — no CreateTime, no clock skew. Phases: `low-rate` then `under-load`; \
             each record's verdict (lost, duplicated, out of order) is in the result.",
        )
        .param(spec::text("topic", "test-mm2-latency", "source topic"))
        .param(spec::text(
            "remote_topic",
            "",
            "remote topic on target; empty = <source alias>.<topic>",
        ))
        .param(spec::float(
            "low_rate",
            1.0,
            "records per second in the low-rate phase",
        ))
        .param(spec::duration(
            "low_duration",
            "1000s",
            "length of the low-rate phase (the seed: 1000 records, 1 s apart)",
        ))
        .param(spec::float(
            "load_rate",
            1000.0,
            "records per second in the under-load phase; 0 = skip it",
        ))
        .param(spec::duration(
            "load_duration",
            "10m",
            "length of the under-load phase",
        ))
        .param(spec::size(
            "record_size",
            "1024",
            "record value size (at least 32 bytes)",
        ))
        .param(spec::int(
            "partitions",
            6,
            "partitions of a fresh source topic named after `topic`; 0 = use `topic` as it is",
        ))
        .param(spec::duration(
            "grace",
            "60s",
            "a record not on target this long after its ack is lost",
        ))
        .cluster("source")
        .cluster("target")
        .build()
    }

    fn run() -> Result<(), ScenarioError> {
        let remote_topic = param::text("remote_topic")?;
        let load_rate = param::float("load_rate")?;
        let partitions = param::int("partitions")?;
        // A topic of our own (fresh, so no earlier run's records mix in) unless told to reuse one.
        let topic = if partitions > 0 {
            let topic = mm2::fresh_topic()?;
            create_topic("source", &topic, partitions as u32)?;
            topic
        } else {
            param::text("topic")?
        };

        // Until the mirror has discovered the topic, latency says nothing about replication.
        phase("discovery");
        let mut load = Load::to("source", &topic)
            .rate(param::float("low_rate")?)
            .record_size(param::size("record_size")? as u32)
            .replicate_to("target")
            .grace(param::duration("grace")?);
        if !remote_topic.is_empty() {
            load = load.remote_topic(&remote_topic);
        }
        let load = load.start()?;
        mm2::wait_first_replicated(&load, Duration::from_secs(120))?;
        phase("low-rate");
        sleep(param::duration("low_duration")?);
        if load_rate > 0.0 {
            phase("under-load");
            load.set_rate(load_rate)?;
            sleep(param::duration("load_duration")?);
        }
        // Stopping waits for the last records to reach the target (or their grace to pass).
        let status = load.stop();
        end_phase();
        if let Some(verdict) = status.replication {
            info(&format!(
                "replicated {} records: lost {}, duplicates {}, out of order {}",
                verdict.replicated, verdict.lost, verdict.duplicates, verdict.out_of_order
            ));
        }
        Ok(())
    }
}

kscen_sdk::export_scenario!(E2eLatency);
