//! `abort_on_fail`: thresholds checked while the run goes on; the first one that fails stops it.

use std::sync::Mutex;

use super::collect;
use crate::metrics::RunMetrics;
use crate::result::{Counts, Verdict};
use crate::thresholds::{evaluate, Measurements, Threshold};

pub struct AbortOnFail {
    thresholds: Vec<Threshold>,
    reason: Mutex<Option<String>>,
}

impl AbortOnFail {
    pub fn new(thresholds: Vec<Threshold>) -> AbortOnFail {
        AbortOnFail {
            thresholds,
            reason: Mutex::new(None),
        }
    }

    /// Evaluates the thresholds against the run so far. A threshold that cannot be measured yet
    /// does not abort; one that fails does, and the reason is kept.
    pub fn check(&self, metrics: &RunMetrics) -> Option<String> {
        let phases = collect::phases(metrics, None);
        let figures = metrics.figures();
        let totals = Counts::over(&phases);
        let replication = collect::replication(metrics);
        let custom_histograms = collect::custom_histograms(metrics);
        let consumers = collect::consumers(metrics);
        let now = Measurements {
            phases: &phases,
            figures: &figures,
            totals: &totals,
            replication: &replication,
            custom_histograms: &custom_histograms,
            consumers: &consumers,
            // What a group has not read yet is missed only once the run is over.
            groups: &std::collections::BTreeMap::new(),
            // Alerts are collected when the watch stops.
            alerts: None,
        };
        let failed = evaluate(&self.thresholds, &now)
            .into_iter()
            .find(|r| r.verdict == Verdict::Failed)?;
        let scope = failed
            .phase
            .map(|p| format!(" in phase {p}"))
            .unwrap_or_default();
        let reason = format!(
            "threshold {:?} failed{scope}: {:.3} {unit} against {:.3} {unit}",
            failed.threshold,
            failed.measured.unwrap_or_default(),
            failed.limit.unwrap_or_default(),
            unit = failed.unit
        );
        *self.reason.lock().unwrap() = Some(reason.clone());
        Some(reason)
    }

    pub fn reason(&self) -> Option<String> {
        self.reason.lock().unwrap().clone()
    }
}
