//! The mirrors of a deployment, from what Connect lists: MirrorSource / MirrorCheckpoint /
//! MirrorHeartbeat connectors recognised by `connector.class` (whatever their names), grouped by
//! their `source.cluster.alias` → `target.cluster.alias` pair. Pure: no Connect call here.

use std::collections::BTreeMap;
use std::fmt;

use anyhow::{bail, Result};

use super::filter::{NameFilter, Names};
use super::policy::ReplicationPolicy;
use crate::config::client_props::is_secret;
use crate::connect::ConnectorStatus;

const MIRROR_PACKAGE: &str = "org.apache.kafka.connect.mirror.";
/// MM2's aliases when a connector does not set them.
const DEFAULT_SOURCE_ALIAS: &str = "source";
const DEFAULT_TARGET_ALIAS: &str = "target";

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Source,
    Checkpoint,
    Heartbeat,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Source, Role::Checkpoint, Role::Heartbeat];

    /// The simple class name (`MirrorSourceConnector`).
    pub fn class_name(self) -> &'static str {
        match self {
            Role::Source => "MirrorSourceConnector",
            Role::Checkpoint => "MirrorCheckpointConnector",
            Role::Heartbeat => "MirrorHeartbeatConnector",
        }
    }

    /// The role of a `connector.class`, in every spelling Connect accepts: the full class name,
    /// the simple name, or the simple name without `Connector`.
    pub fn of_class(class: &str) -> Option<Role> {
        let class = class.trim();
        let simple = class.strip_prefix(MIRROR_PACKAGE).unwrap_or(class);
        Role::ALL.into_iter().find(|role| {
            let name = role.class_name();
            simple == name || Some(simple) == name.strip_suffix("Connector")
        })
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Source => "source",
            Role::Checkpoint => "checkpoint",
            Role::Heartbeat => "heartbeat",
        })
    }
}

/// One connector as Connect lists it: its configuration and its status (liveness applied).
#[derive(Debug, Clone)]
pub struct Listed {
    pub name: String,
    pub config: BTreeMap<String, String>,
    pub status: Option<ConnectorStatus>,
}

/// What Connect runs under a connector name.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Deployed {
    /// `None` when the class is not an MM2 connector.
    pub role: Option<Role>,
    pub class: String,
    pub source_alias: String,
    pub target_alias: String,
    pub tasks_max: u32,
    pub policy: ReplicationPolicy,
    pub status: Option<ConnectorStatus>,
    #[serde(skip)]
    config: BTreeMap<String, String>,
}

impl Deployed {
    pub fn from_listed(listed: Listed) -> Deployed {
        let config = listed.config;
        let get = |key: &str| config.get(key).map(String::as_str);
        let class = get("connector.class").unwrap_or_default().to_string();
        Deployed {
            role: Role::of_class(&class),
            source_alias: get("source.cluster.alias")
                .unwrap_or(DEFAULT_SOURCE_ALIAS)
                .to_string(),
            target_alias: get("target.cluster.alias")
                .unwrap_or(DEFAULT_TARGET_ALIAS)
                .to_string(),
            // Connect validates tasks.max as an integer before it accepts a config.
            tasks_max: get("tasks.max")
                .and_then(|t| t.trim().parse().ok())
                .unwrap_or(1),
            policy: ReplicationPolicy::from_connector_config(&config),
            class,
            status: listed.status,
            config,
        }
    }

    pub fn filter(&self, names: Names) -> NameFilter {
        NameFilter::from_config(names, &self.config)
    }
}

/// A connector a mirror names, and what Connect says about it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ConnectorRef {
    pub name: String,
    pub lookup: Lookup,
}

#[derive(Debug, Clone, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Lookup {
    /// Pinned in a profile without `[connect]`: nothing to ask.
    NotRead,
    /// Pinned, but Connect does not list it.
    Missing,
    Found(Box<Deployed>),
}

impl ConnectorRef {
    pub fn deployed(&self) -> Option<&Deployed> {
        match &self.lookup {
            Lookup::Found(deployed) => Some(deployed),
            Lookup::NotRead | Lookup::Missing => None,
        }
    }
}

/// One replication flow: the connectors that mirror `source_alias` into `target_alias`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Mirror {
    pub source_alias: String,
    pub target_alias: String,
    pub source: Option<ConnectorRef>,
    pub checkpoint: Option<ConnectorRef>,
    pub heartbeat: Option<ConnectorRef>,
    /// The source connector's policy (else the checkpoint's, else the heartbeat's), or the pin's.
    pub policy: ReplicationPolicy,
    /// From the source connector's config; `None` when it was not read.
    pub topics: Option<NameFilter>,
    /// From the checkpoint connector's config; `None` when it was not read.
    pub groups: Option<NameFilter>,
    /// Named by the profile's `[mm2]` section rather than discovered.
    pub pinned: bool,
    /// The Kafka version of the Connect workers running it, as Connect says (`GET /`).
    pub connect_version: Option<String>,
}

impl Mirror {
    /// `source->target`, how a scenario or `--mirror` names the flow.
    pub fn label(&self) -> String {
        format!("{}->{}", self.source_alias, self.target_alias)
    }

    pub fn connector(&self, role: Role) -> Option<&ConnectorRef> {
        match role {
            Role::Source => self.source.as_ref(),
            Role::Checkpoint => self.checkpoint.as_ref(),
            Role::Heartbeat => self.heartbeat.as_ref(),
        }
    }

    fn slot(&mut self, role: Role) -> &mut Option<ConnectorRef> {
        match role {
            Role::Source => &mut self.source,
            Role::Checkpoint => &mut self.checkpoint,
            Role::Heartbeat => &mut self.heartbeat,
        }
    }

    /// What a run's result records of the mirror it measured: names, shape, and each
    /// connector's configuration in force without the keys that hold credentials.
    pub fn summary(&self) -> MirrorSummary {
        MirrorSummary {
            label: self.label(),
            source_alias: self.source_alias.clone(),
            target_alias: self.target_alias.clone(),
            replication_policy: self.policy.to_string(),
            connectors: Role::ALL
                .into_iter()
                .filter_map(|role| {
                    let connector = self.connector(role)?;
                    Some(ConnectorSummary {
                        role,
                        name: connector.name.clone(),
                        tasks_max: connector.deployed().map(|d| d.tasks_max),
                        config: connector
                            .deployed()
                            .map(|d| {
                                d.config
                                    .iter()
                                    .filter(|(key, _)| !is_secret(key))
                                    .map(|(key, value)| (key.clone(), value.clone()))
                                    .collect()
                            })
                            .unwrap_or_default(),
                    })
                })
                .collect(),
            pinned: self.pinned,
            connect_version: self.connect_version.clone(),
        }
    }

    /// The name the mirror gives `source_topic` on the target; `None` for an unknown policy.
    pub fn remote_topic(&self, source_topic: &str) -> Option<String> {
        self.policy.remote_topic(&self.source_alias, source_topic)
    }

    /// The topic on the target the mirror's checkpoints go to: named by the checkpoint
    /// connector's own policy when Connect listed it (that connector writes the topic), else by
    /// the mirror's. `None` for an unknown policy.
    pub fn checkpoints_topic(&self) -> Option<String> {
        let policy = self
            .checkpoint
            .as_ref()
            .and_then(ConnectorRef::deployed)
            .map_or(&self.policy, |deployed| &deployed.policy);
        policy.checkpoints_topic(&self.source_alias)
    }

    /// An empty mirror for a flow; connectors are put in with [`Mirror::put`].
    pub fn new(source_alias: &str, target_alias: &str, policy: ReplicationPolicy) -> Mirror {
        Mirror {
            source_alias: source_alias.to_string(),
            target_alias: target_alias.to_string(),
            source: None,
            checkpoint: None,
            heartbeat: None,
            policy,
            topics: None,
            groups: None,
            pinned: false,
            connect_version: None,
        }
    }

    /// Puts `connector` in the `role` slot; filters come from the source (topics) and checkpoint
    /// (groups) connectors' configs.
    pub fn put(&mut self, role: Role, connector: ConnectorRef) {
        if let Some(deployed) = connector.deployed() {
            match role {
                Role::Source => self.topics = Some(deployed.filter(Names::Topics)),
                Role::Checkpoint => {
                    self.topics
                        .get_or_insert_with(|| deployed.filter(Names::Topics));
                    self.groups = Some(deployed.filter(Names::Groups));
                }
                Role::Heartbeat => {}
            }
        }
        *self.slot(role) = Some(connector);
    }
}

/// The mirror a run measured, as its result records it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MirrorSummary {
    /// `source->target`
    pub label: String,
    pub source_alias: String,
    pub target_alias: String,
    pub replication_policy: String,
    pub connectors: Vec<ConnectorSummary>,
    /// named by the profile's `[mm2]` section rather than discovered
    pub pinned: bool,
    /// the Kafka version of the Connect workers running the mirror
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connect_version: Option<String>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ConnectorSummary {
    pub role: Role,
    pub name: String,
    /// `None` for a pinned connector Connect was not asked about
    pub tasks_max: Option<u32>,
    /// its configuration as Connect holds it, less every key that holds a secret (passwords,
    /// JAAS configs, tokens); empty for a pinned connector Connect was not asked about
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub config: BTreeMap<String, String>,
}

/// The mirrors among `listed` connectors, sorted by alias pair. Connectors that are not MM2's
/// are left out. A second connector of one role for the same pair (a flow split over several
/// source connectors) starts another mirror with that pair.
pub fn discover(listed: Vec<Listed>) -> Vec<Mirror> {
    let mut found: Vec<(Role, String, Deployed)> = listed
        .into_iter()
        .filter_map(|listed| {
            let name = listed.name.clone();
            let deployed = Deployed::from_listed(listed);
            deployed.role.map(|role| (role, name, deployed))
        })
        .collect();
    // Source connectors first, so a mirror's policy and topics come from its source connector.
    found.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    let mut mirrors: Vec<Mirror> = Vec::new();
    for (role, name, deployed) in found {
        let pair = (deployed.source_alias.clone(), deployed.target_alias.clone());
        let index = match mirrors.iter().position(|m| {
            (&m.source_alias, &m.target_alias) == (&pair.0, &pair.1) && m.connector(role).is_none()
        }) {
            Some(index) => index,
            None => {
                mirrors.push(Mirror::new(&pair.0, &pair.1, deployed.policy.clone()));
                mirrors.len() - 1
            }
        };
        let connector = ConnectorRef {
            name,
            lookup: Lookup::Found(Box::new(deployed)),
        };
        mirrors[index].put(role, connector);
    }
    mirrors.sort_by_key(Mirror::label);
    mirrors
}

/// The mirror `choice` names: one of its connectors' names, or its alias pair `source->target`.
pub fn choose<'a>(mirrors: &'a [Mirror], choice: &str) -> Result<&'a Mirror> {
    let by_name: Vec<&Mirror> = mirrors
        .iter()
        .filter(|m| {
            Role::ALL
                .into_iter()
                .filter_map(|role| m.connector(role))
                .any(|c| c.name == choice)
        })
        .collect();
    let chosen = if by_name.is_empty() {
        mirrors.iter().filter(|m| m.label() == choice).collect()
    } else {
        by_name
    };
    let known: Vec<String> = mirrors.iter().map(Mirror::label).collect();
    match chosen.as_slice() {
        [mirror] => Ok(mirror),
        [] => bail!(
            "no mirror is named {choice:?}: name one of its connectors, or its alias pair as \
             SOURCE->TARGET (mirrors: {})",
            known.join(", ")
        ),
        several => bail!(
            "{} mirrors answer to {choice:?}: choose one by a connector name",
            several.len()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deployment::fixtures;

    #[test]
    fn classes_in_every_spelling_connect_accepts() {
        assert_eq!(
            Role::of_class("org.apache.kafka.connect.mirror.MirrorSourceConnector"),
            Some(Role::Source)
        );
        assert_eq!(
            Role::of_class("MirrorCheckpointConnector"),
            Some(Role::Checkpoint)
        );
        assert_eq!(Role::of_class("MirrorHeartbeat"), Some(Role::Heartbeat));
        assert_eq!(Role::of_class("com.acme.MirrorSourceConnector"), None);
        assert_eq!(
            Role::of_class("io.confluent.connect.replicator.ReplicatorSourceConnector"),
            None
        );
    }

    #[test]
    fn the_labs_real_listing_is_one_mirror() {
        let mirrors = discover(fixtures::lab_listing());
        assert_eq!(mirrors.len(), 1, "{mirrors:#?}");
        let mirror = &mirrors[0];
        assert_eq!(mirror.label(), "source->target");
        let names: Vec<&str> = Role::ALL
            .into_iter()
            .map(|role| mirror.connector(role).unwrap().name.as_str())
            .collect();
        assert_eq!(
            names,
            ["mirror-source", "mirror-checkpoint", "mirror-heartbeat"]
        );
        let source = mirror.source.as_ref().unwrap().deployed().unwrap();
        assert_eq!(source.tasks_max, 4);
        assert_eq!(mirror.remote_topic("orders").unwrap(), "source.orders");
        let topics = mirror.topics.as_ref().unwrap();
        assert_eq!(topics.replicates("kscen-lab-seed"), Some(true));
        assert_eq!(
            topics.replicates("mm2-offset-syncs.target.internal"),
            Some(false)
        );
        let groups = mirror.groups.as_ref().unwrap();
        assert_eq!(groups.replicates("console-consumer-1"), Some(false));
        assert_eq!(groups.replicates("billing"), Some(true));
    }

    #[test]
    fn a_runs_summary_names_the_mirror_and_never_its_credentials() {
        let secret = "org.apache.kafka.common.security.scram.ScramLoginModule required \
                      username=\"mm2\" password=\"hunter2\";";
        let mirrors = discover(vec![
            fixtures::listed(
                "nemo-to-applicatif-source",
                "MirrorSourceConnector",
                "nemo",
                "applicatif",
                &[
                    ("tasks.max", "6"),
                    ("source.cluster.sasl.jaas.config", secret),
                    ("replication.policy.separator", "_"),
                ],
            ),
            fixtures::listed(
                "nemo-to-applicatif-heartbeat",
                "MirrorHeartbeatConnector",
                "nemo",
                "applicatif",
                &[("replication.policy.separator", "_")],
            ),
        ]);
        let summary = mirrors[0].summary();
        assert_eq!(summary.label, "nemo->applicatif");
        let connectors: Vec<(Role, &str, Option<u32>)> = summary
            .connectors
            .iter()
            .map(|c| (c.role, c.name.as_str(), c.tasks_max))
            .collect();
        assert_eq!(
            connectors,
            [
                (Role::Source, "nemo-to-applicatif-source", Some(6)),
                (Role::Heartbeat, "nemo-to-applicatif-heartbeat", Some(1)),
            ]
        );
        assert!(summary.replication_policy.contains("\"_\""), "{summary:?}");
        let json = serde_json::to_string(&summary).unwrap();
        assert!(!json.contains("hunter2"), "{json}");
        // The rest of the configuration in force is recorded.
        let source = &summary.connectors[0].config;
        assert_eq!(source["replication.policy.separator"], "_");
        assert!(!source.contains_key("source.cluster.sasl.jaas.config"));
    }

    #[test]
    fn active_active_and_renamed_connectors_group_by_alias_pair() {
        // The seeds' names (seed 003, section 4) and the reverse flow, listed in any order.
        let mut listed = vec![
            fixtures::listed(
                "applicatif-to-nemo-hb",
                "MirrorHeartbeat",
                "applicatif",
                "nemo",
                &[],
            ),
            fixtures::listed(
                "nemo-to-applicatif-checkpoint",
                "org.apache.kafka.connect.mirror.MirrorCheckpointConnector",
                "nemo",
                "applicatif",
                &[("groups", "billing.*")],
            ),
            fixtures::listed(
                "nemo-to-applicatif-source",
                "org.apache.kafka.connect.mirror.MirrorSourceConnector",
                "nemo",
                "applicatif",
                &[("tasks.max", "6"), ("replication.policy.separator", "_")],
            ),
            fixtures::listed(
                "applicatif-to-nemo",
                "MirrorSourceConnector",
                "applicatif",
                "nemo",
                &[(
                    "replication.policy.class",
                    "org.apache.kafka.connect.mirror.IdentityReplicationPolicy",
                )],
            ),
        ];
        listed.push(fixtures::listed(
            "jdbc-sink",
            "io.confluent.connect.jdbc.JdbcSinkConnector",
            "x",
            "y",
            &[],
        ));
        let mirrors = discover(listed);
        let labels: Vec<String> = mirrors.iter().map(Mirror::label).collect();
        assert_eq!(labels, ["applicatif->nemo", "nemo->applicatif"]);
        let back = choose(&mirrors, "applicatif->nemo").unwrap();
        assert_eq!(back.remote_topic("orders").unwrap(), "orders");
        assert_eq!(
            back.heartbeat.as_ref().unwrap().name,
            "applicatif-to-nemo-hb"
        );
        assert!(back.checkpoint.is_none());
        let forth = choose(&mirrors, "nemo-to-applicatif-checkpoint").unwrap();
        assert_eq!(forth.remote_topic("orders").unwrap(), "nemo_orders");
        assert_eq!(
            forth.source.as_ref().unwrap().deployed().unwrap().tasks_max,
            6
        );
        assert_eq!(
            forth.groups.as_ref().unwrap().replicates("billing-eu"),
            Some(true)
        );
        assert_eq!(
            forth.groups.as_ref().unwrap().replicates("audit"),
            Some(false)
        );
        let error = choose(&mirrors, "jdbc-sink").unwrap_err().to_string();
        assert!(
            error.contains("applicatif->nemo, nemo->applicatif"),
            "{error}"
        );
    }

    #[test]
    fn the_checkpoints_topic_is_named_by_the_checkpoint_connectors_policy() {
        let separator = ("replication.policy.separator", "_");
        let source = |extra: &[(&str, &str)]| {
            fixtures::listed("east-src", "MirrorSourceConnector", "east", "west", extra)
        };
        let checkpoint = |extra: &[(&str, &str)]| {
            fixtures::listed(
                "east-cp",
                "MirrorCheckpointConnector",
                "east",
                "west",
                extra,
            )
        };
        let both = discover(vec![source(&[separator]), checkpoint(&[separator])]);
        assert_eq!(
            both[0].checkpoints_topic().as_deref(),
            Some("east_checkpoints_internal")
        );
        // Only the checkpoint connector keeps the dot for internal topics: it writes the topic.
        let kept_dot = discover(vec![
            source(&[separator]),
            checkpoint(&[
                separator,
                (
                    "replication.policy.internal.topic.separator.enabled",
                    "false",
                ),
            ]),
        ]);
        assert_eq!(kept_dot[0].remote_topic("orders").unwrap(), "east_orders");
        assert_eq!(
            kept_dot[0].checkpoints_topic().as_deref(),
            Some("east.checkpoints.internal")
        );
        // Without a checkpoint connector, the mirror's policy tells.
        let source_only = discover(vec![source(&[separator])]);
        assert_eq!(
            source_only[0].checkpoints_topic().as_deref(),
            Some("east_checkpoints_internal")
        );
    }

    #[test]
    fn a_flow_split_over_two_source_connectors_is_two_mirrors() {
        let mirrors = discover(vec![
            fixtures::listed(
                "orders-mirror",
                "MirrorSourceConnector",
                "a",
                "b",
                &[("topics", "orders")],
            ),
            fixtures::listed(
                "users-mirror",
                "MirrorSourceConnector",
                "a",
                "b",
                &[("topics", "users")],
            ),
        ]);
        assert_eq!(mirrors.len(), 2);
        let error = choose(&mirrors, "a->b").unwrap_err().to_string();
        assert!(error.contains("2 mirrors answer"), "{error}");
        let users = choose(&mirrors, "users-mirror").unwrap();
        assert_eq!(
            users.topics.as_ref().unwrap().replicates("users"),
            Some(true)
        );
        assert_eq!(
            users.topics.as_ref().unwrap().replicates("orders"),
            Some(false)
        );
    }
}
