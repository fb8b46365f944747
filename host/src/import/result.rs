//! The `kscen.result/v1` document for imported perf-test output: the same fields as a kscen run
//! where the tool measured them, absent where it did not, and the tool's own figures, exactly as
//! printed, under `phases[].imported`.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use super::perf_test::{Command, FinalFigures, FinalLine, Interval, Lines, PerfTestRun};
use crate::report::result::SCHEMA;

pub const TOOL: &str = "kafka-producer-perf-test";

#[derive(Debug, Clone, Serialize)]
pub struct ImportedResult {
    pub schema: &'static str,
    pub kscen_version: &'static str,
    /// present only in imported results; a result without `origin` is a `kscen run`
    pub origin: Origin,
    pub scenario: ImportedScenario,
    pub outcome: Completed,
    pub phases: Vec<ImportedPhase>,
    pub totals: ImportedTotals,
    /// what the result does not hold, and why
    pub not_measured: Vec<NotMeasured>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Origin {
    pub kind: &'static str,
    pub tool: &'static str,
    pub files: Vec<String>,
    pub imported_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ImportedScenario {
    pub name: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Completed {
    pub status: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct ImportedPhase {
    pub name: String,
    /// absent when the log does not hold the command; null when it ran with `--throughput -1`
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_rate: Option<Option<f64>>,
    /// these three come from the final line: absent for a partial run
    #[serde(skip_serializing_if = "Option::is_none")]
    pub achieved_rate: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mb_per_s: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sent: Option<u64>,
    /// with `--print-metrics` only: sent − `record-error-total`
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acked: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed: Option<u64>,
    pub imported: ImportedFigures,
}

/// The tool's figures, exactly as printed.
#[derive(Debug, Clone, Serialize)]
pub struct ImportedFigures {
    pub tool: &'static str,
    pub file: String,
    /// the run's number among the runs of `file`, from 1
    pub run: usize,
    /// the lines of `file` this run was read from
    pub lines: Lines,
    /// the log holds no final line for this run: its periodic lines only, no final figures
    pub partial: bool,
    /// what the latencies measure: perf-test's send() → callback, i.e. kscen's service latency
    pub latency: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub final_line: Option<String>,
    #[serde(flatten)]
    pub figures: Option<FinalFigures>,
    /// records ÷ records/sec: the run's duration as perf-test timed it
    #[serde(skip_serializing_if = "Option::is_none")]
    pub elapsed_s: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<Command>,
    pub intervals: Vec<Interval>,
    pub producer_metrics: BTreeMap<String, String>,
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ImportedTotals {
    /// absent when a run is partial: its count is unknown
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sent: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acked: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed: Option<u64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct NotMeasured {
    pub field: &'static str,
    pub reason: &'static str,
}

/// Everything an imported result leaves out, stated once; `partial`: some run has no final line.
pub fn not_measured(partial: bool) -> Vec<NotMeasured> {
    let entry = |field, reason| NotMeasured { field, reason };
    let mut entries = vec![
        entry(
            "phases[].corrected_us",
            "perf-test times each record from send() to its callback; the intended send time is \
             not recorded, so coordinated-omission-free latency cannot be computed",
        ),
        entry(
            "phases[].schedule_lag_us",
            "perf-test does not record when a record was due",
        ),
        entry(
            "phases[].service_us",
            "perf-test prints its percentiles, not its histogram: they are under phases[].imported",
        ),
        entry(
            "phases[].start_s, phases[].end_s, started_at, ended_at, timeline",
            "perf-test output carries no clock; phases[].imported.elapsed_s is its own duration",
        ),
        entry(
            "phases[].bytes",
            "perf-test prints MB/sec rounded to 2 decimals, not a byte count",
        ),
        entry(
            "phases[].acked, phases[].failed",
            "only with --print-metrics (record-error-total)",
        ),
        entry(
            "environment, scenario.plugin, scenario.params, thresholds, replication",
            "not in perf-test output",
        ),
    ];
    if partial {
        entries.push(entry(
            "phases[].sent, phases[].achieved_rate, phases[].mb_per_s, phases[].imported final \
             figures and totals.sent, for a partial run",
            "the log holds no final line for that run (interrupted, or the log was cut): its \
             periodic lines are kept as printed, nothing is summed or estimated from them",
        ));
    }
    entries
}

/// Run `number` of the `runs_in_file` runs of `file` as a phase: named after the file, with
/// `#number` when the file holds several, so a file with one run keeps the name it always had.
pub fn phase(file: &Path, number: usize, runs_in_file: usize, run: PerfTestRun) -> ImportedPhase {
    let stem = file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| file.display().to_string());
    let name = if runs_in_file > 1 {
        format!("{stem} #{number}")
    } else {
        stem
    };
    let failed = run
        .metrics
        .iter()
        .find(|(name, _)| name.starts_with("producer-metrics:record-error-total:"))
        .and_then(|(_, value)| value.parse::<f64>().ok())
        .map(|errors| errors as u64);
    let target_rate = run
        .command
        .as_ref()
        .and_then(|c| c.throughput)
        .map(|rate| (rate >= 0.0).then_some(rate));
    let partial = run.is_partial();
    let (final_line, figures) = run
        .end
        .map(|FinalLine { line, figures }| (line, figures))
        .unzip();
    let sent = figures.as_ref().map(|f| f.records);
    ImportedPhase {
        name,
        target_rate,
        achieved_rate: figures.as_ref().map(|f| f.records_per_s),
        mb_per_s: figures.as_ref().map(|f| f.mb_per_s),
        sent,
        acked: sent
            .zip(failed)
            .map(|(sent, failed)| sent.saturating_sub(failed)),
        failed,
        imported: ImportedFigures {
            tool: TOOL,
            file: file.display().to_string(),
            run: number,
            lines: run.lines,
            partial,
            latency: "service",
            final_line,
            elapsed_s: figures.as_ref().map(elapsed_s),
            figures,
            command: run.command,
            intervals: run.intervals,
            producer_metrics: run.metrics,
            warnings: run.warnings,
        },
    }
}

/// See [`ImportedFigures::elapsed_s`].
fn elapsed_s(figures: &FinalFigures) -> f64 {
    if figures.records_per_s > 0.0 {
        figures.records as f64 / figures.records_per_s
    } else {
        0.0
    }
}

pub fn result(name: String, files: Vec<String>, phases: Vec<ImportedPhase>) -> ImportedResult {
    let any_partial = phases.iter().any(|p| p.imported.partial);
    let totals = ImportedTotals {
        sent: phases.iter().map(|p| p.sent).sum(),
        acked: phases.iter().map(|p| p.acked).sum(),
        failed: phases.iter().map(|p| p.failed).sum(),
    };
    ImportedResult {
        schema: SCHEMA,
        kscen_version: env!("CARGO_PKG_VERSION"),
        origin: Origin {
            kind: "imported",
            tool: TOOL,
            files,
            imported_at: chrono::Utc::now(),
        },
        scenario: ImportedScenario { name },
        outcome: Completed {
            status: "completed",
        },
        phases,
        totals,
        not_measured: not_measured(any_partial),
    }
}
