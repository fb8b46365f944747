//! What each consume job read, and what each tracked load found on the mirror's target.

use serde::{Deserialize, Serialize};

use crate::load::consume::{ConsumeStatus, GroupReading};
use crate::verify::ReplicationStatus;

/// A consume job's figures, as its status gives them at the end.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JobConsumption {
    pub job: u64,
    #[serde(flatten)]
    pub reading: GroupReading,
    /// start and end on the run's clock, s
    pub start_s: f64,
    pub end_s: f64,
    #[serde(flatten)]
    pub status: ConsumeStatus,
}

/// A load that tracked its records through the mirror, and its per-record verdict.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JobReplication {
    pub job: u64,
    pub cluster: String,
    pub topic: String,
    pub target_cluster: String,
    pub remote_topic: String,
    pub sent: u64,
    pub acked: u64,
    pub failed: u64,
    #[serde(flatten)]
    pub verdict: ReplicationStatus,
}
