//! Consumer groups: where a group stands on a cluster, the checkpoints MirrorMaker 2 emits for it
//! on the target, and what a consumer resuming on the target at a translated offset misses or
//! reads twice.
//!
//! Module map (one job each):
//! - `checkpoints`: MM2's checkpoint records (the wire format of
//!   `org.apache.kafka.connect.mirror.Checkpoint`), read from the target's checkpoints topic;
//! - `commit`: committing a group's offsets (moving it);
//! - `lag`: `kafka-consumer-groups --describe` for one group;
//! - `translation`: a group's translated offsets, and the error of a translation measured on
//!   kscen's stamped records.
//!
//! Every read here assigns partitions by hand and reads up to end offsets taken when it starts:
//! it never joins a group, never commits, and ends even while the topic keeps growing.

pub mod checkpoints;
pub mod commit;
pub mod lag;
pub mod translation;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

use crate::cluster::Clusters;
use crate::error::{HostError, HostResult};

/// How long reading a topic's records up to their end offsets may take.
const READ_TIMEOUT: Duration = Duration::from_secs(60);

/// Runs librdkafka's blocking calls off the async runtime.
async fn blocking<T: Send + 'static>(
    what: String,
    work: impl FnOnce() -> HostResult<T> + Send + 'static,
) -> HostResult<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| HostError::Kafka(format!("{what}: the task failed: {e}")))?
}

/// A consumer config for cluster `cluster` that reads partitions assigned by hand. librdkafka
/// assigns partitions only to a consumer with a group id: this one has a group of its own that
/// it never joins, and commits nothing.
fn reader_config(clusters: &Clusters, cluster: &str) -> HostResult<ClientConfig> {
    static READERS: AtomicU64 = AtomicU64::new(0);
    let mut config = clusters.client_config(cluster)?;
    config
        .set(
            "group.id",
            format!(
                "kscen-reader-{}-{}",
                std::process::id(),
                READERS.fetch_add(1, Ordering::Relaxed)
            ),
        )
        .set("enable.auto.commit", "false")
        // A range whose last records were compacted away ends at the partition's end.
        .set("enable.partition.eof", "true")
        // A range whose first records were deleted since its start was taken starts at the log start.
        .set("auto.offset.reset", "earliest");
    Ok(config)
}

/// Offsets `from..until` of one partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Range {
    partition: i32,
    from: i64,
    until: i64,
}

/// Hands every record of `topic` in `ranges` to `each`, in offset order within a partition.
/// Offsets a compacted topic no longer holds are skipped. Fails with `Timeout` after
/// [`READ_TIMEOUT`], saying which partitions were not read to the end of their range.
fn read_ranges(
    consumer: &BaseConsumer,
    cluster: &str,
    topic: &str,
    ranges: &[Range],
    mut each: impl FnMut(&BorrowedMessage<'_>),
) -> HostResult<()> {
    // partition → (until, last offset read)
    let mut pending: BTreeMap<i32, (i64, Option<i64>)> = BTreeMap::new();
    let mut assignment = TopicPartitionList::new();
    for range in ranges.iter().filter(|r| r.from < r.until) {
        pending.insert(range.partition, (range.until, None));
        assignment.add_partition_offset(topic, range.partition, Offset::Offset(range.from))?;
    }
    if pending.is_empty() {
        return Ok(());
    }
    consumer.assign(&assignment)?;
    let deadline = Instant::now() + READ_TIMEOUT;
    let mut last_error = None;
    while !pending.is_empty() {
        if Instant::now() >= deadline {
            let left: Vec<String> = pending
                .iter()
                .map(|(partition, (until, read))| match read {
                    Some(read) => format!("{partition} (read to {read} of {until})"),
                    None => format!("{partition} (nothing read, up to {until})"),
                })
                .collect();
            return Err(HostError::Timeout(format!(
                "reading topic {topic} on {cluster}: after {READ_TIMEOUT:?}, partitions {} \
                 were not read to their end offsets{}",
                left.join(", "),
                last_error
                    .map(|e: KafkaError| format!(" (last error: {e})"))
                    .unwrap_or_default()
            )));
        }
        match consumer.poll(Duration::from_millis(100)) {
            None => {}
            Some(Ok(message)) => {
                let Some((until, read)) = pending.get_mut(&message.partition()) else {
                    continue;
                };
                if message.offset() < *until {
                    *read = Some(message.offset());
                    each(&message);
                }
                if message.offset() >= *until - 1 {
                    pending.remove(&message.partition());
                }
            }
            // The partition's current end is at or past `until`: what is left of the range was
            // compacted away (or held only transaction markers).
            Some(Err(KafkaError::PartitionEOF(partition))) => {
                pending.remove(&partition);
            }
            // Transient while a partition's leader moves; a lasting one ends in the timeout.
            Some(Err(error)) => last_error = Some(error),
        }
    }
    Ok(())
}
