//! A cluster's health as its brokers' own metrics report it: one Prometheus endpoint per broker
//! (the JMX exporter), each named as a probe in the profile. These are the figures the seeds'
//! rolling-upgrade checks read (004 §11.1.3: every broker online, no under-replicated or offline
//! partition, the ISR full) and the ones that tell which broker leads which partition.
//!
//! The metric names are the JMX exporter's for Kafka's MBeans (`kafka.server:type=ReplicaManager,
//! name=UnderReplicatedPartitions` → `kafka_server_replicamanager_underreplicatedpartitions`).

use std::collections::BTreeSet;

use crate::probe::{self, Sample};
use crate::ScenarioError;

const UNDER_REPLICATED: &str = "kafka_server_replicamanager_underreplicatedpartitions";
const OFFLINE_PARTITIONS: &str = "kafka_controller_kafkacontroller_offlinepartitionscount";
const ACTIVE_CONTROLLER: &str = "kafka_controller_kafkacontroller_activecontrollercount";
/// The broker's Kafka version, as a label (the lab's exporter rule for `app-info`).
const APP_VERSION: &str = "kafka_server_app_version";
/// Per partition: the ISR's size on the partition's leader, 0 on its followers.
const PARTITION_ISR: &str = "kafka_cluster_partition_insyncreplicascount";

/// One broker as its exporter answered, or why it did not.
#[derive(Debug, Clone, PartialEq)]
pub struct Broker {
    /// The probe's name in the profile.
    pub name: String,
    pub state: BrokerState,
}

#[derive(Debug, Clone, PartialEq)]
pub enum BrokerState {
    /// The exporter did not answer: the broker is down (the exporter runs in its JVM) or
    /// unreachable; the probe's error.
    Unreachable(String),
    Online(BrokerMetrics),
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct BrokerMetrics {
    /// Partitions it leads whose ISR lacks a replica.
    pub under_replicated: u64,
    /// Offline partitions; only the active controller reports any.
    pub offline_partitions: u64,
    pub active_controller: bool,
    /// The partitions of the watched topic it leads.
    pub leads: BTreeSet<i32>,
    /// The Kafka version it runs, when its exporter says.
    pub version: Option<String>,
}

impl BrokerMetrics {
    /// From one scrape of the broker's exporter; `topic` is the topic whose leaders are wanted.
    pub fn from_samples(samples: &[Sample], topic: &str) -> BrokerMetrics {
        let value = |name: &str| {
            samples
                .iter()
                .find(|s| s.name == name)
                .map_or(0.0, |s| s.value)
        };
        let label = |sample: &Sample, name: &str| {
            sample
                .labels
                .iter()
                .find(|(key, _)| key == name)
                .map(|(_, value)| value.clone())
        };
        BrokerMetrics {
            under_replicated: value(UNDER_REPLICATED) as u64,
            offline_partitions: value(OFFLINE_PARTITIONS) as u64,
            active_controller: value(ACTIVE_CONTROLLER) >= 1.0,
            leads: samples
                .iter()
                .filter(|s| s.name == PARTITION_ISR && s.value > 0.0)
                .filter(|s| label(s, "topic").as_deref() == Some(topic))
                .filter_map(|s| label(s, "partition")?.parse().ok())
                .collect(),
            version: samples
                .iter()
                .find(|s| s.name == APP_VERSION)
                .and_then(|s| label(s, "version")),
        }
    }
}

/// Every broker of a cluster, read at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterHealth {
    pub brokers: Vec<Broker>,
}

impl ClusterHealth {
    /// Scrapes each probe (one per broker); `topic`'s partition leaders are read too.
    pub fn read(probes: &[String], topic: &str) -> ClusterHealth {
        let brokers = probes
            .iter()
            .map(|name| Broker {
                name: name.clone(),
                state: match probe::scrape(name, "kafka_") {
                    Ok(samples) => {
                        BrokerState::Online(BrokerMetrics::from_samples(&samples, topic))
                    }
                    Err(error) => BrokerState::Unreachable(ScenarioError::from(error).to_string()),
                },
            })
            .collect();
        ClusterHealth { brokers }
    }

    fn online(&self) -> impl Iterator<Item = (&str, &BrokerMetrics)> {
        self.brokers.iter().filter_map(|b| match &b.state {
            BrokerState::Online(metrics) => Some((b.name.as_str(), metrics)),
            BrokerState::Unreachable(_) => None,
        })
    }

    pub fn is_online(&self, broker: &str) -> bool {
        self.online().any(|(name, _)| name == broker)
    }

    /// The Kafka version `broker` runs, when it is online and its exporter says.
    pub fn version(&self, broker: &str) -> Option<&str> {
        self.online()
            .find(|(name, _)| *name == broker)
            .and_then(|(_, m)| m.version.as_deref())
    }

    pub fn under_replicated(&self) -> u64 {
        self.online().map(|(_, m)| m.under_replicated).sum()
    }

    /// The active controller, when an online broker says it is.
    pub fn controller(&self) -> Option<&str> {
        self.online()
            .find(|(_, m)| m.active_controller)
            .map(|(name, _)| name)
    }

    /// The online broker leading the most partitions of the watched topic.
    pub fn busiest_leader(&self) -> Option<(&str, &BTreeSet<i32>)> {
        self.online()
            .filter(|(_, m)| !m.leads.is_empty())
            .max_by_key(|(_, m)| m.leads.len())
            .map(|(name, m)| (name, &m.leads))
    }

    /// Every one of the watched topic's `partitions` has a leader among the online brokers other
    /// than `except`.
    pub fn topic_led_without(&self, partitions: u32, except: &str) -> bool {
        let led: BTreeSet<i32> = self
            .online()
            .filter(|(name, _)| *name != except)
            .flat_map(|(_, m)| m.leads.iter().copied())
            .collect();
        (0..partitions as i32).all(|p| led.contains(&p))
    }

    /// The seeds' checks between two steps of a rolling restart: every broker online, no
    /// under-replicated partition (the ISR full), no offline partition, one active controller.
    /// Err says which failed.
    pub fn check(&self) -> Result<(), String> {
        let mut failing = Vec::new();
        for broker in &self.brokers {
            if let BrokerState::Unreachable(why) = &broker.state {
                failing.push(format!("{} offline ({why})", broker.name));
            }
        }
        let under_replicated = self.under_replicated();
        if under_replicated > 0 {
            failing.push(format!("{under_replicated} under-replicated partitions"));
        }
        let offline: u64 = self.online().map(|(_, m)| m.offline_partitions).sum();
        if offline > 0 {
            failing.push(format!("{offline} offline partitions"));
        }
        let controllers = self.online().filter(|(_, m)| m.active_controller).count();
        if controllers != 1 {
            failing.push(format!("{controllers} active controllers"));
        }
        if failing.is_empty() {
            Ok(())
        } else {
            Err(failing.join(", "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe_sample as sample;

    fn isr(topic: &str, partition: &str, size: f64) -> Sample {
        sample(
            PARTITION_ISR,
            &[("partition", partition), ("topic", topic)],
            size,
        )
    }

    fn online(name: &str, samples: &[Sample]) -> Broker {
        Broker {
            name: name.into(),
            state: BrokerState::Online(BrokerMetrics::from_samples(samples, "orders")),
        }
    }

    #[test]
    fn a_broker_leads_the_partitions_whose_isr_it_reports() {
        let metrics = BrokerMetrics::from_samples(
            &[
                isr("orders", "0", 3.0),
                isr("orders", "1", 0.0),
                isr("orders", "2", 2.0),
                isr("orders-dlq", "3", 3.0),
                sample(UNDER_REPLICATED, &[], 1.0),
                sample(ACTIVE_CONTROLLER, &[], 1.0),
                sample(APP_VERSION, &[("version", "4.3.1")], 1.0),
            ],
            "orders",
        );
        assert_eq!(metrics.leads, BTreeSet::from([0, 2]));
        assert_eq!(metrics.version.as_deref(), Some("4.3.1"));
        assert_eq!(metrics.under_replicated, 1);
        assert!(metrics.active_controller);
    }

    #[test]
    fn the_seeds_checks_name_each_failure() {
        let healthy = ClusterHealth {
            brokers: vec![
                online(
                    "kafka-a",
                    &[sample(ACTIVE_CONTROLLER, &[], 1.0), isr("orders", "0", 3.0)],
                ),
                online("kafka-b", &[isr("orders", "1", 3.0)]),
            ],
        };
        assert_eq!(healthy.check(), Ok(()));
        assert!(healthy.topic_led_without(2, "kafka-c"));
        assert!(!healthy.topic_led_without(2, "kafka-b"));
        assert_eq!(healthy.controller(), Some("kafka-a"));

        let degraded = ClusterHealth {
            brokers: vec![
                online(
                    "kafka-a",
                    &[sample(UNDER_REPLICATED, &[], 4.0), isr("orders", "0", 2.0)],
                ),
                Broker {
                    name: "kafka-b".into(),
                    state: BrokerState::Unreachable("connection refused".into()),
                },
            ],
        };
        assert_eq!(
            degraded.check(),
            Err(
                "kafka-b offline (connection refused), 4 under-replicated partitions, \
                 0 active controllers"
                    .into()
            )
        );
        assert_eq!(
            degraded.busiest_leader().map(|(name, _)| name),
            Some("kafka-a")
        );
        assert!(!degraded.is_online("kafka-b"));
    }
}
