//! Threshold expressions, in the spirit of k6: `<metric> <op> <limit>`.
//!
//! ```text
//! corrected.p99 < 100ms                     every phase's corrected p99
//! phase(step-1 1x).achieved_rate >= 990     one phase
//! achieved_rate >= 0.99 * target_rate       a limit relative to another metric of the same scope
//! rebalance_ms < 60s                        a figure the plugin reported
//! replication.lost == 0                     the per-record verdict, summed over tracked loads
//! hist(roundtrip_us).p99 < 50ms             a histogram the plugin recorded, over the whole run
//! phase(slow).hist(roundtrip_us).p99 < 80ms the same histogram, from one phase's values
//! probes_seen >= 0.9 * probes_sent          two run-wide figures
//! ```
//! Latencies (`corrected`, `service`, `schedule_lag`, `replicated` with `.p50 .p95 .p99 .p999
//! .max .mean .min`) are in milliseconds; a limit may carry a unit (`us`, `ms`, `s`, `m`, `h`),
//! converted to the metric's own unit when that is a duration (a custom histogram's unit is its
//! name's suffix, see [`crate::metrics::unit::Unit::of_histogram`]).
//!
//! A relative limit names its reference without a scope: it is read where the metric is read
//! (the same phase, or the whole run), so both sides must be read in the same scope.

use anyhow::{bail, Context, Result};

use crate::metrics::unit::Unit;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Op {
    #[serde(rename = "<")]
    Lt,
    #[serde(rename = "<=")]
    Le,
    #[serde(rename = ">")]
    Gt,
    #[serde(rename = ">=")]
    Ge,
    #[serde(rename = "==")]
    Eq,
    #[serde(rename = "!=")]
    Ne,
}

impl Op {
    pub fn holds(self, left: f64, right: f64) -> bool {
        match self {
            Op::Lt => left < right,
            Op::Le => left <= right,
            Op::Gt => left > right,
            Op::Ge => left >= right,
            Op::Eq => left == right,
            Op::Ne => left != right,
        }
    }
}

/// Where a metric is read.
#[derive(Debug, Clone, PartialEq)]
pub enum Scope {
    /// a phase metric without a phase: checked in every phase that has data
    EveryPhase,
    Phase(String),
    /// figures, totals and replication verdicts: one value per run
    Run,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Metric {
    pub scope: Scope,
    /// e.g. `corrected.p99`, `achieved_rate`, `rebalance_ms`, `replication.lost`
    pub path: String,
}

impl Metric {
    /// `alert(NAME).…` or `alerts.…`: read from the deployment's alerts.
    pub fn reads_alerts(&self) -> bool {
        self.path.starts_with("alert(") || self.path.starts_with("alerts.")
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Limit {
    /// a number, already converted from its unit (times → ms)
    Value { value: f64, time_unit: bool },
    /// `factor * metric`, the metric read in the threshold's scope
    Relative { factor: f64, metric: String },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Threshold {
    pub text: String,
    pub metric: Metric,
    pub op: Op,
    pub limit: Limit,
}

const PHASE_METRICS: [&str; 9] = [
    "achieved_rate",
    "target_rate",
    "mb_per_s",
    "sent",
    "acked",
    "failed",
    "queue_full",
    "bytes",
    "duration_s",
];
const LATENCIES: [&str; 4] = ["corrected", "service", "schedule_lag", "replicated"];
const STATISTICS: [&str; 7] = ["p50", "p95", "p99", "p999", "max", "mean", "min"];
/// a custom histogram also tells how many values it holds
const HISTOGRAM_STATISTICS: [&str; 8] =
    ["p50", "p95", "p99", "p999", "max", "mean", "min", "count"];
/// run-wide totals of the per-phase counters (`totals.acked` sums every phase's `acked`)
const TOTALS: [&str; 5] = ["sent", "acked", "failed", "bytes", "queue_full"];

/// `hist(NAME).STATISTIC` → (NAME, STATISTIC), unchecked: a statistic of a custom histogram.
pub fn histogram_path(path: &str) -> Option<(&str, &str)> {
    let (name, statistic) = path.strip_prefix("hist(")?.split_once(')')?;
    Some((name, statistic.strip_prefix('.')?))
}

/// The unit of a custom histogram's statistic: the name's, except for `count`.
pub fn histogram_statistic_unit(name: &str, statistic: &str) -> Unit {
    if statistic == "count" {
        Unit::Count
    } else {
        Unit::of_histogram(name)
    }
}

/// Whether `path` names a load metric, read per phase (without `phase(...)`: in every phase).
pub fn is_phase_metric(path: &str) -> bool {
    if PHASE_METRICS.contains(&path) {
        return true;
    }
    match path.split_once('.') {
        Some((histogram, statistic)) => {
            LATENCIES.contains(&histogram) && STATISTICS.contains(&statistic)
        }
        None => false,
    }
}

pub fn parse(text: &str) -> Result<Threshold> {
    let parsed = parse_inner(text.trim()).with_context(|| format!("threshold {text:?}"))?;
    Ok(parsed)
}

fn parse_inner(text: &str) -> Result<Threshold> {
    let (left, op, right) = split_operator(text)?;
    let metric = parse_metric(left.trim())?;
    let limit = parse_limit(right.trim())?;
    match &limit {
        Limit::Relative {
            metric: reference, ..
        } => check_reference(&metric, reference)?,
        Limit::Value {
            time_unit: true, ..
        } => check_time_limit(&metric.path)?,
        Limit::Value { .. } => {}
    }
    Ok(Threshold {
        text: text.to_string(),
        metric,
        op,
        limit,
    })
}

fn split_operator(text: &str) -> Result<(&str, Op, &str)> {
    // Two-character operators first, so `<=` is not read as `<`.
    for (symbol, op) in [
        ("<=", Op::Le),
        (">=", Op::Ge),
        ("==", Op::Eq),
        ("!=", Op::Ne),
        ("<", Op::Lt),
        (">", Op::Gt),
    ] {
        // A phase or histogram name may contain anything but `)`: skip operators inside
        // phase(...) and hist(...).
        let outside_parentheses =
            |at: &usize| text[..*at].matches('(').count() == text[..*at].matches(')').count();
        if let Some(at) = text
            .match_indices(symbol)
            .map(|(at, _)| at)
            .find(outside_parentheses)
        {
            return Ok((&text[..at], op, &text[at + symbol.len()..]));
        }
    }
    bail!("no comparison: write it as `<metric> <op> <limit>` with one of < <= > >= == !=")
}

fn parse_metric(text: &str) -> Result<Metric> {
    if let Some(rest) = text.strip_prefix("phase(") {
        let (name, path) = rest.split_once(")").context("`phase(` is not closed")?;
        let path = path.strip_prefix('.').context("write phase(NAME).metric")?;
        if !(is_phase_metric(path) || check_histogram_path(path)?) {
            bail!("{path:?} is not a phase metric ({})", phase_metric_help());
        }
        return Ok(Metric {
            scope: Scope::Phase(name.trim().to_string()),
            path: path.to_string(),
        });
    }
    check_metric_name(text)?;
    // A plugin's own histogram without a phase is read over the whole run: it is the plugin's
    // figure, not a load's, and a phase is named when one is meant.
    let scope = if is_phase_metric(text) {
        Scope::EveryPhase
    } else {
        Scope::Run
    };
    Ok(Metric {
        scope,
        path: text.to_string(),
    })
}

fn check_metric_name(text: &str) -> Result<()> {
    if text.is_empty() || text.contains(char::is_whitespace) {
        bail!("{text:?} is not a metric name");
    }
    check_histogram_path(text)?;
    Ok(())
}

/// Whether `path` is a custom histogram's statistic; an error when it is one, misspelt.
fn check_histogram_path(path: &str) -> Result<bool> {
    if !path.starts_with("hist(") {
        return Ok(false);
    }
    let help = format!("write hist(NAME).{{{}}}", HISTOGRAM_STATISTICS.join("|"));
    let Some((name, statistic)) = histogram_path(path) else {
        bail!("{path:?} is not a histogram statistic: {help}");
    };
    if name.trim().is_empty() {
        bail!("{path:?} names no histogram: {help}");
    }
    if !HISTOGRAM_STATISTICS.contains(&statistic) {
        bail!("{statistic:?} is not a histogram statistic: {help}");
    }
    Ok(true)
}

fn phase_metric_help() -> String {
    format!(
        "{}, one of {}.{{{}}} or hist(NAME).{{{}}}",
        PHASE_METRICS.join(", "),
        LATENCIES.join("|"),
        STATISTICS.join("|"),
        HISTOGRAM_STATISTICS.join("|")
    )
}

/// A relative limit's reference is read in the threshold's scope: refuses what cannot be.
fn check_reference(metric: &Metric, reference: &str) -> Result<()> {
    if reference.starts_with("phase(") {
        bail!(
            "the reference {reference:?} takes the threshold's scope: name the phase once, on \
             the left (phase(NAME).hist(a).p99 <= 2 * hist(b).p50)"
        );
    }
    check_metric_name(reference)?;
    let left = &metric.path;
    let per_phase = |path: &str| is_phase_metric(path) || histogram_path(path).is_some();
    match &metric.scope {
        Scope::Run if is_phase_metric(reference) => {
            let instead = if TOTALS.contains(&reference) {
                format!("totals.{reference} for the run-wide count")
            } else {
                format!("phase(NAME).{left} to compare within a phase")
            };
            bail!(
                "{left} is run-wide and {reference} is read per phase: a relative limit compares \
                 two metrics of the same scope; write {instead}"
            )
        }
        Scope::EveryPhase | Scope::Phase(_) if !per_phase(reference) => {
            let instead = match reference.strip_prefix("totals.") {
                Some(total) if TOTALS.contains(&left.as_str()) => {
                    format!("totals.{left} and totals.{total} to compare run-wide counts")
                }
                _ => "a phase metric as the reference (achieved_rate >= 0.99 * target_rate)"
                    .to_string(),
            };
            bail!(
                "{left} is read per phase and {reference} is run-wide: a relative limit compares \
                 two metrics of the same scope; write {instead}"
            )
        }
        _ => {}
    }
    if let (Some((name, statistic)), Some((other, other_statistic))) =
        (histogram_path(left), histogram_path(reference))
    {
        let (unit, other_unit) = (
            histogram_statistic_unit(name, statistic),
            histogram_statistic_unit(other, other_statistic),
        );
        if unit.convert(1.0, other_unit).is_none() {
            bail!(
                "{left} is {} and {reference} {}: a duration compares only with a duration",
                unit.described(),
                other_unit.described()
            );
        }
    }
    Ok(())
}

/// A time limit on a custom histogram that does not hold durations can never be met.
fn check_time_limit(path: &str) -> Result<()> {
    if let Some((name, statistic)) = histogram_path(path) {
        let unit = histogram_statistic_unit(name, statistic);
        if !unit.is_duration() {
            bail!(
                "{path} is {}, not a duration: write the limit without a time unit \
                 (a histogram's unit is its name's suffix: _ns, _us, _ms, _s)",
                unit.described()
            );
        }
    }
    Ok(())
}

fn parse_limit(text: &str) -> Result<Limit> {
    if let Some((factor, metric)) = text.split_once('*') {
        let factor: f64 = factor
            .trim()
            .parse()
            .with_context(|| format!("{factor:?} is not a number"))?;
        return Ok(Limit::Relative {
            factor,
            metric: metric.trim().to_string(),
        });
    }
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == '+' || c == 'e'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .trim()
        .parse()
        .with_context(|| format!("{text:?} is not a number with an optional unit"))?;
    let to_ms = match unit.trim() {
        "" => {
            return Ok(Limit::Value {
                value,
                time_unit: false,
            })
        }
        "us" | "µs" => 1e-3,
        "ms" => 1.0,
        "s" => 1e3,
        "m" | "min" => 60e3,
        "h" => 3600e3,
        "%" => {
            return Ok(Limit::Value {
                value: value / 100.0,
                time_unit: false,
            })
        }
        other => bail!("unknown unit {other:?} (use us, ms, s, m, h or %)"),
    };
    Ok(Limit::Value {
        value: value * to_ms,
        time_unit: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_forms_the_seeds_need() {
        let t = parse("corrected.p99 < 100ms").unwrap();
        assert_eq!(
            t.metric,
            Metric {
                scope: Scope::EveryPhase,
                path: "corrected.p99".into()
            }
        );
        assert_eq!(
            (t.op, t.limit),
            (
                Op::Lt,
                Limit::Value {
                    value: 100.0,
                    time_unit: true
                }
            )
        );

        let t = parse("rebalance_ms < 60s").unwrap();
        assert_eq!(t.metric.scope, Scope::Run);
        assert_eq!(
            t.limit,
            Limit::Value {
                value: 60_000.0,
                time_unit: true
            }
        );

        let t = parse("replication.lost == 0").unwrap();
        assert_eq!(
            (t.op, t.limit),
            (
                Op::Eq,
                Limit::Value {
                    value: 0.0,
                    time_unit: false
                }
            )
        );

        let t = parse("achieved_rate >= 0.99 * target_rate").unwrap();
        assert_eq!(
            t.limit,
            Limit::Relative {
                factor: 0.99,
                metric: "target_rate".into()
            }
        );

        let t = parse("phase(step-1 1x).service.p999 <= 2.5s").unwrap();
        assert_eq!(t.metric.scope, Scope::Phase("step-1 1x".into()));
        assert_eq!(
            t.limit,
            Limit::Value {
                value: 2500.0,
                time_unit: true
            }
        );
    }

    #[test]
    fn custom_histograms_are_run_wide_unless_a_phase_is_named() {
        let t = parse("hist(roundtrip_us).p99 < 50ms").unwrap();
        assert_eq!(
            t.metric,
            Metric {
                scope: Scope::Run,
                path: "hist(roundtrip_us).p99".into()
            }
        );
        let t = parse("phase(slow).hist(round-trip<=us>).count >= 10").unwrap();
        assert_eq!(
            t.metric,
            Metric {
                scope: Scope::Phase("slow".into()),
                path: "hist(round-trip<=us>).count".into()
            },
            "operators inside hist(...) are part of the name"
        );
        assert_eq!(t.op, Op::Ge);
        let t = parse("phase(slow).hist(a<b_us).max < 2s").unwrap();
        assert_eq!(t.metric.path, "hist(a<b_us).max");
        assert_eq!(
            (t.op, t.limit),
            (
                Op::Lt,
                Limit::Value {
                    value: 2000.0,
                    time_unit: true
                }
            )
        );
    }

    #[test]
    fn relative_limits_between_two_run_wide_figures() {
        for (text, left, reference) in [
            (
                "probes_seen >= 0.9 * probes_sent",
                "probes_seen",
                "probes_sent",
            ),
            (
                "totals.acked >= 0.99 * totals.sent",
                "totals.acked",
                "totals.sent",
            ),
            (
                "hist(a_us).p99 <= 2 * hist(b_us).p50",
                "hist(a_us).p99",
                "hist(b_us).p50",
            ),
            (
                "rebalance_ms < 0.5 * catch_up_ms",
                "rebalance_ms",
                "catch_up_ms",
            ),
        ] {
            let t = parse(text).unwrap();
            assert_eq!(t.metric.scope, Scope::Run, "{text}");
            assert_eq!(t.metric.path, left);
            let Limit::Relative { metric, .. } = t.limit else {
                panic!("{text}: not relative");
            };
            assert_eq!(metric, reference);
        }
        // the reference takes the phase of the metric
        let t = parse("phase(p).hist(a_us).p99 <= 2 * hist(b_us).p50").unwrap();
        assert_eq!(t.metric.scope, Scope::Phase("p".into()));
    }

    #[test]
    fn a_scope_mismatch_says_what_to_write_instead() {
        for (text, expected) in [
            (
                "lost == 0.5 * acked",
                "write totals.acked for the run-wide count",
            ),
            (
                "hist(a_us).p99 < 2 * corrected.p99",
                "write phase(NAME).hist(a_us).p99 to compare within a phase",
            ),
            (
                "acked >= 0.99 * totals.sent",
                "write totals.acked and totals.sent to compare run-wide counts",
            ),
            (
                "phase(p).achieved_rate >= 0.9 * probes_sent",
                "achieved_rate is read per phase and probes_sent is run-wide",
            ),
            (
                "hist(a_us).p99 < 2 * phase(p).hist(b_us).p50",
                "name the phase once, on the left",
            ),
        ] {
            let error = format!("{:#}", parse(text).unwrap_err());
            assert!(error.contains(expected), "{text}: {error}");
        }
    }

    #[test]
    fn mistakes_are_explained() {
        for (text, expected) in [
            ("corrected.p99 100ms", "no comparison"),
            ("corrected.p99 < fast", "not a number"),
            ("corrected.p99 < 5 parsecs", "unknown unit"),
            ("phase(x).lost < 1", "not a phase metric"),
            ("hist(roundtrip_us).p42 < 1ms", "not a histogram statistic"),
            ("hist().p99 < 1ms", "names no histogram"),
            ("hist(roundtrip_us) < 1ms", "not a histogram statistic"),
            ("hist(batch_bytes).p99 < 5ms", "in bytes, not a duration"),
            ("hist(retries).p99 < 5ms", "a plain count"),
            ("hist(roundtrip_us).count < 5ms", "not a duration"),
            (
                "hist(a_us).p99 < 2 * hist(b_bytes).p50",
                "a duration compares only with a duration",
            ),
        ] {
            let error = format!("{:#}", parse(text).unwrap_err());
            assert!(error.contains(expected), "{text}: {error}");
        }
    }
}
