//! The versioned result of a run (`--json`); documented in docs/result-schema.md.

use std::collections::BTreeMap;

use std::path::Path;

use anyhow::{Context, Result};
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
    /// present only in a snapshot written while the run went on: the run never wrote its final
    /// result (kscen killed, machine lost) when this is what is left on disk
    #[serde(skip_serializing_if = "Option::is_none")]
    pub incomplete: Option<Incomplete>,
}

/// What marks a snapshot: why it is not a finished run's result, and how far the run had got.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Incomplete {
    pub reason: String,
    /// when the snapshot was taken, on the run's clock
    pub snapshot_at_s: f64,
}

/// Why a snapshot is incomplete: said once, for every snapshot.
pub const SNAPSHOT_REASON: &str =
    "snapshot written while the run went on: kscen did not finish the run (killed, or its machine lost)";

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
    pub alerts: Option<crate::watch::alerts::AlertsResult>,
    pub mm2_metrics: Option<crate::watch::mm2_metrics::Mm2MetricsResult>,
}

impl RunResult {
    /// The result from the run's figures as they stand: the final one once the run is over, a
    /// snapshot of the run so far while it goes on.
    pub fn build(
        setup: &RunSetup,
        metrics: &RunMetrics,
        mirror: Option<crate::deployment::mirrors::MirrorSummary>,
        stage: Stage,
    ) -> RunResult {
        let phases = collect_phases(metrics);
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
            mm2.compare_with(&phases);
        }
        let mut result = RunResult {
            schema: SCHEMA,
            kscen_version: env!("CARGO_PKG_VERSION"),
            scenario: setup.scenario.clone(),
            environment: setup.environment.clone(),
            started_at: setup.started_at,
            ended_at: now,
            duration_s: (now - setup.started_at).as_seconds_f64(),
            outcome,
            producer_properties: setup.producer_properties.clone(),
            producer_settings: setup.producer_settings.clone(),
            totals: totals(&phases),
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
            incomplete,
        };
        result.thresholds = crate::thresholds::evaluate(&setup.thresholds, &(&result).into());
        if let Some(incomplete) = &result.incomplete {
            // Part of a run proves nothing about the whole: no snapshot passes.
            for threshold in &mut result.thresholds {
                threshold.not_evaluated(incomplete.snapshot_at_s);
            }
        }
        result
    }
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
    /// logical name → the Kafka versions its brokers' exporters said at the start; empty where
    /// no broker has one
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub kafka_versions: crate::deployment::kafka_versions::KafkaVersions,
    pub host: HostInfo,
}

/// The machine kscen ran on, which bounds what a load generator can show. Read back by reports
/// with the same type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostInfo {
    /// the cores kscen may run on (its CPU affinity and cgroup quota)
    pub cores: usize,
    /// `MemTotal` of /proc/meminfo; none where it cannot be read
    pub memory_mib: Option<u64>,
    /// `linux x86_64`, and the kernel release where /proc tells it
    pub os: String,
}

impl HostInfo {
    pub fn read() -> HostInfo {
        let memory_mib = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|text| mem_total_mib(&text));
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").ok();
        let mut os = format!("{} {}", std::env::consts::OS, std::env::consts::ARCH);
        if let Some(kernel) = kernel {
            os = format!("{os} {}", kernel.trim());
        }
        HostInfo {
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            memory_mib,
            os,
        }
    }

    /// `2 cores, 23.4 GiB, linux x86_64 6.1.0`
    pub fn label(&self) -> String {
        let memory = self.memory_mib.map_or("memory not measured".into(), |mib| {
            format!("{:.1} GiB", mib as f64 / 1024.0)
        });
        format!("{} cores, {memory}, {}", self.cores, self.os)
    }
}

/// `MemTotal:       24591612 kB` → MiB
fn mem_total_mib(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024)
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Outcome {
    Completed,
    /// a snapshot: the run was still going (`incomplete` says when)
    Running,
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

/// Writes `value` (a result, a campaign ledger) to a file beside `path` and renames it over
/// `path`: a kill mid-write leaves the previous file whole, never a torn one.
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(value)?;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let name = path
        .file_name()
        .with_context(|| format!("{} names no file", path.display()))?;
    let temporary = dir.join(format!(
        ".{}.{}.tmp",
        name.to_string_lossy(),
        std::process::id()
    ));
    write_synced(&temporary, text.as_bytes())
        .with_context(|| format!("cannot write {}", temporary.display()))?;
    std::fs::rename(&temporary, path).with_context(|| format!("cannot write {}", path.display()))
}

/// Written through to the disk before the rename, so a machine lost just after it finds the new
/// content, not an empty file.
fn write_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut file = std::fs::File::create(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::clock::RunClock;
    use crate::report::model::ResultDoc;
    use crate::report::verdict::{threshold_line, RunVerdict};

    fn setup() -> RunSetup {
        RunSetup {
            scenario: ScenarioMeta {
                name: "steady".into(),
                file: "steady.toml".into(),
                plugin: PluginMeta {
                    name: "steady".into(),
                    path: "steady.wasm".into(),
                    loaded: crate::engine::LoadedFrom {
                        sha256: "00".into(),
                        from_cache: false,
                        load_ms: 1.0,
                    },
                },
                params: ResolvedParams {
                    time_scale: 1.0,
                    values: BTreeMap::new(),
                },
                limits: Limits::default(),
            },
            environment: Environment {
                embedded_cluster: true,
                profile: None,
                clusters: BTreeMap::new(),
                kafka_versions: BTreeMap::new(),
                host: HostInfo::read(),
            },
            started_at: chrono::Utc::now(),
            producer_properties: Vec::new(),
            producer_settings: BTreeMap::new(),
            consumer_properties: Vec::new(),
            consumer_settings: BTreeMap::new(),
            thresholds: vec![crate::thresholds::parse("totals.failed == 0").unwrap()],
        }
    }

    fn built(stage: Stage) -> RunResult {
        RunResult::build(&setup(), &RunMetrics::new(RunClock::start()), None, stage)
    }

    fn finished() -> Stage {
        Stage::Finished(Box::new(Ending {
            outcome: Outcome::Completed,
            alerts: None,
            mm2_metrics: None,
        }))
    }

    #[test]
    fn a_finished_result_has_no_incomplete_field() {
        let json = serde_json::to_value(built(finished())).unwrap();
        assert!(json.get("incomplete").is_none(), "{json}");
        assert_eq!(json["outcome"]["status"], "completed");
        assert_eq!(json["thresholds"][0]["verdict"], "passed");
    }

    #[test]
    fn a_snapshot_is_marked_incomplete_and_passes_no_threshold() {
        let json = serde_json::to_value(built(Stage::Snapshot)).unwrap();
        assert_eq!(json["incomplete"]["reason"], SNAPSHOT_REASON);
        assert!(json["incomplete"]["snapshot_at_s"].as_f64().unwrap() >= 0.0);
        assert_eq!(json["outcome"]["status"], "running");
        let threshold = &json["thresholds"][0];
        assert_eq!(threshold["verdict"], "not_evaluated", "{threshold}");
        assert_eq!(threshold["measured"], 0.0);
        let note = threshold["note"].as_str().unwrap();
        assert!(
            note.starts_with("run incomplete: on its first ") && note.ends_with(" s it holds"),
            "{note}"
        );
    }

    #[test]
    fn the_incomplete_mark_reads_back_and_is_the_reports_verdict() {
        let snapshot = built(Stage::Snapshot);
        let doc: ResultDoc =
            serde_json::from_str(&serde_json::to_string(&snapshot).unwrap()).unwrap();
        assert_eq!(doc.incomplete, snapshot.incomplete);
        let verdict = RunVerdict::of(&doc);
        assert!(
            matches!(verdict, RunVerdict::Incomplete { .. }),
            "{verdict:?}"
        );
        assert!(
            verdict.label().starts_with("INCOMPLETE: snapshot at ")
                && verdict.label().ends_with("thresholds not evaluated"),
            "{}",
            verdict.label()
        );
        assert_eq!(threshold_line(&doc.thresholds[0]).verdict, "not evaluated");

        let finished: ResultDoc =
            serde_json::from_str(&serde_json::to_string(&built(finished())).unwrap()).unwrap();
        assert_eq!(finished.incomplete, None);
        assert_eq!(
            RunVerdict::of(&finished),
            RunVerdict::Passed { thresholds: 1 }
        );
    }

    #[test]
    fn a_result_replaces_the_file_whole_and_leaves_nothing_beside_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("result.json");
        std::fs::write(&path, "a snapshot").unwrap();
        write_json(&path, &built(finished())).unwrap();
        let written: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(written["outcome"]["status"], "completed");
        let files: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect();
        assert_eq!(files, ["result.json"]);
    }

    #[test]
    fn the_host_is_described_from_proc() {
        assert_eq!(
            mem_total_mib("MemFree: 1 kB\nMemTotal:       24591612 kB\n"),
            Some(24015)
        );
        assert_eq!(mem_total_mib("nothing"), None);
        let host = HostInfo::read();
        assert!(host.cores >= 1);
        assert!(host.label().starts_with(&format!("{} cores, ", host.cores)));
    }
}
