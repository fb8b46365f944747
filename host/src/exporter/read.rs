//! One reading of the deployment: per partition, how far the target is behind the source (the
//! seed's `MirrorMakerLagMonitor`: the source partition's end offset minus its remote
//! partition's), and every consumer group's lag on every cluster of the profile.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
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

/// Reads the deployment again and again with the same Kafka clients: one per cluster for
/// metadata and end offsets, one per consumer group for its committed offsets (librdkafka asks a
/// group's coordinator under the client's own `group.id`). A part that fails drops its cluster's
/// clients, so the next reading starts afresh.
pub struct Reader {
    clusters: Arc<Clusters>,
    clients: Arc<Mutex<Clients>>,
}

#[derive(Default)]
struct Clients {
    by_cluster: HashMap<String, BaseConsumer>,
    by_group: HashMap<(String, String), BaseConsumer>,
}

impl Clients {
    fn cluster(&mut self, clusters: &Clusters, cluster: &str) -> HostResult<&BaseConsumer> {
        if !self.by_cluster.contains_key(cluster) {
            let client = clusters.client_config(cluster)?.create()?;
            self.by_cluster.insert(cluster.to_string(), client);
        }
        Ok(&self.by_cluster[cluster])
    }

    fn group(
        &mut self,
        clusters: &Clusters,
        cluster: &str,
        group: &str,
    ) -> HostResult<&BaseConsumer> {
        let key = (cluster.to_string(), group.to_string());
        if !self.by_group.contains_key(&key) {
            let mut config = clusters.client_config(cluster)?;
            config
                .set("group.id", group)
                .set("enable.auto.commit", "false");
            self.by_group.insert(key.clone(), config.create()?);
        }
        Ok(&self.by_group[&key])
    }

    fn forget(&mut self, cluster: &str) {
        self.by_cluster.remove(cluster);
        self.by_group.retain(|(c, _), _| c != cluster);
    }
}

impl Reader {
    pub fn new(clusters: Clusters) -> Reader {
        Reader {
            clusters: Arc::new(clusters),
            clients: Arc::default(),
        }
    }

    /// Reads everything once; `mirror` is the deployment's mirror from the profile's cluster
    /// `source` to its cluster `target`, if it has one (or why it could not be found).
    pub async fn read(&self, mirror: Option<Result<Mirror, String>>) -> Reading {
        let started = Instant::now();
        let replication = match mirror {
            None => None,
            Some(Err(why)) => Some(Err(why)),
            Some(Ok(mirror)) => Some(
                self.blocking(&["source", "target"], move |clusters, clients| {
                    replication_lags(clusters, clients, &mirror)
                })
                .await,
            ),
        };
        let mut groups = Vec::new();
        for cluster in self
            .clusters
            .names()
            .map(str::to_string)
            .collect::<Vec<_>>()
        {
            let name = cluster.clone();
            let bootstrap = self
                .clusters
                .bootstrap_servers(&cluster)
                .unwrap_or_default();
            let lags = self
                .blocking(&[cluster.as_str()], move |clusters, clients| {
                    group_lags(clusters, clients, &name)
                })
                .await
                .map_err(|e| format!("{e} (bootstrap servers {bootstrap})"));
            groups.push((cluster, lags));
        }
        Reading {
            replication,
            groups,
            took: started.elapsed(),
        }
    }

    /// Runs `work` off the async runtime with the clients; on failure, forgets those of
    /// `clusters`.
    async fn blocking<T: Send + 'static>(
        &self,
        clusters: &[&str],
        work: impl FnOnce(&Clusters, &mut Clients) -> HostResult<T> + Send + 'static,
    ) -> Result<T, String> {
        let (all, clients) = (self.clusters.clone(), self.clients.clone());
        let answer = tokio::task::spawn_blocking(move || {
            let mut clients = clients.lock().expect("not poisoned");
            work(&all, &mut clients)
        })
        .await;
        let answer = match answer {
            Ok(answer) => answer.map_err(|e| e.to_string()),
            Err(e) => Err(format!("the reading task failed: {e}")),
        };
        if answer.is_err() {
            let mut clients = self.clients.lock().expect("not poisoned");
            for cluster in clusters {
                clients.forget(cluster);
            }
        }
        answer
    }
}

/// Every source topic the mirror replicates, partition by partition.
fn replication_lags(
    clusters: &Clusters,
    clients: &mut Clients,
    mirror: &Mirror,
) -> HostResult<Vec<ReplicationLag>> {
    clients.cluster(clusters, "source")?;
    clients.cluster(clusters, "target")?;
    let (source, target) = (&clients.by_cluster["source"], &clients.by_cluster["target"]);
    let source_topics = fetch_metadata(source, None)?;
    let target_topics = fetch_metadata(target, None)?;
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
                high_watermarks(target, t)?.into_iter().collect()
            }
            _ => HashMap::new(),
        };
        for (partition, source_end) in high_watermarks(source, topic)? {
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
fn group_lags(
    clusters: &Clusters,
    clients: &mut Clients,
    cluster: &str,
) -> HostResult<Vec<GroupLag>> {
    let listed = consumer_groups(clients.cluster(clusters, cluster)?, cluster)?;
    clients
        .by_group
        .retain(|(c, group), _| c != cluster || listed.contains(group));
    let mut lags = Vec::new();
    for group in listed {
        match describe_group(
            clients.group(clusters, cluster, &group)?,
            cluster,
            &group,
            None,
        ) {
            Ok(lag) => lags.push(lag),
            // Gone between the listing and the reading.
            Err(HostError::NotFound(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(lags)
}
