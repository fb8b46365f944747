//! The deployment's own alerting, watched during a run: a Prometheus server's `ALERTS` series (one
//! per pending or firing alert), read through a `kind = "prometheus"` probe of the profile, each
//! alert's pending, firing and resolved times put on the run's clock. Thresholds read them
//! (`alert(MM2TaskFailed).fired_within < 2m`, `alerts.fired == 0`): a criterion on the team's own
//! alert rules, as the deployment evaluates them.
//!
//! Alerts already pending or firing when the run starts belong to the environment, not to the
//! run: they are reported, and never counted as fired by it.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::metrics::events::Event;
use crate::metrics::RunMetrics;
use crate::probe::{Probes, Sample};

use super::Poller;

/// Every pending or firing alert, as Prometheus keeps it for its rules.
const ALERTS_QUERY: &str = "ALERTS";

/// What the scenario file's `[alerts]` (or `--alerts PROBE`) asks for.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertWatch {
    /// the profile's `kind = "prometheus"` probe whose alerts are watched
    pub probe: String,
    pub poll: Duration,
    /// the phase whose start is the fault `fired_within` counts from; else the run's first fault
    /// action
    pub fault_phase: Option<String>,
}

/// The alerts of a run, as its result records them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertsResult {
    pub probe: String,
    pub poll_ms: u64,
    pub polls: u64,
    /// polls the probe did not answer (each is a `alerts-unreadable` event)
    pub failed_polls: u64,
    /// when the fault happened, ms on the run's clock; what `fired_within` counts from
    pub fault_ms: Option<f64>,
    /// what the fault was: `phase poison`, or the first fault action
    pub fault: Option<String>,
    pub alerts: Vec<AlertRecord>,
}

/// One alert (a rule's name and the labels of one of its series) seen during the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertRecord {
    pub name: String,
    /// the alert's labels, without `alertname` and `alertstate`
    pub labels: BTreeMap<String, String>,
    /// pending or firing at the run's first poll
    pub active_at_start: bool,
    /// first seen pending or firing, ms on the run's clock
    pub pending_ms: Option<f64>,
    /// first seen firing
    pub firing_ms: Option<f64>,
    /// first poll that no longer saw it, after it was seen
    pub resolved_ms: Option<f64>,
}

impl AlertRecord {
    /// Went firing because of the run, not before it.
    pub fn fired_during_run(&self) -> bool {
        !self.active_at_start && self.firing_ms.is_some()
    }
}

impl AlertsResult {
    /// The alerts of `name` (every one when none) that fired during the run.
    pub fn fired<'a>(&'a self, name: Option<&'a str>) -> impl Iterator<Item = &'a AlertRecord> {
        self.alerts
            .iter()
            .filter(move |a| name.is_none_or(|name| a.name == name))
            .filter(|a| a.fired_during_run())
    }

    /// ms from the fault to the first firing of `name`; why not, when it cannot be told.
    pub fn fired_within_ms(&self, name: &str) -> Result<f64, String> {
        let Some(fault_ms) = self.fault_ms else {
            return Err(
                "the run had no fault to count from: name the fault's phase with \
                 [alerts] fault_phase, or inject a fault action"
                    .into(),
            );
        };
        let first = self
            .fired(Some(name))
            .filter_map(|a| a.firing_ms)
            .fold(None, |first: Option<f64>, t| {
                Some(first.map_or(t, |f| f.min(t)))
            });
        match first {
            Some(firing_ms) => Ok(firing_ms - fault_ms),
            None => Err(format!(
                "alert {name:?} did not fire during the run (probe {:?}, {} polls)",
                self.probe, self.polls
            )),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Pending,
    Firing,
}

/// One poll's `ALERTS` sample: the alert's identity and state.
fn alert_of(sample: &Sample) -> Option<(String, BTreeMap<String, String>, State)> {
    let name = sample.label("alertname")?.to_string();
    let state = match sample.label("alertstate")? {
        "firing" => State::Firing,
        "pending" => State::Pending,
        _ => return None,
    };
    let labels = sample
        .labels
        .iter()
        .filter(|(k, _)| k != "alertname" && k != "alertstate" && k != "__name__")
        .cloned()
        .collect();
    Some((name, labels, state))
}

/// The alerts seen so far and their transitions; fed one poll at a time.
#[derive(Debug, Default)]
pub struct AlertLedger {
    alerts: Vec<AlertRecord>,
    polls: u64,
    failed_polls: u64,
}

/// A change worth an event: `MM2TaskFailed{connector="x"} firing`.
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    pub alert: String,
    pub to: &'static str,
}

impl AlertLedger {
    /// One answer of the probe at `t_ms`; returns what changed since the previous one.
    pub fn observe(&mut self, t_ms: f64, samples: &[Sample]) -> Vec<Transition> {
        let first_poll = self.polls == 0;
        self.polls += 1;
        let mut seen = vec![false; self.alerts.len()];
        let mut changes = Vec::new();
        for (name, labels, state) in samples.iter().filter_map(alert_of) {
            let index = match self
                .alerts
                .iter()
                .position(|a| a.name == name && a.labels == labels && a.resolved_ms.is_none())
            {
                Some(index) => index,
                None => {
                    self.alerts.push(AlertRecord {
                        name,
                        labels,
                        active_at_start: first_poll,
                        pending_ms: Some(t_ms),
                        firing_ms: None,
                        resolved_ms: None,
                    });
                    seen.push(false);
                    let record = self.alerts.last().expect("just pushed");
                    if !first_poll {
                        changes.push(transition(record, "pending"));
                    }
                    self.alerts.len() - 1
                }
            };
            seen[index] = true;
            let record = &mut self.alerts[index];
            if state == State::Firing && record.firing_ms.is_none() {
                record.firing_ms = Some(t_ms);
                if !first_poll {
                    changes.push(transition(record, "firing"));
                }
            }
        }
        for (record, seen) in self.alerts.iter_mut().zip(seen) {
            if !seen && record.resolved_ms.is_none() {
                record.resolved_ms = Some(t_ms);
                changes.push(transition(record, "resolved"));
            }
        }
        changes
    }

    /// A poll the probe did not answer.
    pub fn missed(&mut self) {
        self.failed_polls += 1;
    }

    /// The result, with the fault located in the run's events.
    pub fn finish(self, watch: &AlertWatch, events: &[Event]) -> AlertsResult {
        let fault = match &watch.fault_phase {
            Some(phase) => {
                let begin = format!("begin {phase}");
                events
                    .iter()
                    .find(|e| e.kind == "phase" && e.message == begin)
                    .map(|e| (e.t_ms, format!("phase {phase}")))
            }
            None => events
                .iter()
                .find(|e| e.kind == "fault")
                .map(|e| (e.t_ms, e.message.clone())),
        };
        AlertsResult {
            probe: watch.probe.clone(),
            poll_ms: watch.poll.as_millis() as u64,
            polls: self.polls,
            failed_polls: self.failed_polls,
            fault_ms: fault.as_ref().map(|(t, _)| *t),
            fault: fault.map(|(_, what)| what),
            alerts: self.alerts,
        }
    }
}

fn transition(record: &AlertRecord, to: &'static str) -> Transition {
    let labels: Vec<String> = record
        .labels
        .iter()
        .map(|(k, v)| format!("{k}={v:?}"))
        .collect();
    Transition {
        alert: format!("{}{{{}}}", record.name, labels.join(",")),
        to,
    }
}

/// Polls the probe until stopped, logging each transition as an `alert` event.
pub struct AlertWatcher {
    ledger: Arc<Mutex<AlertLedger>>,
    poller: Poller,
    watch: AlertWatch,
}

impl AlertWatcher {
    /// Its first poll, which knows the alerts active before the run, fails as [`check`] does.
    pub async fn start(
        watch: AlertWatch,
        probes: Probes,
        metrics: Arc<RunMetrics>,
    ) -> anyhow::Result<AlertWatcher> {
        let first = read_or_explain(&watch, &probes).await?;
        let ledger = Arc::new(Mutex::new(AlertLedger::default()));
        ledger
            .lock()
            .unwrap()
            .observe(metrics.clock.now_ns() as f64 / 1e6, &first);
        let poller = {
            let (ledger, watch, probes) = (ledger.clone(), watch.clone(), Arc::new(probes));
            Poller::spawn(watch.poll, move || {
                let (ledger, watch, probes, metrics) = (
                    ledger.clone(),
                    watch.clone(),
                    probes.clone(),
                    metrics.clone(),
                );
                async move { poll_once(&watch, &probes, &metrics, &ledger).await }
            })
        };
        Ok(AlertWatcher {
            ledger,
            poller,
            watch,
        })
    }

    /// One last poll, then the result.
    pub async fn finish(self, events: impl FnOnce() -> Vec<Event>) -> AlertsResult {
        self.poller.stop().await;
        let ledger = std::mem::take(&mut *self.ledger.lock().unwrap());
        ledger.finish(&self.watch, &events())
    }
}

/// Whether the watch can work, before anything of the run starts.
pub async fn check(watch: &AlertWatch, probes: &Probes) -> anyhow::Result<()> {
    read_or_explain(watch, probes).await.map(drop)
}

async fn read_or_explain(watch: &AlertWatch, probes: &Probes) -> anyhow::Result<Vec<Sample>> {
    super::first_answer(probes, "alerts", &watch.probe, ALERTS_QUERY).await
}

async fn poll_once(
    watch: &AlertWatch,
    probes: &Probes,
    metrics: &RunMetrics,
    ledger: &Mutex<AlertLedger>,
) {
    let answer = probes.query(&watch.probe, ALERTS_QUERY).await;
    let now_ns = metrics.clock.now_ns();
    match answer {
        Ok(samples) => {
            let changes = ledger
                .lock()
                .unwrap()
                .observe(now_ns as f64 / 1e6, &samples);
            for change in changes {
                metrics
                    .events
                    .push(now_ns, "alert", &format!("{} {}", change.alert, change.to));
            }
        }
        Err(why) => {
            ledger.lock().unwrap().missed();
            metrics
                .events
                .push(now_ns, "alerts-unreadable", &why.to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(name: &str, state: &str, connector: &str) -> Sample {
        Sample {
            name: "ALERTS".into(),
            labels: vec![
                ("alertname".into(), name.into()),
                ("alertstate".into(), state.into()),
                ("connector".into(), connector.into()),
                ("severity".into(), "critical".into()),
            ],
            value: 1.0,
        }
    }

    fn event(t_ms: f64, kind: &str, message: &str) -> Event {
        Event {
            t_ms,
            wall: chrono::Utc::now(),
            kind: kind.into(),
            message: message.into(),
        }
    }

    fn watch(fault_phase: Option<&str>) -> AlertWatch {
        AlertWatch {
            probe: "prom".into(),
            poll: super::super::DEFAULT_POLL,
            fault_phase: fault_phase.map(String::from),
        }
    }

    #[test]
    fn an_alert_goes_pending_firing_resolved_on_the_runs_clock() {
        let mut ledger = AlertLedger::default();
        assert!(ledger.observe(0.0, &[]).is_empty());
        let pending = ledger.observe(
            2_000.0,
            &[alert("MM2TaskFailed", "pending", "mirror-source")],
        );
        assert_eq!(pending.len(), 1);
        assert_eq!(
            pending[0].alert,
            "MM2TaskFailed{connector=\"mirror-source\",severity=\"critical\"}"
        );
        assert_eq!(pending[0].to, "pending");
        let firing = ledger.observe(
            64_000.0,
            &[alert("MM2TaskFailed", "firing", "mirror-source")],
        );
        assert_eq!(firing[0].to, "firing");
        let resolved = ledger.observe(90_000.0, &[]);
        assert_eq!(resolved[0].to, "resolved");

        let result = ledger.finish(
            &watch(Some("poison")),
            &[event(1_500.0, "phase", "begin poison")],
        );
        let record = &result.alerts[0];
        assert_eq!(
            (record.pending_ms, record.firing_ms, record.resolved_ms),
            (Some(2_000.0), Some(64_000.0), Some(90_000.0))
        );
        assert_eq!(result.fault.as_deref(), Some("phase poison"));
        assert_eq!(result.fired_within_ms("MM2TaskFailed"), Ok(62_500.0));
        assert_eq!(result.fired(None).count(), 1);
        assert_eq!(result.polls, 4);
    }

    #[test]
    fn alerts_active_before_the_run_are_the_environments() {
        let mut ledger = AlertLedger::default();
        let before = [alert("MM2ConnectorNotRunning", "firing", "x")];
        assert!(
            ledger.observe(0.0, &before).is_empty(),
            "no event for the start"
        );
        assert!(
            ledger.observe(2_000.0, &before).is_empty(),
            "still the same alert"
        );
        let result = ledger.finish(&watch(None), &[event(10.0, "fault", "kill worker-1")]);
        assert!(result.alerts[0].active_at_start);
        assert_eq!(result.fired(None).count(), 0);
        let why = result
            .fired_within_ms("MM2ConnectorNotRunning")
            .unwrap_err();
        assert!(why.contains("did not fire during the run"), "{why}");
        assert_eq!(result.fault.as_deref(), Some("kill worker-1"));
    }

    #[test]
    fn a_resolved_alert_that_comes_back_is_a_new_one_and_each_series_is_its_own() {
        let mut ledger = AlertLedger::default();
        ledger.observe(0.0, &[]);
        ledger.observe(
            1.0,
            &[alert("A", "firing", "one"), alert("A", "pending", "two")],
        );
        ledger.observe(2.0, &[]);
        ledger.observe(3.0, &[alert("A", "firing", "one")]);
        let result = ledger.finish(&watch(None), &[]);
        assert_eq!(result.alerts.len(), 3);
        assert_eq!(result.fired(Some("A")).count(), 2);
        assert_eq!(result.fired(Some("B")).count(), 0);
        let why = result.fired_within_ms("A").unwrap_err();
        assert!(why.contains("no fault to count from"), "{why}");
    }

    #[test]
    fn samples_without_an_alert_state_are_not_alerts() {
        let mut ledger = AlertLedger::default();
        ledger.observe(0.0, &[]);
        let other = Sample {
            name: "up".into(),
            labels: vec![("job".into(), "x".into())],
            value: 1.0,
        };
        assert!(ledger.observe(1.0, &[other]).is_empty());
        ledger.missed();
        let result = ledger.finish(&watch(None), &[]);
        assert!(result.alerts.is_empty());
        assert_eq!((result.polls, result.failed_polls), (2, 1));
    }
}
