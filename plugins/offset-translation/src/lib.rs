//! MirrorMaker 2's offset translation, checked record by record while it runs, after the mirror
//! restarts (5.3) and after the workers lose the source (5.5): a consumer group commits on the
//! source under load, and at every check kscen asks what a consumer of the group resuming on the
//! target at the translated offsets would miss (must be 0) or read again, and how old the newest
//! checkpoint is. Users report translation stopping after upgrades and source outages: this is
//! where it shows.

use kscen_sdk::connect;
use kscen_sdk::consume::{self, CommitPolicy};
use kscen_sdk::faults::{self, Action};
use kscen_sdk::mm2::{self, ConnectorRole};
use kscen_sdk::prelude::*;

struct OffsetTranslation;

const TRACKED: mm2::TrackedLoadDefaults = mm2::TrackedLoadDefaults {
    topic: "kscen-translation",
    rate: 1000.0,
    partitions: 6,
    grace: "3m",
};

/// The fault target the outage cuts: the workers' path to the source cluster.
const SOURCE_LINK: &str = "workers-to-source";

/// One look at the translation of the group's offsets.
#[derive(Default)]
struct Check {
    missed: u64,
    read_twice: u64,
    /// the oldest of the partitions' newest checkpoints, ms
    age_ms: u64,
}

/// The translation now; none while the mirror has no checkpoint for the group.
fn check(group: &str) -> Result<Option<Check>, ScenarioError> {
    let translated = match consume::translate_offsets(group) {
        Ok(translated) => translated,
        Err(ScenarioError::Host(kscen_sdk::types::Error::NotFound(_))) => return Ok(None),
        Err(other) => return Err(other),
    };
    let errors = consume::translation_errors(group, false)?;
    if let Some(saturated) = errors.iter().find(|e| e.saturated) {
        warn(&format!(
            "partition {} of {}: the translation is off by more than the window kscen reads",
            saturated.partition, saturated.topic
        ));
    }
    Ok(Some(Check {
        missed: errors.iter().map(|e| e.missed).sum(),
        read_twice: errors.iter().map(|e| e.read_twice).sum(),
        age_ms: translated.iter().map(|t| t.age_ms).max().unwrap_or(0),
    }))
}

/// Every check's figures, kept as the run's worst.
#[derive(Default)]
struct Worst {
    missed: u64,
    read_twice: u64,
    age_ms: u64,
    checks: u32,
}

impl Worst {
    fn add(&mut self, check: &Check) {
        self.missed = self.missed.max(check.missed);
        self.read_twice = self.read_twice.max(check.read_twice);
        self.age_ms = self.age_ms.max(check.age_ms);
        self.checks += 1;
        gauge("translation_missed", check.missed as f64);
        gauge("translation_read_twice", check.read_twice as f64);
        gauge("checkpoint_age_ms", check.age_ms as f64);
    }
}

/// The group's committed offsets on the source topic, by partition.
fn committed_on_source(group: &str, topic: &str) -> Result<Vec<(i32, i64)>, ScenarioError> {
    Ok(consume::describe_group("source", group, &[topic])?
        .partitions
        .iter()
        .filter_map(|p| Some((p.partition, p.committed?)))
        .collect())
}

/// Waits until the mirror's checkpoints cover what the group had committed on the source at
/// the call: every partition's newest checkpoint translates that offset or a later one. A
/// checkpoint's timestamp proves nothing (a task that lost the source re-emits what it cached);
/// this proves the mirror read the group's offsets again and could translate them. The time
/// that took, and the check then.
fn checkpoints_caught_up(
    group: &str,
    topic: &str,
    timeout: Duration,
) -> Result<Option<(Duration, Check)>, ScenarioError> {
    let since = monotonic_now();
    let committed = committed_on_source(group, topic)?;
    let covered = mm2::wait_until(timeout, Duration::from_millis(500), || {
        let translated = match consume::translate_offsets(group) {
            Ok(translated) => translated,
            Err(ScenarioError::Host(kscen_sdk::types::Error::NotFound(_))) => return Ok(false),
            Err(other) => return Err(other),
        };
        Ok(committed.iter().all(|(partition, offset)| {
            translated
                .iter()
                .any(|t| t.partition == *partition && t.upstream_offset >= *offset)
        }))
    })?;
    match covered {
        Some(_) => Ok(check(group)?.map(|check| (monotonic_now() - since, check))),
        None => Ok(None),
    }
}

impl Scenario for OffsetTranslation {
    fn describe() -> ScenarioInfo {
        Describe::new(
            "offset-translation",
            "MM2's offset translation checked record by record: steady, after a mirror restart, after a source outage",
        )
        .description(
            "A tracked load to a fresh `topic` at `rate` and a consumer group committing after \
             each batch on the source. Every `check_every`, the group's offsets translated by the \
             run's mirror are judged on the stamped records of both clusters: `missed` (a \
             consumer resuming there would never read them: must be 0), `read_twice`, and the \
             newest checkpoint's age. After `steady`, the mirror's checkpoint and source \
             connectors restart with their tasks: `checkpoint_after_restart_ms` (until the \
             checkpoints translate, on every partition, what the group had committed at the \
             restart). Then the workers' path to the source is cut for `outage` and restored: \
             `checkpoint_resumed_ms` (the same, from the restore). \
             Figures: `translation_missed_max`, `translation_read_twice_max`, \
             `checkpoint_age_max_ms` over every check, `after_restart_missed`, \
             `after_outage_missed`.",
        )
        .apply(|d| mm2::tracked_load_params(d, TRACKED))
        .apply(|d| consume::group_params(d, "kscen-translated-app", 1))
        .param(spec::duration("steady", "30s", "checks before the restart"))
        .param(spec::duration("check_every", "10s", "time between checks"))
        .param(spec::duration("outage", "30s", "how long the workers lose the source"))
        .param(spec::duration("timeout", "3m", "longest wait for a checkpoint"))
        .cluster("source")
        .cluster("target")
        .connect()
        .fault(SOURCE_LINK)
        .build()
    }

    fn run() -> Result<(), ScenarioError> {
        let group = consume::fresh_group()?;
        let timeout = param::duration("timeout")?;
        let check_every = param::duration("check_every")?;
        let mirror = mm2::mirror()?;

        phase("steady");
        let started = monotonic_now();
        let (load, topic) = mm2::start_tracked_load(&[])?;
        let _consumer = Consume::group("source", &topic, &group)
            .members(param::int("members")? as u32)
            .commit(CommitPolicy::PerBatch)
            .start()?;
        let mut worst = Worst::default();
        let mut first = None;
        mm2::wait_until(timeout, Duration::from_millis(500), || {
            first = check(&group)?;
            Ok(first.is_some())
        })?;
        let Some(first) = first else {
            return Err(ScenarioError::Failed(format!(
                "the mirror {} wrote no checkpoint for group {group} within {timeout:?}: is its \
                 checkpoint connector running, and does its `groups` filter match?",
                mirror.label
            )));
        };
        figure(
            "first_checkpoint_ms",
            (monotonic_now() - started).as_secs_f64() * 1000.0,
            "ms",
        );
        worst.add(&first);
        let steady_until = monotonic_now() + param::duration("steady")?;
        while monotonic_now() < steady_until {
            sleep(check_every);
            if let Some(check) = check(&group)? {
                worst.add(&check);
            }
        }

        phase("mirror restart");
        for role in [ConnectorRole::Checkpoint, ConnectorRole::Source] {
            connect::restart(&mirror.connector_name(role)?, true, false)?;
        }
        event(
            "restart",
            "checkpoint and source connectors restarted with their tasks",
        );
        match checkpoints_caught_up(&group, &topic, timeout)? {
            Some((took, check)) => {
                figure("checkpoint_after_restart_ms", took.as_secs_f64() * 1000.0, "ms");
                figure("after_restart_missed", check.missed as f64, "records");
                worst.add(&check);
            }
            None => warn(&format!(
                "the checkpoints did not cover the group's offsets at the restart within {timeout:?}"
            )),
        }

        phase("source outage");
        faults::inject(SOURCE_LINK, Action::Cut)?;
        sleep(param::duration("outage")?);
        faults::inject(SOURCE_LINK, Action::Restore)?;
        match checkpoints_caught_up(&group, &topic, timeout)? {
            Some((took, check)) => {
                figure("checkpoint_resumed_ms", took.as_secs_f64() * 1000.0, "ms");
                figure("after_outage_missed", check.missed as f64, "records");
                worst.add(&check);
            }
            None => warn(&format!(
                "the checkpoints did not cover the group's offsets at the restore within \
                 {timeout:?}: translation stopped"
            )),
        }

        phase("after");
        if let Some(check) = check(&group)? {
            worst.add(&check);
        }
        figure("translation_missed_max", worst.missed as f64, "records");
        figure(
            "translation_read_twice_max",
            worst.read_twice as f64,
            "records",
        );
        figure("checkpoint_age_max_ms", worst.age_ms as f64, "ms");
        figure("checks", worst.checks as f64, "");
        mm2::finish_tracked_load(load);
        Ok(())
    }
}

kscen_sdk::export_scenario!(OffsetTranslation);
