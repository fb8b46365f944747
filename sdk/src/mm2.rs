//! MirrorMaker 2 for scenarios: the mirror the run measures (its connectors whatever the
//! deployment named them, its aliases and replication policy, as the host found them), what
//! "healthy" means for its connectors, and polling for it on the host's clock.

mod reverse;

use std::time::Duration;

use crate::bindings::kscen::scenario0_3_0::mm2 as host;
pub use crate::bindings::kscen::scenario0_3_0::mm2::{
    ConnectorRole, Mirror, MirrorConnector, ReplicationPolicy,
};
use crate::connect::{self, ConnectorStatus, State};
use crate::{monotonic_now, sleep, ScenarioError};
pub use reverse::ReverseMirror;

/// The mirror this run measures: the one the operator chose (`mirror` in the scenario file,
/// `kscen run --mirror`), else the deployment's only one.
pub fn mirror() -> Result<Mirror, ScenarioError> {
    Ok(host::run_mirror()?)
}

/// Declares, as optional capabilities, what following records across the run's mirror takes:
/// the `target` cluster, and Connect to name a failed task's reason. With [`mirror_to_follow`], a
/// producer scenario follows its records on a deployment with a mirror and runs producer-only
/// elsewhere (the embedded default).
/// Also declares `grace_s` and `discovery_timeout_s`, in real seconds: `time_scale` shortens a
/// test, not the mirror.
pub fn follow_when_mirrored(describe: crate::Describe) -> crate::Describe {
    use crate::spec;
    describe
        .optional_cluster("target")
        .optional_connect()
        .param(spec::int(
            "grace_s",
            60,
            "through a mirror: a record not on the target this many seconds after its ack is lost",
        ))
        .param(spec::int(
            "discovery_timeout_s",
            660,
            "through a mirror: seconds to wait for it to carry a new topic",
        ))
}

/// The run's mirror when this environment has one to follow records across, once it carries
/// `topic` (see [`await_discovery`]); `None` when the environment has no `target` cluster or runs
/// no mirror, which an event and a warning say, so the scenario runs producer-only. Several
/// mirrors and none chosen is an error, not a reason to run without.
pub fn mirror_to_follow(topic: &str) -> Result<Option<Mirror>, ScenarioError> {
    let Some(mirror) = find_run_mirror()? else {
        return Ok(None);
    };
    refuse_failing(&mirror)?;
    let timeout = Duration::from_secs(crate::param::int("discovery_timeout_s")?.max(1) as u64);
    await_discovery(topic, timeout)?;
    Ok(Some(mirror))
}

/// The `grace_s` parameter [`follow_when_mirrored`] declares.
pub fn grace() -> Result<Duration, ScenarioError> {
    Ok(Duration::from_secs(
        crate::param::int("grace_s")?.max(0) as u64
    ))
}

/// `load` following its records to the target when `mirror` is some, with the `grace_s`
/// parameter; as it is otherwise.
pub fn followed(
    load: crate::load::LoadBuilder,
    mirror: Option<&Mirror>,
) -> Result<crate::load::LoadBuilder, ScenarioError> {
    Ok(match mirror {
        Some(_) => load.replicate_to("target").grace(grace()?),
        None => load,
    })
}

/// A mirror whose tasks fail already would make the run measure that failure: an error naming
/// them, when Connect can be read.
fn refuse_failing(mirror: &Mirror) -> Result<(), ScenarioError> {
    if !crate::grants::connect() {
        return Ok(());
    }
    let failures = task_failures(&mirror.connector_names())?;
    if failures.is_empty() {
        return Ok(());
    }
    Err(ScenarioError::Failed(format!(
        "the mirror {} is failing before the run starts: {}; fix it (or restart its tasks) first",
        mirror.label,
        TaskFailure::summary(&failures)
    )))
}

fn find_run_mirror() -> Result<Option<Mirror>, ScenarioError> {
    let without = |why: &str| {
        let message = format!("producer-only: {why}; no record is followed across a mirror");
        crate::event("mirror", &message);
        crate::warn(&message);
        Ok(None)
    };
    if !crate::grants::cluster("target") {
        return without("this environment has no cluster `target`");
    }
    match host::run_mirror() {
        Ok(mirror) => {
            crate::event(
                "mirror",
                &format!("following every record across {}", mirror.label),
            );
            Ok(Some(mirror))
        }
        Err(crate::types::Error::NotFound(why)) => without(&why),
        Err(error) => Err(error.into()),
    }
}

/// Waits until the mirror carries `topic`, which it finds only at its next topic refresh
/// (`refresh.topics.interval.seconds`): unless its remote topic is on the target already, a
/// trickle of followed records in phase `mirror-discovery`, stopped once one reaches the target,
/// so the scenario's own phases measure replication and not discovery.
fn await_discovery(topic: &str, timeout: Duration) -> Result<(), ScenarioError> {
    let remote = remote_topic(topic)?;
    if crate::kafka::end_offsets("target", &remote).is_ok() {
        crate::event(
            "mirror",
            &format!("{topic} is mirrored as {remote} already"),
        );
        return Ok(());
    }
    crate::phase("mirror-discovery");
    let trickle = crate::Load::to("source", topic)
        .rate(10.0)
        .record_size(64)
        .replicate_to("target")
        .start()?;
    let discovered = wait_first_replicated(&trickle, timeout);
    trickle.stop();
    crate::end_phase();
    crate::event(
        "mirror",
        &format!(
            "the mirror carries {topic} as {remote} after {:?}",
            discovered?
        ),
    );
    Ok(())
}

/// Every mirror of the deployment.
pub fn mirrors() -> Result<Vec<Mirror>, ScenarioError> {
    Ok(host::all_mirrors()?)
}

/// The name the run's mirror gives `topic` of the source cluster on the target cluster.
pub fn remote_topic(topic: &str) -> Result<String, ScenarioError> {
    Ok(host::remote_topic(topic)?)
}

impl ConnectorRole {
    pub const ALL: [ConnectorRole; 3] = [
        ConnectorRole::Source,
        ConnectorRole::Checkpoint,
        ConnectorRole::Heartbeat,
    ];

    /// As parameters, figures and messages name it: `source`, `checkpoint`, `heartbeat`.
    pub fn name(self) -> &'static str {
        match self {
            ConnectorRole::Source => "source",
            ConnectorRole::Checkpoint => "checkpoint",
            ConnectorRole::Heartbeat => "heartbeat",
        }
    }

    /// The role a parameter names; an error listing the roles otherwise.
    pub fn parse(name: &str) -> Result<ConnectorRole, ScenarioError> {
        ConnectorRole::ALL
            .into_iter()
            .find(|role| role.name() == name)
            .ok_or_else(|| {
                ScenarioError::Failed(format!(
                    "{name:?} is not a MirrorMaker 2 connector role (source, checkpoint, heartbeat)"
                ))
            })
    }
}

impl Mirror {
    /// The names of its connectors, source first.
    pub fn connector_names(&self) -> Vec<String> {
        self.connectors.iter().map(|c| c.name.clone()).collect()
    }

    /// Its connector of `role`, if the deployment runs one.
    pub fn connector(&self, role: ConnectorRole) -> Option<&MirrorConnector> {
        self.connectors.iter().find(|c| c.role == role)
    }

    /// The name of its connector of `role`; an error naming the mirror when it has none.
    pub fn connector_name(&self, role: ConnectorRole) -> Result<String, ScenarioError> {
        self.connector(role).map(|c| c.name.clone()).ok_or_else(|| {
            ScenarioError::Failed(format!(
                "mirror {} runs no {} connector (see kscen describe-deployment)",
                self.label,
                role.name()
            ))
        })
    }
}

/// Every task RUNNING on a worker that answers (a task shown RUNNING on a dead worker is not).
/// A connector with no tasks (the checkpoint connector with no consumer group) counts when the
/// connector itself runs on a live worker.
pub fn healthy(status: &ConnectorStatus) -> bool {
    status.state == State::Running
        && status.worker_alive
        && status
            .tasks
            .iter()
            .all(|t| t.state == State::Running && t.worker_alive)
}

/// Tasks (connector/task id) that are FAILED right now.
pub fn failed_tasks(statuses: &[ConnectorStatus]) -> Vec<String> {
    statuses
        .iter()
        .flat_map(|s| {
            s.tasks
                .iter()
                .filter(|t| t.state == State::Failed)
                .map(move |t| format!("{}/{}", s.name, t.id))
        })
        .collect()
}

/// A task FAILED right now, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskFailure {
    /// `connector/id`
    pub task: String,
    /// the innermost `Caused by:` of its trace (e.g. the mirror's producer refusing a record
    /// above its `max.request.size`), else the trace's first line
    pub reason: String,
}

impl std::fmt::Display for TaskFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.task, self.reason)
    }
}

impl TaskFailure {
    /// One line per distinct reason, with the tasks that failed for it:
    /// `mirror-source/0, mirror-source/1: RecordTooLargeException: ...`.
    pub fn summary(failures: &[TaskFailure]) -> String {
        let mut reasons: Vec<(&str, Vec<&str>)> = Vec::new();
        for failure in failures {
            match reasons
                .iter_mut()
                .find(|(reason, _)| *reason == failure.reason)
            {
                Some((_, tasks)) => tasks.push(&failure.task),
                None => reasons.push((&failure.reason, vec![&failure.task])),
            }
        }
        reasons
            .iter()
            .map(|(reason, tasks)| format!("{}: {reason}", tasks.join(", ")))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// The tasks of `connectors` that are FAILED right now, and why.
pub fn task_failures(connectors: &[impl AsRef<str>]) -> Result<Vec<TaskFailure>, ScenarioError> {
    let mut failures = Vec::new();
    for status in statuses(connectors)? {
        for task in status.tasks.iter().filter(|t| t.state == State::Failed) {
            failures.push(TaskFailure {
                task: format!("{}/{}", status.name, task.id),
                reason: root_cause(task.trace.as_deref().unwrap_or("no trace")).to_string(),
            });
        }
    }
    Ok(failures)
}

/// The innermost cause of a Java stack trace: its last `Caused by:` line, else its first line.
fn root_cause(trace: &str) -> &str {
    trace
        .lines()
        .filter_map(|line| line.trim().strip_prefix("Caused by: "))
        .next_back()
        .or_else(|| trace.lines().next())
        .unwrap_or(trace)
        .trim()
}

/// The statuses of `connectors`, in that order.
pub fn statuses(connectors: &[impl AsRef<str>]) -> Result<Vec<ConnectorStatus>, ScenarioError> {
    connectors
        .iter()
        .map(|c| Ok(connect::status(c.as_ref())?))
        .collect()
}

/// Polls `check` every `every` until it returns true; the time it took, or None after `timeout`.
pub fn wait_until(
    timeout: Duration,
    every: Duration,
    mut check: impl FnMut() -> Result<bool, ScenarioError>,
) -> Result<Option<Duration>, ScenarioError> {
    let start = monotonic_now();
    loop {
        if check()? {
            return Ok(Some(monotonic_now() - start));
        }
        if monotonic_now() - start >= timeout {
            return Ok(None);
        }
        sleep(every);
    }
}

/// Waits until every connector named is healthy; the time it took, or None after `timeout`.
pub fn wait_healthy(
    connectors: &[impl AsRef<str>],
    timeout: Duration,
    every: Duration,
) -> Result<Option<Duration>, ScenarioError> {
    wait_until(timeout, every, || {
        Ok(statuses(connectors)?.iter().all(healthy))
    })
}

/// Worker ids (`host:port`) running at least one task of `connectors`, with their task counts.
pub fn task_placement(statuses: &[ConnectorStatus]) -> Vec<(String, usize)> {
    let mut placement: Vec<(String, usize)> = Vec::new();
    for task in statuses.iter().flat_map(|s| &s.tasks) {
        match placement.iter_mut().find(|(w, _)| *w == task.worker_id) {
            Some((_, count)) => *count += 1,
            None => placement.push((task.worker_id.clone(), 1)),
        }
    }
    placement
}

/// What a scenario saw while Connect reacted to a fault or a change.
#[derive(Debug, Clone, Default)]
pub struct Reaction {
    /// first time Connect's reported status differed from the baseline
    pub detected: Option<Duration>,
    /// first time the `recovered` condition held after the change
    pub recovered: Option<Duration>,
    /// largest replication lag seen meanwhile (records, ms)
    pub lag_peak_records: u64,
    pub lag_peak_ms: u64,
    /// tasks seen FAILED at any poll
    pub failed_tasks: Vec<String>,
}

/// A comparable view of where every task runs and in which state.
fn shape(statuses: &[ConnectorStatus]) -> Vec<(String, u32, String, State)> {
    // The connector itself counts as task u32::MAX: a restart shows in its state.
    let mut shape: Vec<_> = statuses
        .iter()
        .flat_map(|s| {
            let connector = (s.name.clone(), u32::MAX, s.worker_id.clone(), s.state);
            let tasks = s
                .tasks
                .iter()
                .map(move |t| (s.name.clone(), t.id, t.worker_id.clone(), t.state));
            std::iter::once(connector).chain(tasks)
        })
        .collect();
    shape.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
    shape
}

/// How long to wait for Connect to show a change before accepting that none will show.
#[derive(Debug, Clone, Copy)]
pub enum Expect {
    /// the change must show in the status (a killed worker's tasks move)
    Change,
    /// a change may not show (a restart that keeps the placement): after this long without one,
    /// the `recovered` condition alone decides
    ChangeWithin(Duration),
}

/// Whether two status snapshots show the same connectors and tasks on the same workers, in the
/// same states.
pub fn same_shape(a: &[ConnectorStatus], b: &[ConnectorStatus]) -> bool {
    shape(a) == shape(b)
}

/// Polls Connect (and the load's replication lag) every `every` from the moment of a change at
/// `since`, until `recovered(statuses)` holds or `timeout` passes. Detection is the first poll
/// whose task placement or states differ from `baseline`.
#[allow(clippy::too_many_arguments)]
pub fn watch_reaction(
    connectors: &[impl AsRef<str>],
    baseline: &[ConnectorStatus],
    since: Duration,
    load: Option<&crate::Load>,
    expect: Expect,
    timeout: Duration,
    every: Duration,
    mut recovered: impl FnMut(&[ConnectorStatus]) -> bool,
) -> Result<Reaction, ScenarioError> {
    let before = shape(baseline);
    let mut reaction = Reaction::default();
    loop {
        let now = monotonic_now();
        let elapsed = now.saturating_sub(since);
        // The lag first: a slow status call could otherwise let the lag at the action drain
        // before it is read.
        if let Some(replication) = load.and_then(|l| l.status().replication) {
            reaction.lag_peak_records = reaction.lag_peak_records.max(replication.lag_records);
            reaction.lag_peak_ms = reaction.lag_peak_ms.max(replication.lag_ms);
        }
        let current = statuses(connectors)?;
        if reaction.detected.is_none() && shape(&current) != before {
            reaction.detected = Some(elapsed);
        }
        for failed in failed_tasks(&current) {
            if !reaction.failed_tasks.contains(&failed) {
                reaction.failed_tasks.push(failed);
            }
        }
        if reaction.detected.is_some() && recovered(&current) {
            reaction.recovered = Some(elapsed);
            return Ok(reaction);
        }
        if let Expect::ChangeWithin(quiet) = expect {
            // Nothing showed: the time to apply cannot be told from the status (not recorded).
            if reaction.detected.is_none() && elapsed >= quiet && recovered(&current) {
                return Ok(reaction);
            }
        }
        if elapsed >= timeout {
            return Ok(reaction);
        }
        sleep(every);
    }
}

/// Records a reaction's figures under `prefix` (e.g. `rebalance`): `<prefix>_detected_ms`,
/// `<prefix>_ms`, lag peaks and FAILED tasks; a time that was not observed is not recorded
/// (reports show it as not measured).
pub fn record_reaction(prefix: &str, reaction: &Reaction) {
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    if let Some(detected) = reaction.detected {
        crate::figure(&format!("{prefix}_detected_ms"), ms(detected), "ms");
    }
    if let Some(recovered) = reaction.recovered {
        crate::figure(&format!("{prefix}_ms"), ms(recovered), "ms");
    }
    crate::figure(
        &format!("{prefix}_lag_peak_records"),
        reaction.lag_peak_records as f64,
        "records",
    );
    crate::figure(
        &format!("{prefix}_lag_peak_ms"),
        reaction.lag_peak_ms as f64,
        "ms",
    );
    crate::figure(
        &format!("{prefix}_failed_tasks"),
        reaction.failed_tasks.len() as f64,
        "tasks",
    );
    for failed in &reaction.failed_tasks {
        crate::event("task-failed", failed);
    }
}

/// Waits until the load's records reach the target (the mirror has discovered the topic).
pub fn wait_first_replicated(
    load: &crate::Load,
    timeout: Duration,
) -> Result<Duration, ScenarioError> {
    wait_until(timeout, Duration::from_millis(200), || {
        Ok(load.status().replication.is_some_and(|r| r.replicated > 0))
    })?
    .ok_or_else(|| {
        ScenarioError::Failed(format!(
            "no record reached the target within {timeout:?}: is MirrorMaker 2 replicating this topic?"
        ))
    })
}

/// Defaults of the parameters every replication-tracked scenario declares.
pub struct TrackedLoadDefaults {
    pub topic: &'static str,
    pub rate: f64,
    pub partitions: i64,
    pub grace: &'static str,
}

impl Default for TrackedLoadDefaults {
    fn default() -> Self {
        TrackedLoadDefaults {
            topic: "test-mm2-perf",
            rate: 1000.0,
            partitions: 8,
            grace: "60s",
        }
    }
}

/// Declares `topic`, `rate`, `record_size`, `partitions` and `grace`, the parameters read by
/// [`start_tracked_load`].
pub fn tracked_load_params(
    describe: crate::Describe,
    defaults: TrackedLoadDefaults,
) -> crate::Describe {
    use crate::spec;
    describe
        .param(spec::text(
            "topic",
            defaults.topic,
            "source topic (a fresh suffix is added per run)",
        ))
        .param(spec::float("rate", defaults.rate, "records per second"))
        .param(spec::size(
            "record_size",
            "1024",
            "record value size (at least 32 bytes)",
        ))
        .param(spec::int(
            "partitions",
            defaults.partitions,
            "partitions of the source topic",
        ))
        .param(spec::duration(
            "grace",
            defaults.grace,
            "a record not on target this long after its ack is lost",
        ))
}

/// A fresh source topic named after the `topic` parameter and the wall clock, so runs never
/// read each other's records.
pub fn fresh_topic() -> Result<String, ScenarioError> {
    Ok(format!(
        "{}-{}",
        crate::param::text("topic")?,
        crate::clock::wall_now_ms()
    ))
}

/// Creates a fresh topic on `source` (with `topic_config`, e.g. `max.message.bytes`), starts a
/// steady load to it that is followed to `target`, and waits until the mirror delivers its first
/// record. Returns the load and the topic.
pub fn start_tracked_load(
    topic_config: &[(String, String)],
) -> Result<(crate::Load, String), ScenarioError> {
    use crate::param;
    let topic = fresh_topic()?;
    let partitions = param::int("partitions")? as u32;
    crate::kafka::create_topic("source", &topic, partitions, 0, topic_config)?;
    let load = crate::Load::to("source", &topic)
        .rate(param::float("rate")?)
        .record_size(param::size("record_size")? as u32)
        .replicate_to("target")
        .grace(param::duration("grace")?)
        .start()?;
    let discovered = wait_first_replicated(&load, Duration::from_secs(120))?;
    crate::event(
        "mirror",
        &format!("first record of {topic} replicated after {discovered:?}"),
    );
    Ok((load, topic))
}

/// Stops the load (waiting for its last records on the target, up to the grace period) and
/// records the per-record verdict as figures `lost` and `duplicates`.
pub fn finish_tracked_load(load: crate::Load) {
    let status = load.stop();
    crate::end_phase();
    record_verdict(&status);
}

/// A followed load's per-record verdict as figures `lost` and `duplicates`; nothing for a load
/// that was not followed.
pub fn record_verdict(status: &crate::kafka::LoadStatus) {
    if let Some(verdict) = &status.replication {
        crate::figure("lost", verdict.lost as f64, "records");
        crate::figure("duplicates", verdict.duplicates as f64, "records");
    }
}

#[cfg(test)]
mod tests {
    use super::{root_cause, TaskFailure};

    #[test]
    fn tasks_failing_for_one_reason_are_summed_up_on_one_line() {
        let failure = |task: &str, reason: &str| TaskFailure {
            task: task.into(),
            reason: reason.into(),
        };
        let failures = [
            failure("src/0", "RecordTooLargeException: too large"),
            failure("src/1", "RecordTooLargeException: too large"),
            failure("src/2", "TimeoutException: slow"),
        ];
        assert_eq!(
            TaskFailure::summary(&failures),
            "src/0, src/1: RecordTooLargeException: too large; src/2: TimeoutException: slow"
        );
    }

    #[test]
    fn a_tasks_reason_is_its_innermost_cause() {
        let trace = "org.apache.kafka.connect.errors.ConnectException: Unrecoverable exception from producer send callback\n\tat org.apache.kafka.connect.runtime.WorkerSourceTask.maybeThrowProducerSendException(WorkerSourceTask.java:334)\nCaused by: org.apache.kafka.common.errors.RecordTooLargeException: The message is 1048685 bytes when serialized which is larger than 1048576, which is the value of the max.request.size configuration.\n";
        assert_eq!(
            root_cause(trace),
            "org.apache.kafka.common.errors.RecordTooLargeException: The message is 1048685 bytes when serialized which is larger than 1048576, which is the value of the max.request.size configuration."
        );
        assert_eq!(
            root_cause("java.lang.IllegalStateException: boom\n\tat x"),
            "java.lang.IllegalStateException: boom"
        );
    }
}
