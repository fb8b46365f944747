//! Handing records to librdkafka a batch at a time.
//!
//! rdkafka's `BaseProducer::send` wraps `rd_kafka_producev`, which looks the topic up by name under
//! a lock and reads the clock twice for every record. `rd_kafka_produce_batch` does that once per
//! call and still runs the configured partitioner for each record, so the records land where
//! `send` would have put them. On small records that per-record work is a large part of what
//! the job thread spends (docs/bench.md).

use std::ffi::{c_void, CString};
use std::ptr::NonNull;

use rdkafka::bindings as rdsys;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseProducer, Producer, ProducerContext};

/// librdkafka's `RD_KAFKA_PARTITION_UA`: let the partitioner choose.
const UNASSIGNED_PARTITION: i32 = -1;

/// A record of a batch. librdkafka copies the bytes during [`TopicHandle::produce`].
pub struct Outgoing<'a> {
    pub payload: &'a [u8],
    pub key: Option<&'a [u8]>,
    /// None: the partitioner chooses
    pub partition: Option<i32>,
    /// Comes back with the record's delivery report.
    pub opaque: usize,
}

/// The producer's handle on one topic. Drop it before the producer.
pub struct TopicHandle {
    topic: NonNull<rdsys::rd_kafka_topic_t>,
    /// Reused for every batch.
    messages: Vec<rdsys::rd_kafka_message_t>,
}

// SAFETY: a topic handle is a reference-counted librdkafka object, safe to use from any thread;
// the job thread is its only user, and `messages` holds no pointer between calls.
unsafe impl Send for TopicHandle {}

impl TopicHandle {
    pub fn new<C: ProducerContext>(
        producer: &BaseProducer<C>,
        topic: &str,
    ) -> Result<TopicHandle, KafkaError> {
        let name = CString::new(topic).map_err(|_| {
            KafkaError::ClientCreation(format!("topic name {topic:?} contains a NUL byte"))
        })?;
        // SAFETY: the client is alive for this call; a null configuration means the producer's
        // own topic settings (acks, partitioner, ...), as `send` gets them. The handle holds a
        // reference, released in Drop.
        let topic_ptr = unsafe {
            rdsys::rd_kafka_topic_new(
                producer.client().native_ptr(),
                name.as_ptr(),
                std::ptr::null_mut(),
            )
        };
        let topic = NonNull::new(topic_ptr).ok_or_else(|| {
            KafkaError::ClientCreation(format!("librdkafka refused a handle on topic {topic}"))
        })?;
        Ok(TopicHandle {
            topic,
            messages: Vec::new(),
        })
    }

    /// Hands `records` to the producer in one call and says what became of each, in order. A
    /// full queue refuses the record that met it and every one after it.
    pub fn produce(&mut self, records: &[Outgoing<'_>]) -> Vec<Result<(), RDKafkaErrorCode>> {
        self.messages.clear();
        self.messages.extend(records.iter().map(|record| {
            rdsys::rd_kafka_message_t {
                err: rdsys::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR,
                rkt: std::ptr::null_mut(),
                partition: record.partition.unwrap_or(UNASSIGNED_PARTITION),
                payload: record.payload.as_ptr() as *mut c_void,
                len: record.payload.len(),
                key: record
                    .key
                    .map_or(std::ptr::null_mut(), |key| key.as_ptr() as *mut c_void),
                key_len: record.key.map_or(0, <[u8]>::len),
                offset: 0,
                _private: record.opaque as *mut c_void,
            }
        }));
        // SAFETY: the topic handle is valid until Drop; every message points at bytes borrowed
        // for this call, which librdkafka copies (F_COPY) before returning, and only writes
        // each message's `err`.
        // Records naming their partition go there (F_PARTITION); the others still through the
        // partitioner.
        let flags = if records.iter().any(|r| r.partition.is_some()) {
            rdsys::RD_KAFKA_MSG_F_COPY | rdsys::RD_KAFKA_MSG_F_PARTITION
        } else {
            rdsys::RD_KAFKA_MSG_F_COPY
        };
        unsafe {
            rdsys::rd_kafka_produce_batch(
                self.topic.as_ptr(),
                UNASSIGNED_PARTITION,
                flags,
                self.messages.as_mut_ptr(),
                self.messages.len() as i32,
            );
        }
        let results = self
            .messages
            .iter()
            .map(|message| match message.err {
                rdsys::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR => Ok(()),
                error => Err(RDKafkaErrorCode::from(error)),
            })
            .collect();
        self.messages.clear();
        results
    }
}

impl Drop for TopicHandle {
    fn drop(&mut self) {
        // SAFETY: releases the reference taken in `new`; nothing uses the handle afterwards.
        unsafe { rdsys::rd_kafka_topic_destroy(self.topic.as_ptr()) }
    }
}
