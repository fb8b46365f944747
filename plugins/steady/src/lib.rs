//! PERF-01: nominal load at a constant rate for a duration (or a record count).

use kscen_sdk::kafka::KeyMode;
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
                 kafka-producer-perf-test --num-records. One phase, named `nominal`.",
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
        .build()
    }

    fn run() -> Result<(), ScenarioError> {
        let topic = param::text("topic")?;
        let rate = param::float("rate")?;
        let count = param::int("count")?;
        create_topic("source", &topic, param::int("partitions")? as u32)?;

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
        phase("nominal");
        let status = load.start()?.wait()?;
        end_phase();
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
