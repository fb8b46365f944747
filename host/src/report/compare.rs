//! `kscen compare`: a baseline and a candidate, each one or more repetitions of a run, side by side
//! — throughput, corrected, service and replicated latency per phase, peak replication lag, and
//! the runs' figures — with the change and whether it exceeds the noise, so "p99 fell by 12 %" comes with "beyond
//! noise" or "within noise".
//!
//! The noise, by what the results allow, as a 95 % bootstrap interval of the change (see
//! [`noise`]):
//! - repetitions on both sides (two runs or more each): the runs' spread — the interval of the
//!   difference of the sides' means, widened for so few runs to what Welch's t interval gives.
//! - a single run on a side: for a latency percentile whose every run kept its histogram, the
//!   percentile resampled from the values recorded. It knows nothing of run-to-run variation,
//!   and says so.
//! - otherwise the noise is unknown: repeat the runs.
//!
//! A change is beyond noise when its interval lies wholly on the side of zero the change is on,
//! and it is 1 % or more: a smaller change is too small to act on however sure it is.

mod noise;
mod phases;
pub mod section;

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::{bail, Result};

use crate::metrics::histogram::LatencySummary;
use crate::metrics::timeline::TimelinePoint;
use crate::result::{HistogramResult, LoadedResult, PhaseResult};
use noise::{median, Recorded};
use phases::phase_of;
pub use phases::PhasePair;

#[derive(Debug, clap::Args)]
pub struct CompareArgs {
    /// Result files of the baseline: repetitions of one configuration.
    #[arg(long, num_args = 1.., required = true, value_name = "RESULT")]
    pub baseline: Vec<PathBuf>,
    /// Result files of the candidate (the changed configuration), compared with the baseline.
    #[arg(long, num_args = 1.., required = true, value_name = "RESULT")]
    pub candidate: Vec<PathBuf>,
    /// Compare only these phases: NAME, the phase of that name on both sides, or
    /// BASELINE_PHASE=CANDIDATE_PHASE; repeat for more pairs. Without it, phases are matched by
    /// name, or, with a single phase with records on each side, those two.
    #[arg(long = "phase", value_name = "NAME|BASE=CAND")]
    pub phases: Vec<PhasePair>,
    /// Also write the comparison as a Markdown table here.
    #[arg(long, value_name = "FILE")]
    pub markdown: Option<PathBuf>,
}

pub fn run(args: CompareArgs) -> Result<()> {
    let load = |paths: &[PathBuf]| -> Result<Vec<LoadedResult>> {
        paths.iter().map(|p| crate::result::load(p)).collect()
    };
    let (baseline, candidate) = (load(&args.baseline)?, load(&args.candidate)?);
    let comparison = compare_phases(
        &baseline.iter().collect::<Vec<_>>(),
        &candidate.iter().collect::<Vec<_>>(),
        &args.phases,
    )?;
    print!("{}", comparison.console());
    if let Some(path) = &args.markdown {
        std::fs::write(path, comparison.markdown())
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
        eprintln!("Comparison written to {}", path.display());
    }
    Ok(())
}

/// How a change stands against the noise.
#[derive(Debug, Clone, PartialEq)]
pub enum Noise {
    Beyond(String),
    Within(String),
    Unknown,
    /// a side's runs did not capture the figure
    NotMeasured,
}

impl Noise {
    fn label(&self) -> String {
        match self {
            Noise::Beyond(how) => format!("beyond noise ({how})"),
            Noise::Within(how) => format!("within noise ({how})"),
            Noise::Unknown => "noise unknown: one run, repeat it".into(),
            Noise::NotMeasured => "not measured".into(),
        }
    }

    /// Whether the change was weighed against the noise at all.
    pub fn is_known(&self) -> bool {
        matches!(self, Noise::Beyond(_) | Noise::Within(_))
    }
}

/// Which way a metric improves.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Better {
    Higher,
    Lower,
}

/// How the candidate stands against the baseline on one metric, beyond noise.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Shift {
    Better,
    Worse,
}

/// One metric, both sides.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// `[phase] metric` or the figure's name
    pub metric: String,
    pub unit: String,
    /// median over each side's runs; none when a run of that side did not capture it
    pub baseline: Option<f64>,
    pub candidate: Option<f64>,
    pub noise: Noise,
    /// none for a scenario's own figure, whose good direction kscen does not know
    pub better: Option<Better>,
}

impl Row {
    /// Metric, baseline, candidate, change, noise: as the console and Markdown tables show them.
    fn cells(&self) -> [String; 5] {
        [
            self.metric.clone(),
            measured(self.baseline, &self.unit),
            measured(self.candidate, &self.unit),
            change(self),
            self.noise.label(),
        ]
    }

    /// Better or worse beyond noise; none within noise, with the noise unknown, or without a
    /// known good direction.
    pub fn shift(&self) -> Option<Shift> {
        let Noise::Beyond(_) = self.noise else {
            return None;
        };
        let higher = self.candidate? > self.baseline?;
        match self.better? {
            Better::Higher if higher => Some(Shift::Better),
            Better::Lower if !higher => Some(Shift::Better),
            _ => Some(Shift::Worse),
        }
    }

    /// `metric: baseline → candidate (change, noise)`, the evidence for a verdict.
    pub fn evidence(&self) -> String {
        let [metric, baseline, candidate, change, noise] = self.cells();
        format!("{metric}: {baseline} → {candidate} ({change}, {noise})")
    }

    /// (candidate − baseline) ÷ baseline, %; none from a zero baseline or a side not measured.
    pub fn change_percent(&self) -> Option<f64> {
        let (baseline, candidate) = (self.baseline?, self.candidate?);
        (baseline != 0.0).then(|| (candidate - baseline) / baseline * 100.0)
    }
}

pub struct Comparison {
    pub baseline: String,
    pub candidate: String,
    pub rows: Vec<Row>,
    /// the phases left out, and why: no figures to compare (partial imported runs), or no
    /// phase of the other side to pair them with
    pub left_out: Vec<String>,
}

/// A side's readings of one metric, one per run; a run without it leaves the metric out.
struct Side<'a> {
    values: Vec<f64>,
    /// for a latency percentile, the values each run's histogram recorded, when every run kept
    /// them and a side has a single run (with repetitions on both sides the runs tell the noise)
    recorded: Option<&'a [Recorded]>,
}

/// The comparison with phases matched automatically (see [`compare_phases`]).
pub fn compare(baseline: &[&LoadedResult], candidate: &[&LoadedResult]) -> Result<Comparison> {
    compare_phases(baseline, candidate, &[])
}

/// The comparison of the `chosen` phase pairs, or, with none chosen, of the phases matched by
/// name (or the single phase with records of each side). A chosen phase missing from a run is
/// refused, naming the run's file and its phases.
pub fn compare_phases(
    baseline: &[&LoadedResult],
    candidate: &[&LoadedResult],
    chosen: &[PhasePair],
) -> Result<Comparison> {
    if baseline.is_empty() || candidate.is_empty() {
        bail!("compare needs at least one result on each side");
    }
    let describe = |runs: &[&LoadedResult]| {
        let names: BTreeSet<&str> = runs
            .iter()
            .map(|r| r.result.scenario.name.as_str())
            .collect();
        // A snapshot's figures cover only part of its run: said beside the side it is on.
        let incomplete: String = runs
            .iter()
            .filter_map(|r| {
                Some(format!(
                    "; {}: {}",
                    r.path.display(),
                    r.result.incomplete_label()?
                ))
            })
            .collect();
        format!(
            "{} run(s) of {}{incomplete}",
            runs.len(),
            names.into_iter().collect::<Vec<_>>().join(", ")
        )
    };
    let paired = phases::pair(baseline, candidate, chosen)?;
    let mut rows = Vec::new();
    for PhasePair {
        baseline: base_phase,
        candidate: cand_phase,
    } in paired.pairs
    {
        let label = if base_phase == cand_phase {
            format!("[{base_phase}]")
        } else {
            format!("[{base_phase} / {cand_phase}]")
        };
        let scalar =
            |runs: &[&LoadedResult], phase: &str, read: fn(&PhaseResult) -> Option<f64>| {
                runs.iter()
                    .map(|r| phase_of(r, phase).and_then(read))
                    .collect::<Option<Vec<f64>>>()
            };
        // A higher achieved rate is better only against the same target: asked for more, a run
        // sends more, and that is no improvement.
        let targets = baseline
            .iter()
            .map(|r| (r, &base_phase))
            .chain(candidate.iter().map(|r| (r, &cand_phase)))
            .map(|(r, phase)| phase_of(r, phase).and_then(|p| p.target_rate))
            .collect::<Vec<_>>();
        let same_target = targets.windows(2).all(|pair| pair[0] == pair[1]);
        for (name, unit, read) in [
            (
                "achieved_rate",
                "records/s",
                (|p: &PhaseResult| p.achieved_rate) as fn(&PhaseResult) -> Option<f64>,
            ),
            ("mb_per_s", "MiB/s", |p: &PhaseResult| p.mb_per_s),
        ] {
            let metric = format!("{label} {name}");
            let better = same_target.then_some(Better::Higher);
            match (
                scalar(baseline, &base_phase, read),
                scalar(candidate, &cand_phase, read),
            ) {
                (Some(b), Some(c)) => {
                    rows.push(row(metric, unit, sides(b), sides(c), None, better))
                }
                (None, None) => {}
                (b, c) => rows.push(not_measured(metric, unit, b, c, better)),
            }
        }
        for (histogram, read) in [
            (
                "corrected",
                (|p: &PhaseResult| p.corrected_us.as_ref().map(Cow::Borrowed))
                    as fn(&PhaseResult) -> Option<Cow<HistogramResult>>,
            ),
            ("service", |p: &PhaseResult| {
                p.service_us
                    .as_ref()
                    .map(Cow::Borrowed)
                    .or_else(|| printed_service(p).map(Cow::Owned))
            }),
            ("replicated", |p: &PhaseResult| {
                p.replicated_us.as_ref().map(Cow::Borrowed)
            }),
        ] {
            let (b, c) = match (
                histograms(baseline, &base_phase, read),
                histograms(candidate, &cand_phase, read),
            ) {
                (Some(b), Some(c)) => (b, c),
                (None, None) => continue,
                (b, c) => {
                    let values = |hs: &Option<Vec<Cow<HistogramResult>>>, statistic| {
                        hs.as_deref().map(|hs| percentile_ms(hs, statistic))
                    };
                    rows.extend(PERCENTILES.map(|(statistic, _)| {
                        not_measured(
                            format!("{label} {histogram}.{statistic}"),
                            "ms",
                            values(&b, statistic),
                            values(&c, statistic),
                            Some(Better::Lower),
                        )
                    }));
                    continue;
                }
            };
            // Decoding a long run's histogram takes a while: only when a side has a single run.
            let single_run = b.len() < 2 || c.len() < 2;
            let recorded = |hs: &[Cow<HistogramResult>]| -> Option<Vec<Recorded>> {
                if !single_run {
                    return None;
                }
                hs.iter().map(|h| Recorded::of(h)).collect()
            };
            let (b_recorded, c_recorded) = (recorded(&b), recorded(&c));
            for (statistic, quantile) in PERCENTILES {
                rows.push(row(
                    format!("{label} {histogram}.{statistic}"),
                    "ms",
                    Side {
                        values: percentile_ms(&b, statistic),
                        recorded: b_recorded.as_deref(),
                    },
                    Side {
                        values: percentile_ms(&c, statistic),
                        recorded: c_recorded.as_deref(),
                    },
                    // The bootstrap cannot bound a maximum: no resample exceeds it.
                    (quantile < 1.0).then_some(quantile),
                    Some(Better::Lower),
                ));
            }
        }
    }
    rows.extend(replication_lag_rows(baseline, candidate));
    let figure_names: BTreeSet<&String> = baseline
        .iter()
        .chain(candidate)
        .flat_map(|r| r.result.figures.keys())
        .collect();
    for name in figure_names {
        let read = |runs: &[&LoadedResult]| {
            runs.iter()
                .map(|r| {
                    r.result
                        .figures
                        .get(name)
                        .map(|f| (f.value, f.unit.clone()))
                })
                .collect::<Option<Vec<(f64, String)>>>()
        };
        let (b, c) = (read(baseline), read(candidate));
        let unit = b.iter().chain(&c).next().map_or("", |v| v[0].1.as_str());
        let values = |v: &Option<Vec<(f64, String)>>| -> Option<Vec<f64>> {
            v.as_ref().map(|v| v.iter().map(|(x, _)| *x).collect())
        };
        rows.push(match (values(&b), values(&c)) {
            (Some(b), Some(c)) => row(name.clone(), unit, sides(b), sides(c), None, None),
            (b, c) => not_measured(name.clone(), unit, b, c, None),
        });
    }
    Ok(Comparison {
        baseline: describe(baseline),
        candidate: describe(candidate),
        rows,
        left_out: paired.left_out,
    })
}

/// An imported perf-test run's latency as it printed it, send() → callback: kscen's service
/// latency. Its percentiles only, no histogram: nothing to resample, so its noise is unknown.
fn printed_service(phase: &PhaseResult) -> Option<HistogramResult> {
    let printed = phase.imported.as_ref()?.figures.as_ref()?;
    let us = |ms: f64| (ms * US_PER_MS).round() as u64;
    Some(HistogramResult {
        summary: LatencySummary {
            count: printed.records,
            // not printed, and never compared
            min: 0,
            mean: printed.avg_ms * US_PER_MS,
            p50: printed.p50_ms * 1000,
            p95: printed.p95_ms * 1000,
            p99: printed.p99_ms * 1000,
            p999: printed.p999_ms * 1000,
            max: us(printed.max_ms),
        },
        hdr: None,
    })
}

/// A histogram with records in `phase` of every run, or none.
fn histograms<'a>(
    runs: &[&'a LoadedResult],
    phase: &str,
    read: fn(&PhaseResult) -> Option<Cow<HistogramResult>>,
) -> Option<Vec<Cow<'a, HistogramResult>>> {
    runs.iter()
        .map(|r| {
            phase_of(r, phase)
                .and_then(read)
                .filter(|h| h.summary.count > 0)
        })
        .collect()
}

fn sides<'a>(values: Vec<f64>) -> Side<'a> {
    Side {
        values,
        recorded: None,
    }
}

/// The peak replication lag of each run, in records and in age (lower is better), from the
/// timeline; *not measured* where a run's timeline has none (no load tracked replication).
fn replication_lag_rows(baseline: &[&LoadedResult], candidate: &[&LoadedResult]) -> Vec<Row> {
    [
        (
            "replication_lag_records.peak",
            "records",
            (|p: &TimelinePoint| p.replication_lag_records) as fn(&TimelinePoint) -> Option<u64>,
        ),
        ("replication_lag_ms.peak", "ms", |p| p.replication_lag_ms),
    ]
    .into_iter()
    .map(|(metric, unit, read)| {
        let peaks = |runs: &[&LoadedResult]| -> Option<Vec<f64>> {
            runs.iter()
                .map(|run| {
                    let peak = run.result.timeline.iter().filter_map(read).max()?;
                    Some(peak as f64)
                })
                .collect()
        };
        match (peaks(baseline), peaks(candidate)) {
            (Some(b), Some(c)) => row(
                metric.into(),
                unit,
                sides(b),
                sides(c),
                None,
                Some(Better::Lower),
            ),
            (b, c) => not_measured(metric.into(), unit, b, c, Some(Better::Lower)),
        }
    })
    .collect()
}

/// A metric some run of a side did not capture: that side *not measured*, the other its median.
fn not_measured(
    metric: String,
    unit: &str,
    baseline: Option<Vec<f64>>,
    candidate: Option<Vec<f64>>,
    better: Option<Better>,
) -> Row {
    Row {
        metric,
        unit: unit.into(),
        baseline: baseline.as_deref().map(median),
        candidate: candidate.as_deref().map(median),
        noise: Noise::NotMeasured,
        better,
    }
}

/// The latency statistics compared, with the quantile each reads (the max is 1).
const PERCENTILES: [(&str, f64); 4] = [("p50", 0.5), ("p99", 0.99), ("p999", 0.999), ("max", 1.0)];

/// Each run's `statistic`, in ms.
fn percentile_ms(histograms: &[Cow<HistogramResult>], statistic: &str) -> Vec<f64> {
    histograms
        .iter()
        .map(|h| statistic_us(h, statistic) as f64 / US_PER_MS)
        .collect()
}

fn statistic_us(h: &HistogramResult, statistic: &str) -> u64 {
    match statistic {
        "p50" => h.summary.p50,
        "p99" => h.summary.p99,
        "p999" => h.summary.p999,
        _ => h.summary.max,
    }
}

/// Histograms record µs; the rows show ms.
const US_PER_MS: f64 = 1000.0;

fn row(
    metric: String,
    unit: &str,
    baseline: Side,
    candidate: Side,
    quantile: Option<f64>,
    better: Option<Better>,
) -> Row {
    let (base, cand) = (median(&baseline.values), median(&candidate.values));
    let noise = match interval(&baseline, &candidate, quantile) {
        None => Noise::Unknown,
        Some((interval, covers)) => {
            let how = format!(
                "{covers}: {:+.2} to {:+.2}{}",
                interval.low,
                interval.high,
                unit_suffix(unit)
            );
            let change = cand - base;
            // The interval (of means, with repetitions) must also agree in direction with the
            // change shown (of medians); if they disagree nothing is shown beyond noise.
            if !interval.excludes_zero_towards(change) {
                Noise::Within(how)
            } else if base != 0.0 && (change / base).abs() < NOISE_FLOOR {
                // Distinguishable but too small to matter, as criterion's noise threshold has it.
                Noise::Within(format!(
                    "a change under {:.0} %; {how}",
                    NOISE_FLOOR * 100.0
                ))
            } else {
                Noise::Beyond(how)
            }
        }
    };
    Row {
        metric,
        unit: unit.into(),
        baseline: Some(base),
        candidate: Some(cand),
        noise,
        better,
    }
}

/// The smallest relative change called beyond noise, whatever the runs' spread.
const NOISE_FLOOR: f64 = 0.01;

/// The change's 95 % interval and what it covers; none when nothing tells the noise.
fn interval(
    baseline: &Side,
    candidate: &Side,
    quantile: Option<f64>,
) -> Option<(noise::Interval, String)> {
    let (b, c) = (baseline.values.len(), candidate.values.len());
    if b >= 2 && c >= 2 {
        let interval = noise::between_runs(&baseline.values, &candidate.values);
        let covers = format!("runs {b} vs {c}, 95 % interval of the mean difference");
        return Some((interval, covers));
    }
    let us = noise::sampling(baseline.recorded?, candidate.recorded?, quantile?);
    let ms = noise::Interval {
        low: us.low / US_PER_MS,
        high: us.high / US_PER_MS,
    };
    Some((ms, "sampling only, 95 % interval of the difference".into()))
}

impl Comparison {
    pub fn console(&self) -> String {
        let mut out = format!(
            "baseline:  {}\ncandidate: {}\n",
            self.baseline, self.candidate
        );
        // Wide enough for the longest metric: a chosen pair's label names both phases.
        let width = self
            .rows
            .iter()
            .map(|row| row.metric.chars().count())
            .fold(40, usize::max);
        let _ = writeln!(
            out,
            "{:<width$} {:>20} {:>20} {:>9}  noise",
            "metric", "baseline", "candidate", "change"
        );
        for [metric, baseline, candidate, change, noise] in self.rows.iter().map(Row::cells) {
            let _ = writeln!(
                out,
                "{metric:<width$} {baseline:>20} {candidate:>20} {change:>9}  {noise}"
            );
        }
        for note in &self.left_out {
            let _ = writeln!(out, "left out: {note}");
        }
        out
    }

    pub fn markdown(&self) -> String {
        format!("## Comparison\n\n{}", self.markdown_body())
    }

    /// The sides, the table and what was left out, under a heading of the caller's.
    pub fn markdown_body(&self) -> String {
        let mut out = format!(
            "Baseline: {}. Candidate: {}. Each side's median over its runs.\n\n\
             | Metric | Baseline | Candidate | Change | Noise |\n|---|---|---|---|---|\n",
            self.baseline, self.candidate
        );
        for cells in self.rows.iter().map(Row::cells) {
            let _ = writeln!(out, "| {} |", cells.join(" | "));
        }
        if !self.left_out.is_empty() {
            out.push_str("\nLeft out:\n\n");
            for note in &self.left_out {
                let _ = writeln!(out, "- {note}");
            }
        }
        out
    }
}

fn measured(value: Option<f64>, unit: &str) -> String {
    value.map_or("not measured".into(), |v| {
        format!("{v:.2}{}", unit_suffix(unit))
    })
}

fn unit_suffix(unit: &str) -> String {
    if unit.is_empty() {
        String::new()
    } else {
        format!(" {unit}")
    }
}

fn change(row: &Row) -> String {
    match (row.change_percent(), row.baseline, row.candidate) {
        (Some(p), _, _) => format!("{p:+.1} %"),
        (None, Some(baseline), Some(candidate)) => format!("{:+.2}", candidate - baseline),
        _ => "—".into(),
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// A result with one phase `steady` whose corrected latency p99 is `p99_ms` over `count`
    /// records, and a figure `recovery_ms`.
    pub(in crate::report) fn run(
        p99_ms: u64,
        count: u64,
        rate: f64,
        recovery_ms: f64,
    ) -> LoadedResult {
        let us = p99_ms * 1000;
        let result = serde_json::from_value(serde_json::json!({
            "schema": "kscen.result/v1",
            "scenario": {"name": "perf-01"},
            "outcome": {"status": "completed"},
            "phases": [{
                "name": "steady", "sent": count, "acked": count, "achieved_rate": rate,
                "corrected_us": {"count": count, "min": 1000, "mean": 5000.0, "p50": 4000,
                                 "p95": us * 8 / 10, "p99": us, "p999": us * 12 / 10, "max": us * 2},
            }],
            "figures": {"recovery_ms": {"value": recovery_ms, "unit": "ms"}},
        }))
        .unwrap();
        LoadedResult {
            path: "r.json".into(),
            result,
        }
    }

    pub(in crate::report) fn compared(
        baseline: &[LoadedResult],
        candidate: &[LoadedResult],
    ) -> Comparison {
        compare(
            &baseline.iter().collect::<Vec<_>>(),
            &candidate.iter().collect::<Vec<_>>(),
        )
        .unwrap()
    }

    fn find<'a>(c: &'a Comparison, metric: &str) -> &'a Row {
        c.rows
            .iter()
            .find(|r| r.metric == metric)
            .unwrap_or_else(|| panic!("no {metric} in {:?}", c.rows))
    }

    /// `run` with its corrected latency histogram recorded: every whole ms from 1 to `top_ms`,
    /// `each` times.
    fn recorded(mut run: LoadedResult, top_ms: u64, each: u64) -> LoadedResult {
        let mut histogram = crate::metrics::histogram::new_latency_histogram();
        for ms in 1..=top_ms {
            histogram.record_n(ms * 1000, each).unwrap();
        }
        run.result.phases[0].corrected_us = Some(HistogramResult::of(&histogram));
        run
    }

    /// `run` with a timeline whose replication lag peaks at `peak_ms` ms and 10 × as many records.
    fn lagging(mut run: LoadedResult, peak_ms: u64) -> LoadedResult {
        let point = |t_s: u64, lag: u64| {
            serde_json::from_value(serde_json::json!({
                "t_s": t_s, "sent": 0, "acked": 0, "failed": 0, "acked_per_s": 0.0,
                "mb_per_s": 0.0, "service_avg_ms": 0.0, "service_max_ms": 0.0,
                "corrected_p99_ms": 0.0, "backlog": 0,
                "replication_lag_records": lag * 10, "replication_lag_ms": lag,
            }))
            .unwrap()
        };
        run.result.timeline = vec![point(1, peak_ms / 2), point(2, peak_ms), point(3, 0)];
        run
    }

    #[test]
    fn repetitions_apart_beyond_their_spread_are_beyond_noise() {
        let baseline = [
            run(40, 100_000, 1000.0, 900.0),
            run(44, 100_000, 999.0, 1500.0),
            run(42, 100_000, 1000.0, 1200.0),
        ];
        let candidate = [
            run(35, 100_000, 1000.0, 1000.0),
            run(36, 100_000, 1000.0, 1300.0),
            run(37, 100_000, 998.0, 1100.0),
        ];
        let c = compared(&baseline, &candidate);
        let p99 = find(&c, "[steady] corrected.p99");
        assert_eq!((p99.baseline, p99.candidate), (Some(42.0), Some(36.0)));
        assert!((p99.change_percent().unwrap() + 14.29).abs() < 0.01);
        assert!(
            matches!(&p99.noise, Noise::Beyond(how)
                if how.starts_with("runs 3 vs 3, 95 % interval of the mean difference: -")),
            "{p99:?}"
        );
        assert_eq!(p99.shift(), Some(Shift::Better));
        let recovery = find(&c, "recovery_ms");
        assert!(matches!(recovery.noise, Noise::Within(_)), "{recovery:?}");
        assert!(c
            .console()
            .contains("beyond noise (runs 3 vs 3, 95 % interval"));
    }

    #[test]
    fn identical_repetitions_are_within_noise_on_every_figure() {
        let runs = [
            run(40, 100_000, 990.0, 900.0),
            run(44, 100_000, 1010.0, 1500.0),
            run(42, 100_000, 1000.0, 1200.0),
        ];
        let c = compared(&runs, &runs);
        let judged: Vec<&Row> = c.rows.iter().filter(|r| r.noise.is_known()).collect();
        assert!(judged.len() >= 6, "{:?}", c.rows);
        for row in judged {
            assert!(matches!(row.noise, Noise::Within(_)), "{row:?}");
        }
    }

    #[test]
    fn a_fifth_more_over_three_runs_two_percent_apart_is_beyond_noise() {
        let at = |p99_ms: u64, rate: f64| {
            let mut run = run(p99_ms, 100_000, rate, 0.0);
            run.result.phases[0].target_rate = Some(Some(2000.0));
            run
        };
        let c = compared(
            &[at(49, 980.0), at(50, 1000.0), at(51, 1020.0)],
            &[at(59, 1176.0), at(60, 1200.0), at(61, 1224.0)],
        );
        let rate = find(&c, "[steady] achieved_rate");
        assert!(matches!(rate.noise, Noise::Beyond(_)), "{rate:?}");
        assert_eq!(rate.shift(), Some(Shift::Better));
        let p99 = find(&c, "[steady] corrected.p99");
        assert!(matches!(p99.noise, Noise::Beyond(_)), "{p99:?}");
        assert_eq!(p99.shift(), Some(Shift::Worse));
    }

    #[test]
    fn the_same_results_get_the_same_verdicts_on_every_call() {
        let baseline = [
            run(40, 100_000, 1000.0, 900.0),
            run(43, 100_000, 990.0, 1500.0),
        ];
        let candidate = [
            recorded(run(38, 100_000, 1005.0, 1000.0), 40, 100),
            run(41, 100_000, 1000.0, 1300.0),
        ];
        assert_eq!(
            compared(&baseline, &candidate).rows,
            compared(&baseline, &candidate).rows
        );
        let (one, other) = (
            [recorded(run(40, 4_000, 1000.0, 0.0), 40, 100)],
            [recorded(run(38, 3_800, 1000.0, 0.0), 38, 100)],
        );
        assert_eq!(compared(&one, &other).rows, compared(&one, &other).rows);
    }

    #[test]
    fn a_higher_rate_is_better_only_against_the_same_target() {
        let at = |rate: f64, target: f64| {
            let mut run = run(40, 100_000, rate, 0.0);
            run.result.phases[0].target_rate = Some(Some(target));
            run
        };
        // Asked for twice as much: it sent more, which is no improvement.
        let c = compared(
            &[at(1000.0, 1000.0), at(999.0, 1000.0)],
            &[at(2000.0, 2000.0), at(1998.0, 2000.0)],
        );
        let rate = find(&c, "[steady] achieved_rate");
        assert!(matches!(rate.noise, Noise::Beyond(_)));
        assert_eq!((rate.better, rate.shift()), (None, None));
        // The same target, more of it achieved: better.
        let c = compared(
            &[at(800.0, 2000.0), at(810.0, 2000.0)],
            &[at(2000.0, 2000.0), at(1998.0, 2000.0)],
        );
        assert_eq!(
            find(&c, "[steady] achieved_rate").shift(),
            Some(Shift::Better)
        );
        assert_eq!(
            find(&c, "[steady] corrected.p99").shift(),
            None,
            "the same p99"
        );
        // 0.05 % more, the runs apart: distinguishable, and too small to matter.
        let c = compared(
            &[at(1999.0, 2000.0), at(1999.02, 2000.0)],
            &[at(2000.0, 2000.0), at(1999.98, 2000.0)],
        );
        let rate = find(&c, "[steady] achieved_rate");
        assert!(
            matches!(&rate.noise, Noise::Within(how) if how.starts_with("a change under 1 %")),
            "{rate:?}"
        );
    }

    #[test]
    fn a_single_runs_percentiles_are_weighed_by_the_values_it_recorded() {
        // 100 records of every ms up to 50 against up to 40: p99 50 → 40 ms, its rank known to
        // within a few dozen of 5 000 and 4 000 records, so within the top ms on each side.
        let baseline = [recorded(run(50, 5_000, 1000.0, 900.0), 50, 100)];
        let c = compared(
            &baseline,
            &[recorded(run(40, 4_000, 1000.0, 800.0), 40, 100)],
        );
        let p99 = find(&c, "[steady] corrected.p99");
        assert!(
            matches!(&p99.noise, Noise::Beyond(how)
                if how.starts_with("sampling only, 95 % interval of the difference: -")),
            "{p99:?}"
        );
        assert!(c.console().contains("beyond noise (sampling only"));
        // A maximum cannot be bounded by resampling, nor a figure of one run.
        assert_eq!(find(&c, "[steady] corrected.max").noise, Noise::Unknown);
        assert_eq!(find(&c, "recovery_ms").noise, Noise::Unknown);
        assert!(c.console().contains("noise unknown: one run, repeat it"));
        // The same run on both sides.
        let same = compared(&baseline, &baseline);
        let p50 = find(&same, "[steady] corrected.p50");
        assert!(matches!(p50.noise, Noise::Within(_)), "{p50:?}");
    }

    #[test]
    fn a_single_run_without_its_histogram_leaves_the_noise_unknown() {
        // An imported run keeps only the percentiles it printed: nothing to resample.
        let c = compared(
            &[run(40, 100_000, 1000.0, 900.0)],
            &[recorded(run(20, 2_000, 1000.0, 800.0), 20, 100)],
        );
        let p99 = find(&c, "[steady] corrected.p99");
        assert_eq!(p99.noise, Noise::Unknown);
        assert_eq!(p99.shift(), None);
    }

    #[test]
    fn replication_lag_is_compared_by_its_peak_and_otherwise_not_measured() {
        let c = compared(
            &[500, 520, 510].map(|peak| lagging(run(40, 100_000, 1000.0, 0.0), peak)),
            &[300, 310, 305].map(|peak| lagging(run(40, 100_000, 1000.0, 0.0), peak)),
        );
        let ms = find(&c, "replication_lag_ms.peak");
        assert_eq!((ms.baseline, ms.candidate), (Some(510.0), Some(305.0)));
        assert_eq!(ms.shift(), Some(Shift::Better));
        let records = find(&c, "replication_lag_records.peak");
        assert_eq!(records.candidate, Some(3050.0));
        assert_eq!(records.shift(), Some(Shift::Better));

        // No load tracked replication on the candidate's side.
        let c = compared(
            &[lagging(run(40, 100_000, 1000.0, 0.0), 500)],
            &[run(40, 100_000, 1000.0, 0.0)],
        );
        let ms = find(&c, "replication_lag_ms.peak");
        assert_eq!((ms.baseline, ms.candidate), (Some(500.0), None));
        assert_eq!((&ms.noise, ms.shift()), (&Noise::NotMeasured, None));
        assert!(c
            .markdown()
            .contains("| replication_lag_ms.peak | 500.00 ms | not measured | — | not measured |"));
    }

    #[test]
    fn differently_named_single_phases_are_compared_and_nothing_is_invented() {
        let mut imported = run(30, 50_000, 1000.0, 0.0);
        imported.result.phases[0].name = "perf-test".into();
        imported.result.phases[0].achieved_rate = None;
        imported.result.figures.clear();
        let c = compared(&[run(40, 50_000, 1000.0, 900.0)], &[imported]);
        assert!(c
            .rows
            .iter()
            .any(|r| r.metric == "[steady / perf-test] corrected.p99"));
        // Captured by one side only: shown, the other side not measured, never zero.
        let markdown = c.markdown();
        for line in [
            "| [steady / perf-test] corrected.p99 | 40.00 ms | 30.00 ms | -25.0 % |",
            "| recovery_ms | 900.00 ms | not measured | — | not measured |",
            "| [steady / perf-test] achieved_rate | 1000.00 records/s | not measured | — | not measured |",
        ] {
            assert!(markdown.contains(line), "no {line:?} in\n{markdown}");
        }
        assert!(
            c.rows.iter().all(|r| !r.metric.contains("service")),
            "captured by neither side"
        );
    }

    /// A result with phases `warm-up`, `step-1` and `step-2`, each as `run`'s single phase.
    fn steps(p99_ms: [u64; 3]) -> LoadedResult {
        let mut steps = run(p99_ms[0], 50_000, 1000.0, 0.0);
        let phase = steps.result.phases[0].clone();
        steps.result.phases = ["warm-up", "step-1", "step-2"]
            .iter()
            .zip(p99_ms)
            .map(|(name, p99)| {
                let mut phase = phase.clone();
                phase.name = (*name).into();
                phase.corrected_us.as_mut().unwrap().summary.p99 = p99 * 1000;
                phase
            })
            .collect();
        steps.path = "steps.json".into();
        steps
    }

    fn pairs(text: &[&str]) -> Vec<PhasePair> {
        text.iter().map(|t| t.parse().unwrap()).collect()
    }

    #[test]
    fn chosen_phases_are_the_only_ones_compared() {
        let mut imported = run(30, 50_000, 1000.0, 0.0);
        imported.result.phases[0].name = "perf #2".into();
        imported.path = "perf.json".into();
        // One phase against three: nothing pairs them automatically, and that says what to do.
        let automatic = compared(&[imported.clone()], &[steps([10, 40, 50])]);
        assert!(
            automatic.rows.iter().all(|r| !r.metric.starts_with('[')),
            "{:?}",
            automatic.rows
        );
        assert!(
            automatic.left_out.iter().any(|note| note.contains(
                "no baseline phase (perf #2) has a candidate phase of its name \
                 (warm-up, step-1, step-2); choose the pairs with `kscen compare --phase"
            )),
            "{:?}",
            automatic.left_out
        );
        let chosen = |baseline: &LoadedResult, candidate: &LoadedResult, chosen: &[&str]| {
            compare_phases(&[baseline], &[candidate], &pairs(chosen))
        };
        let c = chosen(&imported, &steps([10, 40, 50]), &["perf #2=step-1"]).unwrap();
        let p99 = find(&c, "[perf #2 / step-1] corrected.p99");
        assert_eq!((p99.baseline, p99.candidate), (Some(30.0), Some(40.0)));
        assert!(c.rows.iter().all(|r| !r.metric.contains("step-2")));
        assert!(c.left_out.is_empty(), "{:?}", c.left_out);
        // The same name on both sides, twice.
        let c = chosen(
            &steps([10, 40, 50]),
            &steps([10, 20, 25]),
            &["step-1", "step-2"],
        )
        .unwrap();
        assert_eq!(find(&c, "[step-2] corrected.p99").candidate, Some(25.0));
        assert!(c.rows.iter().all(|r| !r.metric.contains("warm-up")));
    }

    #[test]
    fn a_chosen_phase_missing_from_a_run_is_refused_with_its_file_and_phases() {
        let refused = |chosen: &[&str]| {
            compare_phases(
                &[&run(30, 50_000, 1000.0, 0.0)],
                &[&steps([10, 40, 50])],
                &pairs(chosen),
            )
            .err()
            .map(|e| e.to_string())
        };
        assert_eq!(
            refused(&["steady=step-3"]).as_deref(),
            Some(
                "--phase steady=step-3: the candidate steps.json has no phase \"step-3\"; \
                 its phases: \"warm-up\", \"step-1\", \"step-2\""
            )
        );
        assert_eq!(
            refused(&["step-1"]).as_deref(),
            Some(
                "--phase step-1: the baseline r.json has no phase \"step-1\"; its phases: \
                 \"steady\""
            )
        );
        // A partial imported run has nothing to compare.
        let mut partial = steps([10, 40, 50]);
        partial.result.phases[2].imported = serde_json::from_value(serde_json::json!({
            "file": "perf.log", "partial": true, "intervals": []
        }))
        .unwrap();
        let e = compare_phases(
            &[&run(30, 50_000, 1000.0, 0.0)],
            &[&partial],
            &pairs(&["steady=step-2"]),
        )
        .err()
        .unwrap();
        assert!(
            e.to_string().contains(
                "the candidate steps.json has only a partial perf-test run (no final line, \
                 nothing to compare) in phase \"step-2\""
            ),
            "{e}"
        );
    }

    #[test]
    fn a_phase_pair_is_a_name_or_two_names_around_an_equals_sign() {
        let pair = |text: &str| text.parse::<PhasePair>();
        assert_eq!(
            pair("perf #2 = step-1 1x"),
            Ok(PhasePair {
                baseline: "perf #2".into(),
                candidate: "step-1 1x".into()
            })
        );
        assert_eq!(pair("nominal").unwrap().to_string(), "nominal");
        assert_eq!(pair("a=b").unwrap().to_string(), "a=b");
        for wrong in ["", "=b", "a="] {
            assert!(pair(wrong).is_err(), "{wrong:?}");
        }
    }

    #[test]
    fn a_partial_imported_run_is_left_out_and_said_so() {
        let mut imported = run(30, 50_000, 1000.0, 0.0);
        let partial: PhaseResult = serde_json::from_value(serde_json::json!({
            "name": "perf-test #2",
            "imported": {"file": "perf.log", "partial": true, "intervals": []},
        }))
        .unwrap();
        imported.result.phases[0].name = "perf-test #1".into();
        imported.result.phases.push(partial);
        let c = compared(&[run(40, 50_000, 1000.0, 900.0)], &[imported]);
        assert!(
            c.rows.iter().all(|r| !r.metric.contains("#2")),
            "{:?}",
            c.rows
        );
        assert!(c
            .rows
            .iter()
            .any(|r| r.metric == "[steady / perf-test #1] achieved_rate"));
        assert!(c
            .console()
            .contains("left out: candidate r.json [perf-test #2]: partial perf-test run"));
    }
}
