//! Each pass/fail criterion of a run with what it measured.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Passed,
    Failed,
    /// the run did not capture the figure: never guessed, and a criterion that cannot be shown
    /// to hold does not pass
    NotMeasured,
    /// measured on a snapshot of a run that never finished: no verdict on part of a run
    NotEvaluated,
}

impl Verdict {
    /// As the result file spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Passed => "passed",
            Verdict::Failed => "failed",
            Verdict::NotMeasured => "not_measured",
            Verdict::NotEvaluated => "not_evaluated",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThresholdResult {
    pub threshold: String,
    /// the phase it was checked in, for phase metrics
    #[serde(default)]
    pub phase: Option<String>,
    pub verdict: Verdict,
    #[serde(default)]
    pub measured: Option<f64>,
    #[serde(default)]
    pub limit: Option<f64>,
    /// measured − limit
    #[serde(default)]
    pub margin: Option<f64>,
    /// unit of measured, limit and margin
    #[serde(default)]
    pub unit: String,
    #[serde(default)]
    pub note: Option<String>,
}

impl ThresholdResult {
    pub fn passed(&self) -> bool {
        self.verdict == Verdict::Passed
    }

    /// Withdraws the verdict of a threshold measured on a snapshot taken at `snapshot_at_s`,
    /// keeping what it read and what it would have said so far in the note.
    pub fn not_evaluated(&mut self, snapshot_at_s: f64) {
        let so_far = match self.verdict {
            Verdict::Passed => "holds",
            Verdict::Failed => "fails",
            Verdict::NotMeasured | Verdict::NotEvaluated => "cannot be measured",
        };
        let why = self
            .note
            .take()
            .map(|n| format!(": {n}"))
            .unwrap_or_default();
        self.note = Some(format!(
            "run incomplete: on its first {snapshot_at_s:.1} s it {so_far}{why}"
        ));
        self.verdict = Verdict::NotEvaluated;
    }
}
