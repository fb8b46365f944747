//! Native load generation: plans from plugins become paced producer jobs on their own threads.

mod batch;
pub mod consume;
pub mod job;
pub mod recorder;
mod reports;
pub mod schedule;

use std::time::Duration;

use serde::Serialize;

use crate::error::{HostError, HostResult};
pub use job::LoadJob;
pub use schedule::Rate;

/// Largest record a load may send; librdkafka's own `message.max.bytes` may be lower.
pub const MAX_RECORD_BYTES: u32 = 100 * 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum KeyMode {
    None,
    Sequential,
    Random(u64),
}

/// A validated load request, with producer properties already mapped to librdkafka.
#[derive(Debug, Clone)]
pub struct LoadPlan {
    pub cluster: String,
    pub topic: String,
    pub rate: Rate,
    pub count: Option<u64>,
    pub duration: Option<Duration>,
    pub record_sizes: Vec<u32>,
    pub key_mode: KeyMode,
    pub replication: Option<ReplicationPlan>,
    /// the run's shard: the plan's rate and count are already its stripe's
    pub shard: crate::shard::Shard,
}

/// Where a tracked load's records are expected to reappear.
#[derive(Debug, Clone)]
pub struct ReplicationPlan {
    /// client configuration of the target cluster
    pub target: rdkafka::ClientConfig,
    pub target_cluster: String,
    pub remote_topic: String,
    /// how long after its acknowledgement a record may take to appear before it counts as lost
    pub grace: Duration,
}

impl LoadPlan {
    pub fn validate(&self) -> HostResult<()> {
        let invalid = |what: String| Err(HostError::Invalid(what));
        if self.topic.is_empty() {
            return invalid("the topic name is empty".into());
        }
        if let Rate::PerSecond(rate) = self.rate {
            if !(rate.is_finite() && rate > 0.0) {
                return invalid(format!(
                    "rate must be a positive number of records per second, got {rate}"
                ));
            }
        }
        if self.record_sizes.is_empty() {
            return invalid("record-sizes is empty: give at least one size".into());
        }
        if let Some(size) = self
            .record_sizes
            .iter()
            .find(|s| **s == 0 || **s > MAX_RECORD_BYTES)
        {
            return invalid(format!(
                "record size {size} is outside 1..={MAX_RECORD_BYTES} bytes"
            ));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct LoadStatus {
    pub running: bool,
    pub sent: u64,
    pub acked: u64,
    pub failed: u64,
    pub bytes: u64,
    pub queue_full: u64,
    pub backlog: u64,
    pub target_rate: Option<f64>,
    pub elapsed_ms: u64,
    pub corrected_p99_us: u64,
    pub last_error: Option<String>,
    pub replication: Option<ReplicationProgress>,
}

#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct ReplicationProgress {
    #[serde(flatten)]
    pub status: crate::verify::ReplicationStatus,
    pub replicated_p99_us: u64,
}
