//! PERF-03: bursts at the burst rate alternating with pauses at the nominal rate, N cycles.

use kscen_sdk::prelude::*;

struct Burst;

impl Scenario for Burst {
    fn describe() -> ScenarioInfo {
        Describe::new(
            "burst",
            "Bursts at burst_rate alternating with nominal pauses, N cycles (PERF-03)",
        )
        .description(
            "One load job alternates `burst_duration` at `burst_rate` with `pause_duration` at \
                 `nominal_rate`, `cycles` times. Phases: burst-1, pause-1, burst-2, ...",
        )
        .param(spec::text("topic", "test-mm2-perf", "topic to produce to"))
        .param(spec::float(
            "nominal_rate",
            1000.0,
            "records per second between bursts",
        ))
        .param(spec::float(
            "burst_rate",
            3000.0,
            "records per second during a burst",
        ))
        .param(spec::duration(
            "burst_duration",
            "5m",
            "length of each burst",
        ))
        .param(spec::duration(
            "pause_duration",
            "5m",
            "length of each nominal pause",
        ))
        .param(spec::int("cycles", 3, "number of burst + pause cycles"))
        .param(spec::size("record_size", "1024", "record value size"))
        .param(spec::int(
            "partitions",
            6,
            "partitions when the topic is created",
        ))
        .cluster("source")
        .build()
    }

    fn run() -> Result<(), ScenarioError> {
        let topic = param::text("topic")?;
        let nominal = param::float("nominal_rate")?;
        let burst = param::float("burst_rate")?;
        let burst_duration = param::duration("burst_duration")?;
        let pause_duration = param::duration("pause_duration")?;
        let cycles = param::int("cycles")?;
        if cycles < 1 {
            return Err("cycles must be at least 1".into());
        }
        create_topic("source", &topic, param::int("partitions")? as u32)?;

        phase("burst-1");
        let load = Load::to("source", &topic)
            .rate(burst)
            .record_size(param::size("record_size")? as u32)
            .start()?;
        for cycle in 1..=cycles {
            if cycle > 1 {
                phase(&format!("burst-{cycle}"));
                load.set_rate(burst)?;
            }
            sleep(burst_duration);
            phase(&format!("pause-{cycle}"));
            load.set_rate(nominal)?;
            sleep(pause_duration);
        }
        load.stop();
        end_phase();
        Ok(())
    }
}

kscen_sdk::export_scenario!(Burst);
