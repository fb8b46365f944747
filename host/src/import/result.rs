//! perf-test output as a `kscen.result/v1` result: the same fields as a kscen run where the tool
//! measured them, absent where it did not, and the tool's own figures, exactly as printed, under
//! `phases[].imported`.

use std::path::Path;

use super::perf_test::{FinalFigures, FinalLine, PerfTestRun};
use crate::result::{
    Counts, ImportedFigures, NotMeasured, Origin, Outcome, PhaseResult, RunResult, ScenarioMeta,
    IMPORTED, SCHEMA,
};

pub const TOOL: &str = "kafka-producer-perf-test";

/// Everything an imported result leaves out, stated once; `partial`: some run has no final line.
pub fn not_measured(partial: bool) -> Vec<NotMeasured> {
    let entry = |field: &str, reason: &str| NotMeasured {
        field: field.into(),
        reason: reason.into(),
    };
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
pub fn phase(file: &Path, number: usize, runs_in_file: usize, run: PerfTestRun) -> PhaseResult {
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
    PhaseResult {
        name,
        start_s: None,
        end_s: None,
        target_rate,
        achieved_rate: figures.as_ref().map(|f| f.records_per_s),
        mb_per_s: figures.as_ref().map(|f| f.mb_per_s),
        counts: Counts {
            sent,
            acked: sent
                .zip(failed)
                .map(|(sent, failed)| sent.saturating_sub(failed)),
            failed,
            bytes: None,
            queue_full: None,
        },
        schedule_lag_us: None,
        service_us: None,
        corrected_us: None,
        replicated_us: None,
        custom_histograms: Default::default(),
        imported: Some(ImportedFigures {
            tool: TOOL.into(),
            file: file.display().to_string(),
            run: Some(number),
            lines: Some(run.lines),
            partial,
            latency: "service".into(),
            final_line,
            elapsed_s: figures.as_ref().map(elapsed_s),
            figures,
            command: run.command,
            intervals: run.intervals,
            producer_metrics: run.metrics,
            warnings: run.warnings,
        }),
    }
}

/// records ÷ records/sec: the run's duration as perf-test timed it.
fn elapsed_s(figures: &FinalFigures) -> f64 {
    if figures.records_per_s > 0.0 {
        figures.records as f64 / figures.records_per_s
    } else {
        0.0
    }
}

pub fn result(name: String, files: Vec<String>, phases: Vec<PhaseResult>) -> RunResult {
    let any_partial = phases
        .iter()
        .any(|p| p.imported.as_ref().is_some_and(|i| i.partial));
    let totals = Counts::over(&phases);
    RunResult {
        schema: SCHEMA.into(),
        kscen_version: Some(env!("CARGO_PKG_VERSION").into()),
        origin: Some(Origin {
            kind: IMPORTED.into(),
            tool: Some(TOOL.into()),
            files,
            imported_at: Some(chrono::Utc::now()),
        }),
        scenario: ScenarioMeta {
            name,
            file: None,
            plugin: None,
            params: None,
            limits: None,
        },
        environment: None,
        started_at: None,
        ended_at: None,
        duration_s: None,
        outcome: Outcome::Completed,
        producer_properties: Vec::new(),
        producer_settings: Default::default(),
        phases,
        totals,
        timeline: Vec::new(),
        events: Vec::new(),
        custom_histograms: Default::default(),
        figures: Default::default(),
        thresholds: Vec::new(),
        replication: Vec::new(),
        mirror: None,
        consumer_properties: Vec::new(),
        consumer_settings: Default::default(),
        consumers: Vec::new(),
        groups: Default::default(),
        alerts: None,
        mm2_metrics: None,
        not_measured: not_measured(any_partial),
        incomplete: None,
        shard: None,
    }
}
