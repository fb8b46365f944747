//! Pass/fail criteria of a run: threshold expressions evaluated against its result.

pub mod expr;

use std::collections::BTreeMap;

use crate::metrics::histogram::LatencySummary;
use crate::metrics::unit::Unit;
use crate::metrics::Figure;
use crate::result::{
    Counts, HistogramResult, JobConsumption, JobReplication, PhaseResult, RunResult,
    ThresholdResult, Verdict,
};
use crate::verify::group_ledger::GroupVerdict;
pub use expr::{parse, Threshold};
use expr::{Limit, Scope};

/// What thresholds read: a finished run's result, or a snapshot taken while it runs.
pub struct Measurements<'a> {
    pub phases: &'a [PhaseResult],
    pub figures: &'a BTreeMap<String, Figure>,
    pub totals: &'a Counts,
    pub replication: &'a [JobReplication],
    /// the plugin's own histograms over the whole run (per phase: in `phases`)
    pub custom_histograms: &'a BTreeMap<String, HistogramResult>,
    pub consumers: &'a [JobConsumption],
    /// consumer groups' verdicts: final only, so empty while the run goes on
    pub groups: &'a BTreeMap<String, GroupVerdict>,
    /// the deployment's alerts: final only
    pub alerts: Option<&'a crate::watch::alerts::AlertsResult>,
}

impl<'a> From<&'a RunResult> for Measurements<'a> {
    fn from(result: &'a RunResult) -> Self {
        Measurements {
            phases: &result.phases,
            figures: &result.figures,
            totals: &result.totals,
            replication: &result.replication,
            custom_histograms: &result.custom_histograms,
            consumers: &result.consumers,
            groups: &result.groups,
            alerts: result.alerts.as_ref(),
        }
    }
}

/// Judges `result` by `thresholds`. Part of a run proves nothing about the whole: a snapshot's
/// thresholds are measured but not evaluated.
pub fn judge_run(result: &mut RunResult, thresholds: &[Threshold]) {
    result.thresholds = evaluate(thresholds, &(&*result).into());
    if let Some(incomplete) = &result.incomplete {
        for threshold in &mut result.thresholds {
            threshold.not_evaluated(incomplete.snapshot_at_s);
        }
    }
}

/// A value as read, in its own unit.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Reading {
    value: f64,
    unit: Unit,
}

impl Reading {
    fn plain(value: f64) -> Reading {
        Reading {
            value,
            unit: Unit::Count,
        }
    }
}

/// Why a metric has no value; becomes the threshold's note.
type Missing = String;

/// Evaluates every threshold; a phase metric without a phase is checked in each phase with data.
pub fn evaluate(thresholds: &[Threshold], result: &Measurements) -> Vec<ThresholdResult> {
    let mut results = Vec::new();
    for threshold in thresholds {
        match &threshold.metric.scope {
            Scope::Run => results.push(judge(threshold, None, |path| run_reading(result, path))),
            Scope::Phase(name) => match result.phases.iter().find(|p| &p.name == name) {
                Some(phase) => results.push(judge_in(threshold, phase)),
                None => results.push(ThresholdResult {
                    threshold: threshold.text.clone(),
                    phase: Some(name.clone()),
                    verdict: Verdict::NotMeasured,
                    measured: None,
                    limit: None,
                    margin: None,
                    unit: String::new(),
                    note: Some(format!("the run has no phase {name:?}")),
                }),
            },
            Scope::EveryPhase => {
                // A relative limit applies where its reference exists: `0.99 * target_rate`
                // says nothing about an unthrottled phase.
                let applies = |phase: &&PhaseResult| match &threshold.limit {
                    Limit::Relative { metric, .. } => phase_reading(phase, metric).is_ok(),
                    Limit::Value { .. } => true,
                };
                for phase in result
                    .phases
                    .iter()
                    .filter(|p| p.counts.sent.unwrap_or(0) > 0)
                    .filter(applies)
                {
                    results.push(judge_in(threshold, phase));
                }
            }
        }
    }
    results
}

fn judge_in(threshold: &Threshold, phase: &PhaseResult) -> ThresholdResult {
    judge(threshold, Some(phase.name.clone()), |path| {
        phase_reading(phase, path)
    })
}

/// Reads the metric and its limit in one scope (`read`) and compares them in the metric's unit.
fn judge(
    threshold: &Threshold,
    phase: Option<String>,
    read: impl Fn(&str) -> Result<Reading, Missing>,
) -> ThresholdResult {
    let path = &threshold.metric.path;
    let measured = read(path);
    // A histogram never recorded still has the unit its name declares: its limit reads the same
    // whether or not it was measured.
    let unit = match (&measured, expr::histogram_path(path)) {
        (Ok(reading), _) => reading.unit,
        (Err(_), Some((name, statistic))) => expr::histogram_statistic_unit(name, statistic),
        (Err(_), None) => Unit::Count,
    };
    let limit = limit_in(&threshold.limit, path, unit, &read);
    let (verdict, note) = match (&measured, &limit) {
        (Ok(m), Ok(l)) if threshold.op.holds(m.value, *l) => (Verdict::Passed, None),
        (Ok(_), Ok(_)) => (Verdict::Failed, None),
        (Err(note), _) | (_, Err(note)) => (Verdict::NotMeasured, Some(note.clone())),
    };
    let measured = measured.ok().map(|m| m.value);
    let limit = limit.ok();
    ThresholdResult {
        threshold: threshold.text.clone(),
        phase,
        verdict,
        measured,
        limit,
        margin: measured.zip(limit).map(|(m, l)| m - l),
        unit: unit_label(path, unit, &threshold.limit),
        note,
    }
}

/// The limit in `unit`, the unit of the metric at `path`: a time limit (held in ms) converted when
/// the metric is a duration, a reference converted to the metric's unit.
fn limit_in(
    limit: &Limit,
    path: &str,
    unit: Unit,
    read: impl Fn(&str) -> Result<Reading, Missing>,
) -> Result<f64, Missing> {
    match limit {
        Limit::Value {
            value,
            time_unit: true,
        } if unit.is_duration() => Ok(Unit::Milliseconds
            .convert(*value, unit)
            .expect("durations convert")),
        Limit::Value { value, .. } => Ok(*value),
        Limit::Relative { factor, metric } => {
            let reference = read(metric)?;
            let value = reference
                .unit
                .convert(reference.value, unit)
                .ok_or_else(|| {
                    format!(
                        "{metric} is {} and {path} {}: a duration compares only with a duration",
                        reference.unit.described(),
                        unit.described()
                    )
                })?;
            Ok(value * factor)
        }
    }
}

/// The unit measured, limit and margin are reported in.
fn unit_label(path: &str, unit: Unit, limit: &Limit) -> String {
    let time_limit = matches!(
        limit,
        Limit::Value {
            time_unit: true,
            ..
        }
    );
    match path {
        _ if unit.is_duration() => unit.symbol(),
        "achieved_rate" | "target_rate" => "records/s",
        "mb_per_s" => "MiB/s",
        // a time limit on a figure of another unit compares its number with milliseconds
        _ if time_limit => "ms",
        _ => unit.symbol(),
    }
    .to_string()
}

/// A metric of one phase: load metrics (latencies in ms) and the plugin's histograms recorded
/// while the phase was open.
fn phase_reading(phase: &PhaseResult, path: &str) -> Result<Reading, Missing> {
    let not_measured = || "not measured in this phase".to_string();
    let plain = |value: Option<f64>| value.map(Reading::plain).ok_or_else(not_measured);
    let count = |n: Option<u64>| plain(n.map(|n| n as f64));
    match path {
        "achieved_rate" => plain(phase.achieved_rate),
        "target_rate" => plain(phase.target_rate.flatten()),
        "mb_per_s" => plain(phase.mb_per_s),
        "sent" => count(phase.counts.sent),
        "acked" => count(phase.counts.acked),
        "failed" => count(phase.counts.failed),
        "queue_full" => count(phase.counts.queue_full),
        "bytes" => count(phase.counts.bytes),
        "duration_s" => phase
            .duration_s()
            .map(|value| Reading {
                value,
                unit: Unit::Seconds,
            })
            .ok_or_else(not_measured),
        _ => {
            if let Some((name, statistic)) = expr::histogram_path(path) {
                return custom_reading(&phase.custom_histograms, name, statistic).ok_or_else(
                    || format!("the plugin recorded no value into {name:?} in this phase"),
                );
            }
            let (histogram, statistic) = path.split_once('.').ok_or_else(not_measured)?;
            let histogram = match histogram {
                "corrected" => phase.corrected_us.as_ref(),
                "service" => phase.service_us.as_ref(),
                "schedule_lag" => phase.schedule_lag_us.as_ref(),
                "replicated" => phase.replicated_us.as_ref(),
                _ => None,
            };
            let us = histogram
                .and_then(|h| statistic_of(&h.summary, statistic))
                .ok_or_else(not_measured)?;
            Ok(Reading {
                value: Unit::Microseconds
                    .convert(us, Unit::Milliseconds)
                    .expect("durations convert"),
                unit: Unit::Milliseconds,
            })
        }
    }
}

/// One statistic of a histogram that holds values; none for an empty one (it measured nothing).
fn statistic_of(s: &LatencySummary, statistic: &str) -> Option<f64> {
    if s.count == 0 {
        return None;
    }
    Some(match statistic {
        "p50" => s.p50 as f64,
        "p95" => s.p95 as f64,
        "p99" => s.p99 as f64,
        "p999" => s.p999 as f64,
        "max" => s.max as f64,
        "min" => s.min as f64,
        "mean" => s.mean,
        "count" => s.count as f64,
        _ => return None,
    })
}

fn custom_reading(
    histograms: &BTreeMap<String, HistogramResult>,
    name: &str,
    statistic: &str,
) -> Option<Reading> {
    let value = statistic_of(&histograms.get(name)?.summary, statistic)?;
    Some(Reading {
        value,
        unit: expr::histogram_statistic_unit(name, statistic),
    })
}

/// A run-wide metric: a figure the plugin reported, a histogram it recorded, a total, or a
/// replication verdict.
fn run_reading(result: &Measurements, path: &str) -> Result<Reading, Missing> {
    if let Some(figure) = result.figures.get(path) {
        return Ok(Reading {
            value: figure.value,
            unit: Unit::of_symbol(&figure.unit).unwrap_or(Unit::Count),
        });
    }
    if let Some((name, statistic)) = expr::histogram_path(path) {
        return custom_reading(result.custom_histograms, name, statistic)
            .ok_or_else(|| format!("the plugin recorded no value into {name:?}"));
    }
    if let Some(field) = path.strip_prefix("totals.") {
        let t = result.totals;
        let (count, unit) = match field {
            "sent" => (t.sent, Unit::Records),
            "acked" => (t.acked, Unit::Records),
            "failed" => (t.failed, Unit::Records),
            "bytes" => (t.bytes, Unit::Bytes),
            "queue_full" => (t.queue_full, Unit::Records),
            _ => return Err(format!("no total named {field:?}")),
        };
        return count
            .map(|n| Reading {
                value: n as f64,
                unit,
            })
            .ok_or_else(|| format!("the result holds no totals.{field}"));
    }
    if let Some(field) = path.strip_prefix("replication.") {
        if result.replication.is_empty() {
            return Err("no load tracked replication".into());
        }
        let sum = |f: fn(&crate::verify::ReplicationStatus) -> u64| {
            Ok(Reading {
                value: result
                    .replication
                    .iter()
                    .map(|j| f(&j.verdict))
                    .sum::<u64>() as f64,
                unit: Unit::Records,
            })
        };
        return match field {
            "lost" => sum(|v| v.lost),
            "duplicates" => sum(|v| v.duplicates),
            "out_of_order" => sum(|v| v.out_of_order),
            "replicated" => sum(|v| v.replicated),
            _ => Err(format!("no replication figure named {field:?} (lost, duplicates, out_of_order, replicated)")),
        };
    }
    if let Some(reading) = group_reading(result, path) {
        return reading;
    }
    if let Some(reading) = alert_reading(result, path) {
        return reading;
    }
    if let Some(field) = path.strip_prefix("consumers.") {
        let jobs: Vec<&JobConsumption> = result.consumers.iter().collect();
        return consumers_reading(&jobs, field);
    }
    Err(format!("the run reported no figure {path:?}"))
}

/// `group(NAME).FIELD`, one group's verdict or lag, or `groups.FIELD`, over every group.
fn group_reading(result: &Measurements, path: &str) -> Option<Result<Reading, Missing>> {
    let (name, field) = if let Some(rest) = path.strip_prefix("group(") {
        match rest.split_once(").") {
            Some((name, field)) => (Some(name), field),
            None => return Some(Err("write group(NAME).FIELD".into())),
        }
    } else {
        (None, path.strip_prefix("groups.")?)
    };
    let of_group = |group: &str| name.is_none_or(|name| name == group);
    if field == "lag_max" {
        let jobs: Vec<&JobConsumption> = result
            .consumers
            .iter()
            .filter(|j| of_group(&j.reading.group))
            .collect();
        return Some(consumers_reading(&jobs, field));
    }
    let verdicts: Vec<&GroupVerdict> = result
        .groups
        .iter()
        .filter(|(group, _)| of_group(group))
        .map(|(_, verdict)| verdict)
        .collect();
    if verdicts.is_empty() {
        return Some(Err(match name {
            Some(name) => {
                format!("no consume job read as group {name:?} (or the run is still going)")
            }
            None => "no consume job read as a group".into(),
        }));
    }
    let sum = |f: fn(&GroupVerdict) -> u64| {
        Ok(Reading {
            value: verdicts.iter().map(|v| f(v)).sum::<u64>() as f64,
            unit: Unit::Records,
        })
    };
    Some(match field {
        "missed" => sum(|v| v.unread),
        "read_twice" => sum(|v| v.read_twice),
        "read" => sum(|v| v.read),
        _ => Err(format!(
            "no group figure named {field:?} (missed, read_twice, read, lag_max)"
        )),
    })
}

/// `alert(NAME).FIELD`, one alert rule's, or `alerts.fired`, over every rule: what the
/// deployment's Prometheus fired during the run.
fn alert_reading(result: &Measurements, path: &str) -> Option<Result<Reading, Missing>> {
    let (name, field) = if let Some(rest) = path.strip_prefix("alert(") {
        match rest.split_once(").") {
            Some((name, field)) => (Some(name), field),
            None => return Some(Err("write alert(NAME).FIELD".into())),
        }
    } else {
        (None, path.strip_prefix("alerts.")?)
    };
    let Some(alerts) = result.alerts else {
        return Some(Err("the run watched no alerts (--alerts PROBE)".into()));
    };
    Some(match (name, field) {
        (_, "fired") => Ok(Reading::plain(alerts.fired(name).count() as f64)),
        (Some(name), "fired_within") => alerts.fired_within_ms(name).map(|ms| Reading {
            value: ms,
            unit: Unit::Milliseconds,
        }),
        (Some(_), _) => Err(format!(
            "no alert figure named {field:?} (fired, fired_within)"
        )),
        (None, _) => Err(format!("no alerts figure named {field:?} (fired)")),
    })
}

/// `consumers.FIELD` over every consume job: counts and rates summed, times the worst.
fn consumers_reading(jobs: &[&JobConsumption], field: &str) -> Result<Reading, Missing> {
    if jobs.is_empty() {
        return Err("no consume job matches".into());
    }
    let statuses = || jobs.iter().map(|j| &j.status);
    let reading = |value: f64, unit: Unit| Ok(Reading { value, unit });
    let worst_ms = |f: fn(&crate::load::consume::ConsumeStatus) -> f64| {
        reading(statuses().map(f).fold(0.0, f64::max), Unit::Milliseconds)
    };
    match field {
        "records" => reading(
            statuses().map(|s| s.records).sum::<u64>() as f64,
            Unit::Records,
        ),
        "records_per_s" => reading(statuses().map(|s| s.records_per_s).sum(), Unit::Count),
        "rebalances" => reading(
            statuses().map(|s| s.rebalances.rebalances).sum::<u32>() as f64,
            Unit::Count,
        ),
        "unassigned_max_ms" => worst_ms(|s| s.rebalances.unassigned_max_ms),
        "e2e_p99_ms" => worst_ms(|s| s.e2e_us.p99 as f64 / 1000.0),
        "lag_max" => match statuses().filter_map(|s| s.lag_max).max() {
            Some(lag) => reading(lag as f64, Unit::Records),
            None => Err("no lag was sampled: the jobs commit nothing".into()),
        },
        _ => Err(format!(
            "no consumer figure named {field:?} (records, records_per_s, rebalances, \
             unassigned_max_ms, e2e_p99_ms, lag_max)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::histogram::new_custom_histogram;

    fn histogram(values: &[u64]) -> HistogramResult {
        let mut histogram = new_custom_histogram();
        for value in values {
            crate::metrics::histogram::record_custom(&mut histogram, *value);
        }
        HistogramResult::of(&histogram)
    }

    fn custom(name: &str, values: &[u64]) -> BTreeMap<String, HistogramResult> {
        BTreeMap::from([(name.to_string(), histogram(values))])
    }

    fn phase(name: &str, custom_histograms: BTreeMap<String, HistogramResult>) -> PhaseResult {
        PhaseResult {
            name: name.into(),
            start_s: Some(0.0),
            end_s: Some(10.0),
            target_rate: Some(Some(100.0)),
            achieved_rate: Some(99.5),
            mb_per_s: Some(0.1),
            counts: Counts {
                sent: Some(1000),
                acked: Some(1000),
                failed: Some(0),
                bytes: Some(100_000),
                queue_full: Some(0),
            },
            schedule_lag_us: Some(histogram(&[])),
            service_us: Some(histogram(&[])),
            corrected_us: Some(histogram(&[2_000, 3_000])),
            replicated_us: None,
            custom_histograms,
            imported: None,
        }
    }

    /// A run with two phases: `roundtrip_us` values around 1 ms in `fast`, 10 ms in `slow`.
    struct Run {
        phases: Vec<PhaseResult>,
        figures: BTreeMap<String, Figure>,
        totals: Counts,
        custom: BTreeMap<String, HistogramResult>,
        groups: BTreeMap<String, GroupVerdict>,
        alerts: Option<crate::watch::alerts::AlertsResult>,
    }

    impl Run {
        fn new() -> Run {
            let fast: Vec<u64> = vec![1_000; 100];
            let slow: Vec<u64> = vec![10_000; 100];
            let figure = |value: f64, unit: &str| Figure {
                value,
                unit: unit.into(),
            };
            Run {
                phases: vec![
                    phase("fast", custom("roundtrip_us", &fast)),
                    phase("slow", custom("roundtrip_us", &slow)),
                ],
                figures: BTreeMap::from([
                    ("probes_sent".to_string(), figure(100.0, "probes")),
                    ("probes_seen".to_string(), figure(95.0, "probes")),
                    ("rebalance_s".to_string(), figure(2.0, "s")),
                ]),
                totals: Counts {
                    sent: Some(2000),
                    acked: Some(1990),
                    ..Counts::default()
                },
                custom: BTreeMap::from([
                    (
                        "roundtrip_us".to_string(),
                        histogram(&[fast, slow].concat()),
                    ),
                    ("batch_bytes".to_string(), histogram(&[512, 1024])),
                ]),
                groups: BTreeMap::from([
                    (
                        "billing".to_string(),
                        GroupVerdict {
                            read: 1000,
                            read_twice: 40,
                            unread: 0,
                        },
                    ),
                    (
                        "audit".to_string(),
                        GroupVerdict {
                            read: 990,
                            read_twice: 0,
                            unread: 10,
                        },
                    ),
                ]),
                alerts: None,
            }
        }

        fn evaluate(&self, text: &str) -> Vec<ThresholdResult> {
            let measurements = Measurements {
                phases: &self.phases,
                figures: &self.figures,
                totals: &self.totals,
                replication: &[],
                custom_histograms: &self.custom,
                consumers: &[],
                groups: &self.groups,
                alerts: self.alerts.as_ref(),
            };
            evaluate(&[parse(text).unwrap()], &measurements)
        }

        fn one(&self, text: &str) -> ThresholdResult {
            let mut results = self.evaluate(text);
            assert_eq!(results.len(), 1, "{text}: {results:?}");
            results.remove(0)
        }
    }

    #[test]
    fn a_custom_histogram_is_read_run_wide_in_its_own_unit() {
        let run = Run::new();
        let passed = run.one("hist(roundtrip_us).p99 < 50ms");
        assert_eq!(passed.verdict, Verdict::Passed, "{passed:?}");
        assert_eq!(passed.phase, None);
        assert_eq!(passed.unit, "us");
        assert_eq!(passed.limit, Some(50_000.0));
        assert!((passed.measured.unwrap() - 10_000.0).abs() <= 10.0);

        let failed = run.one("hist(roundtrip_us).p50 < 0.5ms");
        assert_eq!(failed.verdict, Verdict::Failed, "{failed:?}");

        let count = run.one("hist(roundtrip_us).count == 200");
        assert_eq!((count.verdict, count.unit.as_str()), (Verdict::Passed, ""));

        // a limit without a unit is in the histogram's unit
        let bytes = run.one("hist(batch_bytes).max <= 1024");
        assert_eq!(
            (bytes.verdict, bytes.unit.as_str()),
            (Verdict::Passed, "bytes")
        );
    }

    #[test]
    fn a_custom_histogram_is_read_per_phase_from_the_values_of_that_phase() {
        let run = Run::new();
        let fast = run.one("phase(fast).hist(roundtrip_us).p99 < 2ms");
        assert_eq!(fast.verdict, Verdict::Passed, "{fast:?}");
        assert_eq!(fast.phase.as_deref(), Some("fast"));
        let slow = run.one("phase(slow).hist(roundtrip_us).p99 < 2ms");
        assert_eq!(slow.verdict, Verdict::Failed, "{slow:?}");
        assert!(slow.margin.unwrap() > 7_000.0, "{slow:?}");
    }

    #[test]
    fn a_histogram_never_recorded_is_not_measured() {
        let run = Run::new();
        for text in [
            "hist(nothing_us).p99 < 50ms",
            "phase(fast).hist(batch_bytes).max < 10",
        ] {
            let result = run.one(text);
            assert_eq!(result.verdict, Verdict::NotMeasured, "{text}: {result:?}");
            assert!(result.note.unwrap().contains("recorded no value"), "{text}");
        }
        // its limit still reads in the unit the name declares
        let never = run.one("hist(nothing_us).p99 < 50ms");
        assert_eq!((never.limit, never.unit.as_str()), (Some(50_000.0), "us"));
    }

    #[test]
    fn relative_limits_between_run_wide_figures() {
        let run = Run::new();
        let probes = run.one("probes_seen >= 0.9 * probes_sent");
        assert_eq!(probes.verdict, Verdict::Passed, "{probes:?}");
        assert_eq!(probes.limit, Some(90.0));
        let strict = run.one("probes_seen >= 0.99 * probes_sent");
        assert_eq!(strict.verdict, Verdict::Failed, "{strict:?}");

        let totals = run.one("totals.acked >= 0.99 * totals.sent");
        assert_eq!(totals.verdict, Verdict::Passed, "{totals:?}");

        // both sides of a histogram comparison, the reference in the metric's unit
        let spread = run.one("hist(roundtrip_us).p99 <= 20 * hist(roundtrip_us).p50");
        assert_eq!(spread.verdict, Verdict::Passed, "{spread:?}");
        // a figure in seconds against a histogram in microseconds
        let against_figure = run.one("hist(roundtrip_us).max < 1 * rebalance_s");
        assert_eq!(against_figure.limit, Some(2_000_000.0));
        assert_eq!(against_figure.verdict, Verdict::Passed);

        let missing = run.one("probes_seen >= 0.9 * probes_lost");
        assert_eq!(missing.verdict, Verdict::NotMeasured, "{missing:?}");
    }

    #[test]
    fn a_duration_never_compares_with_a_count() {
        let run = Run::new();
        let result = run.one("hist(roundtrip_us).p99 < 2 * probes_sent");
        assert_eq!(result.verdict, Verdict::NotMeasured, "{result:?}");
        assert_eq!(
            result.note.as_deref(),
            Some(
                "probes_sent is a plain count and hist(roundtrip_us).p99 in us: a duration \
                 compares only with a duration"
            )
        );
    }

    #[test]
    fn alerts_are_read_from_the_fault_and_only_those_the_run_fired() {
        use crate::watch::alerts::{AlertRecord, AlertsResult};
        let mut run = Run::new();
        let unwatched = run.one("alerts.fired == 0");
        assert_eq!(unwatched.verdict, Verdict::NotMeasured);
        let record = |name: &str, active_at_start: bool, firing_ms: Option<f64>| AlertRecord {
            name: name.into(),
            labels: BTreeMap::new(),
            active_at_start,
            pending_ms: Some(1_000.0),
            firing_ms,
            resolved_ms: None,
        };
        run.alerts = Some(AlertsResult {
            probe: "prom".into(),
            poll_ms: 2_000,
            polls: 50,
            failed_polls: 0,
            fault_ms: Some(10_000.0),
            fault: Some("phase poison".into()),
            alerts: vec![
                record("MM2TaskFailed", false, Some(75_000.0)),
                record("MM2LagCritical", false, None),
                record("MM2ConnectorNotRunning", true, Some(0.0)),
            ],
        });
        let within = run.one("alert(MM2TaskFailed).fired_within < 2m");
        assert!(within.passed(), "{within:?}");
        assert_eq!(
            (within.measured, within.limit),
            (Some(65_000.0), Some(120_000.0))
        );
        assert!(!run.one("alert(MM2TaskFailed).fired_within < 1m").passed());
        // Pending is not fired, and what fired before the run is the environment's.
        assert_eq!(run.one("alerts.fired == 1").measured, Some(1.0));
        assert!(run.one("alert(MM2LagCritical).fired == 0").passed());
        assert!(run.one("alert(MM2ConnectorNotRunning).fired == 0").passed());
        let never = run.one("alert(MM2LagCritical).fired_within < 2m");
        assert_eq!(never.verdict, Verdict::NotMeasured);
        assert!(never.note.unwrap().contains("did not fire"));
        let typo = run.one("alert(MM2TaskFailed).fired_after < 2m");
        assert!(typo.note.unwrap().contains("fired, fired_within"));
    }

    #[test]
    fn group_verdicts_are_read_one_group_or_all() {
        let run = Run::new();
        assert!(run.one("group(billing).missed == 0").passed());
        assert!(!run.one("group(audit).missed == 0").passed());
        assert_eq!(run.one("groups.read_twice <= 40").measured, Some(40.0));
        assert_eq!(run.one("groups.missed == 0").measured, Some(10.0));
        let unknown = run.one("group(nobody).missed == 0");
        assert_eq!(unknown.verdict, Verdict::NotMeasured);
        assert!(unknown.note.unwrap().contains("nobody"));
        assert_eq!(
            run.one("consumers.records > 0").verdict,
            Verdict::NotMeasured
        );
    }

    #[test]
    fn phase_metrics_keep_their_meaning() {
        let run = Run::new();
        let results = run.evaluate("achieved_rate >= 0.99 * target_rate");
        assert_eq!(results.len(), 2);
        assert!(results.iter().all(|r| r.passed() && r.unit == "records/s"));
        let latency = run.evaluate("corrected.p99 < 2.5ms");
        assert!(latency
            .iter()
            .all(|r| r.verdict == Verdict::Failed && r.unit == "ms"));
        assert!((latency[0].measured.unwrap() - 3.0).abs() < 0.01);
        let figure = run.one("rebalance_s < 3000ms");
        assert_eq!((figure.verdict, figure.limit), (Verdict::Passed, Some(3.0)));
    }
}
