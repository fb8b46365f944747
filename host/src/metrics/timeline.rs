//! The per-second timeline: throughput, latency and backlog sampled once a second from every
//! load job, plus the plugin's gauges.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TimelinePoint {
    /// seconds since the run started
    pub t_s: f64,
    #[serde(default)]
    pub phase: Option<String>,
    pub sent: u64,
    pub acked: u64,
    pub failed: u64,
    pub acked_per_s: f64,
    pub mb_per_s: f64,
    /// service latency over the second (ms), as kafka-producer-perf-test reports it
    pub service_avg_ms: f64,
    pub service_max_ms: f64,
    /// corrected latency p99 over the second (ms)
    pub corrected_p99_ms: f64,
    pub backlog: u64,
    /// with replication tracking: records acknowledged on the source and not yet seen on the
    /// target, and the age of the oldest of them (ms)
    #[serde(default)]
    pub replication_lag_records: Option<u64>,
    #[serde(default)]
    pub replication_lag_ms: Option<u64>,
    /// with consume jobs: records and MiB they took over the second, all jobs together
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consumed_per_s: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consumed_mb_per_s: Option<f64>,
    /// each consumer group's lag (end − committed offsets), as its consume jobs last sampled it
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub group_lag: BTreeMap<String, i64>,
    #[serde(default)]
    pub gauges: BTreeMap<String, f64>,
}
