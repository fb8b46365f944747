//! One run, end to end, in three stages, each in its own module: `prepare` (plugin, parameters,
//! grants, the deployment's clients: everything that can refuse the run), `execute` (the clock,
//! the plugin with its watchers and live output, every job stopped and flushed) and `conclude`
//! (the result, its thresholds judged, the console summary, the result file). `collect` turns the
//! run's figures into its result, for `conclude` and for the snapshots `execute` writes.

mod abort_on_fail;
mod collect;
pub mod command;
mod conclude;
mod execute;
mod prepare;
mod snapshots;

use std::path::PathBuf;

use anyhow::Result;

use crate::config::client_props::Property;
use crate::config::profile::Profile;
use crate::config::scenario::ScenarioFile;
use crate::engine::Host;
use crate::result::PluginFailure;
use crate::result::RunResult;

pub struct RunRequest {
    pub scenario: ScenarioFile,
    pub profile: Option<(String, Profile)>,
    pub overrides: Vec<(String, String)>,
    pub producer_properties: Vec<Property>,
    /// `--consumer.config`, `--consumer-props`: for every consume job of the run
    pub consumer_properties: Vec<Property>,
    /// fault targets granted on the command line (`--grant-fault`)
    pub granted_faults: Vec<String>,
    /// thresholds from the command line (`--threshold`), on top of the scenario file's
    pub thresholds: Vec<crate::thresholds::Threshold>,
    /// stop as soon as a threshold fails (`--abort-on-fail`, or the scenario file's)
    pub abort_on_fail: bool,
    pub json: Option<PathBuf>,
    /// `--metrics-addr`: serve live Prometheus metrics here during the run
    pub metrics_addr: Option<std::net::SocketAddr>,
    /// `--mirror`: the MirrorMaker 2 mirror to measure, over the scenario file's `mirror`
    pub mirror: Option<String>,
    /// the connector and worker settings a campaign step put in force for the run
    pub deployment_settings: crate::result::DeploymentSettings,
    /// the deployment's alerts to watch: `--alerts` over the scenario file's `[alerts]`
    pub alerts: Option<crate::watch::alerts::AlertWatch>,
    /// MirrorMaker 2's metrics to sample: `--mm2-metrics` over the scenario's `[mm2_metrics]`
    pub mm2_metrics: Option<crate::watch::mm2_metrics::Mm2MetricsWatch>,
    /// `--shard` and `--start-at`: the run is one shard of several
    pub shard: Option<crate::shard::ShardPlan>,
}

/// How the run ended, for the exit code.
#[derive(Debug, Clone, PartialEq)]
pub enum RunEnd {
    Completed,
    PluginFailed(PluginFailure),
    /// `abort_on_fail`: a threshold failed while the run went on
    Aborted(String),
}

/// A run in its three stages: [`prepare`](prepare::prepare) refuses it before the plugin
/// starts, [`execute`](execute::execute) runs the plugin and flushes its jobs, and
/// [`conclude`](conclude::conclude) turns the final figures into the result.
pub async fn run(host: &Host, request: RunRequest) -> Result<(RunEnd, RunResult)> {
    let prepared = prepare::prepare(host, &request).await?;
    let executed = execute::execute(host, prepared, &request).await?;
    conclude::conclude(executed, request.json.as_deref())
}
