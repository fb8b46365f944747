//! `kscen compare`: a baseline and a candidate, each one or more repetitions of a run, side by side
//! — throughput, corrected, service and replicated latency per phase, and the runs' figures —
//! with the change and whether it exceeds the noise, so "p99 fell by 12 %" comes with "beyond
//! noise" or "within noise".
//!
//! The noise, by what the results allow:
//! - repetitions on both sides: the spread between runs. A change is beyond noise when the two
//!   sides' ranges (min–max over their runs) do not overlap.
//! - one run on a side: for a latency percentile, the sampling interval of that percentile in its
//!   histogram (distribution-free 95 % bounds on the rank, `n·q ± 1.96·√(n·q·(1−q))`); beyond
//!   noise when the intervals are disjoint. It knows nothing of run-to-run variation, and says so.
//! - otherwise the noise is unknown: repeat the runs.
//!
//! A change under 1 % is within noise however far apart the runs are: too small to act on.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::{bail, Result};

use crate::result::{HistogramResult, LoadedResult, PhaseResult};

#[derive(Debug, clap::Args)]
pub struct CompareArgs {
    /// Result files of the baseline: repetitions of one configuration.
    #[arg(long, num_args = 1.., required = true, value_name = "RESULT")]
    pub baseline: Vec<PathBuf>,
    /// Result files of the candidate (the changed configuration), compared with the baseline.
    #[arg(long, num_args = 1.., required = true, value_name = "RESULT")]
    pub candidate: Vec<PathBuf>,
    /// Also write the comparison as a Markdown table here.
    #[arg(long, value_name = "FILE")]
    pub markdown: Option<PathBuf>,
}

pub fn run(args: CompareArgs) -> Result<()> {
    let load = |paths: &[PathBuf]| -> Result<Vec<LoadedResult>> {
        paths.iter().map(|p| crate::result::load(p)).collect()
    };
    let (baseline, candidate) = (load(&args.baseline)?, load(&args.candidate)?);
    let comparison = compare(
        &baseline.iter().collect::<Vec<_>>(),
        &candidate.iter().collect::<Vec<_>>(),
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
}

impl Noise {
    fn label(&self) -> String {
        match self {
            Noise::Beyond(how) => format!("beyond noise ({how})"),
            Noise::Within(how) => format!("within noise ({how})"),
            Noise::Unknown => "noise unknown: one run, repeat it".into(),
        }
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
    /// median over each side's runs
    pub baseline: f64,
    pub candidate: f64,
    pub noise: Noise,
    /// none for a scenario's own figure, whose good direction kscen does not know
    pub better: Option<Better>,
}

impl Row {
    /// Metric, baseline, candidate, change, noise: as the console and Markdown tables show them.
    fn cells(&self) -> [String; 5] {
        [
            self.metric.clone(),
            value(self.baseline, &self.unit),
            value(self.candidate, &self.unit),
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
        let higher = self.candidate > self.baseline;
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

    /// (candidate − baseline) ÷ baseline, %; none from a zero baseline.
    pub fn change_percent(&self) -> Option<f64> {
        (self.baseline != 0.0).then(|| (self.candidate - self.baseline) / self.baseline * 100.0)
    }
}

pub struct Comparison {
    pub baseline: String,
    pub candidate: String,
    pub rows: Vec<Row>,
    /// the phases left out because they have no figures to compare (partial imported runs)
    pub left_out: Vec<String>,
}

/// A side's readings of one metric, one per run; a run without it leaves the metric out.
struct Side<'a> {
    values: Vec<f64>,
    /// the histogram each value was read from, for a one-run side
    histograms: Vec<&'a HistogramResult>,
}

pub fn compare(baseline: &[&LoadedResult], candidate: &[&LoadedResult]) -> Result<Comparison> {
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
    let mut rows = Vec::new();
    for (base_phase, cand_phase) in matched_phases(baseline, candidate) {
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
            if let (Some(b), Some(c)) = (
                scalar(baseline, &base_phase, read),
                scalar(candidate, &cand_phase, read),
            ) {
                rows.push(row(
                    format!("{label} {name}"),
                    unit,
                    sides(b),
                    sides(c),
                    None,
                    same_target.then_some(Better::Higher),
                ));
            }
        }
        for (histogram, read) in [
            (
                "corrected",
                (|p: &PhaseResult| p.corrected_us.as_ref())
                    as fn(&PhaseResult) -> Option<&HistogramResult>,
            ),
            ("service", |p: &PhaseResult| p.service_us.as_ref()),
            ("replicated", |p: &PhaseResult| p.replicated_us.as_ref()),
        ] {
            let (Some(b), Some(c)) = (
                histograms(baseline, &base_phase, read),
                histograms(candidate, &cand_phase, read),
            ) else {
                continue;
            };
            for (statistic, quantile) in
                [("p50", 0.5), ("p99", 0.99), ("p999", 0.999), ("max", 1.0)]
            {
                let read_ms = |h: &HistogramResult| statistic_us(h, statistic) as f64 / 1000.0;
                let values = |hs: &[&HistogramResult]| hs.iter().map(|h| read_ms(h)).collect();
                rows.push(row(
                    format!("{label} {histogram}.{statistic}"),
                    "ms",
                    Side {
                        values: values(&b),
                        histograms: b.clone(),
                    },
                    Side {
                        values: values(&c),
                        histograms: c.clone(),
                    },
                    (quantile < 1.0).then_some(quantile),
                    Some(Better::Lower),
                ));
            }
        }
    }
    let figure_names: BTreeSet<&String> = baseline[0].result.figures.keys().collect();
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
        if let (Some(b), Some(c)) = (read(baseline), read(candidate)) {
            let unit = b[0].1.clone();
            let values = |v: Vec<(f64, String)>| sides(v.into_iter().map(|(x, _)| x).collect());
            rows.push(row(name.clone(), &unit, values(b), values(c), None, None));
        }
    }
    Ok(Comparison {
        baseline: describe(baseline),
        candidate: describe(candidate),
        rows,
        left_out: [("baseline", baseline), ("candidate", candidate)]
            .into_iter()
            .flat_map(|(side, runs)| partial_runs(side, runs))
            .collect(),
    })
}

/// Imported runs whose final line is not in the log: shown as left out, never compared as zeros.
fn partial_runs(side: &str, runs: &[&LoadedResult]) -> Vec<String> {
    runs.iter()
        .flat_map(|run| {
            run.result
                .phases
                .iter()
                .filter(|p| p.imported.as_ref().is_some_and(|i| i.partial))
                .map(move |p| {
                    format!(
                        "{side} {} [{}]: partial perf-test run (no final line), not compared",
                        run.path.display(),
                        p.name
                    )
                })
        })
        .collect()
}

/// A histogram with records in `phase` of every run, or none.
fn histograms<'a>(
    runs: &[&'a LoadedResult],
    phase: &str,
    read: fn(&PhaseResult) -> Option<&HistogramResult>,
) -> Option<Vec<&'a HistogramResult>> {
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
        histograms: Vec::new(),
    }
}

/// Phases present in every run of both sides, by name; when the sides share none and each has a
/// single phase with records (an imported perf-test run beside a kscen one), those two.
fn matched_phases(
    baseline: &[&LoadedResult],
    candidate: &[&LoadedResult],
) -> Vec<(String, String)> {
    let in_all = |runs: &[&LoadedResult]| -> Vec<String> {
        let first: Vec<String> = with_records(runs[0]);
        first
            .into_iter()
            .filter(|name| runs.iter().all(|r| phase_of(r, name).is_some()))
            .collect()
    };
    let (base, cand) = (in_all(baseline), in_all(candidate));
    let shared: Vec<(String, String)> = base
        .iter()
        .filter(|name| cand.contains(name))
        .map(|name| (name.clone(), name.clone()))
        .collect();
    match (shared.is_empty(), base.as_slice(), cand.as_slice()) {
        (true, [b], [c]) => vec![(b.clone(), c.clone())],
        _ => shared,
    }
}

fn with_records(run: &LoadedResult) -> Vec<String> {
    run.result
        .phases
        .iter()
        .filter(|p| p.sent.unwrap_or(0) > 0 || p.acked.unwrap_or(0) > 0)
        .map(|p| p.name.clone())
        .collect()
}

fn phase_of<'a>(run: &'a LoadedResult, name: &str) -> Option<&'a PhaseResult> {
    run.result.phases.iter().find(|p| p.name == name)
}

fn statistic_us(h: &HistogramResult, statistic: &str) -> u64 {
    match statistic {
        "p50" => h.summary.p50,
        "p99" => h.summary.p99,
        "p999" => h.summary.p999,
        _ => h.summary.max,
    }
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    if sorted.len().is_multiple_of(2) {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    } else {
        sorted[mid]
    }
}

fn range(values: &[f64]) -> (f64, f64) {
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (min, max)
}

fn row(
    metric: String,
    unit: &str,
    baseline: Side,
    candidate: Side,
    quantile: Option<f64>,
    better: Option<Better>,
) -> Row {
    let (base, cand) = (median(&baseline.values), median(&candidate.values));
    let noise = match noise(&baseline, &candidate, quantile) {
        // Distinguishable but too small to matter, as criterion's noise threshold has it.
        Noise::Beyond(how) if base != 0.0 && ((cand - base) / base).abs() < NOISE_FLOOR => {
            Noise::Within(format!(
                "a change under {:.0} %; {how}",
                NOISE_FLOOR * 100.0
            ))
        }
        noise => noise,
    };
    Row {
        metric,
        unit: unit.into(),
        baseline: base,
        candidate: cand,
        noise,
        better,
    }
}

/// The smallest relative change called beyond noise, whatever the runs' spread.
const NOISE_FLOOR: f64 = 0.01;

fn noise(baseline: &Side, candidate: &Side, quantile: Option<f64>) -> Noise {
    let disjoint = |(a_lo, a_hi): (f64, f64), (b_lo, b_hi): (f64, f64)| a_hi < b_lo || b_hi < a_lo;
    let shown = |(lo, hi): (f64, f64)| format!("{lo:.1}–{hi:.1}");
    if baseline.values.len() >= 2 && candidate.values.len() >= 2 {
        let (b, c) = (range(&baseline.values), range(&candidate.values));
        let how = format!("runs {} vs {}", shown(b), shown(c));
        return if disjoint(b, c) {
            Noise::Beyond(how)
        } else {
            Noise::Within(how)
        };
    }
    let interval = |side: &Side| -> Option<(f64, f64)> {
        let q = quantile?;
        let (lo, hi) = side
            .histograms
            .iter()
            .map(|h| quantile_interval_ms(h, q))
            .reduce(|(a, b), (c, d)| (a.min(c), b.max(d)))?;
        Some((lo, hi))
    };
    match (interval(baseline), interval(candidate)) {
        (Some(b), Some(c)) => {
            let how = format!("sampling only, 95 % {} vs {} ms", shown(b), shown(c));
            if disjoint(b, c) {
                Noise::Beyond(how)
            } else {
                Noise::Within(how)
            }
        }
        _ => Noise::Unknown,
    }
}

/// The distribution-free 95 % interval of quantile `q` of a run's histogram, in ms: the rank
/// bounds `n·q ± 1.96·√(n·q·(1−q))` read as quantiles from the histogram itself, or, in a result
/// without it (imported), each at the nearest recorded percentile on its side.
fn quantile_interval_ms(h: &HistogramResult, q: f64) -> (f64, f64) {
    let n = h.summary.count as f64;
    let spread = 1.96 * (n * q * (1.0 - q)).sqrt();
    let (lo_q, hi_q) = (
        ((n * q - spread) / n).max(0.0),
        ((n * q + spread) / n).min(1.0),
    );
    if let Some(histogram) = h.hdr.as_deref().and_then(crate::metrics::histogram::decode) {
        let ms = |q: f64| histogram.value_at_quantile(q) as f64 / 1000.0;
        return (ms(lo_q), ms(hi_q));
    }
    let recorded = [
        (0.0, h.summary.min),
        (0.5, h.summary.p50),
        (0.95, h.summary.p95),
        (0.99, h.summary.p99),
        (0.999, h.summary.p999),
        (1.0, h.summary.max),
    ];
    // Only the recorded percentiles are known: the bound at or below lo_q, at or above hi_q.
    let below = recorded
        .iter()
        .rev()
        .find(|(p, _)| *p <= lo_q)
        .map_or(h.summary.min, |(_, v)| *v);
    let above = recorded
        .iter()
        .find(|(p, _)| *p >= hi_q)
        .map_or(h.summary.max, |(_, v)| *v);
    // The bounds may not cross the point estimate they surround.
    let at = recorded
        .iter()
        .find(|(p, _)| (*p - q).abs() < 1e-9)
        .map_or(below, |(_, v)| *v);
    (below.min(at) as f64 / 1000.0, above.max(at) as f64 / 1000.0)
}

impl Comparison {
    pub fn console(&self) -> String {
        let mut out = format!(
            "baseline:  {}\ncandidate: {}\n",
            self.baseline, self.candidate
        );
        let _ = writeln!(
            out,
            "{:<40} {:>20} {:>20} {:>9}  noise",
            "metric", "baseline", "candidate", "change"
        );
        for [metric, baseline, candidate, change, noise] in self.rows.iter().map(Row::cells) {
            let _ = writeln!(
                out,
                "{metric:<40} {baseline:>20} {candidate:>20} {change:>9}  {noise}"
            );
        }
        for note in &self.left_out {
            let _ = writeln!(out, "left out: {note}");
        }
        out
    }

    pub fn markdown(&self) -> String {
        let mut out = format!(
            "## Comparison\n\nBaseline: {}. Candidate: {}. Each side's median over its runs.\n\n\
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

fn value(v: f64, unit: &str) -> String {
    if unit.is_empty() {
        format!("{v:.2}")
    } else {
        format!("{v:.2} {unit}")
    }
}

fn change(row: &Row) -> String {
    match row.change_percent() {
        Some(p) => format!("{p:+.1} %"),
        None => format!("{:+.2}", row.candidate - row.baseline),
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

    #[test]
    fn repetitions_whose_ranges_do_not_overlap_are_beyond_noise() {
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
        assert_eq!((p99.baseline, p99.candidate), (42.0, 36.0));
        assert!((p99.change_percent().unwrap() + 14.29).abs() < 0.01);
        assert_eq!(
            p99.noise,
            Noise::Beyond("runs 40.0–44.0 vs 35.0–37.0".into())
        );
        let recovery = find(&c, "recovery_ms");
        assert!(matches!(recovery.noise, Noise::Within(_)), "{recovery:?}");
        assert!(c
            .console()
            .contains("beyond noise (runs 40.0–44.0 vs 35.0–37.0)"));
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
            &[at(1999.0, 2000.0), at(1999.1, 2000.0)],
            &[at(2000.0, 2000.0), at(1999.9, 2000.0)],
        );
        let rate = find(&c, "[steady] achieved_rate");
        assert!(
            matches!(&rate.noise, Noise::Within(how) if how.starts_with("a change under 1 %")),
            "{rate:?}"
        );
    }

    #[test]
    fn one_run_each_compares_percentiles_by_their_sampling_interval_only() {
        // 100 000 records: p99's 95 % rank interval is ±0.06 % around it, within p95..p999.
        let c = compared(
            &[run(40, 100_000, 1000.0, 900.0)],
            &[run(20, 100_000, 1000.0, 800.0)],
        );
        let p99 = find(&c, "[steady] corrected.p99");
        assert_eq!(
            p99.noise,
            Noise::Beyond("sampling only, 95 % 32.0–48.0 vs 16.0–24.0 ms".into())
        );
        // p99.9 of 100 records: its interval reaches the max on both sides.
        let few = compared(
            &[run(40, 100, 1000.0, 900.0)],
            &[run(38, 100, 1000.0, 800.0)],
        );
        assert!(matches!(
            find(&few, "[steady] corrected.p999").noise,
            Noise::Within(_)
        ));
        assert_eq!(find(&c, "recovery_ms").noise, Noise::Unknown);
        assert!(c.console().contains("noise unknown: one run, repeat it"));
    }

    #[test]
    fn the_recorded_histogram_gives_the_sampling_interval_exactly() {
        let mut histogram = crate::metrics::histogram::new_latency_histogram();
        for us in 1..=100_000u64 {
            histogram.record(us * 10).unwrap();
        }
        let mut one = run(990, 100_000, 1000.0, 0.0);
        let doc = &mut one.result.phases[0].corrected_us.as_mut().unwrap();
        doc.hdr = Some(crate::metrics::histogram::encode(&histogram));
        // ranks 98 938..99 062 of values 10 µs apart: 989.4–990.6 ms, within 3 significant digits
        let (lo, hi) = quantile_interval_ms(doc, 0.99);
        assert!(
            (lo - 989.4).abs() < 1.0 && (hi - 990.6).abs() < 1.0,
            "{lo}–{hi}"
        );
    }

    #[test]
    fn differently_named_single_phases_are_compared_and_nothing_is_invented() {
        let mut imported = run(30, 50_000, 1000.0, 0.0);
        imported.result.phases[0].name = "perf-test".into();
        imported.result.figures.clear();
        let c = compared(&[run(40, 50_000, 1000.0, 900.0)], &[imported]);
        assert!(c
            .rows
            .iter()
            .any(|r| r.metric == "[steady / perf-test] corrected.p99"));
        assert!(
            c.rows.iter().all(|r| r.metric != "recovery_ms"),
            "only in the baseline"
        );
        assert!(c
            .markdown()
            .contains("| [steady / perf-test] corrected.p99 | 40.00 ms | 30.00 ms | -25.0 % |"));
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
