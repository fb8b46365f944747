//! A reverse mirror for a failback (seed 004 §11.5.3, "start MirrorMaker DR → Primary"): the
//! run's mirror's own connectors, created again on the same Connect cluster with the clusters
//! swapped, limited to the drill's topics and groups, and deleted when the drill ends. Built
//! from the deployment's configuration (bootstrap servers, security, policy, timers), never from
//! kscen's assumptions, so it reaches both clusters the way the forward mirror does.

use std::time::Duration;

use super::{healthy, statuses, wait_until, Mirror, ReplicationPolicy};
use crate::connect;
use crate::types::Error as HostError;
use crate::ScenarioError;

/// The reverse connectors, deleted on drop (stop MirrorMaker DR → Primary).
pub struct ReverseMirror {
    /// the forward mirror's target alias: the reverse mirror's source
    source_alias: String,
    target_alias: String,
    connectors: Vec<String>,
}

impl ReverseMirror {
    /// Creates the reverse of `forward` (one connector per connector it runs, named
    /// `<name>-reverse`), replicating only `topics` of its target cluster and checkpointing
    /// only `groups`, and waits, at most `timeout`, until every one runs.
    pub fn create(
        forward: &Mirror,
        topics: &[&str],
        groups: &[&str],
        timeout: Duration,
    ) -> Result<ReverseMirror, ScenarioError> {
        // Refuses a policy whose reverse names cannot be told, before creating anything.
        ReverseMirror::remote_topic(forward, "")?;
        let mut reverse = ReverseMirror {
            source_alias: forward.target_alias.clone(),
            target_alias: forward.source_alias.clone(),
            connectors: Vec::new(),
        };
        for connector in &forward.connectors {
            let name = format!("{}-reverse", connector.name);
            let config = reversed(
                &connect::get_config(&connector.name)?,
                &name,
                topics,
                groups,
            );
            connect::put_config(&name, &config)?;
            // Pushed before it runs: a failed wait still deletes what was created.
            reverse.connectors.push(name);
        }
        // Connect writes a new connector's status a moment after accepting its config: until
        // then the status call says NotFound, which here means "not running yet".
        let running = wait_until(timeout, Duration::from_millis(500), || {
            match statuses(&reverse.connectors) {
                Ok(statuses) => Ok(statuses.iter().all(healthy)),
                Err(ScenarioError::Host(HostError::NotFound(_))) => Ok(false),
                Err(other) => Err(other),
            }
        })?;
        if running.is_none() {
            return Err(ScenarioError::Failed(format!(
                "the reverse mirror's connectors ({}) did not all run within {timeout:?}",
                reverse.connectors.join(", ")
            )));
        }
        Ok(reverse)
    }

    /// The connectors' names on Connect.
    pub fn connectors(&self) -> &[String] {
        &self.connectors
    }

    /// `<source alias>-><target alias>` of the reverse flow.
    pub fn label(&self) -> String {
        format!("{}->{}", self.source_alias, self.target_alias)
    }

    /// The name the reverse of `forward` gives `topic` of the DR cluster (`forward`'s target) on
    /// the primary, known before the reverse mirror exists.
    pub fn remote_topic(forward: &Mirror, topic: &str) -> Result<String, ScenarioError> {
        match &forward.policy {
            ReplicationPolicy::Default(separator) => {
                Ok(format!("{}{separator}{topic}", forward.target_alias))
            }
            other => Err(ScenarioError::Failed(format!(
                "mirror {} replicates with {other:?}: its reverse would write the DR cluster's \
                 records into the primary's own topics (a failback needs the default policy's \
                 prefixed remote topics)",
                forward.label
            ))),
        }
    }
}

impl Drop for ReverseMirror {
    fn drop(&mut self) {
        for name in &self.connectors {
            if let Err(why) = connect::delete(name) {
                crate::warn(&format!(
                    "could not delete the reverse mirror's connector {name}: {why:?}; delete it \
                     through Connect's REST API"
                ));
            }
        }
    }
}

/// `config` of a forward connector turned into its reverse named `name`: every `source.*`
/// setting becomes `target.*` and the other way round (aliases, bootstrap servers, security,
/// per-cluster client settings), Connect's producer is pointed at the primary (its connection
/// settings as `producer.override.*`, which the workers' override policy must allow), the topic
/// and group filters name only the drill's, and the reverse mirror syncs no group offsets (the
/// failback moves the group itself).
pub fn reversed(
    config: &[(String, String)],
    name: &str,
    topics: &[&str],
    groups: &[&str],
) -> Vec<(String, String)> {
    let mut reversed: Vec<(String, String)> = config
        .iter()
        .filter(|(key, _)| !matches!(key.as_str(), "name" | "topics" | "groups"))
        .filter(|(key, _)| key != "sync.group.offsets.enabled")
        .filter(|(key, _)| {
            key.strip_prefix(PRODUCER_OVERRIDE)
                .is_none_or(|setting| !is_connection(setting))
        })
        .map(|(key, value)| (swapped(key), value.clone()))
        .collect();
    // Connect's own producer writes a source connector's records (and the checkpoint and
    // heartbeat connectors' too) to the workers' cluster, the forward target: the reverse
    // connectors' producer is pointed at the primary, the reverse target.
    let to_primary: Vec<(String, String)> = reversed
        .iter()
        .filter_map(|(key, value)| {
            let setting = key.strip_prefix("target.cluster.")?;
            is_connection(setting).then(|| (format!("{PRODUCER_OVERRIDE}{setting}"), value.clone()))
        })
        .collect();
    reversed.extend(to_primary);
    let filter = |names: &[&str]| {
        names
            .iter()
            .map(|n| regex_literal(n))
            .collect::<Vec<_>>()
            .join(",")
    };
    reversed.push(("name".into(), name.into()));
    reversed.push(("topics".into(), filter(topics)));
    reversed.push(("groups".into(), filter(groups)));
    reversed.push(("sync.group.offsets.enabled".into(), "false".into()));
    reversed.sort();
    reversed
}

const PRODUCER_OVERRIDE: &str = "producer.override.";

/// A client setting that says which cluster a client reaches and how it authenticates.
fn is_connection(setting: &str) -> bool {
    matches!(
        setting,
        "bootstrap.servers" | "security.protocol" | "client.dns.lookup"
    ) || setting.starts_with("sasl.")
        || setting.starts_with("ssl.")
}

fn swapped(key: &str) -> String {
    if let Some(rest) = key.strip_prefix("source.") {
        format!("target.{rest}")
    } else if let Some(rest) = key.strip_prefix("target.") {
        format!("source.{rest}")
    } else {
        key.to_string()
    }
}

/// MirrorMaker 2's topic and group filters are regular expressions: `name` matched literally.
fn regex_literal(name: &str) -> String {
    name.chars()
        .flat_map(|c| match c {
            '.' | '+' | '*' | '?' | '(' | ')' | '[' | ']' | '{' | '}' | '|' | '^' | '$' | '\\' => {
                vec!['\\', c]
            }
            c => vec![c],
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_reverse_swaps_the_clusters_and_names_only_the_drills_topics_and_groups() {
        let forward = pairs(&[
            ("name", "nyc-to-ams"),
            (
                "connector.class",
                "org.apache.kafka.connect.mirror.MirrorCheckpointConnector",
            ),
            ("source.cluster.alias", "nyc"),
            ("target.cluster.alias", "ams"),
            ("source.cluster.bootstrap.servers", "nyc-1:9092"),
            (
                "target.cluster.sasl.jaas.config",
                "${file:/s/ams.properties:jaas}",
            ),
            ("topics", ".*"),
            ("groups", ".*"),
            ("topics.exclude", ".*\\.internal"),
            ("sync.group.offsets.enabled", "true"),
            ("replication.policy.separator", "__"),
            ("producer.override.acks", "all"),
            ("producer.override.ssl.truststore.location", "/s/ams.jks"),
        ]);
        let reverse = reversed(&forward, "nyc-to-ams-reverse", &["orders.v2-1"], &["app"]);
        let get = |key: &str| {
            reverse
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("name"), Some("nyc-to-ams-reverse"));
        assert_eq!(get("source.cluster.alias"), Some("ams"));
        assert_eq!(get("target.cluster.alias"), Some("nyc"));
        assert_eq!(get("target.cluster.bootstrap.servers"), Some("nyc-1:9092"));
        assert_eq!(
            get("source.cluster.sasl.jaas.config"),
            Some("${file:/s/ams.properties:jaas}")
        );
        assert_eq!(get("topics"), Some("orders\\.v2-1"));
        assert_eq!(get("groups"), Some("app"));
        assert_eq!(get("topics.exclude"), Some(".*\\.internal"));
        assert_eq!(get("sync.group.offsets.enabled"), Some("false"));
        assert_eq!(get("replication.policy.separator"), Some("__"));
        assert_eq!(get("producer.override.acks"), Some("all"));
        // Connect's producer writes to the primary, with the primary's credentials only.
        assert_eq!(
            get("producer.override.bootstrap.servers"),
            Some("nyc-1:9092")
        );
        assert_eq!(get("producer.override.ssl.truststore.location"), None);
        assert_eq!(reverse.len(), forward.len(), "{reverse:?}");
    }
}
