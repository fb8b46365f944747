//! `campaign.json` in the results folder: which steps ran, with what verdict, and which result
//! file holds each. Written after every step, so an interrupted campaign resumes where it stopped
//! and never redoes a finished step.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use super::plan::PlannedStep;
use crate::exit::{
    EXIT_ERROR, EXIT_INTERRUPTED, EXIT_OK, EXIT_PLUGIN_FAILED, EXIT_THRESHOLD_FAILED,
};

pub const SCHEMA: &str = "kscen.campaign/v1";
pub const FILE: &str = "campaign.json";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Ledger {
    pub schema: String,
    pub campaign: String,
    pub file: String,
    pub steps: Vec<StepRecord>,
    /// connector configurations a step changed and has not put back yet
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub to_restore: Vec<super::connector_settings::Saved>,
    /// worker properties files a step changed and has not put back yet
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub workers_to_restore: Vec<super::worker_settings::Saved>,
    /// the campaign file's `[[compare]]`, for the report
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub comparisons: Vec<super::comparisons::DeclaredComparison>,
}

/// How one step ended, and where its result is.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StepRecord {
    pub number: usize,
    pub name: String,
    pub fingerprint: String,
    pub result: String,
    pub verdict: StepVerdict,
    pub exit_code: u8,
    pub started_at: chrono::DateTime<chrono::Utc>,
    pub duration_s: f64,
    /// the settings this step changed (a matrix cell's, producer and consumer properties, MM2
    /// connector and Connect worker settings); the rest of what was in force is in its result
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub settings: std::collections::BTreeMap<String, String>,
    /// why kscen could not run the step, or what the wait after it found
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// the matrix cell or repetition of a written step this step was
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cell: Option<CellOf>,
}

/// Which cell of a written step's matrix, and which repetition, a step is: what the report groups
/// and compares cells by.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CellOf {
    /// the step as the campaign file names it, shared by all its cells
    pub step: String,
    /// what its matrix set (`producer.linger.ms` → `5`); empty for a repeated plain step
    pub settings: std::collections::BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repetition: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepVerdict {
    Passed,
    ThresholdsFailed,
    PluginFailed,
    Interrupted,
    /// kscen could not run it (bad input, unreachable cluster): no result
    Error,
}

impl StepVerdict {
    pub fn from_exit_code(code: u8) -> StepVerdict {
        match code {
            EXIT_OK => StepVerdict::Passed,
            EXIT_THRESHOLD_FAILED => StepVerdict::ThresholdsFailed,
            EXIT_PLUGIN_FAILED => StepVerdict::PluginFailed,
            EXIT_INTERRUPTED => StepVerdict::Interrupted,
            _ => StepVerdict::Error,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            StepVerdict::Passed => "PASS",
            StepVerdict::ThresholdsFailed => "FAIL (thresholds)",
            StepVerdict::PluginFailed => "FAIL (plugin)",
            StepVerdict::Interrupted => "INTERRUPTED",
            StepVerdict::Error => "ERROR",
        }
    }

    /// `3 PASS, 1 FAIL (thresholds)`: how many ended each way, in order of appearance.
    pub fn tally(verdicts: impl IntoIterator<Item = StepVerdict>) -> String {
        let mut counts: Vec<(&str, usize)> = Vec::new();
        for verdict in verdicts {
            match counts
                .iter_mut()
                .find(|(label, _)| *label == verdict.label())
            {
                Some((_, count)) => *count += 1,
                None => counts.push((verdict.label(), 1)),
            }
        }
        if counts.is_empty() {
            return "none run yet".into();
        }
        let counts: Vec<String> = counts
            .iter()
            .map(|(label, count)| format!("{count} {label}"))
            .collect();
        counts.join(", ")
    }

    /// A step that ended so is done: resuming keeps its result.
    pub fn finished(self) -> bool {
        matches!(
            self,
            StepVerdict::Passed | StepVerdict::ThresholdsFailed | StepVerdict::PluginFailed
        )
    }
}

/// The campaign's exit code from its steps': an interruption, else the worst failure.
pub fn campaign_exit_code<'a>(verdicts: impl IntoIterator<Item = &'a StepVerdict>) -> u8 {
    let rank = |verdict: &StepVerdict| match verdict {
        StepVerdict::Passed => (0, EXIT_OK),
        StepVerdict::Error => (1, EXIT_ERROR),
        StepVerdict::ThresholdsFailed => (2, EXIT_THRESHOLD_FAILED),
        StepVerdict::PluginFailed => (3, EXIT_PLUGIN_FAILED),
        StepVerdict::Interrupted => (4, EXIT_INTERRUPTED),
    };
    verdicts
        .into_iter()
        .map(rank)
        .max()
        .map_or(EXIT_OK, |(_, code)| code)
}

impl Ledger {
    pub fn new(campaign: &str, file: &Path) -> Ledger {
        Ledger {
            schema: SCHEMA.into(),
            campaign: campaign.into(),
            file: file.display().to_string(),
            steps: Vec::new(),
            to_restore: Vec::new(),
            workers_to_restore: Vec::new(),
            comparisons: Vec::new(),
        }
    }

    pub fn path(results_dir: &Path) -> PathBuf {
        results_dir.join(FILE)
    }

    /// The results folder's ledger, if a campaign ran there.
    pub fn read(results_dir: &Path) -> Result<Option<Ledger>> {
        let path = Self::path(results_dir);
        if !path.exists() {
            return Ok(None);
        }
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let ledger = serde_json::from_str(&text).with_context(|| {
            format!(
                "{} is not a campaign ledger: move it away, or run with --restart",
                path.display()
            )
        })?;
        Ok(Some(ledger))
    }

    /// Written as results are (temporary file, then renamed), so a kill never leaves half a
    /// ledger.
    pub fn write(&self, results_dir: &Path) -> Result<()> {
        crate::result::write_json(&Self::path(results_dir), self)
    }

    /// The record of a finished run of exactly this step whose result is still there, whole.
    pub fn finished(&self, step: &PlannedStep, results_dir: &Path) -> Option<&StepRecord> {
        self.steps
            .iter()
            .find(|r| r.number == step.number && r.fingerprint == step.fingerprint)
            .filter(|r| r.verdict.finished() && r.result == step.result_file)
            .filter(|r| complete_result(&results_dir.join(&r.result)))
    }

    /// Replaces the step's earlier record, if any.
    pub fn record(&mut self, record: StepRecord) {
        self.steps.retain(|r| r.number != record.number);
        self.steps.push(record);
        self.steps.sort_by_key(|r| r.number);
    }
}

/// A result file that a finished run wrote: it parses and has no `incomplete` mark (a snapshot of
/// a run that was killed has one).
fn complete_result(path: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string(path) else {
        return false;
    };
    serde_json::from_str::<serde_json::Value>(&text)
        .is_ok_and(|result| result.get("schema").is_some() && result.get("incomplete").is_none())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_are_counted_in_order_of_appearance() {
        use StepVerdict::*;
        assert_eq!(
            StepVerdict::tally([Passed, ThresholdsFailed, Passed]),
            "2 PASS, 1 FAIL (thresholds)"
        );
        assert_eq!(StepVerdict::tally([]), "none run yet");
    }

    #[test]
    fn the_campaign_exits_with_its_worst_step() {
        use StepVerdict::*;
        assert_eq!(campaign_exit_code(&[Passed, Passed]), EXIT_OK);
        assert_eq!(campaign_exit_code(&[]), EXIT_OK);
        assert_eq!(
            campaign_exit_code(&[Passed, ThresholdsFailed, Error]),
            EXIT_THRESHOLD_FAILED
        );
        assert_eq!(
            campaign_exit_code(&[PluginFailed, ThresholdsFailed]),
            EXIT_PLUGIN_FAILED
        );
        assert_eq!(
            campaign_exit_code(&[PluginFailed, Interrupted]),
            EXIT_INTERRUPTED
        );
        assert_eq!(campaign_exit_code(&[Passed, Error]), EXIT_ERROR);
    }

    #[test]
    fn only_whole_results_count_as_finished() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
        write("whole.json", r#"{"schema": "kscen.result/v1"}"#);
        write(
            "snapshot.json",
            r#"{"schema": "kscen.result/v1", "incomplete": {"reason": "killed", "snapshot_at_s": 40.0}}"#,
        );
        write("torn.json", r#"{"schema": "kscen.res"#);
        assert!(complete_result(&dir.path().join("whole.json")));
        assert!(!complete_result(&dir.path().join("snapshot.json")));
        assert!(!complete_result(&dir.path().join("torn.json")));
        assert!(!complete_result(&dir.path().join("missing.json")));
    }

    #[test]
    fn the_ledger_survives_a_round_trip_and_keeps_one_record_per_step() {
        let dir = tempfile::tempdir().unwrap();
        let mut ledger = Ledger::new("day 1", Path::new("plan.toml"));
        let record = |verdict| StepRecord {
            number: 1,
            name: "a".into(),
            fingerprint: "f".into(),
            result: "01-a.json".into(),
            verdict,
            exit_code: 0,
            started_at: chrono::Utc::now(),
            duration_s: 1.0,
            settings: Default::default(),
            note: None,
            cell: None,
        };
        ledger.record(record(StepVerdict::Interrupted));
        ledger.record(record(StepVerdict::Passed));
        ledger.write(dir.path()).unwrap();
        let read = Ledger::read(dir.path()).unwrap().unwrap();
        assert_eq!(read.steps.len(), 1);
        assert_eq!(read.steps[0].verdict, StepVerdict::Passed);
        std::fs::write(Ledger::path(dir.path()), "{}").unwrap();
        let error = format!("{:#}", Ledger::read(dir.path()).unwrap_err());
        assert!(error.contains("--restart"), "{error}");
    }
}
