//! PERF-01: nominal load at a constant rate for a duration (or a record count).

use kscen_sdk::kafka::KeyMode;
use kscen_sdk::mm2;
use kscen_sdk::prelude::*;

struct Steady;

impl Scenario for Steady {
    fn describe() -> ScenarioInfo {
        Describe::new(
            "steady",
            "Constant rate for a duration or a record count (PERF-01 nominal load)",
        )
        .description(
            "Produces to `topic` on the `source` cluster at `rate` records/s with records of \
                 `record_size` bytes, for `duration` — or for `count` records when count > 0, like \
                 kafka-producer-perf-test --num-records. One phase, named `nominal`. Where the \
                 environment has a `target` cluster and a mirror, every record is followed across \
                 it (replicated latency, lag, lost and duplicates); elsewhere it runs producer-only \
                 and says so.",
        )
        .param(spec::text("topic", "test-mm2-perf", "topic to produce to"))
        .param(spec::float(
            "rate",
            1000.0,
            "records per second; 0 = unthrottled",
        ))
        .param(spec::size("record_size", "1024", "record value size"))
        .param(spec::duration(
            "duration",
            "1h",
            "how long to produce (scaled by time_scale)",
        ))
        .param(spec::int(
            "count",
            0,
            "records to produce; 0 = use duration",
        ))
        .param(spec::int(
            "partitions",
            6,
            "partitions when the topic is created",
        ))
        .param(spec::flag(
            "keys",
            false,
            "send a sequential key with every record",
        ))
        .cluster("source")
        .apply(mm2::follow_when_mirrored)
        .build()
    }

    fn run() -> Result<(), ScenarioError> {
        let topic = param::text("topic")?;
        let rate = param::float("rate")?;
        let count = param::int("count")?;
        create_topic("source", &topic, param::int("partitions")? as u32)?;
        let mirror = mm2::mirror_to_follow(&topic)?;

        let mut load = Load::to("source", &topic).record_size(param::size("record_size")? as u32);
        load = if rate > 0.0 {
            load.rate(rate)
        } else {
            load.unthrottled()
        };
        load = if count > 0 {
            load.count(count as u64)
        } else {
            load.duration(param::duration("duration")?)
        };
        if param::flag("keys")? {
            load = load.keys(KeyMode::Sequential);
        }
        let load = mm2::followed(load, mirror.as_ref())?;
        let shard = kscen_sdk::shard();
        if shard.count > 1 {
            info(&format!(
                "shard {}/{}: every {}th record of the schedule, from record {}",
                shard.index, shard.count, shard.count, shard.index
            ));
        }
        phase("nominal");
        let load = load.start()?;
        load.wait()?;
        // Stopping waits for the last records on the target, when they are followed there.
        let status = load.stop();
        end_phase();
        mm2::record_verdict(&status);
        if status.failed > 0 {
            warn(&format!(
                "{} records failed; last error: {}",
                status.failed,
                status.last_error.unwrap_or_default()
            ));
        }
        Ok(())
    }
}

kscen_sdk::export_scenario!(Steady);
