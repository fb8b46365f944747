//! `kscen.result/v1`, the result of a run (docs/result-schema.md): one set of types that
//! `kscen run` and `kscen import` write and every report, comparison, campaign and threshold
//! reads. What a result may lack (an imported run, a file from an older kscen) is optional and
//! reads as "not measured", never as zero. Unknown fields are ignored: v1 only grows.

mod environment;
mod file;
mod imported;
mod jobs;
mod outcome;
mod phases;
mod scenario;
mod thresholds;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use environment::{DeploymentSettings, Environment, HostInfo};
pub use file::{load, write_json, LoadedResult};
pub use imported::{ImportedFigures, NotMeasured, Origin, IMPORTED};
pub use jobs::{JobConsumption, JobReplication};
pub use outcome::{Incomplete, Outcome, PluginFailure, SNAPSHOT_REASON};
pub use phases::{Counts, HistogramResult, PhaseResult};
pub use scenario::{LoadedFrom, ParamsUsed, PluginMeta, ScenarioMeta};
pub use thresholds::{ThresholdResult, Verdict};

use crate::config::client_props::PropertyNote;
use crate::deployment::mirrors::MirrorSummary;
use crate::metrics::events::Event;
use crate::metrics::timeline::TimelinePoint;
use crate::metrics::Figure;
use crate::verify::group_ledger::GroupVerdict;
use crate::watch::alerts::AlertsResult;
use crate::watch::mm2_metrics::Mm2MetricsResult;

pub const SCHEMA: &str = "kscen.result/v1";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunResult {
    pub schema: String,
    #[serde(default)]
    pub kscen_version: Option<String>,
    /// present only in imported results; a result without `origin` is a `kscen run`'s
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<Origin>,
    pub scenario: ScenarioMeta,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<Environment>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<chrono::DateTime<chrono::Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<chrono::DateTime<chrono::Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_s: Option<f64>,
    pub outcome: Outcome,
    #[serde(default)]
    pub producer_properties: Vec<PropertyNote>,
    /// the producer settings in force (librdkafka names, secrets redacted): the scenario file's
    /// `[producer]`, then `--producer.config`, then `--producer-props`
    #[serde(default)]
    pub producer_settings: BTreeMap<String, String>,
    #[serde(default)]
    pub phases: Vec<PhaseResult>,
    #[serde(default)]
    pub totals: Counts,
    #[serde(default)]
    pub timeline: Vec<TimelinePoint>,
    #[serde(default)]
    pub events: Vec<Event>,
    #[serde(default)]
    pub custom_histograms: BTreeMap<String, HistogramResult>,
    /// named results the plugin reported (`metrics.figure`)
    #[serde(default)]
    pub figures: BTreeMap<String, Figure>,
    /// the pass/fail criteria, each with the measured value
    #[serde(default)]
    pub thresholds: Vec<ThresholdResult>,
    /// per-record verdicts of the loads that tracked replication
    #[serde(default)]
    pub replication: Vec<JobReplication>,
    /// the MirrorMaker 2 mirror the run measured, when it used one
    #[serde(default)]
    pub mirror: Option<MirrorSummary>,
    /// the consumer settings in force for consume jobs (librdkafka names, secrets redacted):
    /// `--consumer.config`, then `--consumer-props`; and what happened to the keys given
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub consumer_properties: Vec<PropertyNote>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub consumer_settings: BTreeMap<String, String>,
    /// every consume job's figures
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub consumers: Vec<JobConsumption>,
    /// per consumer group, its verdict on this run's stamped records over all its jobs
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub groups: BTreeMap<String, GroupVerdict>,
    /// the deployment's alerts watched during the run (`--alerts`, `[alerts]`)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alerts: Option<AlertsResult>,
    /// MirrorMaker 2's own metrics sampled during the run (`--mm2-metrics`, `[mm2_metrics]`)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mm2_metrics: Option<Mm2MetricsResult>,
    /// what an imported result does not hold, and why
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_measured: Vec<NotMeasured>,
    /// present only in a snapshot written while the run went on: the run never wrote its final
    /// result (kscen killed, machine lost) when this is what is left on disk
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incomplete: Option<Incomplete>,
    /// present in a shard's result (`kscen run --shard I/N`) and in the merge of all N
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<Sharded>,
}

/// Which part of a sharded run a result holds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Sharded {
    /// the shard's index; absent in the merge of all the shards
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<u32>,
    pub count: u32,
    /// the instant every shard started at, on which their clocks agree
    pub start_at: chrono::DateTime<chrono::Utc>,
}

impl RunResult {
    pub fn is_imported(&self) -> bool {
        self.origin.as_ref().is_some_and(|o| o.kind == IMPORTED)
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

#[cfg(test)]
mod tests;
