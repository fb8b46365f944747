//! Threshold expressions, in the spirit of k6: `<metric> <op> <limit>`.
//!
//! ```text
//! corrected.p99 < 100ms                     every phase's corrected p99
//! phase(step-1 1x).achieved_rate >= 990     one phase
//! achieved_rate >= 0.99 * target_rate       a limit relative to another metric of the same scope
//! rebalance_ms < 60s                        a figure the plugin reported
//! replication.lost == 0                     the per-record verdict, summed over tracked loads
//! ```
//! Latencies (`corrected`, `service`, `schedule_lag`, `replicated` with `.p50 .p95 .p99 .p999
//! .max .mean .min`) are in milliseconds; a limit may carry a unit (`us`, `ms`, `s`, `m`, `h`).

use anyhow::{bail, Context, Result};

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

#[derive(Debug, Clone, PartialEq)]
pub enum Limit {
    /// a number, already converted from its unit (times → ms)
    Value { value: f64, time_unit: bool },
    /// `factor * metric` of the same scope
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

/// Whether `path` names a per-phase metric.
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
    if let Limit::Relative { metric: other, .. } = &limit {
        if metric.scope == Scope::Run || !is_phase_metric(other) {
            bail!("a relative limit compares two phase metrics, e.g. achieved_rate >= 0.99 * target_rate");
        }
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
        if let Some(at) = text.find(symbol) {
            // A phase name may contain anything but `)`: skip operators inside phase(...).
            if text[..at].matches('(').count() == text[..at].matches(')').count() {
                return Ok((&text[..at], op, &text[at + symbol.len()..]));
            }
        }
    }
    bail!("no comparison: write it as `<metric> <op> <limit>` with one of < <= > >= == !=")
}

fn parse_metric(text: &str) -> Result<Metric> {
    if let Some(rest) = text.strip_prefix("phase(") {
        let (name, path) = rest.split_once(")").context("`phase(` is not closed")?;
        let path = path.strip_prefix('.').context("write phase(NAME).metric")?;
        if !is_phase_metric(path) {
            bail!("{path:?} is not a phase metric ({})", phase_metric_help());
        }
        return Ok(Metric {
            scope: Scope::Phase(name.trim().to_string()),
            path: path.to_string(),
        });
    }
    if text.is_empty() || text.contains(char::is_whitespace) {
        bail!("{text:?} is not a metric name");
    }
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

fn phase_metric_help() -> String {
    format!(
        "{} or one of {}.{{{}}}",
        PHASE_METRICS.join(", "),
        LATENCIES.join("|"),
        STATISTICS.join("|")
    )
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
    fn mistakes_are_explained() {
        for (text, expected) in [
            ("corrected.p99 100ms", "no comparison"),
            ("corrected.p99 < fast", "not a number"),
            ("corrected.p99 < 5 parsecs", "unknown unit"),
            ("phase(x).lost < 1", "not a phase metric"),
            ("lost == 0.5 * acked", "relative limit"),
        ] {
            let error = format!("{:#}", parse(text).unwrap_err());
            assert!(error.contains(expected), "{text}: {error}");
        }
    }
}
