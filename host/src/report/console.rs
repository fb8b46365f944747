//! What a person (and a parsing script) sees while and after a run: a progress line on a TTY,
//! kafka-producer-perf-test's exact 5-second lines on stdout, and the per-phase summary.

use std::collections::BTreeMap;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use super::live_consumers::{ConsumeSnapshot, LiveConsumers};
use crate::metrics::histogram::{new_latency_histogram, LatencySummary};
use crate::metrics::timeline::TimelinePoint;
use crate::metrics::unit::Unit;
use crate::result::{HistogramResult, JobConsumption, JobReplication, PhaseResult};

/// The periodic line of kafka-producer-perf-test, character for character.
pub fn perf_test_line(records: u64, seconds: f64, bytes: u64, avg_ms: f64, max_ms: f64) -> String {
    let rate = records as f64 / seconds;
    let mb = bytes as f64 / seconds / (1024.0 * 1024.0);
    format!("{records} records sent, {rate:.1} records/sec ({mb:.2} MB/sec), {avg_ms:.1} ms avg latency, {max_ms:.1} ms max latency.")
}

/// The final line of kafka-producer-perf-test (service latency, as it measures it).
pub fn perf_test_final_line(phases: &[PhaseResult]) -> Option<String> {
    let with_data: Vec<&PhaseResult> = phases
        .iter()
        .filter(|p| p.counts.acked.unwrap_or(0) > 0)
        .collect();
    let first = with_data
        .iter()
        .filter_map(|p| p.start_s)
        .fold(f64::INFINITY, f64::min);
    let last = with_data.iter().filter_map(|p| p.end_s).fold(0.0, f64::max);
    let seconds = last - first;
    if with_data.is_empty() || seconds <= 0.0 {
        return None;
    }
    let mut service = new_latency_histogram();
    let mut records = 0;
    let mut bytes = 0;
    for phase in &with_data {
        let hdr = phase.service_us.as_ref()?.hdr.as_ref()?;
        service.add(&crate::metrics::histogram::decode(hdr)?).ok()?;
        records += phase.counts.acked?;
        bytes += phase.counts.bytes?;
    }
    let ms = |q: f64| service.value_at_quantile(q) / 1000;
    Some(format!(
        "{records} records sent, {:.6} records/sec ({:.2} MB/sec), {:.2} ms avg latency, {:.2} ms max latency, {} ms 50th, {} ms 95th, {} ms 99th, {} ms 99.9th.",
        records as f64 / seconds,
        bytes as f64 / seconds / (1024.0 * 1024.0),
        service.mean() / 1000.0,
        service.max() as f64 / 1000.0,
        ms(0.5),
        ms(0.95),
        ms(0.99),
        ms(0.999),
    ))
}

/// The table printed at the end of a run: offered vs achieved load, corrected latency (the
/// headline) and service latency (what perf-test would have said) side by side.
pub fn summary_table(phases: &[PhaseResult]) -> String {
    let ms = |us: u64| us as f64 / 1000.0;
    let mut out = String::new();
    out.push_str(&format!(
        "{:<22} {:>10} {:>10} {:>8} {:>10} {:>7}  {:>44}  {:>10}\n",
        "phase",
        "target/s",
        "achieved/s",
        "MB/s",
        "acked",
        "failed",
        "corrected latency ms: p50 / p95 / p99 / p99.9 / max",
        "service p99"
    ));
    for phase in phases {
        let target = phase
            .target_rate
            .flatten()
            .map_or("max".to_string(), |r| format!("{r:.1}"));
        let summary = |h: &Option<HistogramResult>| h.as_ref().map(|h| h.summary);
        let c = summary(&phase.corrected_us).unwrap_or_default();
        out.push_str(&format!(
            "{:<22} {:>10} {:>10.1} {:>8.2} {:>10} {:>7}  {:>44}  {:>10.1}\n",
            truncate(&phase.name, 22),
            target,
            phase.achieved_rate.unwrap_or_default(),
            phase.mb_per_s.unwrap_or_default(),
            phase.counts.acked.unwrap_or_default(),
            phase.counts.failed.unwrap_or_default(),
            format!(
                "{:.1} / {:.1} / {:.1} / {:.1} / {:.1}",
                ms(c.p50),
                ms(c.p95),
                ms(c.p99),
                ms(c.p999),
                ms(c.max)
            ),
            ms(summary(&phase.service_us).unwrap_or_default().p99),
        ));
    }
    if phases.iter().any(|p| p.replicated_us.is_some()) {
        out.push_str(&format!(
            "\n{:<22} {:>10}  {:>44}\n",
            "phase", "replicated", "replicated latency ms: p50 / p95 / p99 / p99.9 / max"
        ));
        for phase in phases {
            if let Some(replicated) = &phase.replicated_us {
                let r = &replicated.summary;
                out.push_str(&format!(
                    "{:<22} {:>10}  {:>44}\n",
                    truncate(&phase.name, 22),
                    r.count,
                    format!(
                        "{:.1} / {:.1} / {:.1} / {:.1} / {:.1}",
                        ms(r.p50),
                        ms(r.p95),
                        ms(r.p99),
                        ms(r.p999),
                        ms(r.max)
                    ),
                ));
            }
        }
    }
    out
}

/// The plugin's own histograms: over the run, then in each phase that recorded into them; in
/// the unit their names declare, durations in ms.
pub fn custom_histogram_lines(
    run: &BTreeMap<String, HistogramResult>,
    phases: &[PhaseResult],
) -> String {
    if run.is_empty() {
        return String::new();
    }
    let mut out = format!(
        "\n{:<30} {:<22} {:>10}  {}\n",
        "custom histogram", "scope", "count", "p50 / p95 / p99 / p99.9 / max"
    );
    for (name, histogram) in run {
        let unit = Unit::of_histogram(name);
        let label = match unit.shown().symbol() {
            "" => name.clone(),
            symbol => format!("{name} ({symbol})"),
        };
        out.push_str(&histogram_line(&label, "run", &histogram.summary, unit));
        for phase in phases {
            if let Some(in_phase) = phase.custom_histograms.get(name) {
                out.push_str(&histogram_line("", &phase.name, &in_phase.summary, unit));
            }
        }
    }
    out
}

fn histogram_line(label: &str, scope: &str, summary: &LatencySummary, unit: Unit) -> String {
    let show = |value: u64| unit.show(value as f64);
    format!(
        "{:<30} {:<22} {:>10}  {} / {} / {} / {} / {}\n",
        truncate(label, 30),
        truncate(scope, 22),
        summary.count,
        show(summary.p50),
        show(summary.p95),
        show(summary.p99),
        show(summary.p999),
        show(summary.max)
    )
}

/// The figures the plugin reported, one per line.
pub fn figure_lines(figures: &BTreeMap<String, crate::metrics::Figure>) -> String {
    if figures.is_empty() {
        return String::new();
    }
    let mut out = String::from("\nfigures:\n");
    for (name, figure) in figures {
        out.push_str(&format!(
            "  {name:<36} {:>14.1} {}\n",
            figure.value, figure.unit
        ));
    }
    out
}

/// Each threshold with its verdict and, when it failed, by how much.
pub fn threshold_lines(results: &[crate::result::ThresholdResult]) -> String {
    use crate::result::Verdict;
    if results.is_empty() {
        return String::new();
    }
    let mut out = String::from("\nthresholds:\n");
    for result in results {
        let scope = result
            .phase
            .as_ref()
            .map(|p| format!(" [{p}]"))
            .unwrap_or_default();
        let line = match (result.verdict, result.measured, result.limit, result.margin) {
            (Verdict::Passed, Some(measured), _, _) => {
                format!("  ✓ {}{scope}: {measured:.3} {}", result.threshold, result.unit)
            }
            (Verdict::Failed, Some(measured), Some(limit), Some(margin)) => format!(
                "  ✗ {}{scope}: {measured:.3} {unit} against {limit:.3} {unit} (off by {:.3} {unit})",
                result.threshold,
                margin.abs(),
                unit = result.unit
            ),
            _ => format!(
                "  ✗ {}{scope}: not measured ({})",
                result.threshold,
                result.note.as_deref().unwrap_or("no value")
            ),
        };
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// One line per tracked load: the per-record verdict across the mirror.
pub fn replication_lines(jobs: &[JobReplication]) -> String {
    jobs.iter()
        .map(|j| {
            format!(
                "replication {} → {} ({}): acked {}, replicated {}, lost {}, duplicates {}, out of order {}\n",
                j.topic,
                j.remote_topic,
                j.target_cluster,
                j.acked,
                j.verdict.replicated,
                j.verdict.lost,
                j.verdict.duplicates,
                j.verdict.out_of_order
            )
        })
        .collect()
}

/// kafka-consumer-perf-test's header and final line for each consume job, then kscen's own
/// figures for it: what perf-test cannot tell (end-to-end latency, rebalances).
pub fn consumer_lines(jobs: &[JobConsumption], run_start: chrono::DateTime<chrono::Utc>) -> String {
    if jobs.is_empty() {
        return String::new();
    }
    let mut text = String::from("start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec\n");
    for job in jobs {
        text += &consumer_perf_test_line(job, run_start);
        text.push('\n');
    }
    for job in jobs {
        let s = &job.status;
        text += &format!(
            "consume job {} ({} on {}, group {}, {} members): e2e p99 {:.1} ms over {} stamped records, {} rebalances, partitions unassigned {:.0} ms (longest {:.0} ms){}\n",
            job.job,
            job.reading.topic,
            job.reading.cluster,
            job.reading.group,
            job.reading.members,
            s.e2e_us.p99 as f64 / 1000.0,
            s.stamped,
            s.rebalances.rebalances,
            s.rebalances.unassigned_ms,
            s.rebalances.unassigned_max_ms,
            s.last_error
                .as_deref()
                .map(|e| format!(", last error: {e}"))
                .unwrap_or_default()
        );
    }
    text
}

/// One job as kafka-consumer-perf-test prints its result, field for field: the time before the
/// group had every partition counts as rebalance time, the rest as fetch time.
fn consumer_perf_test_line(
    job: &JobConsumption,
    run_start: chrono::DateTime<chrono::Utc>,
) -> String {
    let at = |s: f64| {
        (run_start + chrono::Duration::microseconds((s * 1e6) as i64))
            .format("%Y-%m-%d %H:%M:%S:%3f")
            .to_string()
    };
    let status = &job.status;
    let mb = status.bytes as f64 / (1024.0 * 1024.0);
    let elapsed_s = (job.end_s - job.start_s).max(f64::EPSILON);
    let rebalance_ms = status.rebalances.join_ms.unwrap_or(elapsed_s * 1000.0);
    let fetch_ms = (elapsed_s * 1000.0 - rebalance_ms).max(0.0);
    let per_fetch_s = |value: f64| {
        if fetch_ms > 0.0 {
            value / (fetch_ms / 1000.0)
        } else {
            0.0
        }
    };
    format!(
        "{}, {}, {mb:.4}, {:.4}, {}, {:.4}, {:.0}, {:.0}, {:.4}, {:.4}",
        at(job.start_s),
        at(job.end_s),
        mb / elapsed_s,
        status.records,
        status.records as f64 / elapsed_s,
        rebalance_ms,
        fetch_ms,
        per_fetch_s(mb),
        per_fetch_s(status.records as f64),
    )
}

/// One line per consumer group: its verdict on the run's stamped records.
pub fn group_lines(groups: &BTreeMap<String, crate::verify::group_ledger::GroupVerdict>) -> String {
    groups
        .iter()
        .map(|(group, v)| {
            format!(
                "group {group}: read {}, read twice {}, missed {}\n",
                v.read, v.read_twice, v.unread
            )
        })
        .collect()
}

/// The alerts that fired during the run, when they went pending and firing; those already active
/// before it are counted apart.
pub fn alert_lines(alerts: &crate::watch::alerts::AlertsResult) -> String {
    use std::fmt::Write as _;
    let seconds = |ms: Option<f64>| ms.map_or("-".to_string(), |ms| format!("{:.1}s", ms / 1000.0));
    let mut out = String::new();
    for alert in alerts.fired(None) {
        let labels: Vec<String> = alert
            .labels
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let _ = writeln!(
            out,
            "alert {} {{{}}}: pending at {}, firing at {}, resolved at {}",
            alert.name,
            labels.join(", "),
            seconds(alert.pending_ms),
            seconds(alert.firing_ms),
            seconds(alert.resolved_ms)
        );
    }
    let before = alerts.alerts.iter().filter(|a| a.active_at_start).count();
    let _ = writeln!(
        out,
        "alerts ({}): {} fired during the run, {before} already active before it, {} of {} polls unanswered",
        alerts.probe,
        alerts.fired(None).count(),
        alerts.failed_polls,
        alerts.polls
    );
    out
}

/// MM2's replication latency beside kscen's (its series are among the run's figures).
pub fn mm2_metrics_lines(mm2: &crate::watch::mm2_metrics::Mm2MetricsResult) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    if let Some(l) = &mm2.latency {
        let _ = writeln!(
            out,
            "replication latency, MM2 (replication-latency-ms) vs kscen (one clock): mean {:.1} vs {:.1} ms \
             ({:+.1}), max {:.1} vs {:.1} ms ({:+.1}); kscen p99 {:.1} ms",
            l.mm2_mean_ms,
            l.kscen_mean_ms,
            l.mean_difference_ms,
            l.mm2_max_ms,
            l.kscen_max_ms,
            l.max_difference_ms,
            l.kscen_p99_ms
        );
    }
    let _ = writeln!(
        out,
        "MM2 metrics ({}): {} series, {} of {} polls incomplete",
        mm2.probe,
        mm2.series.len(),
        mm2.failed_polls,
        mm2.polls
    );
    out
}

fn truncate(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        text.to_string()
    } else {
        text.chars().take(width - 1).chain(['…']).collect()
    }
}

/// Live output during a run.
pub struct LiveOutput {
    progress: ProgressBar,
    window: Vec<TimelinePoint>,
    consumers: LiveConsumers,
}

/// kafka-producer-perf-test and kafka-consumer-perf-test report every 5 s.
const PERF_LINE_EVERY: usize = 5;

impl LiveOutput {
    pub fn new(label: &str) -> LiveOutput {
        // indicatif draws nothing when stderr is not a terminal: the perf-test lines remain.
        let progress = ProgressBar::new_spinner();
        progress.set_style(
            ProgressStyle::with_template("{spinner} {prefix} {elapsed_precise} {wide_msg}")
                .expect("valid template"),
        );
        progress.set_prefix(label.to_string());
        progress.enable_steady_tick(Duration::from_millis(250));
        LiveOutput {
            progress,
            window: Vec::new(),
            consumers: LiveConsumers::default(),
        }
    }

    /// One second of the run: the timeline's point, and each consume job's totals (id, totals).
    pub fn tick(&mut self, point: TimelinePoint, consumers: &[(u64, ConsumeSnapshot)]) {
        let mut mirror = match (point.replication_lag_records, point.replication_lag_ms) {
            (Some(records), Some(ms)) => format!(" | mirror lag {records} rec / {ms} ms"),
            _ => String::new(),
        };
        if let Some(consumed) = point.consumed_per_s {
            mirror += &format!(" | consumed {consumed:.0} msg/s");
        }
        self.progress.set_message(format!(
            "phase {} | {:.0} msg/s | {:.2} MB/s | p99 {:.1} ms | backlog {}{mirror}",
            point.phase.as_deref().unwrap_or("-"),
            point.acked_per_s,
            point.mb_per_s,
            point.corrected_p99_ms,
            point.backlog
        ));
        self.window.push(point);
        if self.window.len() == PERF_LINE_EVERY {
            self.flush_window();
            let time = chrono::Utc::now()
                .format("%Y-%m-%d %H:%M:%S:%3f")
                .to_string();
            for line in self.consumers.lines(&time, consumers) {
                self.progress.suspend(|| println!("{line}"));
            }
        }
    }

    fn flush_window(&mut self) {
        let records: u64 = self
            .window
            .iter()
            .map(|p| p.acked_per_s.round() as u64)
            .sum();
        let bytes: f64 = self
            .window
            .iter()
            .map(|p| p.mb_per_s * 1024.0 * 1024.0)
            .sum();
        let seconds = self.window.len() as f64;
        let latency_sum: f64 = self
            .window
            .iter()
            .map(|p| p.service_avg_ms * p.acked_per_s)
            .sum();
        let avg = if records == 0 {
            0.0
        } else {
            latency_sum / records as f64
        };
        let max = self
            .window
            .iter()
            .map(|p| p.service_max_ms)
            .fold(0.0, f64::max);
        self.window.clear();
        if records > 0 {
            let line = perf_test_line(records, seconds, bytes as u64, avg, max);
            self.progress.suspend(|| println!("{line}"));
        }
    }

    pub fn finish(self) {
        self.progress.finish_and_clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periodic_line_matches_perf_test_format() {
        assert_eq!(
            perf_test_line(3095, 5.0, 3095 * 51200, 1058.6, 1216.0),
            "3095 records sent, 619.0 records/sec (30.22 MB/sec), 1058.6 ms avg latency, 1216.0 ms max latency."
        );
    }

    #[test]
    fn custom_histograms_show_run_wide_then_per_phase_in_their_unit() {
        let mut histogram = crate::metrics::histogram::new_custom_histogram();
        crate::metrics::histogram::record_custom(&mut histogram, 1_500);
        let recorded = HistogramResult::of(&histogram);
        let run = BTreeMap::from([
            ("roundtrip_us".to_string(), recorded.clone()),
            ("batch_bytes".to_string(), recorded.clone()),
        ]);
        let lines = custom_histogram_lines(&run, &[]);
        let lines: Vec<&str> = lines.lines().collect();
        assert!(lines[1].starts_with("custom histogram"), "{lines:?}");
        assert!(lines[2].starts_with("batch_bytes (bytes)"), "{lines:?}");
        assert!(
            lines[2].ends_with("1500 / 1500 / 1500 / 1500 / 1500"),
            "{lines:?}"
        );
        assert!(lines[3].starts_with("roundtrip_us (ms)"), "{lines:?}");
        assert!(lines[3].contains("run"));
        assert!(
            lines[3].ends_with("1.500 / 1.500 / 1.500 / 1.500 / 1.500"),
            "{lines:?}"
        );
        assert_eq!(custom_histogram_lines(&BTreeMap::new(), &[]), "");
    }
}
