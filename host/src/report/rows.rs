//! One table row per phase, the same for kscen runs and imported perf-test output: each figure
//! is either what the run captured, formatted, or "not measured".

use crate::import::perf_test::FinalFigures;
use crate::metrics::unit::Unit;
use crate::result::{HistogramResult, ImportedFigures, PhaseResult, RunResult};

/// A figure as a report shows it.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Measured(String),
    NotMeasured,
}

impl Cell {
    pub fn of<T>(value: Option<T>, format: impl FnOnce(T) -> String) -> Cell {
        value.map_or(Cell::NotMeasured, |v| Cell::Measured(format(v)))
    }

    pub fn markdown(&self) -> String {
        match self {
            Cell::Measured(text) => text.clone(),
            Cell::NotMeasured => "*not measured*".into(),
        }
    }

    /// For CSV: empty when not measured (a CSV cell has no room for prose).
    pub fn plain(&self) -> &str {
        match self {
            Cell::Measured(text) => text,
            Cell::NotMeasured => "",
        }
    }

    pub fn is_measured(&self) -> bool {
        matches!(self, Cell::Measured(_))
    }
}

/// Which latency a row quotes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LatencyKind {
    /// intended send time → acknowledgement (kscen's headline)
    Corrected,
    /// send() → callback (kafka-producer-perf-test)
    Service,
}

impl LatencyKind {
    pub fn label(self) -> &'static str {
        match self {
            LatencyKind::Corrected => "corrected",
            LatencyKind::Service => "service (perf-test)",
        }
    }
}

#[derive(Debug, Clone)]
pub struct PhaseRow {
    pub phase: String,
    pub command: Cell,
    pub record_size: Cell,
    pub records: Cell,
    pub target_rate: Cell,
    pub achieved_rate: Cell,
    pub mb_per_s: Cell,
    pub latency: LatencyKind,
    pub avg_ms: Cell,
    pub max_ms: Cell,
    pub p50_ms: Cell,
    pub p95_ms: Cell,
    pub p99_ms: Cell,
    pub p999_ms: Cell,
    pub remarks: Vec<String>,
    /// numbers for the CSV layouts and charts
    pub numbers: RowNumbers,
}

/// The same figures as numbers (None = not measured).
#[derive(Debug, Clone, Default)]
pub struct RowNumbers {
    pub record_size: Option<f64>,
    /// None: not known; Some(None): unthrottled
    pub target_rate: Option<Option<f64>>,
    pub achieved_rate: Option<f64>,
    pub mb_per_s: Option<f64>,
    pub records: Option<u64>,
    pub avg_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub service_avg_ms: Option<f64>,
    pub service_p99_ms: Option<f64>,
}

fn ms(us: u64) -> String {
    format!("{:.2}", us as f64 / 1000.0)
}

fn rate(value: f64) -> String {
    format!("{value:.1}")
}

/// A histogram that holds samples, else nothing: an empty histogram measured nothing.
fn with_samples(histogram: &Option<HistogramResult>) -> Option<&HistogramResult> {
    histogram.as_ref().filter(|h| h.summary.count > 0)
}

fn target_cell(target: Option<Option<f64>>) -> Cell {
    match target {
        None => Cell::NotMeasured,
        Some(None) => Cell::Measured("unthrottled".into()),
        Some(Some(rate_value)) => Cell::Measured(rate(rate_value)),
    }
}

pub fn rows(result: &RunResult) -> Vec<PhaseRow> {
    result
        .phases
        .iter()
        .map(|phase| match &phase.imported {
            Some(_) => imported_row(phase),
            None => run_row(result, phase),
        })
        .collect()
}

fn run_command(result: &RunResult) -> Cell {
    let Some(file) = &result.scenario.file else {
        return Cell::NotMeasured;
    };
    let scale = result
        .scenario
        .params
        .as_ref()
        .map(|p| p.time_scale)
        .filter(|s| *s != 1.0)
        .map(|s| format!(" --set time_scale={s}"))
        .unwrap_or_default();
    Cell::Measured(format!("`kscen run {file}{scale}`"))
}

fn run_row(result: &RunResult, phase: &PhaseResult) -> PhaseRow {
    let corrected = with_samples(&phase.corrected_us);
    let service = with_samples(&phase.service_us);
    // The mean value size of what was acknowledged: observed, exact for fixed-size loads.
    let record_size = match (phase.counts.bytes, phase.counts.acked) {
        (Some(bytes), Some(acked)) if acked > 0 => Some(bytes as f64 / acked as f64),
        _ => None,
    };
    let mut remarks = Vec::new();
    if let Some(failed) = phase.counts.failed.filter(|f| *f > 0) {
        remarks.push(format!("{failed} failed"));
    }
    if let Some(queue_full) = phase.counts.queue_full.filter(|q| *q > 0) {
        remarks.push(format!("{queue_full} queue-full retries"));
    }
    if let Some(service) = service {
        remarks.push(format!("service p99 {} ms", ms(service.summary.p99)));
    }
    if let Some(lag) = with_samples(&phase.schedule_lag_us) {
        if lag.summary.p99 >= 10_000 {
            remarks.push(format!(
                "generator behind schedule (schedule lag p99 {} ms)",
                ms(lag.summary.p99)
            ));
        }
    }
    if let Some(replicated) = with_samples(&phase.replicated_us) {
        remarks.push(format!("replicated p99 {} ms", ms(replicated.summary.p99)));
    }
    if phase.counts.acked == Some(0) {
        remarks.push("no record acknowledged".into());
    }
    PhaseRow {
        phase: phase.name.clone(),
        command: run_command(result),
        record_size: Cell::of(record_size, |size| {
            if size.fract() == 0.0 {
                format!("{size:.0} B")
            } else {
                format!("{size:.1} B (mean)")
            }
        }),
        records: Cell::of(phase.counts.sent, |s| s.to_string()),
        target_rate: target_cell(phase.target_rate),
        achieved_rate: Cell::of(phase.achieved_rate, rate),
        mb_per_s: Cell::of(phase.mb_per_s, |m| format!("{m:.2}")),
        latency: LatencyKind::Corrected,
        avg_ms: Cell::of(corrected, |h| format!("{:.2}", h.summary.mean / 1000.0)),
        max_ms: Cell::of(corrected, |h| ms(h.summary.max)),
        p50_ms: Cell::of(corrected, |h| ms(h.summary.p50)),
        p95_ms: Cell::of(corrected, |h| ms(h.summary.p95)),
        p99_ms: Cell::of(corrected, |h| ms(h.summary.p99)),
        p999_ms: Cell::of(corrected, |h| ms(h.summary.p999)),
        remarks,
        numbers: RowNumbers {
            record_size,
            target_rate: phase.target_rate,
            achieved_rate: phase.achieved_rate,
            mb_per_s: phase.mb_per_s,
            records: phase.counts.sent,
            avg_ms: corrected.map(|h| h.summary.mean / 1000.0),
            p99_ms: corrected.map(|h| h.summary.p99 as f64 / 1000.0),
            service_avg_ms: service.map(|h| h.summary.mean / 1000.0),
            service_p99_ms: service.map(|h| h.summary.p99 as f64 / 1000.0),
        },
    }
}

/// One of the plugin's own histograms over the run or in one phase, in the unit summaries show
/// it in (durations in ms).
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramRow {
    pub histogram: String,
    /// `run`, or the phase's name
    pub scope: String,
    /// empty for a plain count
    pub unit: &'static str,
    pub count: u64,
    pub p50: String,
    pub p95: String,
    pub p99: String,
    pub p999: String,
    pub max: String,
}

/// Each custom histogram run-wide, followed by the phases that recorded into it.
pub fn histogram_rows(result: &RunResult) -> Vec<HistogramRow> {
    let mut rows = Vec::new();
    for (name, histogram) in &result.custom_histograms {
        rows.push(histogram_row(name, "run", histogram));
        for phase in &result.phases {
            if let Some(in_phase) = phase.custom_histograms.get(name) {
                rows.push(histogram_row(name, &phase.name, in_phase));
            }
        }
    }
    rows
}

fn histogram_row(name: &str, scope: &str, histogram: &HistogramResult) -> HistogramRow {
    let unit = Unit::of_histogram(name);
    let show = |value: u64| unit.show(value as f64);
    HistogramRow {
        histogram: name.to_string(),
        scope: scope.to_string(),
        unit: unit.shown().symbol(),
        count: histogram.summary.count,
        p50: show(histogram.summary.p50),
        p95: show(histogram.summary.p95),
        p99: show(histogram.summary.p99),
        p999: show(histogram.summary.p999),
        max: show(histogram.summary.max),
    }
}

/// perf-test's figures, formatted as perf-test prints them; a partial run has none.
fn imported_row(phase: &PhaseResult) -> PhaseRow {
    let imported = phase.imported.as_ref().expect("an imported phase");
    let command = imported.command.as_ref();
    let record_size = command.and_then(|c| c.record_size);
    let target = command
        .and_then(|c| c.throughput)
        .map(|t| (t >= 0.0).then_some(t));
    let mut remarks = vec![format!("imported from {}", imported_source(imported))];
    if imported.partial {
        remarks.push(format!(
            "partial run: {} periodic line(s), no final line in the log",
            imported.intervals.len()
        ));
    }
    if let Some(props) = command.filter(|c| !c.producer_props.is_empty()) {
        remarks.push(format!("producer props {}", props.producer_props.join(" ")));
    }
    if let Some(failed) = phase.counts.failed {
        remarks.push(format!("record-error-total {failed}"));
    }
    for warning in &imported.warnings {
        remarks.push(format!("log: {}", short_warning(warning)));
    }
    if imported.intervals.iter().any(|i| i.after_elision) {
        remarks.push("periodic lines elided in the log".into());
    }
    let figures = imported.figures.as_ref();
    let figure = |format: fn(&FinalFigures) -> String| Cell::of(figures, format);
    PhaseRow {
        phase: phase.name.clone(),
        command: Cell::of(command, |c| format!("`{}`", c.line)),
        record_size: Cell::of(record_size, |s| format!("{s} B")),
        records: figure(|f| f.records.to_string()),
        target_rate: target_cell(target),
        achieved_rate: figure(|f| format!("{:.6}", f.records_per_s)),
        mb_per_s: figure(|f| format!("{:.2}", f.mb_per_s)),
        latency: LatencyKind::Service,
        avg_ms: figure(|f| format!("{:.2}", f.avg_ms)),
        max_ms: figure(|f| format!("{:.2}", f.max_ms)),
        p50_ms: figure(|f| f.p50_ms.to_string()),
        p95_ms: figure(|f| f.p95_ms.to_string()),
        p99_ms: figure(|f| f.p99_ms.to_string()),
        p999_ms: figure(|f| f.p999_ms.to_string()),
        remarks,
        numbers: RowNumbers {
            record_size: record_size.map(|s| s as f64),
            target_rate: target,
            achieved_rate: figures.map(|f| f.records_per_s),
            mb_per_s: figures.map(|f| f.mb_per_s),
            records: figures.map(|f| f.records),
            avg_ms: figures.map(|f| f.avg_ms),
            p99_ms: figures.map(|f| f.p99_ms as f64),
            service_avg_ms: figures.map(|f| f.avg_ms),
            service_p99_ms: figures.map(|f| f.p99_ms as f64),
        },
    }
}

/// `file`, with the run's lines when the result records them (a log may hold several runs).
pub fn imported_source(imported: &ImportedFigures) -> String {
    match imported.lines {
        Some(lines) => format!("{} lines {}–{}", imported.file, lines.first, lines.last),
        None => imported.file.clone(),
    }
}

/// `[2025-12-18 14:59:12,833] WARN [Producer …] Error while fetching metadata … : {t=LEADER_NOT_AVAILABLE} (…)`
/// → `WARN … {t=LEADER_NOT_AVAILABLE}`
fn short_warning(line: &str) -> String {
    let body = line.split_once("] ").map_or(line, |(_, rest)| rest);
    let body = body.rsplit_once(" (").map_or(body, |(head, _)| head);
    body.to_string()
}

/// The consume jobs' table: one row per job, the columns a report shows.
pub const CONSUMER_COLUMNS: [&str; 11] = [
    "group",
    "cluster",
    "topic",
    "members",
    "records",
    "records/s",
    "MB/s",
    "e2e p99 ms",
    "rebalances",
    "unassigned ms (longest)",
    "lag max",
];

/// Each consume job of the run, as [`CONSUMER_COLUMNS`] names its cells.
pub fn consumer_rows(result: &RunResult) -> Vec<[Cell; 11]> {
    let text = |value: String| Cell::Measured(value);
    result
        .consumers
        .iter()
        .map(|job| {
            let status = &job.status;
            [
                text(job.reading.group.clone()),
                text(job.reading.cluster.clone()),
                text(job.reading.topic.clone()),
                text(job.reading.members.to_string()),
                text(status.records.to_string()),
                text(format!("{:.0}", status.records_per_s)),
                text(format!("{:.2}", status.mb_per_s)),
                text(format!("{:.1}", status.e2e_us.p99 as f64 / 1000.0)),
                text(status.rebalances.rebalances.to_string()),
                text(format!(
                    "{:.0} ({:.0})",
                    status.rebalances.unassigned_ms, status.rebalances.unassigned_max_ms
                )),
                // Without commits the group has no lag to sample.
                Cell::of(status.lag_max, |lag| lag.to_string()),
            ]
        })
        .collect()
}

/// The groups' verdict table: what each group read of the run's stamped records.
pub const GROUP_COLUMNS: [&str; 4] = ["group", "read", "read twice", "missed"];

pub fn group_rows(result: &RunResult) -> Vec<[String; 4]> {
    result
        .groups
        .iter()
        .map(|(group, verdict)| {
            [
                group.clone(),
                verdict.read.to_string(),
                verdict.read_twice.to_string(),
                verdict.unread.to_string(),
            ]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn custom_histograms_run_wide_then_per_phase_and_older_results_read() {
        let histogram = |value: u64| {
            serde_json::json!({"count": 3, "min": value, "mean": value, "p50": value,
                "p95": value, "p99": value, "p999": value, "max": value})
        };
        let result: RunResult = serde_json::from_value(serde_json::json!({
            "schema": "kscen.result/v1",
            "scenario": {"name": "custom"},
            "outcome": {"status": "completed"},
            "phases": [
                {"name": "fast", "custom_histograms": {"roundtrip_us": histogram(1_500)}},
                // written before custom histograms were kept per phase
                {"name": "older"},
            ],
            "custom_histograms": {"roundtrip_us": histogram(1_500), "poll_records": histogram(7)},
        }))
        .unwrap();
        let table = histogram_rows(&result);
        let shown: Vec<(&str, &str, &str, &str)> = table
            .iter()
            .map(|r| {
                (
                    r.histogram.as_str(),
                    r.scope.as_str(),
                    r.unit,
                    r.p99.as_str(),
                )
            })
            .collect();
        assert_eq!(
            shown,
            [
                ("poll_records", "run", "records", "7"),
                ("roundtrip_us", "run", "ms", "1.500"),
                ("roundtrip_us", "fast", "ms", "1.500"),
            ]
        );
        assert_eq!(table[0].count, 3);
    }

    #[test]
    fn consume_jobs_and_group_verdicts_read_back_as_the_run_wrote_them() {
        use crate::load::consume::{
            CommitPolicy, ConsumeStatus, GroupProtocol, GroupReading, Rebalances,
        };
        use crate::metrics::histogram::LatencySummary;
        use crate::result::JobConsumption;
        use crate::verify::group_ledger::GroupVerdict;

        let job = |cluster: &str, lag_max: Option<i64>| JobConsumption {
            job: 2,
            reading: GroupReading {
                cluster: cluster.into(),
                topic: "orders".into(),
                group: "billing".into(),
                members: 3,
                commit: CommitPolicy::PerBatch,
                protocol: GroupProtocol::Classic,
            },
            start_s: 1.0,
            end_s: 11.0,
            status: ConsumeStatus {
                running: false,
                records: 12_000,
                bytes: 12_000 * 512,
                elapsed_ms: 10_000,
                records_per_s: 1_250.4,
                mb_per_s: 0.61,
                assigned_partitions: 0,
                partitions: 6,
                rebalances: Rebalances {
                    rebalances: 1,
                    join_ms: Some(400.0),
                    unassigned_ms: 35.2,
                    unassigned_max_ms: 35.2,
                },
                stamped: 12_000,
                read_twice: 17,
                e2e_us: LatencySummary {
                    p99: 48_250,
                    ..LatencySummary::default()
                },
                lag: lag_max,
                lag_max,
                last_error: None,
            },
        };
        let verdict = GroupVerdict {
            read: 11_983,
            read_twice: 17,
            unread: 0,
        };
        let written = serde_json::json!({
            "schema": "kscen.result/v1",
            "scenario": {"name": "groups"},
            "outcome": {"status": "completed"},
            "consumers": [job("source", Some(120)), job("target", None)],
            "groups": {"billing": verdict},
        });
        let result: RunResult = serde_json::from_value(written).unwrap();
        let rows = consumer_rows(&result);
        let shown = |row: &[Cell; 11]| -> Vec<String> { row.iter().map(Cell::markdown).collect() };
        assert_eq!(
            shown(&rows[0]),
            [
                "billing", "source", "orders", "3", "12000", "1250", "0.61", "48.2", "1",
                "35 (35)", "120"
            ]
        );
        // A group that never committed has no lag to show.
        assert_eq!(shown(&rows[1])[10], "*not measured*");
        assert_eq!(
            group_rows(&result),
            [["billing", "11983", "17", "0"].map(String::from)]
        );
    }

    #[test]
    fn warnings_are_shortened_to_their_substance() {
        assert_eq!(
            short_warning("[2025-12-18 14:59:12,833] WARN [Producer clientId=p] Error while fetching metadata with correlation id 1 : {t=LEADER_NOT_AVAILABLE} (org.apache.kafka.clients.NetworkClient)"),
            "WARN [Producer clientId=p] Error while fetching metadata with correlation id 1 : {t=LEADER_NOT_AVAILABLE}"
        );
    }
}
