//! The target side of a tracked load: a consumer thread that reads the remote topic, keeps the
//! records stamped by this run and job, and hands them to the job's recorder in batches.
//!
//! The reader assigns the remote topic's partitions itself rather than subscribing in a consumer
//! group: a group subscription made before the mirror created the topic stayed unassigned for a
//! whole 10-minute run on the 3-broker lab, while the topic filled up.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::ClientConfig;
use rdkafka::ClientContext;
use rdkafka::{Offset, TopicPartitionList};

use super::stamp::Stamp;
use crate::load::LoadJob;
use crate::metrics::phases::PhaseCursor;
use crate::shard::Shard;

/// Records applied under one lock of the job's recorder.
const BATCH: usize = 1024;
/// How often the topic's partitions are looked up: until the mirror has created it, then to
/// follow partitions the mirror adds.
const LOOKUP_UNTIL_CREATED: Duration = Duration::from_secs(1);
const LOOKUP_FOR_NEW_PARTITIONS: Duration = Duration::from_secs(10);
/// Short, so a slow lookup delays reading (and the arrival times taken) as little as possible.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(1);

pub struct TargetReader {
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
}

impl TargetReader {
    pub fn start(
        job: Arc<LoadJob>,
        mut config: ClientConfig,
        topic: &str,
        shard: Shard,
    ) -> Result<TargetReader, KafkaError> {
        config
            // librdkafka assigns partitions only to a consumer with a group; assigned by hand, it
            // never joins it, and nothing is committed.
            .set(
                "group.id",
                format!("kscen-verify-{:016x}-{}", job.run_id, job.id),
            )
            .set("enable.auto.commit", "false");
        let consumer: BaseConsumer<TargetContext> = config.create_with_context(TargetContext)?;
        let topic = topic.to_string();
        let stop = Arc::new(AtomicBool::new(false));
        let thread_stop = stop.clone();
        let thread = thread::Builder::new()
            .name(format!("kscen-verify-{}", job.id))
            .spawn(move || read(&job, &consumer, &topic, shard, &thread_stop))
            .map_err(|e| {
                KafkaError::ClientCreation(format!("cannot start the verifier thread: {e}"))
            })?;
        Ok(TargetReader {
            stop,
            thread: Some(thread),
        })
    }

    pub fn stop(mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Until the mirror has created the remote topic, its lookups report it as unknown: expected,
/// so not worth an error line. Every other client error is still logged.
struct TargetContext;

impl ClientContext for TargetContext {
    fn error(&self, error: KafkaError, reason: &str) {
        if error.rdkafka_error_code() != Some(RDKafkaErrorCode::UnknownTopicOrPartition) {
            tracing::error!("verifier consumer: {error}: {reason}");
        }
    }
}

impl ConsumerContext for TargetContext {}

struct Arrival {
    seq: u64,
    partition: i32,
    intended_ns: u64,
    received_ns: u64,
}

/// The partitions of `topic` being read (a shard's: those it owns); each new one is read from its
/// beginning.
struct Assignment {
    partitions: BTreeSet<i32>,
    shard: Shard,
    next_lookup: Instant,
}

impl Assignment {
    fn new(shard: Shard) -> Assignment {
        Assignment {
            partitions: BTreeSet::new(),
            shard,
            next_lookup: Instant::now(),
        }
    }

    /// Looks the topic up when due and starts reading the partitions not read yet.
    fn refresh(&mut self, consumer: &BaseConsumer<TargetContext>, topic: &str) {
        if Instant::now() < self.next_lookup {
            return;
        }
        let mut new = new_partitions(consumer, topic, &self.partitions);
        new.retain(|p| self.shard.owns_partition(*p));
        if !new.is_empty() {
            match read_from_beginning(consumer, topic, &new) {
                Ok(()) => self.partitions.extend(new),
                Err(e) => tracing::error!("verifier consumer: cannot read {topic}: {e}"),
            }
        }
        let every = if self.partitions.is_empty() {
            LOOKUP_UNTIL_CREATED
        } else {
            LOOKUP_FOR_NEW_PARTITIONS
        };
        self.next_lookup = Instant::now() + every;
    }
}

/// Adds `partitions` of `topic` to what the consumer reads, each from its first record.
fn read_from_beginning(
    consumer: &BaseConsumer<TargetContext>,
    topic: &str,
    partitions: &[i32],
) -> Result<(), KafkaError> {
    let mut list = TopicPartitionList::new();
    for &partition in partitions {
        list.add_partition_offset(topic, partition, Offset::Beginning)?;
    }
    consumer.incremental_assign(&list)
}

/// The partitions of `topic` on the cluster that are not in `known`; none while it does not exist.
fn new_partitions(
    consumer: &BaseConsumer<TargetContext>,
    topic: &str,
    known: &BTreeSet<i32>,
) -> Vec<i32> {
    let Ok(metadata) = consumer.fetch_metadata(Some(topic), LOOKUP_TIMEOUT) else {
        return Vec::new();
    };
    metadata
        .topics()
        .iter()
        .filter(|t| t.name() == topic && t.error().is_none())
        .flat_map(|t| t.partitions())
        .map(|p| p.id())
        .filter(|id| !known.contains(id))
        .collect()
}

fn read(
    job: &LoadJob,
    consumer: &BaseConsumer<TargetContext>,
    topic: &str,
    shard: Shard,
    stop: &AtomicBool,
) {
    let mut batch: Vec<Arrival> = Vec::with_capacity(BATCH);
    let mut cursor = PhaseCursor::default();
    let mut assignment = Assignment::new(shard);
    while !stop.load(Ordering::Acquire) {
        assignment.refresh(consumer, topic);
        if assignment.partitions.is_empty() {
            thread::sleep(Duration::from_millis(100));
            continue;
        }
        let mut wait = Duration::from_millis(100);
        while batch.len() < BATCH {
            // Errors here are transient (a partition's leader moving, a broker restarting).
            let Some(Ok(message)) = consumer.poll(wait) else {
                break;
            };
            wait = Duration::ZERO;
            let received_ns = job.clock.now_ns();
            let Some(stamp) = message.payload().and_then(Stamp::read) else {
                continue;
            };
            // Stamps number records as the whole schedule does; the job counts its own.
            let ours = stamp.run == job.run_id && stamp.job == job.id as u32;
            if let Some(seq) = shard.local_seq(stamp.seq).filter(|_| ours) {
                batch.push(Arrival {
                    seq,
                    partition: message.partition(),
                    intended_ns: stamp.intended_ns,
                    received_ns,
                });
            }
        }
        if batch.is_empty() {
            continue;
        }
        let mut recorder = job.recorder.lock().unwrap();
        for arrival in batch.drain(..) {
            let phase = cursor.phase_at(&job.board, arrival.intended_ns);
            recorder.replicated(
                arrival.seq,
                arrival.partition,
                arrival.intended_ns,
                arrival.received_ns,
                phase,
            );
        }
    }
    if assignment.partitions.is_empty() {
        tracing::warn!(
            "the remote topic {topic} never appeared on the target: is the mirror replicating \
             its source topic (topics filter, replication policy)?"
        );
    }
}
