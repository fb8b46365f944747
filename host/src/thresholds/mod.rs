//! Pass/fail criteria of a run: threshold expressions evaluated against its result.

pub mod abort;
pub mod expr;

use serde::Serialize;

use std::collections::BTreeMap;

use crate::metrics::Figure;
use crate::report::result::{JobReplication, PhaseResult, RunResult, Totals};
pub use expr::{parse, Threshold};
use expr::{Limit, Scope};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Passed,
    Failed,
    /// the run did not capture the figure: never guessed, and a criterion that cannot be shown
    /// to hold does not pass
    NotMeasured,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ThresholdResult {
    pub threshold: String,
    /// the phase it was checked in, for phase metrics
    pub phase: Option<String>,
    pub verdict: Verdict,
    pub measured: Option<f64>,
    pub limit: Option<f64>,
    /// measured − limit
    pub margin: Option<f64>,
    /// unit of measured, limit and margin
    pub unit: String,
    pub note: Option<String>,
}

impl ThresholdResult {
    pub fn passed(&self) -> bool {
        self.verdict == Verdict::Passed
    }
}

/// What thresholds read: a finished run's result, or a snapshot taken while it runs.
pub struct Measurements<'a> {
    pub phases: &'a [PhaseResult],
    pub figures: &'a BTreeMap<String, Figure>,
    pub totals: &'a Totals,
    pub replication: &'a [JobReplication],
}

impl<'a> From<&'a RunResult> for Measurements<'a> {
    fn from(result: &'a RunResult) -> Self {
        Measurements {
            phases: &result.phases,
            figures: &result.figures,
            totals: &result.totals,
            replication: &result.replication,
        }
    }
}

/// Evaluates every threshold; a phase metric without a phase is checked in each phase with data.
pub fn evaluate(thresholds: &[Threshold], result: &Measurements) -> Vec<ThresholdResult> {
    let mut results = Vec::new();
    for threshold in thresholds {
        match &threshold.metric.scope {
            Scope::Run => results.push(check(
                threshold,
                None,
                run_metric(result, &threshold.metric.path, &threshold.limit),
            )),
            Scope::Phase(name) => match result.phases.iter().find(|p| &p.name == name) {
                Some(phase) => results.push(check_phase(threshold, phase)),
                None => results.push(ThresholdResult {
                    threshold: threshold.text.clone(),
                    phase: Some(name.clone()),
                    verdict: Verdict::NotMeasured,
                    measured: None,
                    limit: None,
                    margin: None,
                    unit: String::new(),
                    note: Some(format!("the run has no phase {name:?}")),
                }),
            },
            Scope::EveryPhase => {
                // A relative limit applies where its reference exists: `0.99 * target_rate`
                // says nothing about an unthrottled phase.
                let applies = |phase: &&PhaseResult| match &threshold.limit {
                    Limit::Relative { metric, .. } => phase_metric(phase, metric).is_some(),
                    Limit::Value { .. } => true,
                };
                for phase in result.phases.iter().filter(|p| p.sent > 0).filter(applies) {
                    results.push(check_phase(threshold, phase));
                }
            }
        }
    }
    results
}

fn check_phase(threshold: &Threshold, phase: &PhaseResult) -> ThresholdResult {
    let measured = phase_metric(phase, &threshold.metric.path);
    let limit = match &threshold.limit {
        Limit::Value { value, .. } => Some(*value),
        Limit::Relative { factor, metric } => phase_metric(phase, metric).map(|v| v * factor),
    };
    finish(threshold, Some(phase.name.clone()), measured, limit)
}

fn check(
    threshold: &Threshold,
    phase: Option<String>,
    measured: Result<f64, String>,
) -> ThresholdResult {
    let limit = match &threshold.limit {
        Limit::Value { value, .. } => *value,
        Limit::Relative { .. } => {
            unreachable!("relative limits are phase metrics (checked at parse)")
        }
    };
    match measured {
        Ok(value) => finish(threshold, phase, Some(value), Some(limit)),
        Err(note) => ThresholdResult {
            threshold: threshold.text.clone(),
            phase,
            verdict: Verdict::NotMeasured,
            measured: None,
            limit: Some(limit),
            margin: None,
            unit: String::new(),
            note: Some(note),
        },
    }
}

fn finish(
    threshold: &Threshold,
    phase: Option<String>,
    measured: Option<f64>,
    limit: Option<f64>,
) -> ThresholdResult {
    let (verdict, margin) = match (measured, limit) {
        (Some(m), Some(l)) => (
            if threshold.op.holds(m, l) {
                Verdict::Passed
            } else {
                Verdict::Failed
            },
            Some(m - l),
        ),
        _ => (Verdict::NotMeasured, None),
    };
    ThresholdResult {
        threshold: threshold.text.clone(),
        phase,
        verdict,
        measured,
        limit,
        margin,
        unit: unit_of(result_path(threshold), &threshold.limit),
        note: measured
            .is_none()
            .then(|| "not measured in this phase".to_string()),
    }
}

fn result_path(threshold: &Threshold) -> &str {
    &threshold.metric.path
}

/// The unit a metric is compared in: ms for latencies and time limits.
fn unit_of(path: &str, limit: &Limit) -> String {
    let latency = path.contains('.') && expr::is_phase_metric(path);
    match path {
        _ if latency
            || matches!(
                limit,
                Limit::Value {
                    time_unit: true,
                    ..
                }
            ) =>
        {
            "ms"
        }
        "achieved_rate" | "target_rate" => "records/s",
        "mb_per_s" => "MiB/s",
        "duration_s" => "s",
        _ => "",
    }
    .to_string()
}

/// A phase metric; latencies in ms; none when the phase did not capture it.
fn phase_metric(phase: &PhaseResult, path: &str) -> Option<f64> {
    let count = |n: u64| Some(n as f64);
    match path {
        "achieved_rate" => Some(phase.achieved_rate),
        "target_rate" => phase.target_rate,
        "mb_per_s" => Some(phase.mb_per_s),
        "sent" => count(phase.sent),
        "acked" => count(phase.acked),
        "failed" => count(phase.failed),
        "queue_full" => count(phase.queue_full),
        "bytes" => count(phase.bytes),
        "duration_s" => Some(phase.end_s - phase.start_s),
        _ => {
            let (histogram, statistic) = path.split_once('.')?;
            let histogram = match histogram {
                "corrected" => &phase.corrected_us,
                "service" => &phase.service_us,
                "schedule_lag" => &phase.schedule_lag_us,
                "replicated" => phase.replicated_us.as_ref()?,
                _ => return None,
            };
            let s = &histogram.summary;
            if s.count == 0 {
                return None;
            }
            let us = match statistic {
                "p50" => s.p50 as f64,
                "p95" => s.p95 as f64,
                "p99" => s.p99 as f64,
                "p999" => s.p999 as f64,
                "max" => s.max as f64,
                "min" => s.min as f64,
                "mean" => s.mean,
                _ => return None,
            };
            Some(us / 1000.0)
        }
    }
}

/// A run-wide metric: a figure the plugin reported, a total, or a replication verdict.
fn run_metric(result: &Measurements, path: &str, limit: &Limit) -> Result<f64, String> {
    if let Some(figure) = result.figures.get(path) {
        let time_limit = matches!(
            limit,
            Limit::Value {
                time_unit: true,
                ..
            }
        );
        // Time limits are in ms: bring the figure to ms when its unit is a time.
        let scale = match figure.unit.as_str() {
            "s" if time_limit => 1000.0,
            "us" | "µs" if time_limit => 0.001,
            _ => 1.0,
        };
        return Ok(figure.value * scale);
    }
    if let Some(field) = path.strip_prefix("totals.") {
        let t = result.totals;
        return match field {
            "sent" => Ok(t.sent as f64),
            "acked" => Ok(t.acked as f64),
            "failed" => Ok(t.failed as f64),
            "bytes" => Ok(t.bytes as f64),
            "queue_full" => Ok(t.queue_full as f64),
            _ => Err(format!("no total named {field:?}")),
        };
    }
    if let Some(field) = path.strip_prefix("replication.") {
        if result.replication.is_empty() {
            return Err("no load tracked replication".into());
        }
        let sum = |f: fn(&crate::verify::ReplicationStatus) -> u64| {
            result
                .replication
                .iter()
                .map(|j| f(&j.verdict))
                .sum::<u64>() as f64
        };
        return match field {
            "lost" => Ok(sum(|v| v.lost)),
            "duplicates" => Ok(sum(|v| v.duplicates)),
            "out_of_order" => Ok(sum(|v| v.out_of_order)),
            "replicated" => Ok(sum(|v| v.replicated)),
            _ => Err(format!("no replication figure named {field:?} (lost, duplicates, out_of_order, replicated)")),
        };
    }
    Err(format!("the run reported no figure {path:?}"))
}
