//! Resilience tests 5.5 and 5.6: cut the network between the Connect workers and the source (or
//! target) cluster under tracked load; measure detection, connector states during the outage,
//! the time to reconnect after the link is restored, lost records and the catch-up time.

use kscen_sdk::connect::State;
use kscen_sdk::faults::{self, Action};
use kscen_sdk::mm2;
use kscen_sdk::prelude::*;

struct ConnectivityLoss;

const LINKS: [&str; 2] = ["workers-to-source", "workers-to-target"];

/// Defaults of the tracked load every MM2 scenario shares.
const TRACKED: mm2::TrackedLoadDefaults = mm2::TrackedLoadDefaults {
    topic: "test-mm2-perf",
    rate: 1000.0,
    partitions: 8,
    grace: "2m",
};

impl Scenario for ConnectivityLoss {
    fn describe() -> ScenarioInfo {
        let mut describe = Describe::new(
            "connectivity-loss",
            "Cut the workers' link to the source or target cluster under load (5.5, 5.6)",
        )
        .description(
            "Tracked load on `topic`; after `warmup` the `link` is cut for `outage`. Detection is \
             the moment replication visibly stalls (`stall_detected_ms`: no new record on the \
             target for `stall`; `replication_stopped_ms`: when the last one came) and, \
             separately, the first change in Connect's status (`status_changed_ms`, absent if none). States seen during \
             the outage go to the event log. After the restore: time until records flow again \
             (`reconnect_ms`), time until the lag is back under `caught_up_lag` (`catch_up_ms`), \
             and at the end the per-record verdict (lost must be 0).",
        )
        .param(spec::text(
            "link",
            "workers-to-source",
            "workers-to-source (5.5) | workers-to-target (5.6)",
        ))
        .param(spec::duration(
            "warmup",
            "30s",
            "steady load before the cut",
        ))
        .param(spec::duration(
            "outage",
            "2m",
            "how long the link stays cut",
        ))
        .param(spec::duration(
            "stall",
            "2s",
            "no new record on the target for this long = replication stalled",
        ))
        .param(spec::duration(
            "timeout",
            "5m",
            "longest wait for reconnection and catch-up",
        ))
        .param(spec::int(
            "caught_up_lag",
            1000,
            "lag (records) under which the target has caught up",
        ))
        .apply(|d| mm2::tracked_load_params(d, TRACKED))
        .cluster("source")
        .cluster("target")
        .connect();
        for link in LINKS {
            describe = describe.fault(link);
        }
        describe.build()
    }

    fn run() -> Result<(), ScenarioError> {
        let link = param::text("link")?;
        if !LINKS.contains(&link.as_str()) {
            return Err(format!("link must be one of {LINKS:?}, got {link:?}").into());
        }
        let poll = Duration::from_millis(100);
        let timeout = param::duration("timeout")?;
        let connectors = mm2::mirror()?.connector_names();

        phase("before");
        let (load, _topic) = mm2::start_tracked_load(&[])?;
        sleep(param::duration("warmup")?);

        phase("outage");
        let baseline = mm2::statuses(&connectors)?;
        let cut_at = Duration::from_nanos(faults::inject(&link, Action::Cut)?);
        let stall = param::duration("stall")?;
        let outage_end = cut_at + param::duration("outage")?;
        let mut last_count = replicated(&load);
        let mut last_progress = monotonic_now();
        let mut stalled_at = None;
        let mut status_changed_at = None;
        let mut states_seen: Vec<String> = Vec::new();
        let mut lag_peak = (0, 0);
        while monotonic_now() < outage_end {
            let now = monotonic_now();
            let count = replicated(&load);
            if count > last_count {
                last_count = count;
                last_progress = now;
            } else if stalled_at.is_none() && now - last_progress >= stall {
                // (when records stopped arriving, when a watcher with this window notices)
                stalled_at = Some((last_progress.saturating_sub(cut_at), now - cut_at));
            }
            if let Some(r) = load.status().replication {
                lag_peak = (lag_peak.0.max(r.lag_records), lag_peak.1.max(r.lag_ms));
            }
            if let Ok(statuses) = mm2::statuses(&connectors) {
                if status_changed_at.is_none() && !mm2::same_shape(&statuses, &baseline) {
                    status_changed_at = Some(now - cut_at);
                }
                for status in &statuses {
                    let states: Vec<State> = status.tasks.iter().map(|t| t.state).collect();
                    let seen = format!("{} {:?} tasks {states:?}", status.name, status.state);
                    if !states_seen.contains(&seen) {
                        event("connect-state", &seen);
                        states_seen.push(seen);
                    }
                }
            }
            sleep(poll);
        }
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        match stalled_at {
            Some((stopped, detected)) => {
                figure("replication_stopped_ms", ms(stopped), "ms");
                figure("stall_detected_ms", ms(detected), "ms");
            }
            None => {
                warn("replication never stalled during the outage: is the link really in the path?")
            }
        }
        if let Some(at) = status_changed_at {
            figure("status_changed_ms", ms(at), "ms");
        }

        phase("restored");
        let restored_at = Duration::from_nanos(faults::inject(&link, Action::Restore)?);
        let before = replicated(&load);
        if mm2::wait_until(timeout, poll, || Ok(replicated(&load) > before))?.is_some() {
            figure("reconnect_ms", ms(monotonic_now() - restored_at), "ms");
        }
        let caught_up_lag = param::int("caught_up_lag")? as u64;
        let caught_up = mm2::wait_until(timeout, poll, || {
            let status = load.status().replication;
            if let Some(r) = status {
                lag_peak = (lag_peak.0.max(r.lag_records), lag_peak.1.max(r.lag_ms));
            }
            Ok(status.is_some_and(|r| r.lag_records <= caught_up_lag))
        })?;
        if caught_up.is_some() {
            figure("catch_up_ms", ms(monotonic_now() - restored_at), "ms");
        }
        figure("lag_peak_records", lag_peak.0 as f64, "records");
        figure("lag_peak_ms", lag_peak.1 as f64, "ms");
        let failed = mm2::failed_tasks(&mm2::statuses(&connectors)?);
        figure("failed_tasks_after", failed.len() as f64, "tasks");

        mm2::finish_tracked_load(load);
        Ok(())
    }
}

fn replicated(load: &Load) -> u64 {
    load.status().replication.map_or(0, |r| r.replicated)
}

kscen_sdk::export_scenario!(ConnectivityLoss);
