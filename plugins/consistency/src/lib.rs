//! Section 9.1: after a replicated load, source and target hold the same records — compared per
//! partition by end offsets (as the seed's GetOffsetShell check does) and record by record.

use kscen_sdk::kafka;
use kscen_sdk::mm2;
use kscen_sdk::prelude::*;

struct Consistency;

impl Scenario for Consistency {
    fn describe() -> ScenarioInfo {
        Describe::new("consistency", "Source vs target counts per partition and the per-record verdict (9.1)")
            .description(
                "Produces `count` tracked records to a fresh `topic`, waits until the mirror has \
                 delivered them (or `timeout`), then compares the end offsets of the source topic and \
                 its remote topic (named by the run's mirror's replication policy) partition by \
                 partition (`source_records`, `target_records`, \
                 `partition_differences`) and reports the per-record verdict (lost, duplicated, out \
                 of order).",
            )
            .param(spec::text("topic", "test-mm2-perf", "source topic (a fresh suffix is added per run)"))
            .param(spec::int("count", 100_000, "records to produce"))
            .param(spec::float("rate", 5000.0, "records per second; 0 = unthrottled"))
            .param(spec::size("record_size", "1024", "record value size"))
            .param(spec::int("partitions", 8, "partitions of the source topic"))
            .param(spec::duration("timeout", "10m", "longest wait for the target to catch up"))
            .cluster("source")
            .cluster("target")
            .build()
    }

    fn run() -> Result<(), ScenarioError> {
        let topic = format!(
            "{}-{}",
            param::text("topic")?,
            kscen_sdk::clock::wall_now_ms()
        );
        let remote = mm2::remote_topic(&topic)?;
        event("mirror", &format!("{topic} is {remote} on the target"));
        let count = param::int("count")? as u64;
        let rate = param::float("rate")?;
        create_topic("source", &topic, param::int("partitions")? as u32)?;

        phase("produce");
        let mut load = Load::to("source", &topic)
            .count(count)
            .record_size(param::size("record_size")? as u32)
            .replicate_to("target")
            .grace(param::duration("timeout")?);
        load = if rate > 0.0 {
            load.rate(rate)
        } else {
            load.unthrottled()
        };
        let load = load.start()?;
        mm2::wait_until(
            param::duration("timeout")?,
            Duration::from_millis(200),
            || {
                Ok(load
                    .status()
                    .replication
                    .is_some_and(|r| r.replicated >= count))
            },
        )?;
        let status = load.wait()?;
        end_phase();

        phase("compare");
        let source = kafka::end_offsets("source", &topic)?;
        let target = kafka::end_offsets("target", &remote)?;
        let total =
            |offsets: &[kafka::PartitionOffset]| offsets.iter().map(|p| p.offset).sum::<i64>();
        figure("source_records", total(&source) as f64, "records");
        figure("target_records", total(&target) as f64, "records");
        let mut differences = 0;
        for partition in &source {
            let on_target = target
                .iter()
                .find(|t| t.partition == partition.partition)
                .map_or(0, |t| t.offset);
            if on_target != partition.offset {
                differences += 1;
                event(
                    "partition-differs",
                    &format!(
                        "partition {}: source {} target {on_target}",
                        partition.partition, partition.offset
                    ),
                );
            }
        }
        figure("partition_differences", differences as f64, "partitions");
        if let Some(verdict) = status.replication {
            figure("lost", verdict.lost as f64, "records");
            figure("duplicates", verdict.duplicates as f64, "records");
            figure("out_of_order", verdict.out_of_order as f64, "records");
        }
        end_phase();
        Ok(())
    }
}

kscen_sdk::export_scenario!(Consistency);
