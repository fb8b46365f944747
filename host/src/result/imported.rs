//! What an imported result adds: where it came from, its tool's own figures per phase, and what
//! it cannot hold.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::import::perf_test::{Command, FinalFigures, Interval, Lines};

/// `origin.kind` of an imported result.
pub const IMPORTED: &str = "imported";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Origin {
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool: Option<String>,
    #[serde(default)]
    pub files: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub imported_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// The tool's figures for one run, exactly as printed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImportedFigures {
    #[serde(default)]
    pub tool: String,
    pub file: String,
    /// the run's number among the runs of `file`, from 1
    #[serde(default)]
    pub run: Option<usize>,
    /// the lines of `file` this run was read from; absent in results imported before a log
    /// could hold several runs
    #[serde(default)]
    pub lines: Option<Lines>,
    /// the log holds no final line for this run: its periodic lines only, no final figures
    #[serde(default)]
    pub partial: bool,
    /// what the latencies measure: perf-test's send() → callback, i.e. kscen's service latency
    #[serde(default)]
    pub latency: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub final_line: Option<String>,
    #[serde(flatten)]
    pub figures: Option<FinalFigures>,
    /// records ÷ records/sec: the run's duration as the tool timed it
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub elapsed_s: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Command>,
    #[serde(default)]
    pub intervals: Vec<Interval>,
    #[serde(default)]
    pub producer_metrics: BTreeMap<String, String>,
    #[serde(default)]
    pub warnings: Vec<String>,
}

/// A part of the result an imported run does not hold, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NotMeasured {
    pub field: String,
    pub reason: String,
}
