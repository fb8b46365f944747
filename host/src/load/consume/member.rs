//! One member of a consume job's group: a librdkafka consumer on its own thread, taking records
//! in batches (from a queue of their own, [`super::records`]) and handing each batch to the job's
//! recorder and the group's ledger under one lock each, committing as the plan says. The
//! consumer's events (rebalances, commit results, errors) are served between batches.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::ClientContext;

use super::records::{Record, RecordQueue};
use super::taken::TakenOffsets;
use super::{CommitPolicy, ConsumeJob};
use crate::error::{HostError, HostResult};
use crate::metrics::histogram;
use crate::verify::stamp::Stamp;

/// Records taken before they are handed over under the job's locks.
const BATCH: usize = 1024;
/// How long a member waits for a first record (or an event) before checking whether it must stop.
const POLL_WAIT: Duration = Duration::from_millis(100);
/// Events served at most between two batches (each `poll` serves one).
const EVENTS: usize = 64;

/// Tells the job which partitions this member holds after each rebalance, and commits what it
/// took before partitions go.
pub struct MemberContext {
    job: std::sync::Arc<ConsumeJob>,
    index: u32,
    partitions: u32,
    taken: TakenOffsets,
    /// Rebalances this member went through: its loop forwards the records again after each.
    rebalances: AtomicU64,
}

impl ClientContext for MemberContext {}

impl ConsumerContext for MemberContext {
    /// Before partitions go, what was read of them is committed, as Java's consumer does with
    /// auto commit: the member that gets them next starts after it, not at an older commit
    /// (which would read those records twice).
    ///
    /// The revoke comes between batches, once the last one was handed over (or, for the records
    /// `poll` returns, in the middle of one: those taken are committed too, and handed over once
    /// the events are served).
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(revoked) = rebalance {
            if self.job.plan.reading.commit != CommitPolicy::None {
                self.taken.store(consumer);
                note_commit_error(
                    &self.job,
                    self.index,
                    consumer.commit_consumer_state(CommitMode::Sync),
                );
            }
            self.taken.forget(revoked);
        }
    }

    fn post_rebalance(&self, consumer: &BaseConsumer<Self>, _rebalance: &Rebalance<'_>) {
        self.rebalances.fetch_add(1, Ordering::Relaxed);
        // Members leaving at the job's end are no rebalance worth counting.
        if self.job.stopping() {
            return;
        }
        // The assignment after the change, whatever the protocol (eager, cooperative, KIP-848).
        let held = consumer.assignment().map_or(0, |list| list.count() as u32);
        let now = self.job.clock.now_ns();
        self.job
            .assignment
            .lock()
            .unwrap()
            .member_holds(self.index, held, now);
    }
}

/// Member `index` of `job`, on a topic of `partitions` partitions.
pub fn create(
    job: &std::sync::Arc<ConsumeJob>,
    index: u32,
    partitions: u32,
    config: &rdkafka::ClientConfig,
) -> HostResult<BaseConsumer<MemberContext>> {
    let context = MemberContext {
        job: job.clone(),
        index,
        partitions,
        taken: TakenOffsets::new(&job.plan.reading.topic, partitions),
        rebalances: AtomicU64::new(0),
    };
    config.create_with_context(context).map_err(|e| {
        HostError::Kafka(format!(
            "consumer {index} of group {} on {}: {e}",
            job.plan.reading.group, job.plan.reading.cluster
        ))
    })
}

/// What one batch brought.
#[derive(Default)]
struct Batch {
    records: u64,
    bytes: u64,
    /// (producer job, sequence, end-to-end µs) of this run's stamped records
    stamped: Vec<(u32, u64, u64)>,
    error: Option<String>,
}

impl Batch {
    fn add(&mut self, job: &ConsumeJob, payload: &[u8]) {
        self.records += 1;
        self.bytes += payload.len() as u64;
        if let Some(stamp) = Stamp::read(payload).filter(|s| s.run == job.run_id) {
            // The clock is read for this run's stamped records only: the others need no time,
            // and reading it for every record was 6 % of a consume run's CPU samples at close to
            // a million 1 KiB records a second (perf on the bench's lab: the member thread's
            // clock_gettime went from 16 % to 10 %, the rest being librdkafka's own per poll).
            let e2e_us = job.clock.now_ns().saturating_sub(stamp.intended_ns) / 1000;
            self.stamped.push((stamp.job, stamp.seq, e2e_us));
        }
    }

    fn is_empty(&self) -> bool {
        self.records == 0 && self.error.is_none()
    }
}

impl ConsumeJob {
    /// Applies a batch; true once the plan's count is reached.
    fn hand_over(&self, batch: &mut Batch, now_ns: u64) -> bool {
        {
            let mut recorder = self.recorder.lock().unwrap();
            if batch.records > 0 {
                recorder.records += batch.records;
                recorder.bytes += batch.bytes;
                recorder.interval_records += batch.records;
                recorder.interval_bytes += batch.bytes;
                recorder.stamped += batch.stamped.len() as u64;
                recorder.last_record_ns = now_ns;
                for (_, _, e2e_us) in &batch.stamped {
                    histogram::record(&mut recorder.e2e, *e2e_us);
                }
            }
            if let Some(error) = batch.error.take() {
                recorder.last_error = Some(error);
            }
        }
        if !batch.stamped.is_empty() {
            let mut ledger = self.ledger.lock().unwrap();
            for (job, seq, _) in batch.stamped.drain(..) {
                ledger.read(job, seq);
            }
        }
        let records = std::mem::take(&mut batch.records);
        batch.bytes = 0;
        self.take(records)
    }
}

/// The member's loop: until the job stops, its duration passes or the group reached its count.
pub fn run(job: &ConsumeJob, consumer: &BaseConsumer<MemberContext>) {
    let context = consumer.context();
    let index = context.index;
    // Before subscribing, so that no record lands on the consumer's queue first.
    let mut records = match RecordQueue::new(consumer, &job.plan.reading.topic, context.partitions)
    {
        Ok(records) => records,
        Err(e) => {
            job.recorder.lock().unwrap().last_error = Some(format!(
                "consumer {index} cannot take the records of {}: {e}",
                job.plan.reading.topic
            ));
            return;
        }
    };
    if let Err(e) = consumer.subscribe(&[&job.plan.reading.topic]) {
        job.recorder.lock().unwrap().last_error = Some(format!(
            "consumer {index} cannot subscribe to {}: {e}",
            job.plan.reading.topic
        ));
        return;
    }
    let deadline = job.plan.duration.map(|d| Instant::now() + d);
    let mut batch = Batch::default();
    let mut forwarded_after = 0;
    while !job.stopping() && deadline.is_none_or(|d| Instant::now() < d) {
        // Rebalances (the context's hooks), commit results, errors, and the records of a
        // partition added to the topic after the job started, which only `poll` returns.
        for _ in 0..EVENTS {
            match consumer.poll(Duration::ZERO) {
                Some(Ok(message)) => {
                    let record = Record {
                        partition: message.partition(),
                        offset: message.offset(),
                        payload: message.payload().unwrap_or_default(),
                        key_len: message.key_len(),
                    };
                    take_record(job, consumer, &mut batch, Ok(record));
                }
                Some(Err(e)) => take_record(job, consumer, &mut batch, Err(e)),
                None if !records.events_waiting() => break,
                None => {}
            }
        }
        let rebalances = context.rebalances.load(Ordering::Relaxed);
        if rebalances != forwarded_after {
            forwarded_after = rebalances;
            records.forward_again();
        }
        let taken = records.take(POLL_WAIT, BATCH, |record| {
            take_record(job, consumer, &mut batch, record)
        });
        if taken == 0 {
            // Idle: in case librdkafka stopped fetching a partition (clearing its forwarding)
            // only after the forwarding that followed the last rebalance.
            records.forward_again();
        }
        if batch.is_empty() {
            continue;
        }
        let took = batch.records > 0;
        let reached = job.hand_over(&mut batch, job.clock.now_ns());
        if took && commits(job) {
            context.taken.store(consumer);
        }
        if took && job.plan.reading.commit == CommitPolicy::PerBatch {
            note_commit_error(
                job,
                index,
                consumer.commit_consumer_state(CommitMode::Async),
            );
        }
        if reached {
            break;
        }
    }
    // Every member stops together: the count and the duration are the group's.
    job.request_stop();
    if job.plan.reading.commit == CommitPolicy::PerBatch {
        note_commit_error(job, index, consumer.commit_consumer_state(CommitMode::Sync));
    }
    // Closing the consumer (on drop, after `records`) hands out what was fetched ahead and
    // commits (in the revoke, and with auto commit): only the offsets stored above, so nothing
    // unread is marked read.
}

fn commits(job: &ConsumeJob) -> bool {
    job.plan.reading.commit != CommitPolicy::None
}

/// Adds a record to the batch and notes it as taken, or notes a consume error (transient: a
/// leader moving, a broker restarting; not fatal).
fn take_record(
    job: &ConsumeJob,
    consumer: &BaseConsumer<MemberContext>,
    batch: &mut Batch,
    record: Result<Record<'_>, KafkaError>,
) {
    let context = consumer.context();
    match record {
        Ok(record) => {
            if commits(job) && !context.taken.took(record.partition, record.offset) {
                let _ =
                    consumer.store_offset(&job.plan.reading.topic, record.partition, record.offset);
            }
            batch.add(job, record.payload);
        }
        Err(e) => batch.error = Some(format!("consumer {}: {e}", context.index)),
    }
}

/// A commit with nothing new to commit is not an error.
fn note_commit_error(job: &ConsumeJob, index: u32, result: Result<(), KafkaError>) {
    match result {
        Ok(()) => {}
        Err(e) if e.rdkafka_error_code() == Some(RDKafkaErrorCode::NoOffset) => {}
        Err(e) => {
            job.recorder.lock().unwrap().last_error =
                Some(format!("consumer {index}: commit failed: {e}"));
        }
    }
}
