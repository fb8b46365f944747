//! Consumer performance (seed 000 §2.3, kafka-consumer-perf-test): a consumer group reads what a
//! producer writes, on the source and, through the mirror, on the target's remote topic, while
//! the producer runs. The host prints perf-test's final line for each group.

use kscen_sdk::consume::{CommitPolicy, GroupProtocol};
use kscen_sdk::mm2;
use kscen_sdk::prelude::*;

struct ConsumerPerf;

impl Scenario for ConsumerPerf {
    fn describe() -> ScenarioInfo {
        Describe::new("consumer-perf", "Consumer groups reading while the producer runs, on the source and through the mirror (000 §2.3)")
            .description(
                "Produces `count` records to a fresh `topic` (at `rate`, 0 = unthrottled), tracked \
                 to the target, while a consumer group of `members` reads them on the source and \
                 a second group reads the remote topic on the target. Figures per side \
                 (`source_*`, `target_*`): `records`, `records_per_s`, `mb_per_s`, `e2e_p99_ms` \
                 (produce to read, on the run's one clock) and `rebalances`.",
            )
            .param(spec::text("topic", "kscen-consumer-perf", "source topic (a fresh suffix is added per run)"))
            .param(spec::int("count", 200_000, "records to produce and read"))
            .param(spec::float("rate", 0.0, "records per second; 0 = unthrottled"))
            .param(spec::size("record_size", "1024", "record value size"))
            .param(spec::int("partitions", 6, "partitions of the source topic"))
            .param(spec::int("members", 3, "consumers in each group"))
            .param(spec::text("protocol", "classic", "group.protocol: classic, or consumer (KIP-848, Kafka 4.x brokers)"))
            .param(spec::duration("timeout", "5m", "longest wait for the groups to read every record"))
            .cluster("source")
            .cluster("target")
            .build()
    }

    fn run() -> Result<(), ScenarioError> {
        let suffix = kscen_sdk::clock::wall_now_ms();
        let topic = format!("{}-{suffix}", param::text("topic")?);
        let count = param::int("count")? as u64;
        let rate = param::float("rate")?;
        let members = param::int("members")? as u32;
        let timeout = param::duration("timeout")?;
        let protocol = match param::text("protocol")?.as_str() {
            "classic" => GroupProtocol::Classic,
            "consumer" => GroupProtocol::Consumer,
            other => {
                return Err(ScenarioError::Failed(format!(
                    "protocol must be classic or consumer, got {other:?}"
                )))
            }
        };
        create_topic("source", &topic, param::int("partitions")? as u32)?;

        phase("produce and consume");
        let mut load = Load::to("source", &topic)
            .count(count)
            .record_size(param::size("record_size")? as u32)
            .replicate_to("target")
            .grace(timeout);
        load = if rate > 0.0 {
            load.rate(rate)
        } else {
            load.unthrottled()
        };
        let source = Consume::group("source", &topic, &format!("kscen-perf-source-{suffix}"))
            .members(members)
            .protocol(protocol)
            .commit(CommitPolicy::Auto)
            .count(count)
            .start()?;
        let load = load.start()?;
        let remote = mm2::remote_topic(&topic)?;
        // The mirror creates the remote topic when it first sees the source topic.
        mm2::wait_until(timeout, Duration::from_millis(500), || {
            Ok(kscen_sdk::kafka::end_offsets("target", &remote).is_ok())
        })?
        .ok_or_else(|| ScenarioError::Failed(format!("{remote} never appeared on the target")))?;
        let target = Consume::group("target", &remote, &format!("kscen-perf-target-{suffix}"))
            .members(members)
            .protocol(protocol)
            .commit(CommitPolicy::Auto)
            .count(count)
            .start()?;
        load.wait()?;
        for (side, job) in [("source", &source), ("target", &target)] {
            let status = match job.wait_timeout(timeout) {
                Ok(status) => status,
                Err(_) => {
                    warn(&format!(
                        "the {side} group did not read {count} records within {timeout:?}"
                    ));
                    job.stop()
                }
            };
            figure(&format!("{side}_records"), status.records as f64, "records");
            figure(
                &format!("{side}_records_per_s"),
                status.records_per_second,
                "records/s",
            );
            figure(
                &format!("{side}_mb_per_s"),
                status.records_per_second * param::size("record_size")? as f64 / (1024.0 * 1024.0),
                "MiB/s",
            );
            figure(
                &format!("{side}_rebalances"),
                status.rebalances as f64,
                "rebalances",
            );
            if status.stamped > 0 {
                figure(
                    &format!("{side}_e2e_p99_ms"),
                    status.e2e_p99_us as f64 / 1000.0,
                    "ms",
                );
            }
        }
        end_phase();
        Ok(())
    }
}

kscen_sdk::export_scenario!(ConsumerPerf);
