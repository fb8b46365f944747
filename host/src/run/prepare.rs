//! Stage 1 of a run: everything that can refuse it before the plugin starts. The component loads
//! and describes itself, its parameters resolve, the profile's clusters, Connect, fault targets
//! and probes are built, the plugin's requests are granted, the granted clusters answer, and the
//! producer and consumer properties are mapped. Nothing here measures: the run's clock has not
//! started.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};

use super::RunRequest;
use crate::cluster::Clusters;
use crate::config::client_props::MappedConfig;
use crate::config::client_props::{map_consumer_properties, map_producer_properties, Property};
use crate::config::new_topics::NewTopics;
use crate::config::params::{self, ResolvedParams};
use crate::connect::ConnectClient;
use crate::engine::{Host, Plugin, PluginInfo};
use crate::faults::FaultTargets;
use crate::plugin_path;
use crate::policy::{Grants, Offer};
use crate::probe::Probes;
use crate::result::{self, Environment};
use crate::thresholds::Threshold;

/// A run that may start: its plugin, what it was granted, where it runs.
pub struct Prepared {
    pub plugin: Plugin,
    pub plugin_file: PathBuf,
    pub info: PluginInfo,
    pub params: ResolvedParams,
    pub environment: Environment,
    /// the scenario file's, then the command line's
    pub thresholds: Vec<Threshold>,
    pub capabilities: Capabilities,
}

/// What the plugin's host calls will act on, built from the profile (or the embedded cluster).
pub struct Capabilities {
    pub clusters: Clusters,
    pub connect: Option<ConnectClient>,
    pub faults: FaultTargets,
    pub probes: Probes,
    pub grants: Grants,
    /// `--producer.config` / `--producer-props` over the scenario's `[producer]`, mapped
    pub producer_config: MappedConfig,
    /// `--consumer.config` / `--consumer-props`, mapped
    pub consumer_config: MappedConfig,
    /// how topics are created on each cluster: the scenario's `[new_topics]` over the profile's
    pub new_topics: BTreeMap<String, NewTopics>,
}

pub async fn prepare(host: &Host, request: &RunRequest) -> Result<Prepared> {
    let scenario = &request.scenario;
    let plugin_file = plugin_path::resolve(&scenario.plugin, scenario.path.parent())
        .with_context(|| format!("scenario {}", scenario.path.display()))?;
    let plugin = host.load(&plugin_file)?;
    let info = plugin.describe(host).await?;
    let params =
        params::resolve(&info.params, &scenario.params, &request.overrides).with_context(|| {
            format!(
                "scenario {} (plugin {})",
                scenario.path.display(),
                info.name
            )
        })?;

    let clusters = match &request.profile {
        Some((_, profile)) => Clusters::from_profile(profile),
        None => {
            let clusters = Clusters::embedded()?;
            eprintln!(
                "No --profile given: using librdkafka's embedded mock cluster as `source` ({}). Pass --profile for real clusters.",
                clusters.bootstrap_servers(crate::cluster::EMBEDDED_NAME).unwrap_or("?")
            );
            clusters
        }
    };
    let profile = request.profile.as_ref().map(|(_, profile)| profile);
    let connect = match profile {
        Some(profile) => ConnectClient::from_profile(profile)?,
        None => None,
    };
    let faults = match profile {
        Some(profile) => FaultTargets::try_from_profile(profile)?,
        None => FaultTargets::default(),
    };
    let probes = match profile {
        Some(profile) => Probes::load(profile)?,
        None => Probes::default(),
    };
    let thresholds: Vec<Threshold> = scenario
        .thresholds
        .iter()
        .chain(&request.thresholds)
        .cloned()
        .collect();
    check_alert_thresholds(&request.alerts, &thresholds)?;
    // A misnamed or silent Prometheus is an error naming it, not a run whose alert criteria are
    // all "not measured".
    if let Some(watch) = &request.alerts {
        crate::watch::alerts::check(watch, &probes).await?;
    }
    if let Some(watch) = &request.mm2_metrics {
        crate::watch::mm2_metrics::check(watch, &probes).await?;
    }
    let fault_targets = faults.targets();
    let offer = Offer {
        clusters: clusters.names().collect(),
        connect: connect.is_some(),
        fault_targets: fault_targets.iter().map(|t| t.name.as_str()).collect(),
        probes: probes.names(),
        topics: profile
            .map(|p| {
                p.clusters
                    .iter()
                    .filter_map(|(name, c)| Some((name.clone(), c.topics.clone()?)))
                    .collect()
            })
            .unwrap_or_default(),
    };
    let operator_faults: Vec<String> = scenario
        .granted_faults
        .iter()
        .chain(&request.granted_faults)
        .cloned()
        .collect();
    let grants = Grants::compute(&info.requests, &info.optional, &offer, &operator_faults)
        .with_context(|| format!("plugin {} cannot run here", info.name))?;
    if !grants.unavailable().is_empty() {
        let unavailable: Vec<String> = grants
            .unavailable()
            .iter()
            .map(ToString::to_string)
            .collect();
        eprintln!(
            "note: the plugin uses {} when the environment has it; this one does not, so it runs without",
            unavailable.join(", ")
        );
    }
    for withheld in grants.withheld_faults() {
        eprintln!(
            "warning: the plugin asks for fault target {withheld:?}, which is not granted: its faults will be \
             denied (grant with --grant-fault {withheld})"
        );
    }
    if let Some((profile_name, _)) = &request.profile {
        check_clusters_answer(&clusters, grants.clusters(), profile_name).await?;
    }
    // The scenario file's settings first: the command line's win.
    let producer_properties: Vec<Property> = scenario
        .producer
        .iter()
        .chain(&request.producer_properties)
        .cloned()
        .collect();
    let producer_config = map_producer_properties(&producer_properties);
    for note in producer_config.not_applied() {
        eprintln!("warning: producer property {note}");
    }
    let consumer_config = map_consumer_properties(&request.consumer_properties);
    for note in consumer_config.not_applied() {
        eprintln!("warning: consumer property {note}");
    }

    let environment = Environment {
        host: Some(result::HostInfo::read()),
        embedded_cluster: clusters.is_embedded(),
        profile: request.profile.as_ref().map(|(name, _)| name.clone()),
        clusters: clusters
            .names()
            .map(|n| {
                (
                    n.to_string(),
                    clusters
                        .bootstrap_servers(n)
                        .unwrap_or_default()
                        .to_string(),
                )
            })
            .collect(),
        kafka_versions: match profile {
            Some(profile) => crate::deployment::kafka_versions::read(profile, &probes).await,
            None => Default::default(),
        },
        deployment_settings: request.deployment_settings.clone(),
    };
    let new_topics = clusters
        .names()
        .map(|name| {
            let profile_settings = profile
                .and_then(|p| p.cluster(name))
                .map(|c| c.new_topics.clone())
                .unwrap_or_default();
            (
                name.to_string(),
                scenario.new_topics.over(&profile_settings),
            )
        })
        .collect();
    Ok(Prepared {
        plugin,
        plugin_file,
        info,
        params,
        environment,
        thresholds,
        capabilities: Capabilities {
            clusters,
            connect,
            faults,
            probes,
            grants,
            producer_config,
            consumer_config,
            new_topics,
        },
    })
}

/// A threshold on alerts needs alerts to read: refused before the run rather than "not measured"
/// after it.
fn check_alert_thresholds(
    watch: &Option<crate::watch::alerts::AlertWatch>,
    thresholds: &[Threshold],
) -> Result<()> {
    if watch.is_none() {
        if let Some(threshold) = thresholds.iter().find(|t| t.metric.reads_alerts()) {
            bail!(
                "the threshold {:?} reads alerts, and the run watches none: name the profile's \
                 Prometheus probe with --alerts PROBE or [alerts] probe = \"PROBE\" in the scenario file",
                threshold.text
            );
        }
    }
    Ok(())
}

/// Every cluster the plugin was granted answers before the plugin starts, so an unreachable or
/// misconfigured cluster is one clear error naming it rather than a timeout mid-scenario.
async fn check_clusters_answer<'a>(
    clusters: &Clusters,
    granted: impl Iterator<Item = &'a str>,
    profile: &str,
) -> Result<()> {
    for name in granted {
        if let Err(why) = clusters.check_reachable(name).await {
            bail!(
                "cluster {name:?} ({}) does not answer: {why}. Check clusters.{name} in the profile \
                 {profile} (bootstrap_servers; security.protocol, SASL and TLS properties for a \
                 secured cluster) and that its brokers run",
                clusters.bootstrap_servers(name).unwrap_or("?")
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn thresholds(texts: &[&str]) -> Vec<Threshold> {
        texts
            .iter()
            .map(|t| crate::thresholds::expr::parse(t).unwrap())
            .collect()
    }

    #[test]
    fn a_threshold_on_alerts_without_alerts_to_watch_is_refused_with_what_to_pass() {
        let refused = check_alert_thresholds(
            &None,
            &thresholds(&["totals.failed == 0", "alerts.fired == 0"]),
        )
        .unwrap_err()
        .to_string();
        assert!(
            refused.contains("\"alerts.fired == 0\" reads alerts"),
            "{refused}"
        );
        assert!(refused.contains("--alerts PROBE"), "{refused}");
        check_alert_thresholds(&None, &thresholds(&["totals.failed == 0"])).unwrap();
    }
}
