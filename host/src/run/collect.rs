//! The result from a run's figures as they stand: the final one once the run is over, a snapshot
//! while it goes on. What the run measured only; its thresholds are judged by `conclude`.

use std::collections::BTreeMap;

use crate::config::client_props::PropertyNote;
use crate::deployment::mirrors::MirrorSummary;
use crate::load::recorder::PhaseRecord;
use crate::metrics::histogram::new_latency_histogram;
use crate::metrics::RunMetrics;
use crate::result::{
    Counts, Environment, HistogramResult, Incomplete, JobConsumption, JobReplication, Outcome,
    PhaseResult, RunResult, ScenarioMeta, Sharded, SCHEMA, SNAPSHOT_REASON,
};
use crate::verify::group_ledger::GroupVerdict;
use crate::watch::alerts::AlertsResult;
use crate::watch::mm2_metrics::Mm2MetricsResult;

/// What a result holds that is known before the plugin starts.
#[derive(Debug, Clone)]
pub struct RunSetup {
    pub scenario: ScenarioMeta,
    pub environment: Environment,
    pub started_at: chrono::DateTime<chrono::Utc>,
    pub producer_properties: Vec<PropertyNote>,
    pub producer_settings: BTreeMap<String, String>,
    pub consumer_properties: Vec<PropertyNote>,
    pub consumer_settings: BTreeMap<String, String>,
    /// the scenario file's and the command line's
    pub thresholds: Vec<crate::thresholds::Threshold>,
    /// `--shard` and `--start-at`, when the run is one shard of several
    pub shard: Option<crate::shard::ShardPlan>,
}

/// How far the run got when its result is taken.
#[derive(Debug, Clone)]
pub enum Stage {
    /// the run is over: its load jobs flushed, its watchers stopped
    Finished(Box<Ending>),
    /// the run goes on: the figures so far
    Snapshot,
}

/// What only the end of a run gives.
#[derive(Debug, Clone)]
pub struct Ending {
    pub outcome: Outcome,
    pub alerts: Option<AlertsResult>,
    pub mm2_metrics: Option<Mm2MetricsResult>,
}

/// The run's result, its thresholds not judged yet.
pub fn result_of(
    setup: &RunSetup,
    metrics: &RunMetrics,
    mirror: Option<MirrorSummary>,
    stage: Stage,
) -> RunResult {
    let mut replicated = new_latency_histogram();
    let phases = phases(metrics, Some(&mut replicated));
    let now = chrono::Utc::now();
    let (outcome, alerts, mut mm2_metrics, incomplete) = match stage {
        Stage::Finished(ending) => (ending.outcome, ending.alerts, ending.mm2_metrics, None),
        Stage::Snapshot => (
            Outcome::Running,
            None,
            None,
            Some(Incomplete {
                reason: SNAPSHOT_REASON.into(),
                snapshot_at_s: metrics.clock.now_ns() as f64 / 1e9,
            }),
        ),
    };
    if let Some(mm2) = &mut mm2_metrics {
        mm2.compare_with(&replicated);
    }
    RunResult {
        schema: SCHEMA.into(),
        kscen_version: Some(env!("CARGO_PKG_VERSION").into()),
        origin: None,
        scenario: setup.scenario.clone(),
        environment: Some(setup.environment.clone()),
        started_at: Some(setup.started_at),
        ended_at: Some(now),
        duration_s: Some((now - setup.started_at).as_seconds_f64()),
        outcome,
        producer_properties: setup.producer_properties.clone(),
        producer_settings: setup.producer_settings.clone(),
        totals: Counts::over(&phases),
        phases,
        timeline: metrics.timeline(),
        events: metrics.events.snapshot(),
        custom_histograms: custom_histograms(metrics),
        replication: replication(metrics),
        mirror,
        consumer_properties: setup.consumer_properties.clone(),
        consumer_settings: setup.consumer_settings.clone(),
        consumers: consumers(metrics),
        // What a group has not read yet is missed only once the run is over.
        groups: if incomplete.is_none() {
            groups(metrics)
        } else {
            BTreeMap::new()
        },
        alerts,
        mm2_metrics,
        figures: metrics.figures(),
        thresholds: Vec::new(),
        not_measured: Vec::new(),
        incomplete,
        shard: setup.shard.map(|plan| Sharded {
            index: Some(plan.shard.index),
            count: plan.shard.count,
            start_at: plan.start_at,
        }),
    }
}

/// The figures of every consume job of the run.
pub(super) fn consumers(metrics: &RunMetrics) -> Vec<JobConsumption> {
    metrics
        .consume_jobs()
        .iter()
        .map(|job| {
            let (start, end) = job.span_ns();
            JobConsumption {
                job: job.id,
                reading: job.plan.reading.clone(),
                start_s: start as f64 / 1e9,
                end_s: end as f64 / 1e9,
                status: job.status(),
            }
        })
        .collect()
}

/// Every consumer group's verdict at the end of the run: what it has not read by then, it missed.
fn groups(metrics: &RunMetrics) -> BTreeMap<String, GroupVerdict> {
    metrics
        .group_names()
        .into_iter()
        .filter_map(|group| Some((group.clone(), metrics.group_verdict(&group)?)))
        .collect()
}

/// The final verdict of every load that tracked replication.
pub(super) fn replication(metrics: &RunMetrics) -> Vec<JobReplication> {
    let now = metrics.clock.now_ns();
    metrics
        .jobs()
        .iter()
        .filter_map(|job| {
            let target = job.replication_target.clone()?;
            let mut recorder = job.recorder.lock().unwrap();
            let verdict = recorder.replication_status(now)?;
            Some(JobReplication {
                job: job.id,
                cluster: job.cluster.clone(),
                topic: job.topic.clone(),
                target_cluster: target.0,
                remote_topic: target.1,
                sent: recorder.totals.sent,
                acked: recorder.totals.acked,
                failed: recorder.totals.failed,
                verdict,
            })
        })
        .collect()
}

/// Figures of one phase, merged over every job that recorded into it.
#[derive(Default)]
struct PhaseAccumulator {
    records: Vec<PhaseRecord>,
    /// a job in the phase tracked replication
    tracked: bool,
}

impl PhaseAccumulator {
    fn finish(
        self,
        name: String,
        start_s: f64,
        end_s: f64,
        custom: BTreeMap<String, HistogramResult>,
    ) -> PhaseResult {
        let mut schedule_lag = new_latency_histogram();
        let mut service = new_latency_histogram();
        let mut corrected = new_latency_histogram();
        let mut replicated = new_latency_histogram();
        let (mut sent, mut acked, mut failed, mut bytes, mut queue_full) = (0, 0, 0, 0, 0);
        let mut achieved_rate = 0.0;
        let mut target_rate = Some(0.0);
        let mut mb_per_s = 0.0;
        for record in &self.records {
            schedule_lag.add(&record.schedule_lag).expect("same bounds");
            service.add(&record.service).expect("same bounds");
            corrected.add(&record.corrected).expect("same bounds");
            replicated.add(&record.replicated).expect("same bounds");
            sent += record.sent;
            acked += record.acked;
            failed += record.failed;
            bytes += record.bytes;
            queue_full += record.queue_full;
            let window_s = record.window_ns() as f64 / 1e9;
            if window_s > 0.0 {
                achieved_rate += record.sent as f64 / window_s;
                mb_per_s += record.bytes as f64 / window_s / (1024.0 * 1024.0);
            }
            target_rate = match (target_rate, record.target_rate) {
                (Some(sum), Some(rate)) => Some(sum + rate),
                _ => None,
            };
        }
        PhaseResult {
            name,
            start_s: Some(start_s),
            end_s: Some(end_s),
            target_rate: Some(target_rate),
            achieved_rate: Some(achieved_rate),
            mb_per_s: Some(mb_per_s),
            counts: Counts {
                sent: Some(sent),
                acked: Some(acked),
                failed: Some(failed),
                bytes: Some(bytes),
                queue_full: Some(queue_full),
            },
            schedule_lag_us: Some(HistogramResult::of(&schedule_lag)),
            service_us: Some(HistogramResult::of(&service)),
            corrected_us: Some(HistogramResult::of(&corrected)),
            replicated_us: self.tracked.then(|| HistogramResult::of(&replicated)),
            custom_histograms: custom,
            imported: None,
        }
    }
}

/// Per-phase figures from every job. Phases the plugin opened appear even when empty; messages
/// sent outside any phase form a last phase named "(no phase)". `replicated_over_run`, when
/// given, gets the replicated latency (µs) of every record of the run, for comparisons that want
/// it whole.
pub(super) fn phases(
    metrics: &RunMetrics,
    mut replicated_over_run: Option<&mut hdrhistogram::Histogram<u64>>,
) -> Vec<PhaseResult> {
    let spans = metrics.phases.snapshot();
    let end_of_run = metrics.clock.now_ns();
    let mut by_phase: BTreeMap<Option<usize>, PhaseAccumulator> = BTreeMap::new();
    for job in metrics.jobs() {
        let recorder = job.recorder.lock().unwrap();
        for (phase, record) in recorder.phase_records() {
            if let Some(run) = replicated_over_run.as_deref_mut() {
                run.add(&record.replicated).expect("same bounds");
            }
            let accumulator = by_phase.entry(phase).or_default();
            accumulator.records.push(record.clone());
            accumulator.tracked |= recorder.replication.is_some();
        }
    }
    let mut custom = metrics.custom_histograms().by_phase;
    let seconds = |ns: u64| ns as f64 / 1e9;
    let mut phases: Vec<PhaseResult> = spans
        .iter()
        .map(|span| {
            let accumulator = by_phase.remove(&Some(span.index)).unwrap_or_default();
            let end = span.end_ns.unwrap_or(end_of_run);
            let custom = summarize_all(&custom.remove(&span.index).unwrap_or_default());
            accumulator.finish(
                span.name.clone(),
                seconds(span.start_ns),
                seconds(end),
                custom,
            )
        })
        .collect();
    if let Some(unphased) = by_phase.remove(&None) {
        // Custom values recorded between phases count run-wide only.
        phases.push(unphased.finish(
            "(no phase)".into(),
            0.0,
            seconds(end_of_run),
            BTreeMap::new(),
        ));
    }
    phases
}

/// The plugin's own histograms over the whole run.
pub(super) fn custom_histograms(metrics: &RunMetrics) -> BTreeMap<String, HistogramResult> {
    summarize_all(&metrics.custom_histograms().run)
}

fn summarize_all(
    histograms: &BTreeMap<String, hdrhistogram::Histogram<u64>>,
) -> BTreeMap<String, HistogramResult> {
    histograms
        .iter()
        .map(|(name, histogram)| (name.clone(), HistogramResult::of(histogram)))
        .collect()
}
