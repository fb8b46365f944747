//! The Kafka version each cluster's brokers run, as their exporters say it
//! (`kafka_server_app_version{version=...}`, the lab's rule for the brokers' `app-info` MBean):
//! read at the start of a run and kept in its result, so runs on different versions are told
//! apart. A broker of the profile is read through the probe of the same name; a broker without
//! one, or whose exporter does not answer or say, adds nothing.

use std::collections::{BTreeMap, BTreeSet};

use crate::config::profile::Profile;
use crate::probe::{Probes, Sample};

/// The sample that carries a broker's version as its `version` label.
const APP_VERSION: &str = "kafka_server_app_version";

/// Per cluster, the versions its brokers run (several during a rolling upgrade).
pub type KafkaVersions = BTreeMap<String, BTreeSet<String>>;

/// Scrapes every broker's exporter at once: a JMX scrape takes its broker a fraction of a second,
/// which one after the other would add to the start of every run.
pub async fn read(profile: &Profile, probes: &Probes) -> KafkaVersions {
    let probe_names = probes.names();
    let mut scrapes = tokio::task::JoinSet::new();
    for (broker, process) in &profile.brokers {
        let Some(cluster) = &process.cluster else {
            continue;
        };
        if !probe_names.contains(&broker.as_str()) {
            continue;
        }
        let (probes, broker, cluster) = (probes.clone(), broker.clone(), cluster.clone());
        scrapes.spawn(async move {
            let samples = probes.scrape(&broker, APP_VERSION).await.ok()?;
            Some((cluster, version_of(&samples)?.to_string()))
        });
    }
    let mut versions = KafkaVersions::new();
    while let Some(done) = scrapes.join_next().await {
        if let Ok(Some((cluster, version))) = done {
            versions.entry(cluster).or_default().insert(version);
        }
    }
    versions
}

fn version_of(samples: &[Sample]) -> Option<&str> {
    samples
        .iter()
        .find(|sample| sample.name == APP_VERSION)
        .and_then(|sample| sample.label("version"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_version_is_the_label_of_the_app_info_sample() {
        let sample = |name: &str, version: &str| Sample {
            name: name.into(),
            labels: vec![("version".into(), version.into())],
            value: 1.0,
        };
        let samples = [
            sample("kafka_server_app_versions_other", "0.0"),
            sample(APP_VERSION, "4.3.1"),
        ];
        assert_eq!(version_of(&samples), Some("4.3.1"));
        assert_eq!(version_of(&samples[..1]), None);
    }
}
