//! Moving a consumer group: committing its offsets on a cluster, as `kafka-consumer-groups
//! --reset-offsets --to-offset ... --execute` does, e.g. to the offsets MirrorMaker 2 translated
//! before the group resumes on the target.

use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{Offset, TopicPartitionList};

use super::blocking;
use crate::cluster::Clusters;
use crate::error::{HostError, HostResult};

/// One partition's offset to commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Commit {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
}

/// Commits `offsets` for `group` on cluster `cluster`. Kafka accepts it only while the group
/// has no active member: a clear error says so otherwise.
pub async fn commit_offsets(
    clusters: &Clusters,
    cluster: &str,
    group: &str,
    offsets: &[Commit],
) -> HostResult<()> {
    if offsets.is_empty() {
        return Err(HostError::Invalid(format!(
            "no offset to commit for group {group} on {cluster}"
        )));
    }
    if let Some(bad) = offsets.iter().find(|c| c.offset < 0) {
        return Err(HostError::Invalid(format!(
            "offset {} of {} [{}] is negative",
            bad.offset, bad.topic, bad.partition
        )));
    }
    let mut config = clusters.client_config(cluster)?;
    config
        .set("group.id", group)
        .set("enable.auto.commit", "false");
    let mut list = TopicPartitionList::new();
    for commit in offsets {
        list.add_partition_offset(
            &commit.topic,
            commit.partition,
            Offset::Offset(commit.offset),
        )?;
    }
    let (cluster, group) = (cluster.to_string(), group.to_string());
    blocking(
        format!("committing offsets of group {group} on {cluster}"),
        move || {
            let consumer: BaseConsumer = config.create()?;
            consumer
                .commit(&list, CommitMode::Sync)
                .map_err(|error| commit_error(&cluster, &group, error))
        },
    )
    .await
}

fn commit_error(cluster: &str, group: &str, error: KafkaError) -> HostError {
    match error.rdkafka_error_code() {
        Some(
            RDKafkaErrorCode::UnknownMemberId
            | RDKafkaErrorCode::IllegalGeneration
            | RDKafkaErrorCode::RebalanceInProgress,
        ) => HostError::Invalid(format!(
            "group {group} on {cluster} has active members: Kafka commits offsets for a group \
             only while none is consuming; stop its consumers first ({error})"
        )),
        _ => HostError::Kafka(format!(
            "committing offsets of group {group} on {cluster}: {error}"
        )),
    }
}
