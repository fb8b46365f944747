//! A native load job: one OS thread that paces, sends through a `BaseProducer` and records
//! delivery reports, with no allocation per message.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{
    BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext, PurgeConfig,
};
use rdkafka::ClientContext;

use super::recorder::{Enqueue, JobRecorder, NO_PHASE};
use super::schedule::{Rate, Schedule};
use super::{KeyMode, LoadPlan, LoadStatus, ReplicationProgress};
use crate::metrics::clock::RunClock;
use crate::metrics::phases::{PhaseBoard, PhaseCursor};
use crate::verify::consumer::TargetReader;
use crate::verify::stamp::Stamp;

/// How long a stopping job waits for outstanding acknowledgements before purging them.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest the job thread sleeps at once, so stop and rate changes take effect promptly.
const MAX_NAP: Duration = Duration::from_millis(20);

/// State shared between the job thread, its delivery callback and the host.
pub struct LoadJob {
    pub id: u64,
    /// Identifies this run's records among everything else on a topic.
    pub run_id: u64,
    pub cluster: String,
    pub topic: String,
    /// (target cluster, remote topic) when the job tracks replication
    pub replication_target: Option<(String, String)>,
    pub recorder: Mutex<JobRecorder>,
    pending_rate: Mutex<Option<Rate>>,
    target_rate_bits: AtomicU64,
    stop: AtomicBool,
    due_unsent: AtomicU64,
    started_ns: u64,
    finished_ns: AtomicU64,
    done: tokio::sync::watch::Sender<bool>,
    pub clock: RunClock,
    pub board: Arc<PhaseBoard>,
}

const NO_RATE: u64 = u64::MAX;

impl LoadJob {
    pub fn request_stop(&self) {
        self.stop.store(true, Ordering::Release);
    }

    pub fn request_rate(&self, rate: Rate) {
        *self.pending_rate.lock().unwrap() = Some(rate);
    }

    pub fn is_done(&self) -> bool {
        *self.done.borrow()
    }

    pub async fn wait_done(&self) {
        let mut done = self.done.subscribe();
        let _ = done.wait_for(|d| *d).await;
    }

    pub fn target_rate(&self) -> Option<f64> {
        match self.target_rate_bits.load(Ordering::Relaxed) {
            NO_RATE => None,
            bits => Some(f64::from_bits(bits)),
        }
    }

    fn set_target_rate(&self, rate: Rate) {
        let bits = rate.per_second().map_or(NO_RATE, f64::to_bits);
        self.target_rate_bits.store(bits, Ordering::Relaxed);
    }

    pub fn status(&self) -> LoadStatus {
        let now = self.clock.now_ns();
        let finished = self.finished_ns.load(Ordering::Acquire);
        let end = if finished == 0 { now } else { finished };
        let current_phase = self
            .board
            .snapshot()
            .into_iter()
            .rev()
            .find(|s| s.end_ns.is_none())
            .map(|s| s.index);
        let mut recorder = self.recorder.lock().unwrap();
        let replication = recorder
            .replication_status(now)
            .map(|status| ReplicationProgress {
                status,
                replicated_p99_us: recorder.replicated_p99_us(current_phase),
            });
        LoadStatus {
            running: !self.is_done(),
            sent: recorder.totals.sent,
            acked: recorder.totals.acked,
            failed: recorder.totals.failed,
            bytes: recorder.totals.bytes,
            queue_full: recorder.totals.queue_full,
            backlog: recorder.in_flight() + self.due_unsent.load(Ordering::Relaxed),
            target_rate: self.target_rate(),
            elapsed_ms: end.saturating_sub(self.started_ns) / 1_000_000,
            corrected_p99_us: recorder.corrected_p99_us(current_phase),
            last_error: recorder.last_error.clone(),
            replication,
        }
    }
}

struct JobContext {
    job: Arc<LoadJob>,
}

impl ClientContext for JobContext {}

impl ProducerContext for JobContext {
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, slot: usize) {
        let now = self.job.clock.now_ns();
        let error = result.as_ref().err().map(|(error, _)| error.to_string());
        self.job
            .recorder
            .lock()
            .unwrap()
            .complete(slot as u32, now, error);
    }
}

/// Creates the producer and starts the job's thread.
pub fn spawn(
    id: u64,
    run_id: u64,
    plan: LoadPlan,
    config: rdkafka::ClientConfig,
    clock: RunClock,
    board: Arc<PhaseBoard>,
) -> Result<Arc<LoadJob>, KafkaError> {
    let in_flight_capacity = config
        .get("queue.buffering.max.messages")
        .and_then(|v| v.parse::<u32>().ok())
        .unwrap_or(100_000);
    let started_ns = clock.now_ns();
    let (done, _) = tokio::sync::watch::channel(false);
    let job = Arc::new(LoadJob {
        id,
        run_id,
        cluster: plan.cluster.clone(),
        topic: plan.topic.clone(),
        replication_target: plan
            .replication
            .as_ref()
            .map(|r| (r.target_cluster.clone(), r.remote_topic.clone())),
        recorder: Mutex::new(JobRecorder::new(
            in_flight_capacity,
            plan.replication.is_some(),
        )),
        pending_rate: Mutex::new(None),
        target_rate_bits: AtomicU64::new(NO_RATE),
        stop: AtomicBool::new(false),
        due_unsent: AtomicU64::new(0),
        started_ns,
        finished_ns: AtomicU64::new(0),
        done,
        clock,
        board,
    });
    job.set_target_rate(plan.rate);
    let producer: BaseProducer<JobContext> =
        config.create_with_context(JobContext { job: job.clone() })?;
    // The target side reads before the first record is sent, so none can be missed.
    let target_reader = match &plan.replication {
        Some(replication) => Some(TargetReader::start(
            job.clone(),
            replication.target.clone(),
            &replication.remote_topic,
        )?),
        None => None,
    };
    let grace = plan.replication.as_ref().map(|r| r.grace);
    let thread_job = job.clone();
    thread::Builder::new()
        .name(format!("kscen-load-{id}"))
        .spawn(move || {
            let job = thread_job;
            Sender::new(&job, &producer, plan).run();
            flush(&job, &producer);
            if let (Some(reader), Some(grace)) = (target_reader, grace) {
                await_replication(&job, grace);
                reader.stop();
            }
            mark_done(&job);
        })
        .map_err(|e| KafkaError::ClientCreation(format!("cannot start load thread: {e}")))?;
    Ok(job)
}

/// Flushes what is in flight; purges what does not arrive in time (counted as failed).
fn flush(job: &LoadJob, producer: &BaseProducer<JobContext>) {
    if producer.flush(FLUSH_TIMEOUT).is_err() {
        producer.purge(PurgeConfig::default().queue().inflight());
        let _ = producer.flush(Duration::from_secs(5));
    }
    job.due_unsent.store(0, Ordering::Relaxed);
}

/// Waits until every acknowledged record has been seen on the target, or until the grace period
/// has passed since the last acknowledgement; what is still missing then is lost.
fn await_replication(job: &LoadJob, grace: Duration) {
    loop {
        let mut recorder = job.recorder.lock().unwrap();
        let sent = recorder.totals.sent;
        let replication = recorder.replication.as_mut().expect("tracked job");
        let waited = job.clock.now_ns().saturating_sub(replication.last_ack_ns());
        if replication.lag_records() == 0 || waited >= grace.as_nanos() as u64 {
            replication.conclude(sent);
            return;
        }
        drop(recorder);
        thread::sleep(Duration::from_millis(50));
    }
}

fn mark_done(job: &LoadJob) {
    job.finished_ns
        .store(job.clock.now_ns().max(1), Ordering::Release);
    job.done.send_replace(true);
}

struct Sender<'a> {
    job: &'a LoadJob,
    producer: &'a BaseProducer<JobContext>,
    plan: LoadPlan,
    schedule: Schedule,
    cursor: PhaseCursor,
    payload: Vec<u8>,
    rng: SmallRng,
    key: itoa::Buffer,
    next: u64,
}

impl<'a> Sender<'a> {
    fn new(job: &'a LoadJob, producer: &'a BaseProducer<JobContext>, plan: LoadPlan) -> Sender<'a> {
        let mut rng = SmallRng::from_os_rng();
        let largest = plan.record_sizes.iter().copied().max().unwrap_or(0) as usize;
        // Like kafka-producer-perf-test: random upper-case letters.
        let payload = (0..largest)
            .map(|_| rng.random_range(b'A'..=b'Z'))
            .collect();
        Sender {
            job,
            producer,
            schedule: Schedule::new(job.started_ns, plan.rate),
            plan,
            cursor: PhaseCursor::default(),
            payload,
            rng,
            key: itoa::Buffer::new(),
            next: 0,
        }
    }

    fn run(&mut self) {
        let deadline_ns = self
            .plan
            .duration
            .map(|d| self.job.started_ns + d.as_nanos() as u64);
        loop {
            if let Some(rate) = self.job.pending_rate.lock().unwrap().take() {
                self.schedule
                    .set_rate(self.job.clock.now_ns(), self.next, rate);
                self.job.set_target_rate(rate);
            }
            if self.job.stop.load(Ordering::Acquire)
                || self.plan.count.is_some_and(|c| self.next >= c)
            {
                return;
            }
            let now = self.job.clock.now_ns();
            if deadline_ns.is_some_and(|d| {
                now >= d && self.schedule.intended_ns(self.next).is_none_or(|t| t >= d)
            }) {
                return;
            }
            match self.schedule.intended_ns(self.next) {
                Some(intended) if intended > now => {
                    self.job.due_unsent.store(0, Ordering::Relaxed);
                    self.producer.poll(Duration::ZERO);
                    self.nap(intended - now);
                }
                intended => {
                    // Unthrottled, nothing is "due" beyond what the producer accepts.
                    let due_unsent = match intended {
                        Some(_) => {
                            self.schedule
                                .due_count(now)
                                .min(self.plan.count.unwrap_or(u64::MAX))
                                - self.next
                        }
                        None => 0,
                    };
                    self.job.due_unsent.store(due_unsent, Ordering::Relaxed);
                    if deadline_ns.is_some_and(|d| intended.is_some_and(|t| t >= d)) {
                        return;
                    }
                    self.send(intended.unwrap_or(now));
                    if self.next.is_multiple_of(64) {
                        self.producer.poll(Duration::ZERO);
                    }
                }
            }
        }
    }

    /// Waits until the next message is due: sleeps serving delivery reports when far, spins
    /// politely when close, so lateness stays in microseconds without burning a core.
    fn nap(&self, wait_ns: u64) {
        let wait = Duration::from_nanos(wait_ns);
        if wait > Duration::from_millis(2) {
            self.producer
                .poll((wait - Duration::from_millis(1)).min(MAX_NAP));
        } else if wait > Duration::from_micros(120) {
            thread::sleep(wait - Duration::from_micros(80));
        } else {
            thread::yield_now();
        }
    }

    fn send(&mut self, intended_ns: u64) {
        let index = self.next;
        let size = self.plan.record_sizes[(index % self.plan.record_sizes.len() as u64) as usize];
        let phase = self
            .cursor
            .phase_at(&self.job.board, intended_ns)
            .map_or(NO_PHASE, |p| p as u32);
        let target_rate = self.schedule.rate_at(index).per_second();
        let period_ns = self.schedule.period_ns(index);
        let key_number = match self.plan.key_mode {
            KeyMode::None => None,
            KeyMode::Sequential => Some(index),
            KeyMode::Random(space) => Some(self.rng.random_range(0..space.max(1))),
        };
        let key: Option<&[u8]> = key_number.map(|n| self.key.format(n).as_bytes());
        if self.plan.replication.is_some() {
            // librdkafka copies the value on send, so one buffer serves every record.
            let stamp = Stamp {
                run: self.job.run_id,
                job: self.job.id as u32,
                seq: index,
                intended_ns,
            };
            stamp.write(&mut self.payload);
        }
        let value = &self.payload[..size as usize];
        loop {
            let enqueued_ns = self.job.clock.now_ns();
            let message = Enqueue {
                seq: index,
                intended_ns,
                enqueued_ns,
                phase,
                bytes: size,
                period_ns,
                target_rate,
            };
            let slot = self.job.recorder.lock().unwrap().begin(message);
            let Some(slot) = slot else {
                wait_for_room(self.job, self.producer, phase, target_rate, intended_ns);
                continue;
            };
            let mut record =
                BaseRecord::with_opaque_to(&self.plan.topic, slot as usize).payload(value);
            if let Some(key) = key {
                record = record.key(key);
            }
            match self.producer.send(record) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                    self.job.recorder.lock().unwrap().abandon_for_retry(slot);
                    wait_for_room(self.job, self.producer, phase, target_rate, intended_ns);
                }
                Err((error, _)) => {
                    self.job
                        .recorder
                        .lock()
                        .unwrap()
                        .abandon(slot, error.to_string());
                    break;
                }
            }
            if self.job.stop.load(Ordering::Acquire) {
                return;
            }
        }
        self.next += 1;
    }
}

/// The producer queue is full: count it and serve delivery reports until there is room.
fn wait_for_room(
    job: &LoadJob,
    producer: &BaseProducer<JobContext>,
    phase: u32,
    target_rate: Option<f64>,
    intended_ns: u64,
) {
    job.recorder
        .lock()
        .unwrap()
        .queue_full(phase, target_rate, intended_ns);
    producer.poll(Duration::from_millis(1));
}
