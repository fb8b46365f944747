//! Resilience test 5.3: restart each MirrorMaker 2 connector — alone, then with its tasks — and
//! pause/resume it, under tracked load: time to be RUNNING again, induced lag, time to catch up.

use kscen_sdk::connect;
use kscen_sdk::mm2::{self, ConnectorRole};
use kscen_sdk::prelude::*;

struct ConnectorRestart;

/// How often Connect's status is read while it reacts.
const POLL: Duration = Duration::from_millis(100);

/// A reaction that has not shown in Connect's status this long after the call will not show.
const QUIET: mm2::Expect = mm2::Expect::ChangeWithin(Duration::from_secs(5));

/// Defaults of the tracked load every MM2 scenario shares.
const TRACKED: mm2::TrackedLoadDefaults = mm2::TrackedLoadDefaults {
    topic: "test-mm2-perf",
    rate: 1000.0,
    partitions: 8,
    grace: "60s",
};

impl Scenario for ConnectorRestart {
    fn describe() -> ScenarioInfo {
        Describe::new(
            "connector-restart",
            "Restart and pause/resume each MM2 connector under load (5.3)",
        )
        .description(
            "For each of the run's mirror's connectors in `roles` (found by class, whatever their \
                 names): a restart of the connector alone, a restart with its tasks \
                 (includeTasks=true), and a pause held for `pause` then a resume. Each action's \
                 reaction is measured: Connect's status change, the time until every task is \
                 RUNNING on a live worker again (`<role>_<action>_ms`, e.g. `source_resume_ms`), \
                 the lag it induced, and (after a resume) the time until the lag is back under \
                 `caught_up_lag` (`<role>_catch_up_ms`).",
        )
        .param(spec::text(
            "roles",
            "source,checkpoint,heartbeat",
            "the mirror's connectors to act on, by role (comma-separated)",
        ))
        .param(spec::duration(
            "pause",
            "30s",
            "how long each connector stays paused",
        ))
        .param(spec::duration(
            "settle",
            "10s",
            "steady load between actions",
        ))
        .param(spec::duration(
            "timeout",
            "2m",
            "longest wait for each reaction",
        ))
        .param(spec::int(
            "caught_up_lag",
            1000,
            "lag (records) under which the target has caught up",
        ))
        .apply(|d| mm2::tracked_load_params(d, TRACKED))
        .cluster("source")
        .cluster("target")
        .connect()
        .build()
    }

    fn run() -> Result<(), ScenarioError> {
        let mirror = mm2::mirror()?;
        let all = mirror.connector_names();
        let acted_on = param::text("roles")?
            .split(',')
            .map(|role| {
                let role = ConnectorRole::parse(role.trim())
                    .map_err(|e| ScenarioError::Failed(format!("roles: {e}")))?;
                Ok((role.name(), mirror.connector_name(role)?))
            })
            .collect::<Result<Vec<_>, ScenarioError>>()?;
        let timeout = param::duration("timeout")?;
        let settle = param::duration("settle")?;

        phase("before");
        let (load, _topic) = mm2::start_tracked_load(&[])?;
        mm2::wait_healthy(&all, Duration::from_secs(120), POLL)?.ok_or("MM2 is not healthy")?;
        sleep(settle);

        for (role, connector) in &acted_on {
            for (action, include_tasks) in [("restart", false), ("restart_with_tasks", true)] {
                phase(&format!("{role} {action}"));
                react(&format!("{role}_{action}"), &all, &load, timeout, || {
                    Ok(connect::restart(connector, include_tasks, false)?)
                })?;
                sleep(settle);
            }

            phase(&format!("{role} pause"));
            connect::pause(connector)?;
            sleep(param::duration("pause")?);
            phase(&format!("{role} resume"));
            let at = monotonic_now();
            react(&format!("{role}_resume"), &all, &load, timeout, || {
                Ok(connect::resume(connector)?)
            })?;
            let caught_up_lag = param::int("caught_up_lag")? as u64;
            let caught_up = mm2::wait_until(timeout, POLL, || {
                Ok(load
                    .status()
                    .replication
                    .is_some_and(|r| r.lag_records <= caught_up_lag))
            })?;
            if caught_up.is_some() {
                figure(
                    &format!("{role}_catch_up_ms"),
                    (monotonic_now() - at).as_secs_f64() * 1000.0,
                    "ms",
                );
            }
            sleep(settle);
        }

        mm2::finish_tracked_load(load);
        Ok(())
    }
}

/// Acts on Connect and records how it reacted, under `name`: until every task of `connectors`
/// runs on a live worker again (a connector-only restart may leave every task as it was: nothing
/// to detect).
fn react(
    name: &str,
    connectors: &[String],
    load: &Load,
    timeout: Duration,
    act: impl FnOnce() -> Result<(), ScenarioError>,
) -> Result<(), ScenarioError> {
    let baseline = mm2::statuses(connectors)?;
    let at = monotonic_now();
    act()?;
    let reaction = mm2::watch_reaction(
        connectors,
        &baseline,
        at,
        Some(load),
        QUIET,
        timeout,
        POLL,
        |s| s.iter().all(mm2::healthy),
    )?;
    mm2::record_reaction(name, &reaction);
    Ok(())
}

kscen_sdk::export_scenario!(ConnectorRestart);
