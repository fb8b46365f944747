//! Resilience test 5.7: change MirrorMaker 2's configuration under load through the REST API —
//! `tasks.max`, `topics`, `sync.group.offsets.enabled` — and measure the time to apply, whether a
//! rebalance happened, the impact on replication, and that nothing is lost.

use kscen_sdk::connect::{self, ConnectorStatus};
use kscen_sdk::mm2::{self, MM2_CONNECTORS};
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
                "Under tracked load: sets mirror-source `tasks.max` to `tasks_max` (time until that \
                 many tasks run on live workers), changes `topics` to add a pattern (time until the \
                 new config is applied and healthy), toggles `sync.group.offsets.enabled` on \
                 mirror-checkpoint, then restores the original configurations. Figures per change: \
                 `<change>_ms`, `<change>_detected_ms` (a task set change = a rebalance), lag peaks.",
            )
            .param(spec::int("tasks_max", 2, "new tasks.max for mirror-source"))
            .param(spec::text("extra_topics", "kscen-config-change-.*", "pattern added to `topics`"))
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

        phase("before");
        let (load, _topic) = mm2::start_tracked_load(&[])?;
        mm2::wait_healthy(
            &MM2_CONNECTORS,
            Duration::from_secs(120),
            Duration::from_millis(200),
        )?
        .ok_or("MM2 is not healthy")?;
        sleep(settle);
        let source_config = connect::get_config("mirror-source")?;
        let checkpoint_config = connect::get_config("mirror-checkpoint")?;

        let tasks_max = param::int("tasks_max")?;
        let with_tasks = move |s: &[ConnectorStatus]| {
            s.iter().all(mm2::healthy)
                && s.iter()
                    .find(|c| c.name == "mirror-source")
                    .is_some_and(|c| c.tasks.len() as i64 == tasks_max)
        };
        change(
            &load,
            "tasks_max",
            "mirror-source",
            &with("tasks.max", &tasks_max.to_string(), &source_config),
            timeout,
            with_tasks,
        )?;
        sleep(settle);

        let topics = get(&source_config, "topics").unwrap_or(".*".into());
        let extra = format!("{topics}|{}", param::text("extra_topics")?);
        change(
            &load,
            "topics",
            "mirror-source",
            &with("topics", &extra, &source_config),
            timeout,
            all_healthy,
        )?;
        sleep(settle);

        let sync =
            get(&checkpoint_config, "sync.group.offsets.enabled").is_some_and(|v| v == "true");
        let toggled = with(
            "sync.group.offsets.enabled",
            &(!sync).to_string(),
            &checkpoint_config,
        );
        change(
            &load,
            "sync_group_offsets",
            "mirror-checkpoint",
            &toggled,
            timeout,
            all_healthy,
        )?;
        sleep(settle);

        phase("restore");
        change(
            &load,
            "restore_source",
            "mirror-source",
            &source_config,
            timeout,
            all_healthy,
        )?;
        change(
            &load,
            "restore_checkpoint",
            "mirror-checkpoint",
            &checkpoint_config,
            timeout,
            all_healthy,
        )?;
        sleep(settle);

        mm2::finish_tracked_load(load);
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

/// PUTs `config` and measures the reaction until `applied` holds.
fn change(
    load: &Load,
    name: &str,
    connector: &str,
    config: &[(String, String)],
    timeout: Duration,
    applied: impl FnMut(&[ConnectorStatus]) -> bool,
) -> Result<(), ScenarioError> {
    phase(name);
    let baseline = mm2::statuses(&MM2_CONNECTORS)?;
    let at = monotonic_now();
    connect::put_config(connector, config)?;
    // Not every change moves tasks; one that has not shown within 5 s will not.
    let reaction = mm2::watch_reaction(
        &MM2_CONNECTORS,
        &baseline,
        at,
        Some(load),
        mm2::Expect::ChangeWithin(Duration::from_secs(5)),
        timeout,
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

kscen_sdk::export_scenario!(ConfigChange);
