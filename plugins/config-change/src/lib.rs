//! Resilience test 5.7: change MirrorMaker 2's configuration under load through the REST API —
//! `tasks.max`, `topics`, `sync.group.offsets.enabled` — and measure the time to apply, whether a
//! rebalance happened, the impact on replication, that a topic the change adds really starts being
//! mirrored, and that nothing is lost.

use kscen_sdk::connect::{self, ConnectorStatus};
use kscen_sdk::consume::{self, CommitPolicy};
use kscen_sdk::mm2::{self, ConnectorRole};
use kscen_sdk::prelude::*;

struct ConfigChange;

/// Defaults of the tracked load every MM2 scenario shares.
const TRACKED: mm2::TrackedLoadDefaults = mm2::TrackedLoadDefaults {
    topic: "test-mm2-perf",
    rate: 1000.0,
    partitions: 8,
    grace: "60s",
};

impl Scenario for ConfigChange {
    fn describe() -> ScenarioInfo {
        Describe::new("config-change", "Change tasks.max, topics, sync.group.offsets.enabled under load (5.7)")
            .description(
                "Under tracked load on the run's mirror (connectors found by class, whatever their \
                 names). Setup: the source connector gets `tasks_max_before` and `topics_before` \
                 (the seeds' starting point; 0 and \"\" keep the deployment's). Then, each change \
                 timed: `tasks.max` to `tasks_max` (until that many tasks run on live workers); \
                 `topics` to `<topics_before>|<topics_added>` while a tracked load writes to \
                 `added_topic` (which only the added pattern matches): nothing of it reaches the \
                 target before, and `topics_replicated_ms` is the time from the change to its first \
                 record on the target; `sync.group.offsets.enabled` on the checkpoint connector \
                 with a consumer group committing on the source: the time until MM2 commits its \
                 offsets on the target (`sync_group_offsets_appear_ms`), then disabled: how far \
                 they still move (`sync_group_offsets_moved_after_disable`, records); then the \
                 original configurations restored. Figures per change: \
                 `<change>_ms`, `<change>_detected_ms` (a task set change = a rebalance), lag peaks.",
            )
            .param(spec::int("tasks_max_before", 3, "tasks.max set before the changes (0 = keep the deployment's)"))
            .param(spec::int("tasks_max", 5, "new tasks.max of the source connector"))
            .param(spec::text("topics_before", "test-.*", "`topics` set before the changes (\"\" = keep the deployment's); must match `topic`"))
            .param(spec::text("topics_added", "prod-.*", "pattern the `topics` change adds"))
            .param(spec::text("added_topic", "prod-kscen", "topic only the added pattern matches (a fresh suffix is added per run)"))
            .param(spec::duration("settle", "10s", "steady load between changes"))
            .param(spec::duration("timeout", "2m", "longest wait for each change"))
            .apply(|d| mm2::tracked_load_params(d, TRACKED))
        .cluster("source")
            .cluster("target")
            .connect()
            .build()
    }

    fn run() -> Result<(), ScenarioError> {
        let settle = param::duration("settle")?;
        let timeout = param::duration("timeout")?;
        let mirror = mm2::mirror()?;
        let source = mirror.connector_name(ConnectorRole::Source)?;
        let checkpoint = mirror.connector_name(ConnectorRole::Checkpoint)?;

        phase("before");
        let (load, topic) = mm2::start_tracked_load(&[])?;
        let changes = Changes {
            load: &load,
            connectors: mirror.connector_names(),
            timeout,
        };
        mm2::wait_healthy(
            &changes.connectors,
            Duration::from_secs(120),
            Duration::from_millis(200),
        )?
        .ok_or("MM2 is not healthy")?;
        sleep(settle);
        let source_config = connect::get_config(&source)?;
        let checkpoint_config = connect::get_config(&checkpoint)?;

        // The seeds' starting point, so each change goes from their "before" to their "after".
        let mut base = source_config.clone();
        let tasks_before = param::int("tasks_max_before")?;
        if tasks_before > 0 {
            base = with("tasks.max", &tasks_before.to_string(), &base);
        }
        let topics_before = param::text("topics_before")?;
        if !topics_before.is_empty() {
            base = with("topics", &topics_before, &base);
        }
        if base != source_config {
            changes.apply("setup", &source, &base, all_healthy)?;
            sleep(settle);
        }

        let tasks_max = param::int("tasks_max")?;
        let with_tasks = |s: &[ConnectorStatus]| {
            s.iter().all(mm2::healthy)
                && s.iter()
                    .find(|c| c.name == source)
                    .is_some_and(|c| c.tasks.len() as i64 == tasks_max)
        };
        let base = with("tasks.max", &tasks_max.to_string(), &base);
        changes.apply("tasks_max", &source, &base, with_tasks)?;
        sleep(settle);

        let added = AddedTopic::start()?;
        sleep(settle);
        let before_change = added.replicated();
        figure(
            "added_topic_replicated_before",
            before_change as f64,
            "records",
        );
        if before_change > 0 {
            warn(&format!(
                "{} reached the target before `topics` included it: the deployment's filter \
                 already matched it, so the change does not show a new topic being mirrored",
                added.topic
            ));
        }
        let topics = get(&base, "topics").unwrap_or(".*".into());
        let extended = format!("{topics}|{}", param::text("topics_added")?);
        let changed_at = monotonic_now();
        changes.apply(
            "topics",
            &source,
            &with("topics", &extended, &base),
            all_healthy,
        )?;
        let first = mm2::wait_until(timeout, Duration::from_millis(100), || {
            Ok(added.replicated() > before_change)
        })?;
        match first {
            Some(_) => figure(
                "topics_replicated_ms",
                (monotonic_now() - changed_at).as_secs_f64() * 1000.0,
                "ms",
            ),
            None => warn(&format!(
                "{} was not mirrored within {timeout:?} of the `topics` change",
                added.topic
            )),
        }
        sleep(settle);

        SyncedOffsets::start(&topic)?.check(&changes, &checkpoint, &checkpoint_config)?;
        sleep(settle);

        phase("restore");
        changes.apply("restore_source", &source, &source_config, all_healthy)?;
        changes.apply(
            "restore_checkpoint",
            &checkpoint,
            &checkpoint_config,
            all_healthy,
        )?;
        sleep(settle);

        added.load.stop();
        mm2::finish_tracked_load(load);
        Ok(())
    }
}

/// A slow tracked load to a topic that only the added `topics` pattern matches.
struct AddedTopic {
    topic: String,
    load: Load,
}

impl AddedTopic {
    fn start() -> Result<AddedTopic, ScenarioError> {
        let topic = format!(
            "{}-{}",
            param::text("added_topic")?,
            kscen_sdk::clock::wall_now_ms()
        );
        create_topic("source", &topic, 1)?;
        let load = Load::to("source", &topic)
            .rate(20.0)
            .record_size(param::size("record_size")? as u32)
            .replicate_to("target")
            .grace(param::duration("grace")?)
            .start()?;
        event("mirror", &format!("{topic}: tracked, not in `topics` yet"));
        Ok(AddedTopic { topic, load })
    }

    fn replicated(&self) -> u64 {
        self.load.status().replication.map_or(0, |r| r.replicated)
    }
}

/// A consumer group committing on the source topic, and what MM2 commits for it on the target's
/// remote topic: with `sync.group.offsets.enabled`, offsets must appear there and follow; once it
/// is disabled, they must stop.
struct SyncedOffsets {
    group: String,
    remote: String,
    _consumer: Consume,
}

impl SyncedOffsets {
    fn start(topic: &str) -> Result<SyncedOffsets, ScenarioError> {
        let group = format!("kscen-sync-{}", kscen_sdk::clock::wall_now_ms());
        let consumer = Consume::group("source", topic, &group)
            .commit(CommitPolicy::PerBatch)
            .start()?;
        Ok(SyncedOffsets {
            group,
            remote: mm2::remote_topic(topic)?,
            _consumer: consumer,
        })
    }

    /// The group's committed offsets on the remote topic, summed; none while MM2 wrote none.
    fn on_target(&self) -> Result<Option<i64>, ScenarioError> {
        match consume::describe_group("target", &self.group, &[&self.remote]) {
            Ok(lag) => Ok(lag
                .partitions
                .iter()
                .filter_map(|p| p.committed)
                .reduce(|a, b| a + b)),
            // The group does not exist on the target until MM2 writes it there.
            Err(ScenarioError::Host(kscen_sdk::types::Error::NotFound(_))) => Ok(None),
            Err(other) => Err(other),
        }
    }

    /// Enables the sync (unless it is), times the group's offsets appearing on the target, then
    /// disables it and counts how far they still moved over two of the deployment's sync periods: `sync_group_offsets_appear_ms`,
    /// `sync_group_offsets_moved_after_disable` (records).
    fn check(
        &self,
        changes: &Changes,
        checkpoint: &str,
        config: &[(String, String)],
    ) -> Result<(), ScenarioError> {
        let key = "sync.group.offsets.enabled";
        let enabled = get(config, key).is_some_and(|v| v == "true");
        let started = monotonic_now();
        if !enabled {
            changes.apply(
                "sync_group_offsets_on",
                checkpoint,
                &with(key, "true", config),
                all_healthy,
            )?;
        }
        let appeared = mm2::wait_until(changes.timeout, Duration::from_millis(500), || {
            Ok(self.on_target()?.is_some())
        })?;
        match appeared {
            Some(_) => figure(
                "sync_group_offsets_appear_ms",
                (monotonic_now() - started).as_secs_f64() * 1000.0,
                "ms",
            ),
            None => warn(&format!(
                "MM2 synced no offset of group {} to {} within {:?}",
                self.group, self.remote, changes.timeout
            )),
        }
        changes.apply(
            "sync_group_offsets_off",
            checkpoint,
            &with(key, "false", config),
            all_healthy,
        )?;
        // The deployment's own sync period (MM2's default: 60 s): a sync already under way when
        // the change landed may still arrive within one; a sync still running would show within
        // two more.
        let period = get(config, "sync.group.offsets.interval.seconds")
            .and_then(|s| s.parse::<u64>().ok())
            .map_or(Duration::from_secs(60), Duration::from_secs);
        sleep(period);
        let baseline = self.on_target()?.unwrap_or(0);
        sleep(2 * period);
        let moved = self.on_target()?.unwrap_or(0) - baseline;
        figure(
            "sync_group_offsets_moved_after_disable",
            moved as f64,
            "records",
        );
        Ok(())
    }
}

fn all_healthy(statuses: &[ConnectorStatus]) -> bool {
    statuses.iter().all(mm2::healthy)
}

fn get(config: &[(String, String)], key: &str) -> Option<String> {
    config
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.clone())
}

fn with(key: &str, value: &str, config: &[(String, String)]) -> Vec<(String, String)> {
    let mut changed: Vec<(String, String)> =
        config.iter().filter(|(k, _)| k != key).cloned().collect();
    changed.push((key.to_string(), value.to_string()));
    changed
}

/// Configuration changes to the mirror's connectors under a tracked load.
struct Changes<'a> {
    load: &'a Load,
    /// every connector of the mirror, watched for the reaction
    connectors: Vec<String>,
    timeout: Duration,
}

impl Changes<'_> {
    /// PUTs `config` to `connector` and measures the reaction until `applied` holds.
    fn apply(
        &self,
        name: &str,
        connector: &str,
        config: &[(String, String)],
        applied: impl FnMut(&[ConnectorStatus]) -> bool,
    ) -> Result<(), ScenarioError> {
        phase(name);
        let baseline = mm2::statuses(&self.connectors)?;
        let at = monotonic_now();
        connect::put_config(connector, config)?;
        // Not every change moves tasks; one that has not shown within 5 s will not.
        let reaction = mm2::watch_reaction(
            &self.connectors,
            &baseline,
            at,
            Some(self.load),
            mm2::Expect::ChangeWithin(Duration::from_secs(5)),
            self.timeout,
            Duration::from_millis(100),
            applied,
        )?;
        figure(
            &format!("{name}_rebalanced"),
            if reaction.detected.is_some() {
                1.0
            } else {
                0.0
            },
            "",
        );
        mm2::record_reaction(name, &reaction);
        Ok(())
    }
}

kscen_sdk::export_scenario!(ConfigChange);
