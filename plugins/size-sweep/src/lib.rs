//! PERF-05: record sizes from 100 B to 1 MiB at a constant MB/s, one phase per size.

use kscen_sdk::prelude::*;

struct SizeSweep;

const MIB: f64 = 1024.0 * 1024.0;

impl Scenario for SizeSweep {
    fn describe() -> ScenarioInfo {
        Describe::new("size-sweep", "Record sizes 100 B..1 MiB at a constant MB/s, one phase per size (PERF-05)")
            .description(
                "For each of `sizes`, produces at `target_mib_per_s` (records/s = MiB/s × 1 MiB ÷ size, \
                 as the seed script computes it) for `step_duration`, then rests `pause` for the \
                 system to settle. Phases: size-100B, size-1024B, ...",
            )
            .param(spec::text("topic", "test-mm2-large", "topic to produce to"))
            .param(spec::size_list("sizes", &[100, 1024, 10_240, 102_400, 1_048_576], "record sizes to sweep"))
            .param(spec::float("target_mib_per_s", 10.0, "constant throughput in MiB/s"))
            .param(spec::duration("step_duration", "15m", "duration of each size"))
            .param(spec::duration("pause", "60s", "rest between sizes"))
            .param(spec::int("partitions", 6, "partitions when the topic is created"))
            .cluster("source")
            .build()
    }

    fn run() -> Result<(), ScenarioError> {
        let topic = param::text("topic")?;
        let sizes = param::size_list("sizes")?;
        let mib_per_s = param::float("target_mib_per_s")?;
        let step_duration = param::duration("step_duration")?;
        let pause = param::duration("pause")?;
        create_topic("source", &topic, param::int("partitions")? as u32)?;

        let largest = sizes.iter().copied().max().unwrap_or(0);
        // librdkafka refuses records above message.max.bytes (1 MB by default): leave room.
        let max_bytes = (largest + 64 * 1024).max(1_000_000).to_string();
        for (index, size) in sizes.iter().copied().enumerate() {
            let rate = (mib_per_s * MIB / size as f64).floor().max(1.0);
            phase(&format!("size-{size}B"));
            let load = Load::to("source", &topic)
                .rate(rate)
                .record_size(size as u32)
                .duration(step_duration)
                .producer("message.max.bytes", &max_bytes)
                .start()?;
            load.wait()?;
            end_phase();
            if index + 1 < sizes.len() {
                sleep(pause);
            }
        }
        Ok(())
    }
}

kscen_sdk::export_scenario!(SizeSweep);
