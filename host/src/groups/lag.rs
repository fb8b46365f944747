//! `kafka-consumer-groups --describe --group G` for one group on one cluster: per partition the
//! committed offset, the end offset and the lag between them, with the group's state and member
//! count. Read with the group's id but without joining it: nothing is subscribed or committed.

use std::collections::HashMap;

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::metadata::{Metadata, MetadataTopic};
use rdkafka::{Offset, TopicPartitionList};

use super::blocking;
use crate::cluster::{fetch_metadata, find_topic, high_watermarks, Clusters, METADATA_TIMEOUT};
use crate::error::{HostError, HostResult};

/// Kafka's own topics (`__consumer_offsets`, `__transaction_state`) start with this; no group
/// consumes them.
const INTERNAL_PREFIX: &str = "__";

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct GroupLag {
    pub cluster: String,
    pub group: String,
    /// As the group coordinator reports it: `Stable`, `Empty`, `PreparingRebalance`…
    pub state: String,
    pub members: usize,
    /// Sorted by topic and partition.
    pub partitions: Vec<PartitionLag>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PartitionLag {
    pub topic: String,
    pub partition: i32,
    /// `None` when the group has committed nothing for the partition.
    pub committed: Option<i64>,
    /// The high watermark.
    pub end: i64,
    /// `end - committed`; `None` without a committed offset.
    pub lag: Option<i64>,
}

impl GroupLag {
    /// The largest lag of a partition with a committed offset; 0 when none has one.
    pub fn max_lag(&self) -> i64 {
        self.partitions
            .iter()
            .filter_map(|p| p.lag)
            .max()
            .unwrap_or(0)
    }

    /// The lags of the partitions with a committed offset, added up.
    pub fn total_lag(&self) -> i64 {
        self.partitions.iter().filter_map(|p| p.lag).sum()
    }
}

/// Where `group` stands on cluster `cluster`. With `topics`, every partition of those topics (a
/// topic the cluster does not have is `NotFound`); without, every partition of each
/// non-internal topic the group has committed an offset for. A group the cluster does not know
/// is `NotFound`.
pub async fn group_lag(
    clusters: &Clusters,
    cluster: &str,
    group: &str,
    topics: Option<&[String]>,
) -> HostResult<GroupLag> {
    let mut config = clusters.client_config(cluster)?;
    config
        .set("group.id", group)
        .set("enable.auto.commit", "false");
    let (cluster, group) = (cluster.to_string(), group.to_string());
    let topics = topics.map(<[String]>::to_vec);
    blocking(
        format!("describing consumer group {group} on {cluster}"),
        move || {
            let consumer: BaseConsumer = config.create()?;
            describe_group(&consumer, &cluster, &group, topics.as_deref())
        },
    )
    .await
}

/// The consumer groups of the cluster `consumer` reaches (`kafka-consumer-groups --list`):
/// those of the `consumer` protocol, and those that only ever committed offsets (no protocol);
/// not Connect's own.
pub fn consumer_groups(consumer: &BaseConsumer, cluster: &str) -> HostResult<Vec<String>> {
    let groups = while_coordinator_moves(|| consumer.fetch_group_list(None, METADATA_TIMEOUT))
        .map_err(|e| HostError::Kafka(format!("listing the consumer groups of {cluster}: {e}")))?;
    let mut names: Vec<String> = groups
        .groups()
        .iter()
        .filter(|g| matches!(g.protocol_type(), "consumer" | ""))
        .map(|g| g.name().to_string())
        .collect();
    names.sort();
    Ok(names)
}

/// [`group_lag`] with a consumer of the cluster whose `group.id` is the group (it never
/// subscribes nor commits): blocking, for a caller that samples the lag on a thread of its own.
pub fn describe_group(
    consumer: &BaseConsumer,
    cluster: &str,
    group: &str,
    topics: Option<&[String]>,
) -> HostResult<GroupLag> {
    let (state, members) = describe(consumer, cluster, group)?;
    let metadata = fetch_metadata(consumer, None)?;
    let named = topics.is_some();
    let candidates = candidates(&metadata, cluster, topics)?;
    let mut list = TopicPartitionList::new();
    for topic in &candidates {
        for partition in topic.partitions() {
            list.add_partition(topic.name(), partition.id());
        }
    }
    let committed: HashMap<(String, i32), i64> = committed_offsets(consumer, list)?
        .elements()
        .iter()
        .filter_map(|e| match e.offset() {
            Offset::Offset(offset) => Some(((e.topic().to_string(), e.partition()), offset)),
            _ => None,
        })
        .collect();
    if committed.is_empty() && matches!(state.as_str(), "Dead" | "") {
        return Err(HostError::NotFound(format!(
            "consumer group {group} on cluster {cluster}: no such group; \
             `kafka-consumer-groups --list` shows those that exist"
        )));
    }
    let mut partitions = Vec::new();
    for topic in candidates {
        // Without named topics, the group's topics are those it committed offsets for.
        let consumes = || committed.keys().any(|(t, _)| t == topic.name());
        if !named && !consumes() {
            continue;
        }
        for (partition, end) in high_watermarks(consumer, topic)? {
            let committed = committed
                .get(&(topic.name().to_string(), partition))
                .copied();
            partitions.push(PartitionLag {
                topic: topic.name().to_string(),
                partition,
                committed,
                end,
                lag: committed.map(|c| end - c),
            });
        }
    }
    partitions.sort_by(|a, b| (&a.topic, a.partition).cmp(&(&b.topic, b.partition)));
    Ok(GroupLag {
        cluster: cluster.to_string(),
        group: group.to_string(),
        state,
        members,
        partitions,
    })
}

/// The group's state and member count; `Dead` when the coordinator does not list it.
/// How often, and how far apart, an offset fetch is asked again while the group's coordinator
/// moves: a broker that just started or restarted loads `__consumer_offsets` partitions for a
/// moment, and answers NotCoordinator or CoordinatorLoadInProgress meanwhile.
const COORDINATOR_ATTEMPTS: u32 = 10;
const COORDINATOR_BACKOFF: std::time::Duration = std::time::Duration::from_millis(300);

/// The group's committed offsets of `list`.
fn committed_offsets(
    consumer: &BaseConsumer,
    list: TopicPartitionList,
) -> rdkafka::error::KafkaResult<TopicPartitionList> {
    while_coordinator_moves(|| consumer.committed_offsets(list.clone(), METADATA_TIMEOUT))
}

/// `ask`, asked again while the group's coordinator is moving.
fn while_coordinator_moves<T>(
    mut ask: impl FnMut() -> rdkafka::error::KafkaResult<T>,
) -> rdkafka::error::KafkaResult<T> {
    let mut attempt = 1;
    loop {
        match ask() {
            Err(e) if attempt < COORDINATOR_ATTEMPTS && coordinator_moving(&e) => {
                attempt += 1;
                std::thread::sleep(COORDINATOR_BACKOFF);
            }
            answer => return answer,
        }
    }
}

fn coordinator_moving(error: &rdkafka::error::KafkaError) -> bool {
    use rdkafka::types::RDKafkaErrorCode::*;
    matches!(
        error.rdkafka_error_code(),
        Some(NotCoordinator | CoordinatorNotAvailable | CoordinatorLoadInProgress)
    )
}

fn describe(consumer: &BaseConsumer, cluster: &str, group: &str) -> HostResult<(String, usize)> {
    let groups =
        while_coordinator_moves(|| consumer.fetch_group_list(Some(group), METADATA_TIMEOUT))
            .map_err(|e| {
                HostError::Kafka(format!(
                    "describing consumer group {group} on {cluster}: {e}"
                ))
            })?;
    Ok(groups
        .groups()
        .iter()
        .find(|g| g.name() == group)
        .map_or(("Dead".to_string(), 0), |g| {
            (g.state().to_string(), g.members().len())
        }))
}

/// The topics `topics` names (one the cluster does not have is `NotFound`), or every
/// non-internal topic of the cluster.
fn candidates<'m>(
    metadata: &'m Metadata,
    cluster: &str,
    topics: Option<&[String]>,
) -> HostResult<Vec<&'m MetadataTopic>> {
    match topics {
        Some(named) => named
            .iter()
            .map(|topic| find_topic(metadata, cluster, topic))
            .collect(),
        None => Ok(metadata
            .topics()
            .iter()
            .filter(|t| !t.name().starts_with(INTERNAL_PREFIX) && t.error().is_none())
            .collect()),
    }
}

#[cfg(test)]
mod tests {
    use rdkafka::error::KafkaError;
    use rdkafka::types::RDKafkaErrorCode;

    use super::*;

    #[test]
    fn a_moving_coordinator_is_asked_again_and_other_errors_are_not() {
        let mut answers = vec![
            Err(KafkaError::MetadataFetch(RDKafkaErrorCode::NotCoordinator)),
            Err(KafkaError::MetadataFetch(
                RDKafkaErrorCode::CoordinatorLoadInProgress,
            )),
            Ok(7),
        ]
        .into_iter();
        assert_eq!(while_coordinator_moves(|| answers.next().unwrap()), Ok(7));

        let mut asked = 0;
        let refused = while_coordinator_moves(|| -> rdkafka::error::KafkaResult<()> {
            asked += 1;
            Err(KafkaError::MetadataFetch(
                RDKafkaErrorCode::GroupAuthorizationFailed,
            ))
        });
        assert!(refused.is_err());
        assert_eq!(asked, 1);
    }
}
