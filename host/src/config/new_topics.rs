//! How the topics a run creates are made. The operator decides, not the plugin: a profile sets
//! it per cluster (`[clusters.NAME.new_topics]`), a scenario file for every cluster
//! (`[new_topics]`), and what neither sets is left to the cluster's own defaults
//! (`default.replication.factor`, `min.insync.replicas`) — a test then runs with the durability
//! the deployment really has, instead of a replication factor a plugin guessed.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NewTopics {
    /// Replication factor of every topic the run creates (overrides what a plugin asks for).
    pub replication_factor: Option<u16>,
    /// Written as the topic config `min.insync.replicas`.
    pub min_insync_replicas: Option<u16>,
    /// Topic configs set on every topic the run creates (`retention.ms`, `max.message.bytes`…).
    #[serde(default)]
    pub configs: BTreeMap<String, String>,
}

impl NewTopics {
    /// These settings over `base`'s: field by field, configs key by key.
    pub fn over(&self, base: &NewTopics) -> NewTopics {
        let mut configs = base.configs.clone();
        configs.extend(self.configs.clone());
        NewTopics {
            replication_factor: self.replication_factor.or(base.replication_factor),
            min_insync_replicas: self.min_insync_replicas.or(base.min_insync_replicas),
            configs,
        }
    }

    /// The replication factor to create with: the operator's, else the plugin's (0 asks for
    /// none), else `None`, the cluster's default.
    pub fn replication_factor(&self, asked_by_plugin: u16) -> Option<u16> {
        self.replication_factor
            .or((asked_by_plugin > 0).then_some(asked_by_plugin))
    }

    /// The plugin's topic configs with the operator's over them.
    pub fn configs(&self, asked_by_plugin: &[(String, String)]) -> Vec<(String, String)> {
        let mut configs: BTreeMap<String, String> = asked_by_plugin.iter().cloned().collect();
        configs.extend(self.configs.clone());
        if let Some(min_isr) = self.min_insync_replicas {
            configs.insert("min.insync.replicas".into(), min_isr.to_string());
        }
        configs.into_iter().collect()
    }
}

/// `acks` as the producer will run with it: the last value given, else librdkafka's default,
/// `all`.
pub fn acks_all(producer_properties: &[(String, String)]) -> bool {
    producer_properties
        .iter()
        .rev()
        .find(|(key, _)| key == "acks" || key == "request.required.acks")
        .is_none_or(|(_, value)| matches!(value.trim(), "all" | "-1"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(rf: Option<u16>, min_isr: Option<u16>, configs: &[(&str, &str)]) -> NewTopics {
        NewTopics {
            replication_factor: rf,
            min_insync_replicas: min_isr,
            configs: configs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn the_operator_decides_then_the_plugin_then_the_cluster() {
        assert_eq!(settings(Some(3), None, &[]).replication_factor(1), Some(3));
        assert_eq!(settings(None, None, &[]).replication_factor(2), Some(2));
        assert_eq!(settings(None, None, &[]).replication_factor(0), None);
    }

    #[test]
    fn the_scenario_overrides_the_profile_key_by_key() {
        let profile = settings(Some(3), Some(2), &[("retention.ms", "1"), ("a", "p")]);
        let scenario = settings(None, Some(1), &[("a", "s")]);
        let merged = scenario.over(&profile);
        assert_eq!(merged.replication_factor, Some(3));
        assert_eq!(merged.min_insync_replicas, Some(1));
        assert_eq!(merged.configs["a"], "s");
        assert_eq!(merged.configs["retention.ms"], "1");
    }

    #[test]
    fn operator_configs_and_min_isr_win_over_the_plugins() {
        let operator = settings(None, Some(2), &[("max.message.bytes", "2000000")]);
        let configs = operator.configs(&[
            ("max.message.bytes".into(), "100".into()),
            ("cleanup.policy".into(), "delete".into()),
        ]);
        assert_eq!(
            configs,
            [
                ("cleanup.policy".to_string(), "delete".to_string()),
                ("max.message.bytes".to_string(), "2000000".to_string()),
                ("min.insync.replicas".to_string(), "2".to_string()),
            ]
        );
    }

    #[test]
    fn acks_defaults_to_all_and_the_last_value_wins() {
        let props = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        assert!(acks_all(&[]));
        assert!(!acks_all(&props(&[("acks", "1")])));
        assert!(acks_all(&props(&[("acks", "1"), ("acks", "all")])));
        assert!(acks_all(&props(&[("request.required.acks", "-1")])));
        assert!(!acks_all(&props(&[("linger.ms", "5"), ("acks", "0")])));
    }
}
