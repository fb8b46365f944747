//! MirrorMaker 2 replication policies: how a mirror names a source topic on the target cluster,
//! and its internal topics. Only the policies shipped with Kafka are followed; any other class is
//! reported as unknown and its names are never guessed.

use std::collections::BTreeMap;
use std::fmt;

pub const DEFAULT_POLICY_CLASS: &str = "org.apache.kafka.connect.mirror.DefaultReplicationPolicy";
pub const IDENTITY_POLICY_CLASS: &str = "org.apache.kafka.connect.mirror.IdentityReplicationPolicy";
/// `replication.policy.separator` when a DefaultReplicationPolicy mirror does not set it.
pub const DEFAULT_SEPARATOR: &str = ".";
pub const CLASS_KEY: &str = "replication.policy.class";
pub const SEPARATOR_KEY: &str = "replication.policy.separator";
/// KIP-690 (Kafka 3.1): whether the internal topics' names use the separator too (default) or
/// keep `.`.
pub const INTERNAL_SEPARATOR_ENABLED_KEY: &str =
    "replication.policy.internal.topic.separator.enabled";

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ReplicationPolicy {
    /// `<source alias><separator><topic>`.
    Default {
        separator: String,
        /// What the internal topics' names use: the separator, or `.` (KIP-690).
        internal_separator: String,
    },
    /// The remote topic keeps the source topic's name; the internal topics are named as by the
    /// default policy, which it extends.
    Identity { internal_separator: String },
    /// A class kscen does not know: remote names cannot be told.
    Unknown { class: String },
}

impl ReplicationPolicy {
    /// From a connector's `replication.policy.class` and `replication.policy.separator` (both
    /// optional, as in MM2's own defaults); internal topics use the separator, MM2's default.
    pub fn from_config(class: Option<&str>, separator: Option<&str>) -> ReplicationPolicy {
        Self::from_settings(class, separator, None)
    }

    /// From a connector's config: its policy class, separator and
    /// `replication.policy.internal.topic.separator.enabled`.
    pub fn from_connector_config(config: &BTreeMap<String, String>) -> ReplicationPolicy {
        let get = |key: &str| config.get(key).map(String::as_str);
        Self::from_settings(
            get(CLASS_KEY),
            get(SEPARATOR_KEY),
            get(INTERNAL_SEPARATOR_ENABLED_KEY),
        )
    }

    fn from_settings(
        class: Option<&str>,
        separator: Option<&str>,
        internal_separator_enabled: Option<&str>,
    ) -> ReplicationPolicy {
        let separator = separator.unwrap_or(DEFAULT_SEPARATOR).to_string();
        // As DefaultReplicationPolicy.configure reads it: Boolean.parseBoolean on the raw value,
        // so only a case-insensitive "true" enables it once the key is set.
        let internal_separator = match internal_separator_enabled {
            Some(enabled) if !enabled.eq_ignore_ascii_case("true") => DEFAULT_SEPARATOR.to_string(),
            _ => separator.clone(),
        };
        match class.map(str::trim) {
            None | Some("") | Some(DEFAULT_POLICY_CLASS) => ReplicationPolicy::Default {
                separator,
                internal_separator,
            },
            Some(IDENTITY_POLICY_CLASS) => ReplicationPolicy::Identity { internal_separator },
            Some(other) => ReplicationPolicy::Unknown {
                class: other.to_string(),
            },
        }
    }

    /// The name `source_topic` of the cluster `source_alias` has on the target; `None` for an
    /// unknown policy.
    pub fn remote_topic(&self, source_alias: &str, source_topic: &str) -> Option<String> {
        match self {
            ReplicationPolicy::Default { separator, .. } => {
                Some(format!("{source_alias}{separator}{source_topic}"))
            }
            ReplicationPolicy::Identity { .. } => Some(source_topic.to_string()),
            ReplicationPolicy::Unknown { .. } => None,
        }
    }

    /// The source topic a remote topic of the mirror from `source_alias` copies
    /// (`ReplicationPolicy.upstreamTopic`); `None` when the name is not one the policy gives a
    /// topic of that cluster, or the policy is unknown.
    pub fn upstream_topic(&self, source_alias: &str, remote_topic: &str) -> Option<String> {
        match self {
            ReplicationPolicy::Default { separator, .. } => remote_topic
                .strip_prefix(source_alias)
                .and_then(|rest| rest.strip_prefix(separator.as_str()))
                .filter(|topic| !topic.is_empty())
                .map(str::to_string),
            ReplicationPolicy::Identity { .. } => Some(remote_topic.to_string()),
            ReplicationPolicy::Unknown { .. } => None,
        }
    }

    /// The topic on the target where the checkpoint connector of a mirror from `source_alias`
    /// writes its checkpoints (`ReplicationPolicy.checkpointsTopic`): `<alias>.checkpoints.internal`
    /// with the internal separator in place of each `.`. `None` for an unknown policy.
    pub fn checkpoints_topic(&self, source_alias: &str) -> Option<String> {
        match self {
            ReplicationPolicy::Default {
                internal_separator, ..
            }
            | ReplicationPolicy::Identity { internal_separator } => Some(format!(
                "{source_alias}{internal_separator}checkpoints{internal_separator}internal"
            )),
            ReplicationPolicy::Unknown { .. } => None,
        }
    }

    pub fn class(&self) -> &str {
        match self {
            ReplicationPolicy::Default { .. } => DEFAULT_POLICY_CLASS,
            ReplicationPolicy::Identity { .. } => IDENTITY_POLICY_CLASS,
            ReplicationPolicy::Unknown { class } => class,
        }
    }
}

impl fmt::Display for ReplicationPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReplicationPolicy::Default {
                separator,
                internal_separator,
            } => {
                write!(f, "DefaultReplicationPolicy (separator {separator:?}")?;
                if internal_separator != separator {
                    write!(f, ", internal topics {internal_separator:?}")?;
                }
                f.write_str(")")
            }
            ReplicationPolicy::Identity { internal_separator } => {
                f.write_str("IdentityReplicationPolicy")?;
                if internal_separator != DEFAULT_SEPARATOR {
                    write!(f, " (internal topics {internal_separator:?})")?;
                }
                Ok(())
            }
            ReplicationPolicy::Unknown { class } => {
                write!(
                    f,
                    "{class} (unknown to kscen: remote topic names cannot be told)"
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_policy_prefixes_with_the_alias_and_its_separator() {
        let plain = ReplicationPolicy::from_config(None, None);
        assert_eq!(plain.remote_topic("nemo", "orders").unwrap(), "nemo.orders");
        let custom = ReplicationPolicy::from_config(Some(DEFAULT_POLICY_CLASS), Some("_"));
        assert_eq!(
            custom.remote_topic("nemo", "orders").unwrap(),
            "nemo_orders"
        );
        assert_eq!(custom.class(), DEFAULT_POLICY_CLASS);
    }

    #[test]
    fn a_remote_topic_names_its_source_topic_back() {
        let custom = ReplicationPolicy::from_config(Some(DEFAULT_POLICY_CLASS), Some("_"));
        assert_eq!(
            custom.upstream_topic("nemo", "nemo_orders").as_deref(),
            Some("orders")
        );
        assert_eq!(custom.upstream_topic("nemo", "nemo.orders"), None);
        assert_eq!(custom.upstream_topic("nemo", "nemo_"), None);
        assert_eq!(custom.upstream_topic("nemo", "orders"), None);
        let identity = ReplicationPolicy::from_config(Some(IDENTITY_POLICY_CLASS), None);
        assert_eq!(
            identity.upstream_topic("nemo", "orders").as_deref(),
            Some("orders")
        );
    }

    #[test]
    fn identity_keeps_names_and_an_unknown_class_is_never_guessed() {
        let identity = ReplicationPolicy::from_config(Some(IDENTITY_POLICY_CLASS), Some("_"));
        assert!(matches!(identity, ReplicationPolicy::Identity { .. }));
        assert_eq!(identity.remote_topic("nemo", "orders").unwrap(), "orders");
        let custom = ReplicationPolicy::from_config(Some("com.acme.PrefixlessPolicy"), None);
        assert_eq!(custom.remote_topic("nemo", "orders"), None);
        assert!(custom.to_string().contains("com.acme.PrefixlessPolicy"));
    }

    fn connector(settings: &[(&str, &str)]) -> ReplicationPolicy {
        let config = settings
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        ReplicationPolicy::from_connector_config(&config)
    }

    #[test]
    fn checkpoints_topics_follow_kip_690_for_both_policies() {
        let underscore = [(SEPARATOR_KEY, "_")];
        let flag = |value| {
            [
                (SEPARATOR_KEY, "_"),
                (INTERNAL_SEPARATOR_ENABLED_KEY, value),
            ]
        };
        let identity = |settings: &[(&str, &str)]| {
            let mut settings = settings.to_vec();
            settings.push((CLASS_KEY, IDENTITY_POLICY_CLASS));
            connector(&settings)
        };
        for (policy, expected) in [
            (connector(&[]), "east.checkpoints.internal"),
            (connector(&underscore), "east_checkpoints_internal"),
            (connector(&flag("true")), "east_checkpoints_internal"),
            (connector(&flag("TRUE")), "east_checkpoints_internal"),
            (connector(&flag("false")), "east.checkpoints.internal"),
            (identity(&[]), "east.checkpoints.internal"),
            (identity(&underscore), "east_checkpoints_internal"),
            (identity(&flag("true")), "east_checkpoints_internal"),
            (identity(&flag("false")), "east.checkpoints.internal"),
        ] {
            assert_eq!(
                policy.checkpoints_topic("east").as_deref(),
                Some(expected),
                "{policy:?}"
            );
        }
        // The flag names internal topics only: remote topics keep the separator.
        assert_eq!(
            connector(&flag("false"))
                .remote_topic("east", "orders")
                .unwrap(),
            "east_orders"
        );
        let unknown = connector(&[(CLASS_KEY, "com.acme.PrefixlessPolicy")]);
        assert_eq!(unknown.checkpoints_topic("east"), None);
    }

    #[test]
    fn a_policy_says_when_its_internal_topics_keep_the_dot() {
        assert_eq!(
            connector(&[(SEPARATOR_KEY, "_")]).to_string(),
            "DefaultReplicationPolicy (separator \"_\")"
        );
        assert_eq!(
            connector(&[
                (SEPARATOR_KEY, "_"),
                (INTERNAL_SEPARATOR_ENABLED_KEY, "false")
            ])
            .to_string(),
            "DefaultReplicationPolicy (separator \"_\", internal topics \".\")"
        );
        assert_eq!(
            connector(&[(CLASS_KEY, IDENTITY_POLICY_CLASS)]).to_string(),
            "IdentityReplicationPolicy"
        );
        assert_eq!(
            connector(&[(CLASS_KEY, IDENTITY_POLICY_CLASS), (SEPARATOR_KEY, "-")]).to_string(),
            "IdentityReplicationPolicy (internal topics \"-\")"
        );
    }
}
