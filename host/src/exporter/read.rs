//! One reading of the deployment: per partition, how far the target is behind the source (the
//! seed's `MirrorMakerLagMonitor`: the source partition's end offset minus its remote
//! partition's), and every consumer group's lag on every cluster of the profile.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::consumer::BaseConsumer;

use crate::cluster::{fetch_metadata, high_watermarks, Clusters};
use crate::deployment::mirrors::Mirror;
use crate::error::{HostError, HostResult};
use crate::groups::lag::{consumer_groups, describe_group, GroupLag};

/// Kafka's own topics (`__consumer_offsets`, ...): never mirrored.
const INTERNAL_PREFIX: &str = "__";

/// What one reading found; each part is read on its own, so one failing leaves the others.
pub struct Reading {
    /// `None` when the profile describes no mirror.
    pub replication: Option<Result<Vec<ReplicationLag>, String>>,
    /// Per cluster of the profile, by name.
    pub groups: Vec<(String, Result<Vec<GroupLag>, String>)>,
    pub took: Duration,
}

/// One source partition and its remote partition on the target.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplicationLag {
    pub mirror: String,
    pub source_topic: String,
    pub remote_topic: String,
    pub partition: i32,
    pub source_end: i64,
    /// 0 while the target has no such partition (the mirror has not created it yet).
    pub target_end: i64,
}

impl ReplicationLag {
    /// Negative when the target holds more records than the source: duplicates.
    pub fn lag(&self) -> i64 {
        self.source_end - self.target_end
    }
}

/// Reads everything once; `mirror` is the deployment's mirror from the profile's cluster
/// `source` to its cluster `target`, if it has one (or why it could not be found).
pub async fn read(clusters: &Arc<Clusters>, mirror: Option<Result<Mirror, String>>) -> Reading {
    let started = Instant::now();
    let replication = match mirror {
        None => None,
        Some(Err(why)) => Some(Err(why)),
        Some(Ok(mirror)) => {
            let clusters = clusters.clone();
            Some(blocking(move || replication_lags(&clusters, &mirror)).await)
        }
    };
    let mut groups = Vec::new();
    for cluster in clusters.names().map(str::to_string).collect::<Vec<_>>() {
        let (clusters, name) = (clusters.clone(), cluster.clone());
        groups.push((
            cluster,
            blocking(move || group_lags(&clusters, &name)).await,
        ));
    }
    Reading {
        replication,
        groups,
        took: started.elapsed(),
    }
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> HostResult<T> + Send + 'static,
) -> Result<T, String> {
    match tokio::task::spawn_blocking(work).await {
        Ok(answer) => answer.map_err(|e| e.to_string()),
        Err(e) => Err(format!("the reading task failed: {e}")),
    }
}

/// Every source topic the mirror replicates, partition by partition.
fn replication_lags(clusters: &Clusters, mirror: &Mirror) -> HostResult<Vec<ReplicationLag>> {
    let source: BaseConsumer = clusters.client_config("source")?.create()?;
    let target: BaseConsumer = clusters.client_config("target")?.create()?;
    let source_topics = fetch_metadata(&source, None)?;
    let target_topics = fetch_metadata(&target, None)?;
    let on_target: HashMap<&str, _> = target_topics
        .topics()
        .iter()
        .map(|t| (t.name(), t))
        .collect();
    let label = mirror.label();
    let mut lags = Vec::new();
    for topic in source_topics.topics() {
        let name = topic.name();
        // A mirror whose filter was not read (pinned in the profile) is taken to copy every topic.
        let replicated = mirror
            .topics
            .as_ref()
            .is_none_or(|filter| filter.replicates(name) == Some(true));
        if name.starts_with(INTERNAL_PREFIX) || !replicated || topic.partitions().is_empty() {
            continue;
        }
        let remote = mirror.remote_topic(name).ok_or_else(|| {
            HostError::Unsupported(format!(
                "mirror {label}: its replication policy ({}) does not say how it names topics on \
                 the target",
                mirror.policy
            ))
        })?;
        let target_ends: HashMap<i32, i64> = match on_target.get(remote.as_str()) {
            Some(t) if !t.partitions().is_empty() => {
                high_watermarks(&target, t)?.into_iter().collect()
            }
            _ => HashMap::new(),
        };
        for (partition, source_end) in high_watermarks(&source, topic)? {
            lags.push(ReplicationLag {
                mirror: label.clone(),
                source_topic: name.to_string(),
                remote_topic: remote.clone(),
                partition,
                source_end,
                target_end: target_ends.get(&partition).copied().unwrap_or(0),
            });
        }
    }
    Ok(lags)
}

/// Each consumer group of `cluster` that has committed offsets, with its lag per partition.
fn group_lags(clusters: &Clusters, cluster: &str) -> HostResult<Vec<GroupLag>> {
    let lister: BaseConsumer = clusters.client_config(cluster)?.create()?;
    let mut lags = Vec::new();
    for group in consumer_groups(&lister, cluster)? {
        let mut config = clusters.client_config(cluster)?;
        config
            .set("group.id", &group)
            .set("enable.auto.commit", "false");
        let consumer: BaseConsumer = config.create()?;
        match describe_group(&consumer, cluster, &group, None) {
            Ok(lag) => lags.push(lag),
            // Gone between the listing and the reading.
            Err(HostError::NotFound(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(lags)
}
