//! A cluster's health as its brokers' own metrics report it: one Prometheus endpoint per broker
//! (the JMX exporter), each named as a probe in the profile. These are the figures the seeds'
//! rolling-upgrade checks read (004 §11.1.3: every broker online, no under-replicated or offline
//! partition, the ISR full), the ones that tell which broker leads which partition, and what a
//! run saw of them over time ([`HealthTally`]).
//!
//! The metric names are the JMX exporter's for Kafka's MBeans (`kafka.server:type=ReplicaManager,
//! name=UnderReplicatedPartitions` → `kafka_server_replicamanager_underreplicatedpartitions`).

use std::collections::{BTreeMap, BTreeSet};

use crate::probe::{self, Sample};
use crate::ScenarioError;

const UNDER_REPLICATED: &str = "kafka_server_replicamanager_underreplicatedpartitions";
const OFFLINE_PARTITIONS: &str = "kafka_controller_kafkacontroller_offlinepartitionscount";
const ACTIVE_CONTROLLER: &str = "kafka_controller_kafkacontroller_activecontrollercount";
/// The broker's Kafka version, as a label (the lab's exporter rule for `app-info`).
const APP_VERSION: &str = "kafka_server_app_version";
/// ISR shrinks and expands since the broker started (counters the JVM restarts from 0), as the
/// partition leaders on it made them. In KRaft a dead broker is removed from the ISRs by the
/// controller when it fences it, which no leader counts; its return is counted as expands.
const ISR_SHRINKS: &str = "kafka_server_replicamanager_isrshrinks_total";
const ISR_EXPANDS: &str = "kafka_server_replicamanager_isrexpands_total";
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
    /// ISR shrinks and expands since it started.
    pub isr_shrinks: f64,
    pub isr_expands: f64,
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
            isr_shrinks: value(ISR_SHRINKS),
            isr_expands: value(ISR_EXPANDS),
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

    pub fn offline_partitions(&self) -> u64 {
        self.online().map(|(_, m)| m.offline_partitions).sum()
    }

    /// Brokers whose exporter did not answer.
    pub fn brokers_down(&self) -> u64 {
        (self.brokers.len() - self.online().count()) as u64
    }

    /// The reading as timeline gauges: brokers online, under-replicated and offline partitions,
    /// active controllers.
    pub fn gauges(&self) -> [(&'static str, f64); 4] {
        [
            ("brokers_online", self.online().count() as f64),
            (
                "under_replicated_partitions",
                self.under_replicated() as f64,
            ),
            ("offline_partitions", self.offline_partitions() as f64),
            (
                "active_controllers",
                self.online().filter(|(_, m)| m.active_controller).count() as f64,
            ),
        ]
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
        let offline = self.offline_partitions();
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

/// What a run saw of a cluster's health over its readings: the peaks, the ISR shrinks and
/// expands during the run (counted across broker restarts, which reset each broker's counters)
/// and how often the active controller moved.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HealthTally {
    pub under_replicated_peak: u64,
    pub offline_partitions_peak: u64,
    pub brokers_down_peak: u64,
    pub isr_shrinks: f64,
    pub isr_expands: f64,
    pub controller_changes: u64,
    /// each broker's (shrinks, expands) counters at its last reading
    isr_counters: BTreeMap<String, (f64, f64)>,
    controller: Option<String>,
}

impl HealthTally {
    pub fn add(&mut self, health: &ClusterHealth) {
        self.under_replicated_peak = self.under_replicated_peak.max(health.under_replicated());
        self.offline_partitions_peak = self
            .offline_partitions_peak
            .max(health.offline_partitions());
        self.brokers_down_peak = self.brokers_down_peak.max(health.brokers_down());
        for (name, metrics) in health.online() {
            let counters = (metrics.isr_shrinks, metrics.isr_expands);
            // A broker's first reading is its baseline: changes before the run are not the run's.
            if let Some(last) = self.isr_counters.insert(name.to_string(), counters) {
                self.isr_shrinks += since(last.0, counters.0);
                self.isr_expands += since(last.1, counters.1);
            }
        }
        // No controller for a moment (an election) is not a change; a different one is.
        if let Some(controller) = health.controller() {
            if self.controller.as_deref().is_some_and(|c| c != controller) {
                self.controller_changes += 1;
            }
            self.controller = Some(controller.to_string());
        }
    }
}

/// What a counter added since its `last` reading; a counter below it restarted from 0.
fn since(last: f64, now: f64) -> f64 {
    if now >= last {
        now - last
    } else {
        now
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

    fn reading(brokers: &[(&str, Option<(f64, bool)>)]) -> ClusterHealth {
        ClusterHealth {
            brokers: brokers
                .iter()
                .map(|(name, state)| match state {
                    Some((shrinks, controller)) => online(
                        name,
                        &[
                            sample(ISR_SHRINKS, &[], *shrinks),
                            // expands twice the shrinks: the tally counts both alike
                            sample(ISR_EXPANDS, &[], *shrinks * 2.0),
                            sample(ACTIVE_CONTROLLER, &[], f64::from(u8::from(*controller))),
                        ],
                    ),
                    None => Broker {
                        name: name.to_string(),
                        state: BrokerState::Unreachable("connection refused".into()),
                    },
                })
                .collect(),
        }
    }

    #[test]
    fn a_tally_counts_the_runs_isr_changes_across_a_restart_and_each_controller_move() {
        let mut tally = HealthTally::default();
        // Before the fault: counters from the brokers' past lives, kafka-c the controller.
        tally.add(&reading(&[
            ("kafka-a", Some((7.0, false))),
            ("kafka-b", Some((2.0, false))),
            ("kafka-c", Some((0.0, true))),
        ]));
        // kafka-c is killed: the others shrink their ISRs, no controller yet.
        tally.add(&reading(&[
            ("kafka-a", Some((10.0, false))),
            ("kafka-b", Some((4.0, false))),
            ("kafka-c", None),
        ]));
        // kafka-a took over; kafka-c is back, its counter restarted, 1 shrink since.
        tally.add(&reading(&[
            ("kafka-a", Some((10.0, true))),
            ("kafka-b", Some((4.0, false))),
            ("kafka-c", Some((1.0, false))),
        ]));
        assert_eq!(tally.isr_shrinks, 3.0 + 2.0 + 1.0);
        assert_eq!(tally.isr_expands, 2.0 * (3.0 + 2.0 + 1.0));
        assert_eq!(tally.controller_changes, 1);
        assert_eq!(tally.brokers_down_peak, 1);
    }

    #[test]
    fn a_reading_gives_the_timeline_its_gauges() {
        let health = reading(&[
            ("kafka-a", Some((0.0, true))),
            ("kafka-b", None),
            ("kafka-c", Some((0.0, false))),
        ]);
        assert_eq!(
            health.gauges(),
            [
                ("brokers_online", 2.0),
                ("under_replicated_partitions", 0.0),
                ("offline_partitions", 0.0),
                ("active_controllers", 1.0),
            ]
        );
    }
}
