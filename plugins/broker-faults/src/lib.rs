//! The brokers under tracked load (004 §11.1.3): kill the broker leading the most partitions of
//! the load's topic, or restart every broker in turn with the seeds' checks between steps. Every
//! record is followed across the mirror; the cluster's health (brokers online, partition leaders,
//! under-replicated and offline partitions, ISR changes, the controller) comes from the brokers'
//! exporters, read through the whole run into the timeline.

use kscen_sdk::brokers::{ClusterHealth, HealthTally};
use kscen_sdk::faults::{self, Action};
use kscen_sdk::mm2;
use kscen_sdk::prelude::*;

struct BrokerFaults;

/// The brokers the plugin asks for: each is a fault target and the probe of its exporter, as the
/// lab names them. `brokers` picks among those the operator granted.
const BROKERS: [&str; 3] = ["source-1", "source-2", "source-3"];

const TRACKED: mm2::TrackedLoadDefaults = mm2::TrackedLoadDefaults {
    topic: "test-mm2-brokers",
    rate: 1000.0,
    partitions: 6,
    grace: "60s",
};

impl Scenario for BrokerFaults {
    fn describe() -> ScenarioInfo {
        let mut describe = Describe::new(
            "broker-faults",
            "Kill the leading broker, or restart every broker in turn, under tracked load (004 §11.1.3)",
        )
        .description(
            "Steady load on a fresh topic of `source`, every record followed to the target. \
             `mode = kill-leader`: after `warmup`, the broker leading the most partitions of the \
             topic is killed (SIGKILL); measured: time until the other brokers lead every \
             partition, failed sends, the under-replicated peak; after `down` it starts again, \
             and the time until it is back and until the ISR is full is measured. \
             `mode = rolling-restart`: each broker of `brokers` in turn (the active controller \
             last) is stopped (SIGTERM, a controlled shutdown), started, and the next waits for \
             the seeds' checks: every broker online, no under-replicated or offline partition, one \
             active controller. Each broker is a fault target and the probe of its exporter. \
             Through the whole run (every `sample`, every `poll` in the waits), the timeline \
             gets the brokers online, under-replicated and offline partitions and active \
             controllers; figures: their peaks, the ISR shrinks and expands and the controller \
             changes the run saw.",
        )
        .param(spec::text("mode", "kill-leader", "kill-leader | rolling-restart"))
        .param(spec::text(
            "brokers",
            &BROKERS.join(","),
            "the cluster's brokers, comma-separated: fault targets and probes of the same names",
        ))
        .param(spec::text(
            "expect_version",
            "",
            "rolling-restart: the Kafka version every broker must come back on (a rolling \
             upgrade: stage it first, e.g. `kscen lab upgrade`); empty = any",
        ))
        .param(spec::duration("warmup", "30s", "steady load before the first fault"))
        .param(spec::duration("down", "30s", "kill-leader: how long the broker stays down"))
        .param(spec::duration("after", "30s", "steady load after the last step"))
        .param(spec::duration("recovery_timeout", "5m", "longest wait for each check"))
        .param(spec::duration(
            "sample",
            "5s",
            "how often the brokers' exporters are read into the timeline between the waits (the \
             waits read them every `poll`)",
        ))
        .param(spec::duration(
            "poll",
            "2s",
            "how often the brokers' exporters are read (a JMX exporter's scrape costs its broker \
             ~0.4 s of CPU on the lab: polling faster loads the cluster under test)",
        ))
        .apply(|d| mm2::tracked_load_params(d, TRACKED))
        .cluster("source")
        .cluster("target");
        for broker in BROKERS {
            describe = describe.fault(broker).probe(broker);
        }
        describe.build()
    }

    fn run() -> Result<(), ScenarioError> {
        // Every parameter is checked before the load starts.
        let brokers = granted_brokers(&param::text("brokers")?)?;
        let mode = param::text("mode")?;
        if !["kill-leader", "rolling-restart"].contains(&mode.as_str()) {
            return Err(
                format!("mode must be kill-leader or rolling-restart, got {mode:?}").into(),
            );
        }
        let (timeout, poll, sample) = (
            param::duration("recovery_timeout")?,
            param::duration("poll")?,
            param::duration("sample")?,
        );

        phase("before");
        let (load, topic) = mm2::start_tracked_load(&[])?;
        let mut watch = Watch {
            brokers,
            topic,
            partitions: param::int("partitions")? as u32,
            timeout,
            poll: poll.max(Duration::from_millis(500)),
            sample: sample.max(Duration::from_millis(500)),
            tally: HealthTally::default(),
        };
        let waited = watch.healthy("before the first fault", monotonic_now())?;
        event(
            "healthy",
            &format!("every check passed after {} ms", waited.as_millis()),
        );
        watch.watch_for(param::duration("warmup")?);
        let failed_before = load.status().failed;

        if mode == "kill-leader" {
            kill_leader(&mut watch)?;
        } else {
            rolling_restart(&mut watch)?;
        }

        phase("after");
        watch.watch_for(param::duration("after")?);
        figure(
            "producer_failed",
            (load.status().failed - failed_before) as f64,
            "records",
        );
        watch.figures();
        mm2::finish_tracked_load(load);
        Ok(())
    }
}

/// The brokers named by `list`, each checked against the fault targets the run granted.
fn granted_brokers(list: &str) -> Result<Vec<String>, ScenarioError> {
    let granted: Vec<String> = faults::targets()
        .into_iter()
        .filter(|t| t.kind == "broker")
        .map(|t| t.name)
        .collect();
    let brokers: Vec<String> = list
        .split(',')
        .map(str::trim)
        .filter(|b| !b.is_empty())
        .map(String::from)
        .collect();
    if brokers.len() < 2 {
        return Err(format!(
            "brokers names {} broker(s); a fault needs at least 2",
            brokers.len()
        )
        .into());
    }
    if let Some(missing) = brokers.iter().find(|b| !granted.contains(b)) {
        return Err(format!(
            "broker {missing:?} is not a granted fault target (granted brokers: {}); grant it in \
             the scenario's [grants] faults or with --grant-fault {missing}",
            if granted.is_empty() {
                "none".to_string()
            } else {
                granted.join(", ")
            }
        )
        .into());
    }
    Ok(brokers)
}

/// The cluster under watch: its brokers, the load's topic, and what the waits saw.
struct Watch {
    brokers: Vec<String>,
    topic: String,
    partitions: u32,
    timeout: Duration,
    poll: Duration,
    sample: Duration,
    tally: HealthTally,
}

impl Watch {
    /// One reading of every broker, into the timeline and the tally.
    fn read(&mut self) -> ClusterHealth {
        let health = ClusterHealth::read(&self.brokers, &self.topic);
        for (name, value) in health.gauges() {
            gauge(name, value);
        }
        self.tally.add(&health);
        health
    }

    /// Keeps reading every `sample` for `duration` (the load runs on the host meanwhile).
    fn watch_for(&mut self, duration: Duration) {
        let end = monotonic_now() + duration;
        loop {
            let left = end.saturating_sub(monotonic_now());
            if left.is_zero() {
                return;
            }
            sleep(left.min(self.sample));
            self.read();
        }
    }

    fn figures(&self) {
        let tally = &self.tally;
        let under_replicated = tally.under_replicated_peak as f64;
        figure("under_replicated_peak", under_replicated, "partitions");
        let offline = tally.offline_partitions_peak as f64;
        figure("offline_partitions_peak", offline, "partitions");
        figure("brokers_down_peak", tally.brokers_down_peak as f64, "brokers");
        figure("isr_shrinks", tally.isr_shrinks, "shrinks");
        figure("isr_expands", tally.isr_expands, "expands");
        figure("controller_changes", tally.controller_changes as f64, "changes");
    }

    /// Polls until `ready` holds; the time since `since` on the run's clock. Err after the
    /// timeout, with `what` and the last reading.
    fn until(
        &mut self,
        what: &str,
        since: Duration,
        mut ready: impl FnMut(&ClusterHealth) -> Result<(), String>,
    ) -> Result<Duration, ScenarioError> {
        let mut last = String::new();
        let (timeout, poll) = (self.timeout, self.poll);
        let reached = mm2::wait_until(timeout, poll, || {
            let health = self.read();
            Ok(match ready(&health) {
                Ok(()) => true,
                Err(why) => {
                    last = why;
                    false
                }
            })
        })?;
        match reached {
            Some(_) => Ok(monotonic_now() - since),
            None => Err(ScenarioError::Failed(format!(
                "{what}: not within {timeout:?} ({last})"
            ))),
        }
    }

    /// The seeds' checks (every broker online, ISR full, nothing offline, one controller).
    fn healthy(&mut self, when: &str, since: Duration) -> Result<Duration, ScenarioError> {
        self.until(
            &format!("the cluster healthy {when}"),
            since,
            ClusterHealth::check,
        )
    }

    /// Every partition of the topic led by a broker other than `broker`.
    fn led_without(&mut self, broker: &str, since: Duration) -> Result<Duration, ScenarioError> {
        let (topic, partitions) = (self.topic.clone(), self.partitions);
        self.until(
            &format!("new leaders for every partition of {topic} without {broker}"),
            since,
            |health| {
                if health.topic_led_without(partitions, broker) {
                    Ok(())
                } else {
                    Err("some partitions have no leader on the other brokers".into())
                }
            },
        )
    }
}

/// Kills the broker leading the most partitions of the topic, measures the leaders' move, then
/// starts it again and measures its return.
fn kill_leader(watch: &mut Watch) -> Result<(), ScenarioError> {
    let health = watch.read();
    let (victim, leads) = health
        .busiest_leader()
        .map(|(name, leads)| (name.to_string(), leads.clone()))
        .ok_or_else(|| {
            ScenarioError::Failed(format!(
                "no broker of {} reports leading a partition of {}",
                watch.brokers.join(", "),
                watch.topic
            ))
        })?;

    phase("broker down");
    event(
        "victim",
        &format!(
            "{victim} leads partitions {leads:?} of {}: killed",
            watch.topic
        ),
    );
    let killed_at = Duration::from_nanos(faults::inject(&victim, Action::Kill)?);
    let moved = watch.led_without(&victim, killed_at)?;
    figure("leaders_moved_ms", moved.as_secs_f64() * 1000.0, "ms");
    watch.watch_for(param::duration("down")?.saturating_sub(moved));

    phase("broker back");
    let started_at = Duration::from_nanos(faults::inject(&victim, Action::Start)?);
    let back = watch.until(&format!("{victim} back online"), started_at, |health| {
        if health.is_online(&victim) {
            Ok(())
        } else {
            Err(format!("{victim} does not answer"))
        }
    })?;
    figure("back_online_ms", back.as_secs_f64() * 1000.0, "ms");
    let full = watch.healthy(&format!("after {victim} came back"), started_at)?;
    figure("isr_full_ms", full.as_secs_f64() * 1000.0, "ms");
    Ok(())
}

/// Restarts every broker in turn, the active controller last; the next step waits for the seeds'
/// checks.
fn rolling_restart(watch: &mut Watch) -> Result<(), ScenarioError> {
    let before = watch.read();
    let controller = before.controller().map(str::to_string);
    let mut order = watch.brokers.clone();
    order.sort_by_key(|b| Some(b) == controller.as_ref());
    event(
        "roll",
        &format!(
            "order {} (the active controller, {}, last)",
            order.join(", "),
            controller.as_deref().unwrap_or("unknown")
        ),
    );
    event(
        "versions",
        &format!("before the roll: {}", versions(&before, &order)),
    );
    let expected = param::text("expect_version")?;
    let roll_start = monotonic_now();
    let (mut step_max, mut moved_max) = (Duration::ZERO, Duration::ZERO);
    for broker in &order {
        phase(&format!("restart {broker}"));
        let stopped_at = Duration::from_nanos(faults::inject(broker, Action::Stop)?);
        let moved = watch.led_without(broker, stopped_at)?;
        let started_at = Duration::from_nanos(faults::inject(broker, Action::Start)?);
        let healthy = watch.healthy(&format!("after restarting {broker}"), started_at)?;
        let step = monotonic_now() - stopped_at;
        let health = watch.read();
        let version = health.version(broker).unwrap_or("unknown");
        event(
            "roll",
            &format!(
                "{broker}: leaders moved {} ms after the stop, cluster healthy {} ms after the \
                 start, step {} ms, runs Kafka {version}",
                moved.as_millis(),
                healthy.as_millis(),
                step.as_millis()
            ),
        );
        if !expected.is_empty() && version != expected {
            return Err(ScenarioError::Failed(format!(
                "{broker} came back on Kafka {version}, not {expected}: stage the new version \
                 before the roll (kscen lab upgrade, or the new binaries on the host), and the \
                 version label in its exporter (kafka_server_app_version)"
            )));
        }
        step_max = step_max.max(step);
        moved_max = moved_max.max(moved);
    }
    event(
        "versions",
        &format!("after the roll: {}", versions(&watch.read(), &order)),
    );
    figure(
        "roll_ms",
        (monotonic_now() - roll_start).as_secs_f64() * 1000.0,
        "ms",
    );
    figure("roll_step_max_ms", step_max.as_secs_f64() * 1000.0, "ms");
    figure(
        "leaders_moved_max_ms",
        moved_max.as_secs_f64() * 1000.0,
        "ms",
    );
    Ok(())
}

/// `source-1 3.7.2, source-2 4.3.1, …` in `order`.
fn versions(health: &ClusterHealth, order: &[String]) -> String {
    order
        .iter()
        .map(|b| format!("{b} {}", health.version(b).unwrap_or("unknown")))
        .collect::<Vec<_>>()
        .join(", ")
}

kscen_sdk::export_scenario!(BrokerFaults);
