//! MirrorMaker 2 replication policies: how a mirror names a source topic on the target cluster.
//! Only the policies shipped with Kafka are followed; any other class is reported as unknown and
//! its remote names are never guessed.

use std::fmt;

pub const DEFAULT_POLICY_CLASS: &str = "org.apache.kafka.connect.mirror.DefaultReplicationPolicy";
pub const IDENTITY_POLICY_CLASS: &str = "org.apache.kafka.connect.mirror.IdentityReplicationPolicy";
/// `replication.policy.separator` when a DefaultReplicationPolicy mirror does not set it.
pub const DEFAULT_SEPARATOR: &str = ".";

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ReplicationPolicy {
    /// `<source alias><separator><topic>`.
    Default { separator: String },
    /// The remote topic keeps the source topic's name.
    Identity,
    /// A class kscen does not know: remote names cannot be told.
    Unknown { class: String },
}

impl ReplicationPolicy {
    /// From a connector's `replication.policy.class` and `replication.policy.separator` (both
    /// optional, as in MM2's own defaults).
    pub fn from_config(class: Option<&str>, separator: Option<&str>) -> ReplicationPolicy {
        match class.map(str::trim) {
            None | Some("") | Some(DEFAULT_POLICY_CLASS) => ReplicationPolicy::Default {
                separator: separator.unwrap_or(DEFAULT_SEPARATOR).to_string(),
            },
            Some(IDENTITY_POLICY_CLASS) => ReplicationPolicy::Identity,
            Some(other) => ReplicationPolicy::Unknown {
                class: other.to_string(),
            },
        }
    }

    /// The name `source_topic` of the cluster `source_alias` has on the target; `None` for an
    /// unknown policy.
    pub fn remote_topic(&self, source_alias: &str, source_topic: &str) -> Option<String> {
        match self {
            ReplicationPolicy::Default { separator } => {
                Some(format!("{source_alias}{separator}{source_topic}"))
            }
            ReplicationPolicy::Identity => Some(source_topic.to_string()),
            ReplicationPolicy::Unknown { .. } => None,
        }
    }

    pub fn class(&self) -> &str {
        match self {
            ReplicationPolicy::Default { .. } => DEFAULT_POLICY_CLASS,
            ReplicationPolicy::Identity => IDENTITY_POLICY_CLASS,
            ReplicationPolicy::Unknown { class } => class,
        }
    }
}

impl fmt::Display for ReplicationPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReplicationPolicy::Default { separator } => {
                write!(f, "DefaultReplicationPolicy (separator {separator:?})")
            }
            ReplicationPolicy::Identity => f.write_str("IdentityReplicationPolicy"),
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
    fn identity_keeps_names_and_an_unknown_class_is_never_guessed() {
        let identity = ReplicationPolicy::from_config(Some(IDENTITY_POLICY_CLASS), Some("_"));
        assert_eq!(identity, ReplicationPolicy::Identity);
        assert_eq!(identity.remote_topic("nemo", "orders").unwrap(), "orders");
        let custom = ReplicationPolicy::from_config(Some("com.acme.PrefixlessPolicy"), None);
        assert_eq!(custom.remote_topic("nemo", "orders"), None);
        assert!(custom.to_string().contains("com.acme.PrefixlessPolicy"));
    }
}
