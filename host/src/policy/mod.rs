//! Grants: what a plugin may touch. Deny by default; the effective grant is what the plugin
//! asked for in `describe`, that the environment has, and — for faults — that the operator
//! granted explicitly. A required capability the environment lacks stops the run before it
//! starts; an optional one (WIT 0.5.0) is simply not granted, and the plugin asks which it got. Within a granted cluster, the topics are those both the plugin's declared
//! patterns (`topic` requests, if it made any for that cluster) and the profile's (`topics`, if
//! set) allow. Pure, so it is tested without wasm.

pub mod topics;

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{bail, ensure, Result};

use self::topics::{SetBy, TopicPatterns};
use crate::error::{HostError, HostResult};

/// A capability as the plugin requests it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(tag = "kind", content = "name", rename_all = "kebab-case")]
pub enum Request {
    Cluster(String),
    Connect,
    Fault(String),
    Probe(String),
    /// Topics matching `pattern` on a cluster the plugin also requests; once it declares one for a
    /// cluster, only topics matching one of its patterns there are allowed.
    Topic {
        cluster: String,
        pattern: String,
    },
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
    /// the profile's topic patterns of the granted clusters that have some
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    topics: BTreeMap<String, TopicPatterns>,
    /// the plugin's declared topic patterns, per cluster it declared some for
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    declared_topics: BTreeMap<String, TopicPatterns>,
    /// requested and present, but not granted by the operator: calls are denied
    #[serde(skip)]
    withheld_faults: BTreeSet<String>,
    /// optional capabilities the environment does not have
    #[serde(skip_serializing_if = "Vec::is_empty")]
    unavailable: Vec<Request>,
}

impl std::fmt::Display for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Request::Cluster(name) => write!(f, "cluster {name}"),
            Request::Connect => write!(f, "connect"),
            Request::Fault(name) => write!(f, "fault {name}"),
            Request::Probe(name) => write!(f, "probe {name}"),
            Request::Topic { cluster, pattern } => write!(f, "topic {pattern} on {cluster}"),
        }
    }
}

impl Grants {
    /// Grants each request the environment can satisfy. A required capability the environment
    /// lacks fails the run before it starts, an optional one is left out; a fault the operator
    /// did not grant is withheld.
    pub fn compute(
        required: &[Request],
        optional: &[Request],
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
        let asked = |cluster: &String| {
            let request = Request::Cluster(cluster.clone());
            required.contains(&request) || optional.contains(&request)
        };
        let requests = required
            .iter()
            .map(|request| (request, true))
            .chain(optional.iter().map(|request| (request, false)));
        for (request, needed) in requests {
            let present = match request {
                Request::Cluster(name) => offer.clusters.contains(&name.as_str()),
                Request::Connect => offer.connect,
                Request::Fault(name) => offer.fault_targets.contains(&name.as_str()),
                Request::Probe(name) => offer.probes.contains(&name.as_str()),
                Request::Topic { .. } => true,
            };
            if !present && !needed {
                grants.unavailable.push(request.clone());
                continue;
            }
            match request {
                Request::Cluster(name) if present => {
                    grants.clusters.insert(name.clone());
                    if let Some(patterns) = offer.topics.get(name) {
                        let patterns = TopicPatterns::new(patterns.clone());
                        grants.topics.insert(name.clone(), patterns);
                    }
                }
                Request::Cluster(name) => return Err(missing("cluster", name, &offer.clusters)),
                Request::Connect if present => grants.connect = true,
                Request::Connect => bail!(
                    "the plugin needs a Kafka Connect cluster; the profile has no [connect] section \
                     (the embedded default has none: use --profile lab)"
                ),
                Request::Fault(name) if !present => {
                    return Err(missing("fault target", name, &offer.fault_targets));
                }
                Request::Fault(name) if operator_faults.contains(name) => {
                    grants.faults.insert(name.clone());
                }
                Request::Fault(name) => {
                    grants.withheld_faults.insert(name.clone());
                }
                Request::Probe(name) if present => {
                    grants.probes.insert(name.clone());
                }
                Request::Probe(name) => return Err(missing("probe", name, &offer.probes)),
                Request::Topic { cluster, pattern } => {
                    ensure!(
                        !pattern.is_empty(),
                        "the plugin declares an empty topic pattern on cluster {cluster:?}"
                    );
                    // Checked against the requests, not the grants so far: order does not matter.
                    ensure!(
                        asked(cluster),
                        "the plugin declares topic {pattern:?} on cluster {cluster:?} without requesting \
                         that cluster; its describe() must also ask for cluster({cluster:?})"
                    );
                    grants
                        .declared_topics
                        .entry(cluster.clone())
                        .or_default()
                        .push(pattern.clone());
                }
            }
        }
        Ok(grants)
    }

    /// Whether the run holds `request`, as the plugin asks `grants.granted`: a topic when it is
    /// declared on a granted cluster.
    pub fn holds(&self, request: &Request) -> bool {
        match request {
            Request::Cluster(name) => self.clusters.contains(name),
            Request::Connect => self.connect,
            Request::Fault(name) => self.faults.contains(name),
            Request::Probe(name) => self.probes.contains(name),
            Request::Topic { cluster, pattern } => {
                self.clusters.contains(cluster)
                    && self
                        .declared_topics
                        .get(cluster)
                        .is_some_and(|patterns| patterns.contains(pattern))
            }
        }
    }

    /// Optional capabilities the environment lacks: the plugin runs without them.
    pub fn unavailable(&self) -> &[Request] {
        &self.unavailable
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

    /// The cluster is granted and `topic` is in the intersection: allowed by one of the plugin's
    /// declared patterns (if it declared any there) and by one of the profile's (if it lists any).
    pub fn check_topic(&self, cluster: &str, topic: &str) -> HostResult<()> {
        self.check_cluster(cluster)?;
        if let Some(declared) = self.declared_topics.get(cluster) {
            declared.check(cluster, topic, SetBy::Plugin)?;
        }
        if let Some(profile) = self.topics.get(cluster) {
            profile.check(cluster, topic, SetBy::Profile)?;
        }
        Ok(())
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
        let grants = Grants::compute(&requests, &[], &lab(), &[]).unwrap();
        assert!(
            grants.check_topic("source", "anything").is_ok(),
            "no patterns: any topic"
        );
        assert!(grants.check_topic("target", "source.test-perf").is_ok());
        assert!(matches!(
            grants.check_topic("target", "payments"),
            Err(HostError::Denied(m)) if m.contains("clusters.target.topics")
        ));
        let source_only = Grants::compute(&requests[..1], &[], &lab(), &[]).unwrap();
        assert!(
            matches!(source_only.check_topic("target", "source.test-perf"), Err(HostError::Denied(m)) if m.contains("not requested")),
            "an ungranted cluster stays denied whatever its patterns"
        );
    }

    fn topic(cluster: &str, pattern: &str) -> Request {
        Request::Topic {
            cluster: cluster.into(),
            pattern: pattern.into(),
        }
    }

    #[test]
    fn declared_topics_narrow_a_cluster_the_profile_leaves_open() {
        let requests = [
            topic("source", "kscen-*"),
            Request::Cluster("source".into()),
            topic("source", "heartbeats"),
        ];
        let grants = Grants::compute(&requests, &[], &lab(), &[]).unwrap();
        assert!(grants.check_topic("source", "kscen-perf").is_ok());
        assert!(grants.check_topic("source", "heartbeats").is_ok());
        let denied = grants.check_topic("source", "payments").unwrap_err();
        assert!(
            matches!(&denied, HostError::Denied(m) if m.contains("declared in describe() (kscen-*, heartbeats)")),
            "{denied:?}"
        );
    }

    #[test]
    fn a_topic_must_pass_both_the_declared_and_the_profiles_patterns() {
        let requests = [
            Request::Cluster("target".into()),
            topic("target", "*.test-perf"),
        ];
        let grants = Grants::compute(&requests, &[], &lab(), &[]).unwrap();
        assert!(
            grants.check_topic("target", "source.test-perf").is_ok(),
            "in both"
        );
        assert!(
            matches!(grants.check_topic("target", "backup.test-perf"), Err(HostError::Denied(m)) if m.contains("clusters.target.topics")),
            "declared, but outside the profile's patterns"
        );
        assert!(
            matches!(grants.check_topic("target", "source.test-other"), Err(HostError::Denied(m)) if m.contains("declared in describe()")),
            "allowed by the profile, but not declared"
        );
    }

    #[test]
    fn declaring_topics_on_one_cluster_leaves_the_others_as_the_profile_has_them() {
        let requests = [
            Request::Cluster("source".into()),
            Request::Cluster("target".into()),
            topic("source", "kscen-*"),
        ];
        let grants = Grants::compute(&requests, &[], &lab(), &[]).unwrap();
        assert!(grants.check_topic("target", "source.test-perf").is_ok());
        assert!(grants.check_topic("target", "payments").is_err());
    }

    #[test]
    fn a_declared_topic_needs_its_cluster_requested_and_present() {
        let error = Grants::compute(&[topic("source", "kscen-*")], &[], &lab(), &[]).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("without requesting that cluster; its describe() must also ask for cluster(\"source\")"),
            "{error}"
        );
        let requests = [Request::Cluster("backup".into()), topic("backup", "x")];
        let error = Grants::compute(&requests, &[], &lab(), &[]).unwrap_err();
        assert!(error.to_string().contains("cluster \"backup\""), "{error}");
        let requests = [Request::Cluster("source".into()), topic("source", "")];
        let error = Grants::compute(&requests, &[], &lab(), &[]).unwrap_err();
        assert!(error.to_string().contains("empty topic pattern"), "{error}");
    }

    #[test]
    fn a_plugin_gets_only_the_clusters_it_asked_for() {
        let grants =
            Grants::compute(&[Request::Cluster("source".into())], &[], &lab(), &[]).unwrap();
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
            Grants::compute(&[Request::Cluster("target".into())], &[], &embedded, &[]).unwrap_err();
        assert!(error.to_string().contains("cluster \"target\""), "{error}");
        let error = Grants::compute(&[Request::Connect], &[], &embedded, &[]).unwrap_err();
        assert!(
            error.to_string().contains("no [connect] section"),
            "{error}"
        );
        let error =
            Grants::compute(&[Request::Fault("worker-9".into())], &[], &lab(), &[]).unwrap_err();
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
        let grants = Grants::compute(&requests, &[], &lab(), &["worker-1".to_string()]).unwrap();
        assert!(grants.check_fault("worker-1").is_ok());
        let denied = grants.check_fault("worker-2").unwrap_err().to_string();
        assert!(denied.contains("not granted by the operator"), "{denied}");
        assert!(grants.check_fault("worker-3").is_err());
        assert_eq!(grants.withheld_faults().collect::<Vec<_>>(), ["worker-2"]);
    }

    #[test]
    fn an_optional_capability_is_granted_when_offered_and_left_out_otherwise() {
        let optional = [
            Request::Cluster("target".into()),
            topic("target", "*.test-*"),
            Request::Connect,
            Request::Fault("worker-1".into()),
        ];
        let required = [Request::Cluster("source".into())];
        let on_lab =
            Grants::compute(&required, &optional, &lab(), &["worker-1".to_string()]).unwrap();
        assert!(optional.iter().all(|request| on_lab.holds(request)));
        assert!(on_lab.check_topic("target", "source.test-perf").is_ok());
        assert!(on_lab.unavailable().is_empty());

        let embedded = Offer {
            clusters: vec!["source"],
            ..Offer::default()
        };
        let alone = Grants::compute(&required, &optional, &embedded, &[]).unwrap();
        assert!(alone.holds(&required[0]));
        assert!(optional.iter().all(|request| !alone.holds(request)));
        assert!(matches!(
            alone.check_cluster("target"),
            Err(HostError::Denied(_))
        ));
        assert!(alone.check_connect().is_err());
        assert_eq!(
            alone.unavailable(),
            [
                Request::Cluster("target".into()),
                Request::Connect,
                Request::Fault("worker-1".into())
            ]
        );
    }

    #[test]
    fn an_optional_fault_still_needs_the_operators_grant() {
        let optional = [Request::Fault("worker-1".into())];
        let grants = Grants::compute(&[], &optional, &lab(), &[]).unwrap();
        assert!(!grants.holds(&optional[0]));
        assert!(
            grants.unavailable().is_empty(),
            "it is there, only withheld"
        );
        assert_eq!(grants.withheld_faults().collect::<Vec<_>>(), ["worker-1"]);
    }

    #[test]
    fn nothing_requested_means_nothing_granted() {
        let grants = Grants::compute(&[], &[], &lab(), &["worker-1".to_string()]).unwrap();
        assert!(grants.check_cluster("source").is_err());
        assert!(grants.check_fault("worker-1").is_err());
        assert!(grants.check_probe("worker-1").is_err());
    }
}
