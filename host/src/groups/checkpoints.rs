//! MirrorMaker 2's checkpoints: for a consumer group of the source, the offset on the target
//! where it can resume a remote topic's partition. The checkpoint connector writes them to the
//! target's checkpoints topic (its name comes from the mirror's policy, see
//! `Mirror::checkpoints_topic`) in the format of `org.apache.kafka.connect.mirror.Checkpoint`
//! (Kafka 3.x and 4.x alike), Kafka protocol types, big-endian:
//! - key: `group` STRING, `topic` STRING (the remote topic), `partition` INT32;
//! - value: `version` INT16 (0), then `upstreamOffset` INT64, `offset` INT64 (downstream),
//!   `metadata` STRING;
//!
//! where STRING is an INT16 length and that many bytes of UTF-8.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;

use super::{blocking, read_ranges, reader_config, Range};
use crate::cluster::{fetch_metadata, find_topic, Clusters, METADATA_TIMEOUT};
use crate::error::{HostError, HostResult};

/// The only value version Kafka has written (3.x, 4.x).
const VERSION: i16 = 0;
/// Undecodable records beyond this many are counted, not described.
const MAX_WARNINGS: usize = 20;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Checkpoint {
    pub group: String,
    /// The remote topic, on the target.
    pub topic: String,
    pub partition: i32,
    /// The group's committed offset on the source.
    pub upstream_offset: i64,
    /// Where the group resumes on the target.
    pub downstream_offset: i64,
    /// The committed offset's metadata.
    pub metadata: String,
}

impl Checkpoint {
    /// The record's key and value, as MM2 writes them.
    pub fn encode(&self) -> HostResult<(Vec<u8>, Vec<u8>)> {
        let mut key = Vec::new();
        put_string(&mut key, &self.group)?;
        put_string(&mut key, &self.topic)?;
        key.extend_from_slice(&self.partition.to_be_bytes());
        let mut value = Vec::new();
        value.extend_from_slice(&VERSION.to_be_bytes());
        value.extend_from_slice(&self.upstream_offset.to_be_bytes());
        value.extend_from_slice(&self.downstream_offset.to_be_bytes());
        put_string(&mut value, &self.metadata)?;
        Ok((key, value))
    }

    /// A checkpoint record's key and value; why not, when they are not one.
    pub fn decode(key: &[u8], value: &[u8]) -> Result<Checkpoint, String> {
        let mut key = Fields::new(key, "key");
        let group = key.string("group")?;
        let topic = key.string("topic")?;
        let partition = i32::from_be_bytes(key.take("partition")?);
        let mut value = Fields::new(value, "value");
        let version = i16::from_be_bytes(value.take("version")?);
        if version != VERSION {
            return Err(format!(
                "value version {version}: kscen reads version {VERSION}, the only one Kafka writes"
            ));
        }
        Ok(Checkpoint {
            group,
            topic,
            partition,
            upstream_offset: i64::from_be_bytes(value.take("upstreamOffset")?),
            downstream_offset: i64::from_be_bytes(value.take("offset")?),
            metadata: value.string("metadata")?,
        })
    }
}

fn put_string(out: &mut Vec<u8>, text: &str) -> HostResult<()> {
    let len = i16::try_from(text.len()).map_err(|_| {
        HostError::Invalid(format!(
            "a checkpoint string holds at most {} bytes, not {}",
            i16::MAX,
            text.len()
        ))
    })?;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(text.as_bytes());
    Ok(())
}

/// Reads a key or value field by field; errors name the field.
struct Fields<'a> {
    bytes: &'a [u8],
    what: &'static str,
}

impl<'a> Fields<'a> {
    fn new(bytes: &'a [u8], what: &'static str) -> Fields<'a> {
        Fields { bytes, what }
    }

    fn take<const N: usize>(&mut self, field: &str) -> Result<[u8; N], String> {
        let bytes = self.bytes_of(N, field)?;
        Ok(bytes.try_into().expect("N bytes"))
    }

    fn bytes_of(&mut self, len: usize, field: &str) -> Result<&'a [u8], String> {
        if self.bytes.len() < len {
            return Err(format!(
                "{} ends inside {field}: {} bytes left, {len} needed",
                self.what,
                self.bytes.len()
            ));
        }
        let (taken, rest) = self.bytes.split_at(len);
        self.bytes = rest;
        Ok(taken)
    }

    fn string(&mut self, field: &str) -> Result<String, String> {
        let len = i16::from_be_bytes(self.take(field)?);
        let len = usize::try_from(len)
            .map_err(|_| format!("{} field {field} has length {len}", self.what))?;
        let bytes = self.bytes_of(len, field)?;
        String::from_utf8(bytes.to_vec())
            .map_err(|_| format!("{} field {field} is not UTF-8", self.what))
    }
}

/// A checkpoint as read from the topic: the record's timestamp and place.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Emitted {
    pub checkpoint: Checkpoint,
    /// The record's timestamp (ms since the epoch), when it has one.
    pub timestamp_ms: Option<i64>,
    /// Where the record is in the checkpoints topic.
    pub log_partition: i32,
    pub log_offset: i64,
}

impl Emitted {
    /// Whether `self` was written after `other`: later in the log of one partition, else the
    /// later timestamp (MM2 writes a key to one partition; only a hand-written record lands
    /// elsewhere).
    fn supersedes(&self, other: &Emitted) -> bool {
        if self.log_partition == other.log_partition {
            self.log_offset > other.log_offset
        } else {
            self.timestamp_ms >= other.timestamp_ms
        }
    }
}

/// What a checkpoints topic held when it was read.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Checkpoints {
    pub cluster: String,
    pub topic: String,
    /// When the end offsets to read up to were taken (ms since the epoch): checkpoint ages are
    /// taken from it.
    pub read_at_ms: i64,
    /// The newest checkpoint per (group, remote topic, partition), sorted by them.
    pub newest: Vec<Emitted>,
    /// Records that are not checkpoints.
    pub undecodable: u64,
    /// What was wrong with the first of them, by partition and offset.
    pub warnings: Vec<String>,
}

/// The checkpoints in `topic` on cluster `cluster` (the target), of `group` only if given: the
/// topic is read from its beginning up to the end offsets it had when the read started. A record
/// that does not decode is a warning (logged and kept in the result), never an error.
pub async fn read_checkpoints(
    clusters: &Clusters,
    cluster: &str,
    topic: &str,
    group: Option<&str>,
) -> HostResult<Checkpoints> {
    let config = reader_config(clusters, cluster)?;
    let (cluster, topic) = (cluster.to_string(), topic.to_string());
    let group = group.map(str::to_string);
    blocking(format!("reading checkpoints from {topic}"), move || {
        let consumer: BaseConsumer = config.create()?;
        let ranges = topic_ranges(&consumer, &cluster, &topic)?;
        // After the end offsets: every checkpoint read was written before them, so no age is
        // negative (taken before, a checkpoint written meanwhile was read "from the future").
        let read_at_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        let mut newest: BTreeMap<(String, String, i32), Emitted> = BTreeMap::new();
        let mut undecodable = 0;
        let mut warnings = Vec::new();
        read_ranges(&consumer, &cluster, &topic, &ranges, |message| {
            let decoded = match (message.key(), message.payload()) {
                (Some(key), Some(value)) => Checkpoint::decode(key, value),
                (None, _) => Err("no key".to_string()),
                (_, None) => Err("no value (a tombstone)".to_string()),
            };
            let checkpoint = match decoded {
                Ok(checkpoint) => checkpoint,
                Err(why) => {
                    undecodable += 1;
                    if warnings.len() < MAX_WARNINGS {
                        let warning = format!(
                            "{topic} on {cluster}, partition {} offset {}: not a checkpoint: {why}",
                            message.partition(),
                            message.offset()
                        );
                        tracing::warn!("{warning}");
                        warnings.push(warning);
                    }
                    return;
                }
            };
            if group.as_ref().is_some_and(|g| *g != checkpoint.group) {
                return;
            }
            let emitted = Emitted {
                timestamp_ms: message.timestamp().to_millis(),
                log_partition: message.partition(),
                log_offset: message.offset(),
                checkpoint,
            };
            let key = (
                emitted.checkpoint.group.clone(),
                emitted.checkpoint.topic.clone(),
                emitted.checkpoint.partition,
            );
            match newest.get(&key) {
                Some(kept) if !emitted.supersedes(kept) => {}
                _ => {
                    newest.insert(key, emitted);
                }
            }
        })?;
        Ok(Checkpoints {
            cluster,
            topic,
            read_at_ms,
            newest: newest.into_values().collect(),
            undecodable,
            warnings,
        })
    })
    .await
}

/// Every partition of the checkpoints topic from its first offset to its end offset now. A topic
/// the cluster does not have is `NotFound`, saying why it may be missing.
fn topic_ranges(consumer: &BaseConsumer, cluster: &str, topic: &str) -> HostResult<Vec<Range>> {
    let metadata = fetch_metadata(consumer, Some(topic))?;
    let found = find_topic(&metadata, cluster, topic).map_err(|_| {
        HostError::NotFound(format!(
            "checkpoints topic {topic} on cluster {cluster}: the checkpoint connector creates it \
             when it starts; it may not have run yet, write its checkpoints elsewhere (its \
             replication policy and separator name the topic), or have \
             emit.checkpoints.enabled=false"
        ))
    })?;
    found
        .partitions()
        .iter()
        .map(|p| {
            let (from, until) = consumer.fetch_watermarks(topic, p.id(), METADATA_TIMEOUT)?;
            Ok(Range {
                partition: p.id(),
                from,
                until,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checkpoint() -> Checkpoint {
        Checkpoint {
            group: "billing".into(),
            topic: "east_orders".into(),
            partition: 3,
            upstream_offset: 1234,
            downstream_offset: 1200,
            metadata: String::new(),
        }
    }

    #[test]
    fn records_have_mm2s_layout_and_round_trip() {
        let (key, value) = checkpoint().encode().unwrap();
        // What Checkpoint.serializeKey / serializeValue(0) produce for this checkpoint.
        let mut expected_key = vec![0, 7];
        expected_key.extend(b"billing");
        expected_key.extend([0, 11]);
        expected_key.extend(b"east_orders");
        expected_key.extend([0, 0, 0, 3]);
        assert_eq!(key, expected_key);
        let mut expected_value = vec![0, 0];
        expected_value.extend(1234i64.to_be_bytes());
        expected_value.extend(1200i64.to_be_bytes());
        expected_value.extend([0, 0]);
        assert_eq!(value, expected_value);
        assert_eq!(Checkpoint::decode(&key, &value).unwrap(), checkpoint());
        let with_metadata = Checkpoint {
            metadata: "résumé".into(),
            ..checkpoint()
        };
        let (key, value) = with_metadata.encode().unwrap();
        assert_eq!(Checkpoint::decode(&key, &value).unwrap(), with_metadata);
    }

    #[test]
    fn what_is_not_a_checkpoint_says_why() {
        let (key, value) = checkpoint().encode().unwrap();
        let error = Checkpoint::decode(&key[..key.len() - 1], &value).unwrap_err();
        assert_eq!(error, "key ends inside partition: 3 bytes left, 4 needed");
        let error = Checkpoint::decode(&key, &value[..10]).unwrap_err();
        assert!(error.starts_with("value ends inside offset"), "{error}");
        let mut newer = value.clone();
        newer[1] = 1;
        let error = Checkpoint::decode(&key, &newer).unwrap_err();
        assert!(error.starts_with("value version 1"), "{error}");
        let error = Checkpoint::decode(&[0xff, 0xff], &value).unwrap_err();
        assert_eq!(error, "key field group has length -1");
        let error = Checkpoint::decode(&[0, 2, 0xc3, 0x28], &value).unwrap_err();
        assert_eq!(error, "key field group is not UTF-8");
        // A heartbeat's value in the wrong topic, or any other text.
        assert!(Checkpoint::decode(b"hello", b"world").is_err());
    }

    #[test]
    fn a_string_too_long_for_the_format_is_refused() {
        let long = Checkpoint {
            group: "g".repeat(40_000),
            ..checkpoint()
        };
        let error = long.encode().unwrap_err().to_string();
        assert!(error.contains("at most 32767 bytes, not 40000"), "{error}");
    }

    #[test]
    fn the_later_record_of_a_key_is_the_newest() {
        let at = |partition, offset, timestamp| Emitted {
            checkpoint: checkpoint(),
            timestamp_ms: Some(timestamp),
            log_partition: partition,
            log_offset: offset,
        };
        // One partition: log order, whatever the timestamps say.
        assert!(at(0, 9, 100).supersedes(&at(0, 8, 200)));
        assert!(!at(0, 8, 200).supersedes(&at(0, 9, 100)));
        // Two partitions: the later timestamp.
        assert!(at(1, 0, 300).supersedes(&at(0, 9, 200)));
        assert!(!at(1, 0, 100).supersedes(&at(0, 9, 200)));
    }
}
