//! Taking a consumer's records from librdkafka many at a time.
//!
//! rdkafka's `BaseConsumer::poll` hands records over one event at a time: per record a pop under
//! the queue's lock, librdkafka's poll bookkeeping (clock reads) and an `Arc` of rdkafka's own. On
//! 100 B records that is most of what a consumer thread does. `rd_kafka_consume_batch_queue` pops
//! up to N records in one call.
//!
//! It must not be called on the consumer's own queue, where librdkafka's events also arrive:
//! it serves every non-record operation itself (`rd_kafka_q_serve_rkmessages` calls
//! `rd_kafka_poll_cb` with `RD_KAFKA_Q_CB_RETURN`, which skips the event path), and rdkafka's
//! consumer has no rebalance callback, only `RD_KAFKA_EVENT_REBALANCE`; so a rebalance taken there
//! runs librdkafka's fallback, `rd_kafka_assign(rk, NULL)`: the assignment dropped, the
//! `ConsumerContext` never told. An offset commit's result taken there aborts the process
//! (`rd_kafka_message_get`: "unhandled optype").
//!
//! So each partition's fetch queue is forwarded to a queue of the consumer's own that only ever
//! holds records (and a partition's consume errors), taken in batches; the consumer's queue keeps
//! the events, served by `BaseConsumer::poll` between batches, with rdkafka's rebalance handling
//! and the context's hooks as before. librdkafka drops the records of a revoked partition from the
//! queue (outdated versions) as it does on the consumer's queue. An event arriving on the
//! consumer's queue wakes a consumer waiting for records (`rd_kafka_queue_yield`), so a rebalance
//! is handled as soon as with `poll`.
//!
//! When librdkafka stops fetching a partition (a revoke) it clears that partition's forwarding
//! (`rd_kafka_toppar_fetch_stop`), and when it fetches it again it leaves an application's
//! forwarding alone (`RD_KAFKA_Q_F_FWD_APP` in `rd_kafka_toppar_op_fetch_start`): the records of
//! a partition assigned again would stay in its own queue. So the owner forwards the partitions
//! again after every rebalance ([`RecordQueue::forward_again`]); records already waiting there
//! move over with it.
//!
//! Records of a partition the queue was not given (added to the topic later) still arrive on the
//! consumer's queue, and `poll` returns them.

use std::ffi::{c_void, CString};
use std::marker::PhantomData;
use std::ptr::NonNull;
use std::time::Duration;

use rdkafka::bindings as rdsys;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};

/// A record taken, borrowed until the batch it came in is done.
pub struct Record<'a> {
    pub partition: i32,
    pub offset: i64,
    pub payload: &'a [u8],
    /// Read by the bench's native loop (bench/native-consumer), which counts keys as perf-test does.
    #[allow(dead_code)]
    pub key_len: usize,
}

/// The records of a topic's partitions `0..partitions`, for one consumer; the borrow keeps it from
/// outliving the consumer (it is dropped before the client is destroyed).
pub struct RecordQueue<'c> {
    /// Where the partitions' records go; this handle owns it.
    queue: NonNull<rdsys::rd_kafka_queue_t>,
    /// A handle on the consumer's queue, to be woken by its events and see whether any wait.
    consumer_queue: NonNull<rdsys::rd_kafka_queue_t>,
    /// Each partition's fetch queue, forwarded to `queue` while this lives.
    partitions: Vec<NonNull<rdsys::rd_kafka_queue_t>>,
    /// The messages of the current batch, destroyed before `take` returns.
    taken: Vec<*mut rdsys::rd_kafka_message_t>,
    _consumer: PhantomData<&'c ()>,
}

/// Called by librdkafka, under the consumer queue's lock, when an operation lands on that queue
/// while it was empty.
unsafe extern "C" fn wake(_: *mut rdsys::rd_kafka_t, queue: *mut c_void) {
    // SAFETY: `queue` is the `RecordQueue`'s queue, which is destroyed only after this callback
    // has been removed (in Drop, under the same lock, so no call is running then).
    unsafe { rdsys::rd_kafka_queue_yield(queue.cast()) }
}

impl<'c> RecordQueue<'c> {
    /// Forwards the records of `topic`'s partitions `0..partitions` to a queue of their own. Call
    /// it before `subscribe`, so that no record lands on the consumer's queue first.
    pub fn new<C: ConsumerContext>(
        consumer: &'c BaseConsumer<C>,
        topic: &str,
        partitions: u32,
    ) -> Result<RecordQueue<'c>, KafkaError> {
        let name = CString::new(topic).map_err(|_| {
            KafkaError::ClientCreation(format!("topic name {topic:?} contains a NUL byte"))
        })?;
        let client = consumer.client().native_ptr();
        // SAFETY: the client is alive for `'c`, longer than every handle taken here; each handle
        // is destroyed exactly once, in Drop (or below, on failure).
        unsafe {
            let consumer_queue = NonNull::new(rdsys::rd_kafka_queue_get_consumer(client))
                .ok_or_else(|| {
                    KafkaError::ClientCreation("the consumer has no group queue".to_string())
                })?;
            let queue = match NonNull::new(rdsys::rd_kafka_queue_new(client)) {
                Some(queue) => queue,
                None => {
                    rdsys::rd_kafka_queue_destroy(consumer_queue.as_ptr());
                    return Err(KafkaError::ClientCreation(
                        "librdkafka refused a queue".to_string(),
                    ));
                }
            };
            let mut records = RecordQueue {
                queue,
                consumer_queue,
                partitions: Vec::with_capacity(partitions as usize),
                taken: Vec::new(),
                _consumer: PhantomData,
            };
            for partition in 0..partitions {
                // Partition ids fit i32: the count came from the topic's metadata.
                let handle =
                    rdsys::rd_kafka_queue_get_partition(client, name.as_ptr(), partition as i32);
                let handle = NonNull::new(handle).ok_or_else(|| {
                    KafkaError::ClientCreation(format!(
                        "librdkafka has no queue for {topic} [{partition}]"
                    ))
                })?;
                rdsys::rd_kafka_queue_forward(handle.as_ptr(), queue.as_ptr());
                records.partitions.push(handle);
            }
            rdsys::rd_kafka_queue_cb_event_enable(
                consumer_queue.as_ptr(),
                Some(wake),
                queue.as_ptr().cast(),
            );
            Ok(records)
        }
    }

    /// Forwards every partition's records to this queue again, as after `new`: call it after
    /// each rebalance (and it does no harm at any other time).
    pub fn forward_again(&self) {
        for handle in &self.partitions {
            // SAFETY: the handles are valid until Drop, where the forwarding is undone.
            unsafe { rdsys::rd_kafka_queue_forward(handle.as_ptr(), self.queue.as_ptr()) }
        }
    }

    /// Whether an operation waits on the consumer's queue (for `BaseConsumer::poll`).
    pub fn events_waiting(&self) -> bool {
        // SAFETY: the handle is valid until Drop.
        unsafe { rdsys::rd_kafka_queue_length(self.consumer_queue.as_ptr()) > 0 }
    }

    /// Takes up to `max` records that are already there; when there are none, waits up to `wait`
    /// for a first one (or an event on the consumer's queue) and takes what came with it. Hands
    /// each record, or a partition's consume error, to `each`, and returns how many messages it
    /// handed over.
    pub fn take(
        &mut self,
        wait: Duration,
        max: usize,
        mut each: impl FnMut(Result<Record<'_>, KafkaError>),
    ) -> usize {
        self.fill(0, max);
        if self.taken.is_empty() && !wait.is_zero() {
            // One message at most: librdkafka's batch call waits until the batch is full or the
            // time is up, and a record must not wait for others to arrive.
            let wait_ms = wait.as_millis().clamp(1, i32::MAX as u128) as i32;
            self.fill(wait_ms, 1);
            if !self.taken.is_empty() {
                self.fill(0, max.saturating_sub(1));
            }
        }
        for &message in &self.taken {
            // SAFETY: librdkafka handed the message out and it is destroyed only below; its
            // payload lives as long as the message, and `each` cannot keep the borrow.
            let message = unsafe { &*message };
            if message.err != rdsys::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR {
                each(Err(match message.err {
                    rdsys::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR__PARTITION_EOF => {
                        KafkaError::PartitionEOF(message.partition)
                    }
                    error => KafkaError::MessageConsumption(RDKafkaErrorCode::from(error)),
                }));
                continue;
            }
            let payload = if message.payload.is_null() {
                &[][..]
            } else {
                // SAFETY: librdkafka's payload pointer and length, valid with the message.
                unsafe { std::slice::from_raw_parts(message.payload.cast::<u8>(), message.len) }
            };
            each(Ok(Record {
                partition: message.partition,
                offset: message.offset,
                payload,
                key_len: message.key_len,
            }));
        }
        let taken = self.taken.len();
        for message in self.taken.drain(..) {
            // SAFETY: each message was handed out once by librdkafka and is released once.
            unsafe { rdsys::rd_kafka_message_destroy(message) }
        }
        taken
    }

    /// Appends up to `max` messages to `taken`, waiting up to `timeout_ms` for them.
    fn fill(&mut self, timeout_ms: i32, max: usize) {
        if max == 0 {
            return;
        }
        self.taken.reserve(max);
        let len = self.taken.len();
        // SAFETY: the queue is valid until Drop; librdkafka writes at most `max` message pointers
        // into the spare capacity reserved above and says how many.
        let got = unsafe {
            rdsys::rd_kafka_consume_batch_queue(
                self.queue.as_ptr(),
                timeout_ms,
                self.taken.as_mut_ptr().add(len),
                max,
            )
        };
        if let Ok(got) = usize::try_from(got) {
            // SAFETY: librdkafka initialised `got` (≤ max) pointers after `len`.
            unsafe { self.taken.set_len(len + got.min(max)) }
        }
    }
}

impl Drop for RecordQueue<'_> {
    fn drop(&mut self) {
        // SAFETY: every handle was taken in `new` and is released once. The wake-up is removed
        // first, under the consumer queue's lock, so it never runs on a destroyed queue; the
        // partitions are no longer forwarded (records fetched later wait in their own queue until
        // the consumer closes) before the queue they went to is destroyed, which drops the records
        // still in it.
        unsafe {
            rdsys::rd_kafka_queue_cb_event_enable(
                self.consumer_queue.as_ptr(),
                None,
                std::ptr::null_mut(),
            );
            for handle in self.partitions.drain(..) {
                rdsys::rd_kafka_queue_forward(handle.as_ptr(), std::ptr::null_mut());
                rdsys::rd_kafka_queue_destroy(handle.as_ptr());
            }
            rdsys::rd_kafka_queue_destroy(self.consumer_queue.as_ptr());
            rdsys::rd_kafka_queue_destroy(self.queue.as_ptr());
        }
    }
}
