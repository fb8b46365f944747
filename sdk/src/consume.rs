//! Consumer groups: native consume jobs (the host's threads read; the plugin never handles a
//! record), group lag, and the run's mirror's offset translation checked record by record.

use std::time::Duration;

use crate::bindings::kscen::scenario0_4_0::groups::{self as host, ConsumeSpec};
pub use crate::bindings::kscen::scenario0_4_0::groups::{
    CommitPolicy, ConsumeStatus, GroupLag, GroupProtocol, GroupVerdict, PartitionLag,
    TranslatedOffset, TranslationError,
};
use crate::kafka::StartFrom;
use crate::{figure, mm2, param, spec, Describe, ScenarioError};

/// A consume job running in the host. Dropping it stops the job.
pub struct Consume {
    handle: host::ConsumeJob,
}

/// Builder for a consume job; start it with [`ConsumeBuilder::start`].
pub struct ConsumeBuilder {
    spec: ConsumeSpec,
}

impl Consume {
    /// Reads `topic` on the cluster with this logical name as consumer group `group`. Defaults:
    /// one member, a commit after each batch, the classic protocol, from the earliest record
    /// when the group has no committed offset, until stopped.
    pub fn group(cluster: &str, topic: &str, group: &str) -> ConsumeBuilder {
        ConsumeBuilder {
            spec: ConsumeSpec {
                cluster: cluster.into(),
                topic: topic.into(),
                group: group.into(),
                members: 1,
                commit: CommitPolicy::PerBatch,
                protocol: GroupProtocol::Classic,
                start: StartFrom::Earliest,
                consumer_config: Vec::new(),
                count: None,
                duration_ms: None,
            },
        }
    }

    pub fn status(&self) -> ConsumeStatus {
        self.handle.status()
    }

    /// Stops reading, commits as the policy says, leaves the group; the final status.
    pub fn stop(&self) -> ConsumeStatus {
        self.handle.stop()
    }

    /// Waits for the job's count or duration to be reached.
    pub fn wait(&self) -> Result<ConsumeStatus, ScenarioError> {
        Ok(self.handle.wait(None)?)
    }

    pub fn wait_timeout(&self, timeout: Duration) -> Result<ConsumeStatus, ScenarioError> {
        Ok(self.handle.wait(Some(timeout.as_millis() as u64))?)
    }
}

impl ConsumeBuilder {
    pub fn members(mut self, members: u32) -> Self {
        self.spec.members = members;
        self
    }

    pub fn commit(mut self, policy: CommitPolicy) -> Self {
        self.spec.commit = policy;
        self
    }

    pub fn protocol(mut self, protocol: GroupProtocol) -> Self {
        self.spec.protocol = protocol;
        self
    }

    /// Where a member starts on a partition the group has no committed offset for.
    pub fn start_from(mut self, start: StartFrom) -> Self {
        self.spec.start = start;
        self
    }

    /// A consumer property (Java or librdkafka name) for this job only.
    pub fn consumer(mut self, key: &str, value: &str) -> Self {
        self.spec.consumer_config.push((key.into(), value.into()));
        self
    }

    pub fn count(mut self, records: u64) -> Self {
        self.spec.count = Some(records);
        self
    }

    pub fn duration(mut self, duration: Duration) -> Self {
        self.spec.duration_ms = Some(duration.as_millis() as u64);
        self
    }

    pub fn start(self) -> Result<Consume, ScenarioError> {
        Ok(Consume {
            handle: host::start_consume(&self.spec)?,
        })
    }
}

/// Group `group`'s verdict on the run's stamped records, over every job that read as it.
pub fn verdict(group: &str) -> Result<GroupVerdict, ScenarioError> {
    Ok(host::verdict(group)?)
}

/// `kafka-consumer-groups --describe` of `group` on `cluster`, on `topics` (all when empty).
pub fn describe_group(
    cluster: &str,
    group: &str,
    topics: &[&str],
) -> Result<GroupLag, ScenarioError> {
    let topics: Vec<String> = topics.iter().map(|t| t.to_string()).collect();
    Ok(host::describe_group(cluster, group, &topics)?)
}

/// The run's mirror's newest checkpoints for `group`, translated to the target cluster.
pub fn translate_offsets(group: &str) -> Result<Vec<TranslatedOffset>, ScenarioError> {
    Ok(host::translate_offsets(group)?)
}

/// How many records a consumer of `group` resuming on the target would miss or read again: at
/// the translated offsets, or with `synced` at the group's offsets MM2 synced on the target.
pub fn translation_errors(
    group: &str,
    synced: bool,
) -> Result<Vec<TranslationError>, ScenarioError> {
    Ok(host::translation_errors(group, synced)?)
}

/// Waits, at most `timeout`, for the run's mirror to have a checkpoint of `group` (a new group
/// waits for the checkpoint connector to find it, then for its next emission) and returns its
/// offsets translated from the newest checkpoints.
pub fn wait_for_checkpoint(
    group: &str,
    timeout: Duration,
) -> Result<Vec<TranslatedOffset>, ScenarioError> {
    let mut last = translate_offsets(group);
    if last.is_err() {
        mm2::wait_until(timeout, Duration::from_millis(500), || {
            last = translate_offsets(group);
            Ok(last.is_ok())
        })?;
    }
    last.map_err(|why| {
        ScenarioError::Failed(format!(
            "the mirror wrote no checkpoint for group {group} within {timeout:?}: {why}"
        ))
    })
}

/// Moves `group` to `cluster` as a failover does: waits, at most `timeout`, for the run's mirror
/// to have a checkpoint of the group (MM2 emits them every `emit.checkpoints.interval.seconds`,
/// so the newest may predate the group's last commits), then commits its translated offsets
/// there. The group must have no active member on `cluster`. Returns what was committed.
pub fn move_to_translated(
    group: &str,
    cluster: &str,
    timeout: Duration,
) -> Result<Vec<TranslatedOffset>, ScenarioError> {
    let translated = wait_for_checkpoint(group, timeout)?;
    let offsets: Vec<(String, i32, i64)> = translated
        .iter()
        .map(|t| (t.remote_topic.clone(), t.partition, t.downstream_offset))
        .collect();
    commit_offsets(cluster, group, &offsets)?;
    Ok(translated)
}

/// Commits `group`'s offsets on `cluster`, e.g. the translated ones before the group resumes
/// there. The group must have no active member.
pub fn commit_offsets(
    cluster: &str,
    group: &str,
    offsets: &[(String, i32, i64)],
) -> Result<(), ScenarioError> {
    Ok(host::commit_offsets(cluster, group, offsets)?)
}

/// Declares `group` (the application's consumer group; a fresh suffix is added per run) and
/// `members`, the parameters read by [`fresh_group`] and the scenarios' consume jobs.
pub fn group_params(describe: Describe, group: &'static str, members: i64) -> Describe {
    describe
        .param(spec::text(
            "group",
            group,
            "the application's consumer group (a fresh suffix is added per run)",
        ))
        .param(spec::int("members", members, "consumers in the group"))
}

/// A fresh consumer group named after the `group` parameter and the wall clock, so runs never
/// share offsets.
pub fn fresh_group() -> Result<String, ScenarioError> {
    Ok(format!(
        "{}-{}",
        param::text("group")?,
        crate::clock::wall_now_ms()
    ))
}

/// Waits, at most `timeout`, until `group` has read every record of the run's tracked loads it
/// should have read; false when some are still unread then.
pub fn wait_drained(group: &str, timeout: Duration) -> Result<bool, ScenarioError> {
    Ok(mm2::wait_until(timeout, Duration::from_millis(500), || {
        Ok(verdict(group)?.unread == 0)
    })?
    .is_some())
}

/// Waits, at most `timeout`, until `group` has read every record of the run's tracked loads it
/// should have read, then reports its verdict over every job that read as it: figures `read`,
/// `read_twice` and `missed` (what it has not read by then).
pub fn drain_and_report(group: &str, timeout: Duration) -> Result<GroupVerdict, ScenarioError> {
    wait_drained(group, timeout)?;
    let verdict = verdict(group)?;
    figure("read", verdict.read as f64, "records");
    figure("read_twice", verdict.read_twice as f64, "records");
    figure("missed", verdict.unread as f64, "records");
    Ok(verdict)
}
