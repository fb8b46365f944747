//! PERF-05: record sizes from 100 B to 1 MiB at a constant MB/s, one phase per size; through a
//! mirror, what it delivered of each size, and a size it cannot carry named with its reason.

use kscen_sdk::mm2::{self, ConnectorRole, Mirror};
use kscen_sdk::prelude::*;
use kscen_sdk::types::Error as HostError;

struct SizeSweep;

const MIB: f64 = 1024.0 * 1024.0;
/// How often a size's last records are looked for on the target, and the mirror's tasks checked.
const POLL: Duration = Duration::from_secs(1);

impl Scenario for SizeSweep {
    fn describe() -> ScenarioInfo {
        Describe::new("size-sweep", "Record sizes 100 B..1 MiB at a constant MB/s, one phase per size (PERF-05)")
            .description(
                "For each of `sizes`, produces at `target_mib_per_s` (records/s = MiB/s × 1 MiB ÷ size, \
                 as the seed script computes it) for `step_duration`, then rests `pause` for the \
                 system to settle. Phases: size-100B, size-1024B, ... Where the environment has a \
                 `target` cluster and a mirror, every record is followed across it: per size, the \
                 figures `size-NB.replicated` and `size-NB.lost` say what the mirror delivered, and \
                 a size whose records stop at a failed mirror task (MirrorMaker 2's producer refuses \
                 records above its `max.request.size`, 1 MiB by default) fails the run with the \
                 task's reason. Elsewhere it runs producer-only and says so.",
            )
            .param(spec::text("topic", "test-mm2-large", "topic to produce to"))
            .param(spec::size_list("sizes", &[100, 1024, 10_240, 102_400, 1_048_576], "record sizes to sweep"))
            .param(spec::float("target_mib_per_s", 10.0, "constant throughput in MiB/s"))
            .param(spec::duration("step_duration", "15m", "duration of each size"))
            .param(spec::duration("pause", "60s", "rest between sizes"))
            .param(spec::int("partitions", 6, "partitions when the topic is created"))
            .cluster("source")
            .apply(mm2::follow_when_mirrored)
            .build()
    }

    fn run() -> Result<(), ScenarioError> {
        let topic = param::text("topic")?;
        let sizes = param::size_list("sizes")?;
        let mib_per_s = param::float("target_mib_per_s")?;
        let step_duration = param::duration("step_duration")?;
        let pause = param::duration("pause")?;

        let largest = sizes.iter().copied().max().unwrap_or(0);
        // Brokers and librdkafka refuse records near 1 MB by default: leave room above the largest.
        let max_bytes = (largest + 64 * 1024).max(1_000_000).to_string();
        let partitions = param::int("partitions")? as u32;
        let topic_config = [("max.message.bytes".to_string(), max_bytes.clone())];
        match kscen_sdk::kafka::create_topic("source", &topic, partitions, 0, &topic_config) {
            // The embedded mock cluster takes no topic configs, and needs none: it has no limit.
            Err(HostError::Unsupported(why)) => {
                info(&format!(
                    "{why}: {topic} is created without max.message.bytes"
                ));
                create_topic("source", &topic, partitions)?;
            }
            created => created?,
        }
        let mirror = mm2::mirror_to_follow(&topic)?;
        for (index, size) in sizes.iter().copied().enumerate() {
            let rate = (mib_per_s * MIB / size as f64).floor().max(1.0);
            let name = format!("size-{size}B");
            phase(&name);
            let load = Load::to("source", &topic)
                .rate(rate)
                .record_size(size as u32)
                .duration(step_duration)
                .producer("message.max.bytes", &max_bytes);
            let load = mm2::followed(load, mirror.as_ref())?.start()?;
            load.wait()?;
            let stuck = match &mirror {
                Some(mirror) => await_delivery(&load, mirror, &name)?,
                None => None,
            };
            let status = load.stop();
            end_phase();
            if let Some(replication) = status.replication {
                figure(
                    &format!("{name}.replicated"),
                    replication.replicated as f64,
                    "records",
                );
                figure(&format!("{name}.lost"), replication.lost as f64, "records");
            }
            if let Some(why) = stuck {
                return Err(ScenarioError::Failed(why));
            }
            if index + 1 < sizes.len() {
                sleep(pause);
            }
        }
        Ok(())
    }
}

/// Waits up to `grace_s` for a size's last records on the target. A failed task of the mirror's
/// source connector ends the wait at once: those records would never arrive, and why is returned.
fn await_delivery(
    load: &Load,
    mirror: &Mirror,
    name: &str,
) -> Result<Option<String>, ScenarioError> {
    let source = mirror.connector_name(ConnectorRole::Source)?;
    let grace = mm2::grace()?;
    let can_read_tasks = kscen_sdk::grants::connect();
    let mut failures = Vec::new();
    let delivered = mm2::wait_until(grace, POLL, || {
        if can_read_tasks {
            failures = mm2::task_failures(&[&source])?;
        }
        Ok(!failures.is_empty()
            || load
                .status()
                .replication
                .is_some_and(|r| r.lag_records == 0))
    })?;
    if !failures.is_empty() {
        for failure in &failures {
            event("mirror-task-failed", &failure.to_string());
        }
        let missing = load.status().replication.map_or(0, |r| r.lag_records);
        return Ok(Some(format!(
            "{name}: the mirror {} stopped carrying these records ({missing} not on the target): {}; \
             raise the mirror's producer.override.max.request.size (and the target's \
             message.max.bytes) to carry them, or leave the size out",
            mirror.label,
            mm2::TaskFailure::summary(&failures)
        )));
    }
    if delivered.is_none() {
        warn(&format!(
            "{name}: records still missing on the target {grace:?} after the last was sent; they count as lost"
        ));
    }
    Ok(None)
}

kscen_sdk::export_scenario!(SizeSweep);
