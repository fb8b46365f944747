//! `kscen.result/v1` as the report reads it: every field a report may quote, optional where a
//! result may lack it (imported results, older files), so a missing figure reads as "not
//! measured" and never as zero. Unknown fields are ignored: v1 only grows.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Deserializer};

/// One result file, loaded.
#[derive(Debug, Clone)]
pub struct LoadedResult {
    pub path: PathBuf,
    pub result: ResultDoc,
}

pub fn load(path: &Path) -> Result<LoadedResult> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read result {}", path.display()))?;
    let result: ResultDoc = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a kscen result", path.display()))?;
    if result.schema != crate::report::result::SCHEMA {
        bail!(
            "{}: schema {:?}, this kscen reads {:?}",
            path.display(),
            result.schema,
            crate::report::result::SCHEMA
        );
    }
    Ok(LoadedResult {
        path: path.to_path_buf(),
        result,
    })
}

/// absent → None; null → Some(None); a value → Some(Some(v))
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

#[derive(Debug, Clone, Deserialize)]
pub struct ResultDoc {
    pub schema: String,
    #[serde(default)]
    pub kscen_version: Option<String>,
    #[serde(default)]
    pub origin: Option<OriginDoc>,
    pub scenario: ScenarioDoc,
    #[serde(default)]
    pub environment: Option<EnvironmentDoc>,
    #[serde(default)]
    pub started_at: Option<String>,
    #[serde(default)]
    pub ended_at: Option<String>,
    #[serde(default)]
    pub duration_s: Option<f64>,
    pub outcome: OutcomeDoc,
    #[serde(default)]
    pub producer_properties: Vec<serde_json::Value>,
    #[serde(default)]
    pub phases: Vec<PhaseDoc>,
    #[serde(default)]
    pub totals: TotalsDoc,
    #[serde(default)]
    pub timeline: Vec<PointDoc>,
    #[serde(default)]
    pub events: Vec<EventDoc>,
    #[serde(default)]
    pub custom_histograms: BTreeMap<String, HistogramDoc>,
    #[serde(default)]
    pub figures: BTreeMap<String, FigureDoc>,
    #[serde(default)]
    pub thresholds: Vec<ThresholdDoc>,
    #[serde(default)]
    pub replication: Vec<ReplicationDoc>,
    /// the run's consume jobs and each group's verdict, read with the types that write them
    #[serde(default)]
    pub consumers: Vec<super::result::JobConsumption>,
    #[serde(default)]
    pub groups: BTreeMap<String, crate::verify::group_ledger::GroupVerdict>,
    #[serde(default)]
    pub alerts: Option<crate::watch::alerts::AlertsResult>,
    #[serde(default)]
    pub mm2_metrics: Option<crate::watch::mm2_metrics::Mm2MetricsResult>,
    #[serde(default)]
    pub not_measured: Vec<NotMeasuredDoc>,
    /// present in a snapshot of a run that never finished, read with the type that writes it
    #[serde(default)]
    pub incomplete: Option<super::result::Incomplete>,
}

impl ResultDoc {
    pub fn is_imported(&self) -> bool {
        self.origin.as_ref().is_some_and(|o| o.kind == "imported")
    }

    /// How a snapshot of a run that never finished says so, for every report and comparison.
    pub fn incomplete_label(&self) -> Option<String> {
        self.incomplete.as_ref().map(|i| {
            format!(
                "INCOMPLETE: snapshot at {:.1} s, the run never finished (kscen killed or its machine lost)",
                i.snapshot_at_s
            )
        })
    }

    pub fn plugin_name(&self) -> Option<&str> {
        self.scenario.plugin.as_ref().map(|p| p.name.as_str())
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct OriginDoc {
    pub kind: String,
    #[serde(default)]
    pub tool: Option<String>,
    #[serde(default)]
    pub files: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ScenarioDoc {
    pub name: String,
    #[serde(default)]
    pub file: Option<String>,
    #[serde(default)]
    pub plugin: Option<PluginDoc>,
    #[serde(default)]
    pub params: Option<ParamsDoc>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PluginDoc {
    pub name: String,
    #[serde(default)]
    pub sha256: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ParamsDoc {
    pub time_scale: f64,
    #[serde(default)]
    pub values: BTreeMap<String, serde_json::Value>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct EnvironmentDoc {
    pub embedded_cluster: bool,
    #[serde(default)]
    pub profile: Option<String>,
    #[serde(default)]
    pub clusters: BTreeMap<String, String>,
    /// absent in results written before kscen recorded it, and in imported ones
    #[serde(default)]
    pub host: Option<crate::report::result::HostInfo>,
    #[serde(default)]
    pub kafka_versions: crate::deployment::kafka_versions::KafkaVersions,
}

#[derive(Debug, Clone, Deserialize)]
pub struct OutcomeDoc {
    pub status: String,
    #[serde(default)]
    pub failure: Option<FailureDoc>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct FailureDoc {
    pub kind: String,
    #[serde(default)]
    pub message: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PhaseDoc {
    pub name: String,
    #[serde(default)]
    pub start_s: Option<f64>,
    #[serde(default)]
    pub end_s: Option<f64>,
    /// absent: not known; null: unthrottled
    #[serde(default, deserialize_with = "present")]
    pub target_rate: Option<Option<f64>>,
    #[serde(default)]
    pub achieved_rate: Option<f64>,
    #[serde(default)]
    pub mb_per_s: Option<f64>,
    #[serde(default)]
    pub sent: Option<u64>,
    #[serde(default)]
    pub acked: Option<u64>,
    #[serde(default)]
    pub failed: Option<u64>,
    #[serde(default)]
    pub bytes: Option<u64>,
    #[serde(default)]
    pub queue_full: Option<u64>,
    #[serde(default)]
    pub schedule_lag_us: Option<HistogramDoc>,
    #[serde(default)]
    pub service_us: Option<HistogramDoc>,
    #[serde(default)]
    pub corrected_us: Option<HistogramDoc>,
    #[serde(default)]
    pub replicated_us: Option<HistogramDoc>,
    /// absent in results written before custom histograms were kept per phase
    #[serde(default)]
    pub custom_histograms: BTreeMap<String, HistogramDoc>,
    #[serde(default)]
    pub imported: Option<ImportedDoc>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct HistogramDoc {
    pub count: u64,
    pub min: u64,
    pub mean: f64,
    pub p50: u64,
    pub p95: u64,
    pub p99: u64,
    pub p999: u64,
    pub max: u64,
    /// the histogram itself (HdrHistogram V2 + DEFLATE, base64); absent in imported results
    #[serde(default)]
    pub hdr: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ImportedDoc {
    pub file: String,
    /// absent in results imported before a log could hold several runs
    #[serde(default)]
    pub lines: Option<crate::import::perf_test::Lines>,
    /// no final line in the log for this run: `figures` and `final_line` are absent
    #[serde(default)]
    pub partial: bool,
    #[serde(default)]
    pub final_line: Option<String>,
    /// the importer's own type: what it writes is what is read back
    #[serde(flatten)]
    pub figures: Option<crate::import::perf_test::FinalFigures>,
    #[serde(default)]
    pub elapsed_s: Option<f64>,
    #[serde(default)]
    pub command: Option<CommandDoc>,
    #[serde(default)]
    pub intervals: Vec<crate::import::perf_test::Interval>,
    #[serde(default)]
    pub producer_metrics: BTreeMap<String, String>,
    #[serde(default)]
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct CommandDoc {
    pub line: String,
    #[serde(default)]
    pub record_size: Option<u64>,
    #[serde(default)]
    pub num_records: Option<u64>,
    #[serde(default)]
    pub throughput: Option<f64>,
    #[serde(default)]
    pub producer_props: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct TotalsDoc {
    #[serde(default)]
    pub sent: Option<u64>,
    #[serde(default)]
    pub acked: Option<u64>,
    #[serde(default)]
    pub failed: Option<u64>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PointDoc {
    pub t_s: f64,
    #[serde(default)]
    pub phase: Option<String>,
    pub acked_per_s: f64,
    pub mb_per_s: f64,
    pub service_avg_ms: f64,
    pub service_max_ms: f64,
    pub corrected_p99_ms: f64,
    pub backlog: u64,
    #[serde(default)]
    pub replication_lag_records: Option<u64>,
    #[serde(default)]
    pub replication_lag_ms: Option<u64>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct EventDoc {
    pub t_ms: f64,
    pub kind: String,
    pub message: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct FigureDoc {
    pub value: f64,
    pub unit: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ThresholdDoc {
    pub threshold: String,
    #[serde(default)]
    pub phase: Option<String>,
    pub verdict: String,
    #[serde(default)]
    pub measured: Option<f64>,
    #[serde(default)]
    pub limit: Option<f64>,
    #[serde(default)]
    pub margin: Option<f64>,
    #[serde(default)]
    pub unit: String,
    #[serde(default)]
    pub note: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ReplicationDoc {
    pub topic: String,
    pub remote_topic: String,
    pub target_cluster: String,
    pub acked: u64,
    pub replicated: u64,
    pub duplicates: u64,
    pub out_of_order: u64,
    pub lost: u64,
    pub lag_records: u64,
    pub lag_ms: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct NotMeasuredDoc {
    pub field: String,
    pub reason: String,
}
