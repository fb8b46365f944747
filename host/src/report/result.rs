//! The versioned result of a run (`--json`); documented in docs/result-schema.md.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::config::client_props::PropertyNote;
use crate::config::params::ResolvedParams;
use crate::config::scenario::Limits;
use crate::engine::{LoadedFrom, PluginFailure};
use crate::load::recorder::PhaseRecord;
use crate::metrics::events::Event;
use crate::metrics::histogram::{self, new_latency_histogram, LatencySummary};
use crate::metrics::timeline::TimelinePoint;
use crate::metrics::RunMetrics;

pub const SCHEMA: &str = "kscen.result/v1";

#[derive(Debug, Clone, Serialize)]
pub struct RunResult {
    pub schema: &'static str,
    pub kscen_version: &'static str,
    pub scenario: ScenarioMeta,
    pub environment: Environment,
    pub started_at: chrono::DateTime<chrono::Utc>,
    pub ended_at: chrono::DateTime<chrono::Utc>,
    pub duration_s: f64,
    pub outcome: Outcome,
    pub producer_properties: Vec<PropertyNote>,
    /// the producer settings in force (librdkafka names, secrets redacted): the scenario file's
    /// `[producer]`, then `--producer.config`, then `--producer-props`
    pub producer_settings: std::collections::BTreeMap<String, String>,
    pub phases: Vec<PhaseResult>,
    pub totals: Totals,
    pub timeline: Vec<TimelinePoint>,
    pub events: Vec<Event>,
    pub custom_histograms: BTreeMap<String, HistogramResult>,
    /// named results the plugin reported (`metrics.figure`)
    pub figures: BTreeMap<String, crate::metrics::Figure>,
    /// the pass/fail criteria, each with the measured value
    pub thresholds: Vec<crate::thresholds::ThresholdResult>,
    /// per-record verdicts of the loads that tracked replication
    pub replication: Vec<JobReplication>,
    /// the MirrorMaker 2 mirror the run measured, when it used one
    pub mirror: Option<crate::deployment::mirrors::MirrorSummary>,
    /// the consumer settings in force for consume jobs (librdkafka names, secrets redacted):
    /// `--consumer.config`, then `--consumer-props`; and what happened to the keys given
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub consumer_properties: Vec<PropertyNote>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub consumer_settings: BTreeMap<String, String>,
    /// every consume job's figures
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub consumers: Vec<JobConsumption>,
    /// per consumer group, its verdict on this run's stamped records over all its jobs
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub groups: BTreeMap<String, crate::verify::group_ledger::GroupVerdict>,
    /// the deployment's alerts watched during the run (`--alerts`, `[alerts]`)
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alerts: Option<crate::watch::alerts::AlertsResult>,
    /// MirrorMaker 2's own metrics sampled during the run (`--mm2-metrics`, `[mm2_metrics]`)
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mm2_metrics: Option<crate::watch::mm2_metrics::Mm2MetricsResult>,
}

/// A consume job's figures, as its status gives them at the end.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JobConsumption {
    pub job: u64,
    pub cluster: String,
    pub topic: String,
    pub group: String,
    pub members: u32,
    pub commit: crate::load::consume::CommitPolicy,
    pub protocol: crate::load::consume::GroupProtocol,
    /// start and end on the run's clock, s
    pub start_s: f64,
    pub end_s: f64,
    #[serde(flatten)]
    pub status: crate::load::consume::ConsumeStatus,
}

/// The figures of every consume job of the run.
pub fn consumers(metrics: &RunMetrics) -> Vec<JobConsumption> {
    metrics
        .consume_jobs()
        .iter()
        .map(|job| {
            let (start, end) = job.span_ns();
            JobConsumption {
                job: job.id,
                cluster: job.plan.cluster.clone(),
                topic: job.plan.topic.clone(),
                group: job.plan.group.clone(),
                members: job.plan.members,
                commit: job.plan.commit,
                protocol: job.plan.protocol,
                start_s: start as f64 / 1e9,
                end_s: end as f64 / 1e9,
                status: job.status(),
            }
        })
        .collect()
}

/// Every consumer group's verdict at the end of the run: what it has not read by then, it missed.
pub fn groups(metrics: &RunMetrics) -> BTreeMap<String, crate::verify::group_ledger::GroupVerdict> {
    metrics
        .group_names()
        .into_iter()
        .filter_map(|group| Some((group.clone(), metrics.group_verdict(&group)?)))
        .collect()
}

#[derive(Debug, Clone, Serialize)]
pub struct JobReplication {
    pub job: u64,
    pub cluster: String,
    pub topic: String,
    pub target_cluster: String,
    pub remote_topic: String,
    pub sent: u64,
    pub acked: u64,
    pub failed: u64,
    #[serde(flatten)]
    pub verdict: crate::verify::ReplicationStatus,
}

/// The final verdict of every load that tracked replication.
pub fn replication(metrics: &RunMetrics) -> Vec<JobReplication> {
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

#[derive(Debug, Clone, Serialize)]
pub struct ScenarioMeta {
    pub name: String,
    pub file: String,
    pub plugin: PluginMeta,
    pub params: ResolvedParams,
    pub limits: Limits,
}

#[derive(Debug, Clone, Serialize)]
pub struct PluginMeta {
    pub name: String,
    pub path: String,
    #[serde(flatten)]
    pub loaded: LoadedFrom,
}

#[derive(Debug, Clone, Serialize)]
pub struct Environment {
    /// true when the run used librdkafka's in-process mock cluster
    pub embedded_cluster: bool,
    pub profile: Option<String>,
    /// logical name → bootstrap servers (never credentials)
    pub clusters: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Outcome {
    Completed,
    Failed {
        failure: PluginFailure,
    },
    /// `abort_on_fail` stopped the run when a threshold failed
    Aborted {
        reason: String,
    },
}

#[derive(Debug, Clone, Serialize)]
pub struct HistogramResult {
    #[serde(flatten)]
    pub summary: LatencySummary,
    /// HdrHistogram V2 + DEFLATE, base64
    pub hdr: String,
}

impl HistogramResult {
    pub fn of(histogram: &hdrhistogram::Histogram<u64>) -> HistogramResult {
        HistogramResult {
            summary: histogram::summarize(histogram),
            hdr: histogram::encode(histogram),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct PhaseResult {
    pub name: String,
    pub start_s: f64,
    pub end_s: f64,
    /// sum of the load jobs' target rates; none when any ran unthrottled
    pub target_rate: Option<f64>,
    /// sent ÷ scheduled window, summed over jobs
    pub achieved_rate: f64,
    pub mb_per_s: f64,
    pub sent: u64,
    pub acked: u64,
    pub failed: u64,
    pub bytes: u64,
    pub queue_full: u64,
    /// latencies in µs
    pub schedule_lag_us: HistogramResult,
    pub service_us: HistogramResult,
    pub corrected_us: HistogramResult,
    /// seen on the target − intended send time; null when no load in the phase tracked replication
    pub replicated_us: Option<HistogramResult>,
    /// the plugin's own histograms, from the values recorded while this phase was open
    pub custom_histograms: BTreeMap<String, HistogramResult>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Totals {
    pub sent: u64,
    pub acked: u64,
    pub failed: u64,
    pub bytes: u64,
    pub queue_full: u64,
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
        let mut totals = Totals::default();
        let mut achieved_rate = 0.0;
        let mut target_rate = Some(0.0);
        let mut mb_per_s = 0.0;
        for record in &self.records {
            schedule_lag.add(&record.schedule_lag).expect("same bounds");
            service.add(&record.service).expect("same bounds");
            corrected.add(&record.corrected).expect("same bounds");
            replicated.add(&record.replicated).expect("same bounds");
            totals.sent += record.sent;
            totals.acked += record.acked;
            totals.failed += record.failed;
            totals.bytes += record.bytes;
            totals.queue_full += record.queue_full;
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
            start_s,
            end_s,
            target_rate,
            achieved_rate,
            mb_per_s,
            sent: totals.sent,
            acked: totals.acked,
            failed: totals.failed,
            bytes: totals.bytes,
            queue_full: totals.queue_full,
            schedule_lag_us: HistogramResult::of(&schedule_lag),
            service_us: HistogramResult::of(&service),
            corrected_us: HistogramResult::of(&corrected),
            replicated_us: self.tracked.then(|| HistogramResult::of(&replicated)),
            custom_histograms: custom,
        }
    }
}

/// Per-phase figures from every job. Phases the plugin opened appear even when empty; messages
/// sent outside any phase form a last phase named "(no phase)".
pub fn collect_phases(metrics: &RunMetrics) -> Vec<PhaseResult> {
    let spans = metrics.phases.snapshot();
    let end_of_run = metrics.clock.now_ns();
    let mut by_phase: BTreeMap<Option<usize>, PhaseAccumulator> = BTreeMap::new();
    for job in metrics.jobs() {
        let recorder = job.recorder.lock().unwrap();
        for (phase, record) in recorder.phase_records() {
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

pub fn totals(phases: &[PhaseResult]) -> Totals {
    phases.iter().fold(Totals::default(), |mut t, p| {
        t.sent += p.sent;
        t.acked += p.acked;
        t.failed += p.failed;
        t.bytes += p.bytes;
        t.queue_full += p.queue_full;
        t
    })
}

/// The plugin's own histograms over the whole run.
pub fn custom_histograms(metrics: &RunMetrics) -> BTreeMap<String, HistogramResult> {
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
