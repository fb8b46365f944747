//! Grants: what a plugin may touch. Deny by default; the effective grant is what the plugin
//! asked for in `describe`, that the environment has, and — for faults — that the operator
//! granted explicitly. Within a granted cluster, the profile may narrow the topics (`topics`).
//! Pure, so it is tested without wasm.

pub mod topics;

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{bail, Result};

use self::topics::TopicPatterns;
use crate::error::{HostError, HostResult};

/// A capability as the plugin requests it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(tag = "kind", content = "name", rename_all = "kebab-case")]
pub enum Request {
    Cluster(String),
    Connect,
    Fault(String),
    Probe(String),
}

/// What the environment (the profile, or the embedded default) offers.
#[derive(Debug, Clone, Default)]
pub struct Offer<'a> {
    pub clusters: Vec<&'a str>,
    pub connect: bool,
    pub fault_targets: Vec<&'a str>,
    pub probes: Vec<&'a str>,
    /// The profile's topic patterns per cluster; a cluster without any allows every topic.
    pub topics: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Grants {
    clusters: BTreeSet<String>,
    connect: bool,
    faults: BTreeSet<String>,
    probes: BTreeSet<String>,
    /// topic patterns of the granted clusters that have some
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    topics: BTreeMap<String, TopicPatterns>,
    /// requested and present, but not granted by the operator: calls are denied
    #[serde(skip)]
    withheld_faults: BTreeSet<String>,
}

impl Grants {
    /// Grants each request the environment can satisfy. A request for something the environment
    /// lacks fails the run before it starts; a fault the operator did not grant is withheld.
    pub fn compute(
        requests: &[Request],
        offer: &Offer,
        operator_faults: &[String],
    ) -> Result<Grants> {
        let mut grants = Grants::default();
        let missing = |what: &str, name: &str, have: &[&str]| -> anyhow::Error {
            anyhow::anyhow!(
                "the plugin needs {what} {name:?}, which this environment does not have (it has: {}); \
                 run with a --profile that names it",
                if have.is_empty() { "none".to_string() } else { have.join(", ") }
            )
        };
        for request in requests {
            match request {
                Request::Cluster(name) if offer.clusters.contains(&name.as_str()) => {
                    grants.clusters.insert(name.clone());
                    if let Some(patterns) = offer.topics.get(name) {
                        let patterns = TopicPatterns::new(patterns.clone());
                        grants.topics.insert(name.clone(), patterns);
                    }
                }
                Request::Cluster(name) => return Err(missing("cluster", name, &offer.clusters)),
                Request::Connect if offer.connect => grants.connect = true,
                Request::Connect => bail!(
                    "the plugin needs a Kafka Connect cluster; the profile has no [connect] section \
                     (the embedded default has none: use --profile lab)"
                ),
                Request::Fault(name) if !offer.fault_targets.contains(&name.as_str()) => {
                    return Err(missing("fault target", name, &offer.fault_targets));
                }
                Request::Fault(name) if operator_faults.contains(name) => {
                    grants.faults.insert(name.clone());
                }
                Request::Fault(name) => {
                    grants.withheld_faults.insert(name.clone());
                }
                Request::Probe(name) if offer.probes.contains(&name.as_str()) => {
                    grants.probes.insert(name.clone());
                }
                Request::Probe(name) => return Err(missing("probe", name, &offer.probes)),
            }
        }
        Ok(grants)
    }

    pub fn clusters(&self) -> impl Iterator<Item = &str> {
        self.clusters.iter().map(String::as_str)
    }

    pub fn check_cluster(&self, name: &str) -> HostResult<()> {
        if self.clusters.contains(name) {
            Ok(())
        } else {
            Err(HostError::Denied(format!(
                "cluster {name:?} was not requested by the plugin's describe(); add capability cluster({name:?})"
            )))
        }
    }

    /// The cluster is granted and, where the profile lists topic patterns, one allows `topic`.
    pub fn check_topic(&self, cluster: &str, topic: &str) -> HostResult<()> {
        self.check_cluster(cluster)?;
        match self.topics.get(cluster) {
            Some(patterns) => patterns.check(cluster, topic),
            None => Ok(()),
        }
    }

    pub fn check_connect(&self) -> HostResult<()> {
        if self.connect {
            Ok(())
        } else {
            Err(HostError::Denied(
                "Connect access was not requested by the plugin's describe()".into(),
            ))
        }
    }

    pub fn check_fault(&self, target: &str) -> HostResult<()> {
        if self.faults.contains(target) {
            Ok(())
        } else if self.withheld_faults.contains(target) {
            Err(HostError::Denied(format!(
                "fault target {target:?} was not granted by the operator (grant it with --grant-fault {target} \
                 or [grants] faults in the scenario file)"
            )))
        } else {
            Err(HostError::Denied(format!(
                "fault target {target:?} was not requested by the plugin's describe()"
            )))
        }
    }

    pub fn check_probe(&self, name: &str) -> HostResult<()> {
        if self.probes.contains(name) {
            Ok(())
        } else {
            Err(HostError::Denied(format!(
                "probe {name:?} was not requested by the plugin's describe()"
            )))
        }
    }

    pub fn faults(&self) -> impl Iterator<Item = &str> {
        self.faults.iter().map(String::as_str)
    }

    /// Faults the plugin asked for that the operator has not granted.
    pub fn withheld_faults(&self) -> impl Iterator<Item = &str> {
        self.withheld_faults.iter().map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lab<'a>() -> Offer<'a> {
        Offer {
            clusters: vec!["source", "target"],
            connect: true,
            fault_targets: vec!["worker-1", "worker-2"],
            probes: vec!["worker-1"],
            topics: BTreeMap::from([("target".to_string(), vec!["source.test-*".to_string()])]),
        }
    }

    #[test]
    fn the_profiles_topic_patterns_narrow_a_granted_cluster() {
        let requests = [
            Request::Cluster("source".into()),
            Request::Cluster("target".into()),
        ];
        let grants = Grants::compute(&requests, &lab(), &[]).unwrap();
        assert!(
            grants.check_topic("source", "anything").is_ok(),
            "no patterns: any topic"
        );
        assert!(grants.check_topic("target", "source.test-perf").is_ok());
        assert!(matches!(
            grants.check_topic("target", "payments"),
            Err(HostError::Denied(m)) if m.contains("clusters.target.topics")
        ));
        let source_only = Grants::compute(&requests[..1], &lab(), &[]).unwrap();
        assert!(
            matches!(source_only.check_topic("target", "source.test-perf"), Err(HostError::Denied(m)) if m.contains("not requested")),
            "an ungranted cluster stays denied whatever its patterns"
        );
    }

    #[test]
    fn a_plugin_gets_only_the_clusters_it_asked_for() {
        let grants = Grants::compute(&[Request::Cluster("source".into())], &lab(), &[]).unwrap();
        assert!(grants.check_cluster("source").is_ok());
        assert!(matches!(
            grants.check_cluster("target"),
            Err(HostError::Denied(_))
        ));
        assert!(grants.check_connect().is_err());
    }

    #[test]
    fn asking_for_something_missing_fails_before_the_run() {
        let embedded = Offer {
            clusters: vec!["source"],
            ..Offer::default()
        };
        let error =
            Grants::compute(&[Request::Cluster("target".into())], &embedded, &[]).unwrap_err();
        assert!(error.to_string().contains("cluster \"target\""), "{error}");
        let error = Grants::compute(&[Request::Connect], &embedded, &[]).unwrap_err();
        assert!(
            error.to_string().contains("no [connect] section"),
            "{error}"
        );
        let error = Grants::compute(&[Request::Fault("worker-9".into())], &lab(), &[]).unwrap_err();
        assert!(
            error.to_string().contains("fault target \"worker-9\""),
            "{error}"
        );
    }

    #[test]
    fn faults_need_the_operators_grant_too() {
        let requests = [
            Request::Fault("worker-1".into()),
            Request::Fault("worker-2".into()),
        ];
        let grants = Grants::compute(&requests, &lab(), &["worker-1".to_string()]).unwrap();
        assert!(grants.check_fault("worker-1").is_ok());
        let denied = grants.check_fault("worker-2").unwrap_err().to_string();
        assert!(denied.contains("not granted by the operator"), "{denied}");
        assert!(grants.check_fault("worker-3").is_err());
        assert_eq!(grants.withheld_faults().collect::<Vec<_>>(), ["worker-2"]);
    }

    #[test]
    fn nothing_requested_means_nothing_granted() {
        let grants = Grants::compute(&[], &lab(), &["worker-1".to_string()]).unwrap();
        assert!(grants.check_cluster("source").is_err());
        assert!(grants.check_fault("worker-1").is_err());
        assert!(grants.check_probe("worker-1").is_err());
    }
}
