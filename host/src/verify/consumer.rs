//! The target side of a tracked load: a consumer thread that reads the remote topic, keeps the
//! records stamped by this run and job, and hands them to the job's recorder in batches.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::ClientConfig;
use rdkafka::ClientContext;

use super::stamp::Stamp;
use crate::load::LoadJob;
use crate::metrics::phases::PhaseCursor;

/// Records applied under one lock of the job's recorder.
const BATCH: usize = 1024;

pub struct TargetReader {
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
}

impl TargetReader {
    pub fn start(
        job: Arc<LoadJob>,
        mut config: ClientConfig,
        topic: &str,
    ) -> Result<TargetReader, KafkaError> {
        config
            .set(
                "group.id",
                format!("kscen-verify-{:016x}-{}", job.run_id, job.id),
            )
            .set("auto.offset.reset", "earliest")
            .set("enable.auto.commit", "false")
            // The remote topic may only appear once the mirror has discovered the source topic.
            .set("topic.metadata.refresh.interval.ms", "1000");
        let consumer: BaseConsumer<TargetContext> = config.create_with_context(TargetContext)?;
        consumer.subscribe(&[topic])?;
        let stop = Arc::new(AtomicBool::new(false));
        let thread_stop = stop.clone();
        let thread = thread::Builder::new()
            .name(format!("kscen-verify-{}", job.id))
            .spawn(move || read(&job, &consumer, &thread_stop))
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

/// Until the mirror has created the remote topic, librdkafka reports it as unknown: expected,
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

fn read(job: &LoadJob, consumer: &BaseConsumer<TargetContext>, stop: &AtomicBool) {
    let mut batch: Vec<Arrival> = Vec::with_capacity(BATCH);
    let mut cursor = PhaseCursor::default();
    while !stop.load(Ordering::Acquire) {
        let mut wait = Duration::from_millis(100);
        while batch.len() < BATCH {
            // Errors here are transient (topic not created yet, partition EOF, a rebalance).
            let Some(Ok(message)) = consumer.poll(wait) else {
                break;
            };
            wait = Duration::ZERO;
            let received_ns = job.clock.now_ns();
            let Some(stamp) = message.payload().and_then(Stamp::read) else {
                continue;
            };
            if stamp.run == job.run_id && stamp.job == job.id as u32 {
                batch.push(Arrival {
                    seq: stamp.seq,
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
}
