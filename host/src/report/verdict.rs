//! A run's verdict from its outcome and thresholds, and each threshold's line.

use crate::result::{RunResult, ThresholdResult, Verdict};

#[derive(Debug, Clone, PartialEq)]
pub enum RunVerdict {
    /// a snapshot of a run that never finished: no verdict on part of a run
    Incomplete {
        label: String,
    },
    /// the plugin failed, trapped, hit a limit or was interrupted
    RunFailed {
        kind: String,
        message: String,
    },
    /// at least one threshold failed or could not be measured
    ThresholdsFailed {
        failed: usize,
        not_measured: usize,
        total: usize,
    },
    Passed {
        thresholds: usize,
    },
    /// completed, but nothing to judge it by
    NoThresholds,
}

impl RunVerdict {
    pub fn of(result: &RunResult) -> RunVerdict {
        if let Some(label) = result.incomplete_label() {
            return RunVerdict::Incomplete { label };
        }
        if let Some(failure) = result.outcome.failure() {
            return RunVerdict::RunFailed {
                kind: failure.kind().into(),
                message: failure.message().into(),
            };
        }
        let total = result.thresholds.len();
        if total == 0 {
            return RunVerdict::NoThresholds;
        }
        let failed = result
            .thresholds
            .iter()
            .filter(|t| t.verdict == Verdict::Failed)
            .count();
        let not_measured = result
            .thresholds
            .iter()
            .filter(|t| !matches!(t.verdict, Verdict::Passed | Verdict::Failed))
            .count();
        if failed + not_measured == 0 {
            RunVerdict::Passed { thresholds: total }
        } else {
            RunVerdict::ThresholdsFailed {
                failed,
                not_measured,
                total,
            }
        }
    }

    pub fn label(&self) -> String {
        match self {
            RunVerdict::Incomplete { label } => format!("{label}; thresholds not evaluated"),
            RunVerdict::RunFailed { kind, .. } => format!("FAILED (run: {kind})"),
            RunVerdict::ThresholdsFailed {
                failed,
                not_measured,
                total,
            } => {
                let mut parts = Vec::new();
                if *failed > 0 {
                    parts.push(format!("{failed} failed"));
                }
                if *not_measured > 0 {
                    parts.push(format!("{not_measured} not measured"));
                }
                format!("FAILED ({} of {total} thresholds)", parts.join(", "))
            }
            RunVerdict::Passed { thresholds } => format!("PASSED ({thresholds} thresholds)"),
            RunVerdict::NoThresholds => "no verdict (no thresholds)".into(),
        }
    }
}

/// Measured value, limit and by how much, as words.
pub struct ThresholdLine {
    pub verdict: &'static str,
    pub measured: String,
    pub limit: String,
    pub by_how_much: String,
}

fn amount(value: f64, unit: &str) -> String {
    let number = if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{value:.0}")
    } else {
        format!("{value:.3}")
    };
    if unit.is_empty() {
        number
    } else {
        format!("{number} {unit}")
    }
}

pub fn threshold_line(threshold: &ThresholdResult) -> ThresholdLine {
    let verdict = match threshold.verdict {
        Verdict::Passed => "pass",
        Verdict::Failed => "FAIL",
        Verdict::NotEvaluated => "not evaluated",
        Verdict::NotMeasured => "FAIL (not measured)",
    };
    let unit = threshold.unit.as_str();
    let relative = |margin: f64, limit: f64| {
        if limit != 0.0 {
            format!(" ({:+.1} %)", margin / limit.abs() * 100.0)
        } else {
            String::new()
        }
    };
    let by_how_much = match (threshold.verdict, threshold.margin, threshold.limit) {
        (Verdict::Failed, Some(margin), Some(limit)) => format!(
            "off by {}{}",
            amount(margin.abs(), unit),
            relative(margin, limit)
        ),
        (Verdict::Passed, Some(margin), Some(limit)) => format!(
            "margin {}{}",
            amount(margin.abs(), unit),
            relative(margin, limit)
        ),
        _ => threshold
            .note
            .clone()
            .unwrap_or_else(|| "not measured".into()),
    };
    ThresholdLine {
        verdict,
        measured: threshold
            .measured
            .map_or("*not measured*".into(), |m| amount(m, unit)),
        limit: threshold
            .limit
            .map_or("*not measured*".into(), |l| amount(l, unit)),
        by_how_much,
    }
}
