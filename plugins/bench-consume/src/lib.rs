//! `cargo xtask bench`, consumer throughput: one native consume job reads an existing topic from
//! the beginning as a fresh consumer group, commits nothing, and the scenario waits for it. The
//! figures the bench compares (records, bytes, join and fetch time) are the job's own, from the
//! run's `consumers[]`; the plugin only starts the job and checks that it read `count` records.

use kscen_sdk::consume::CommitPolicy;
use kscen_sdk::prelude::*;

struct BenchConsume;

impl Scenario for BenchConsume {
    fn describe() -> ScenarioInfo {
        Describe::new(
            "bench-consume",
            "One consume job reading an existing topic (cargo xtask bench)",
        )
        .description(
            "Starts one consume job of `members` consumers in group `group` on `topic` (which \
             must exist and hold at least `count` records), from the earliest offset, committing \
             nothing, and waits until it has read `count` records; fails when it has not within \
             `timeout`.",
        )
        .param(spec::text("topic", "kscen-bench-consume", "topic to read"))
        .param(spec::text(
            "group",
            "kscen-bench-consume",
            "consumer group; nothing is committed, so a new name is a fresh group",
        ))
        .param(spec::int(
            "count",
            1_000_000,
            "records to read, all members together",
        ))
        .param(spec::int("members", 1, "consumers in the group"))
        .param(spec::duration(
            "timeout",
            "5m",
            "longest wait for `count` records",
        ))
        .cluster("source")
        .build()
    }

    fn run() -> Result<(), ScenarioError> {
        let topic = param::text("topic")?;
        let count = param::int("count")?.max(1) as u64;
        let job = Consume::group("source", &topic, &param::text("group")?)
            .members(param::int("members")? as u32)
            .commit(CommitPolicy::None)
            .count(count)
            .start()?;
        let timeout = param::duration("timeout")?;
        let status = match job.wait_timeout(timeout) {
            Ok(status) => status,
            Err(_) => job.stop(),
        };
        if status.records < count {
            return Err(ScenarioError::Failed(format!(
                "read {} of {count} records of {topic} within {timeout:?}{}",
                status.records,
                status
                    .last_error
                    .map(|e| format!(" (last error: {e})"))
                    .unwrap_or_default()
            )));
        }
        Ok(())
    }
}

kscen_sdk::export_scenario!(BenchConsume);
