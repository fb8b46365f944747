//! A native load job: one OS thread that paces, sends through a `BaseProducer` and records
//! delivery reports, with no allocation per message.
//!
//! The records that are due go to librdkafka a batch at a time (`batch.rs`): one clock read, one
//! hold of the recorder's lock and one librdkafka call for up to 64 records, and one clock read
//! and one hold of the lock per batch of delivery reports. A rate change is noticed through an
//! atomic flag. `cargo xtask bench` measures the
//! result against a bare rdkafka loop (docs/bench.md).

use std::cell::RefCell;
use std::ops::Range;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseProducer, DeliveryResult, Producer, ProducerContext, PurgeConfig};
use rdkafka::ClientContext;

use super::batch::{Outgoing, TopicHandle};
use super::recorder::{Enqueue, JobRecorder, NO_PHASE};
use super::reports::ReportSignal;
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
/// How late a sleep of the job thread typically wakes with its 1 µs timer slack (measured
/// ~20 µs on a loaded 2-core VM): longer sleeps are cut short by this much.
const WAKE_UP_LATENCY: Duration = Duration::from_micros(20);
/// How long the job thread sleeps when the producer's queue is full, before serving the reports
/// that arrived and handing over what they made room for. A full queue holds far more than this
/// much sending (at least 6 500 records with 64 MiB of 10 KiB ones), so the pause costs no
/// throughput; waking at each delivery report instead did: on 2 cores, those wake-ups took CPU
/// from librdkafka's broker thread and the broker (-25 % records/s at 10 KiB).
const QUEUE_FULL_PAUSE: Duration = Duration::from_micros(200);
/// Records handed to librdkafka in one call, under one hold of the recorder's lock; delivery
/// reports are served between batches when the thread never waits.
const SENDS_PER_BATCH: usize = 64;

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
    /// Set with `pending_rate`, so the sending loop checks a flag, not a lock, per record.
    rate_pending: AtomicBool,
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
        self.rate_pending.store(true, Ordering::Release);
    }

    fn take_rate_request(&self) -> Option<Rate> {
        // A plain load first: the swap's read-modify-write per record costs like a lock.
        if !self.rate_pending.load(Ordering::Relaxed)
            || !self.rate_pending.swap(false, Ordering::Acquire)
        {
            return None;
        }
        self.pending_rate.lock().unwrap().take()
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
            backlog: recorder
                .in_flight()
                .saturating_add(self.due_unsent.load(Ordering::Relaxed)),
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
    /// When the job thread began a zero-timeout `poll`, else 0: the reports such a poll serves
    /// were waiting when it began, so one clock read stamps the whole batch. Reports served any
    /// other way (the flush after a purge) read the clock each.
    served_at_ns: AtomicU64,
}

/// A delivery report, waiting to be recorded with the rest of its batch.
struct Delivered {
    slot: u32,
    at_ns: u64,
    error: Option<String>,
}

thread_local! {
    /// Reports delivered on this thread and not recorded yet. Only the job thread polls its
    /// producer, so its reports land here without a lock and reach the recorder a batch at a
    /// time (`Sender::record_delivered`).
    static DELIVERED: RefCell<Vec<Delivered>> = const { RefCell::new(Vec::new()) };
}

impl ClientContext for JobContext {}

impl ProducerContext for JobContext {
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, slot: usize) {
        let at_ns = match self.served_at_ns.load(Ordering::Relaxed) {
            0 => self.job.clock.now_ns(),
            served_at => served_at,
        };
        let error = result.as_ref().err().map(|(error, _)| error.to_string());
        DELIVERED.with_borrow_mut(|delivered| {
            delivered.push(Delivered {
                slot: slot as u32,
                at_ns,
                error,
            })
        });
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
        rate_pending: AtomicBool::new(false),
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
    let producer: BaseProducer<JobContext> = config.create_with_context(JobContext {
        job: job.clone(),
        served_at_ns: AtomicU64::new(0),
    })?;
    let partitions = affine_partitions(&producer, &plan)?;
    // The target side reads before the first record is sent, so none can be missed.
    let target_reader = match &plan.replication {
        Some(replication) => Some(TargetReader::start(
            job.clone(),
            replication.target.clone(),
            &replication.remote_topic,
            plan.shard,
        )?),
        None => None,
    };
    let grace = plan.replication.as_ref().map(|r| r.grace);
    let reports = ReportSignal::new(&producer).map_err(|e| {
        KafkaError::ClientCreation(format!("cannot watch the producer's delivery reports: {e}"))
    })?;
    let topic = TopicHandle::new(&producer, &plan.topic)?;
    let client = Client {
        reports,
        topic,
        producer,
    };
    let thread_job = job.clone();
    thread::Builder::new()
        .name(format!("kscen-load-{id}"))
        .spawn(move || {
            let job = thread_job;
            precise_sleeps();
            let mut client = client;
            let mut sender = Sender::new(
                &job,
                &client.producer,
                &client.reports,
                &mut client.topic,
                plan,
                partitions,
            );
            sender.run();
            sender.flush();
            if let (Some(reader), Some(grace)) = (target_reader, grace) {
                await_replication(&job, grace);
                reader.stop();
            }
            mark_done(&job);
        })
        .map_err(|e| KafkaError::ClientCreation(format!("cannot start load thread: {e}")))?;
    Ok(job)
}

/// The partitions a shard's tracked load sends to, in turn: those it owns, so its verifier reads
/// exactly its own records on the target. None when the partitioner chooses (one process, or a
/// load that is not tracked).
fn affine_partitions<C: ProducerContext>(
    producer: &BaseProducer<C>,
    plan: &LoadPlan,
) -> Result<Option<Vec<i32>>, KafkaError> {
    if plan.shard.count == 1 || plan.replication.is_none() {
        return Ok(None);
    }
    let metadata = producer
        .client()
        .fetch_metadata(Some(&plan.topic), METADATA_TIMEOUT)?;
    let partitions = metadata
        .topics()
        .iter()
        .find(|t| t.name() == plan.topic && t.error().is_none())
        .map_or(0, |t| t.partitions().len());
    plan.shard
        .partitions_of(&plan.topic, partitions)
        .map(Some)
        .map_err(KafkaError::ClientCreation)
}

/// How long a sharded load waits for its topic's partition count.
const METADATA_TIMEOUT: Duration = Duration::from_secs(10);

/// The job's producer, the signal on its event queue and its handle on the topic. Fields drop in
/// order: the references to the queue and the topic go before the client they belong to
/// (librdkafka's destroy would wait for them).
struct Client {
    reports: ReportSignal,
    topic: TopicHandle,
    producer: BaseProducer<JobContext>,
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

/// Asks Linux to end this thread's sleeps within 1 µs of the requested time instead of the
/// default 50 µs timer slack, so pacing can sleep up to just before a record is due instead of
/// spinning (which would take a core from the broker on a small machine).
fn precise_sleeps() {
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_TIMERSLACK only changes the calling thread's timer slack; it takes no
    // pointers.
    unsafe {
        libc::prctl(libc::PR_SET_TIMERSLACK, 1, 0, 0, 0);
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
    reports: &'a ReportSignal,
    topic: &'a mut TopicHandle,
    plan: LoadPlan,
    schedule: Schedule,
    /// The schedule's origin: when this thread began, once the producer existed, so creating it
    /// does not count as the first record's lateness.
    origin_ns: u64,
    cursor: PhaseCursor,
    payload: Vec<u8>,
    rng: SmallRng,
    next: u64,
    /// Set while record `next` waits for room in a full queue: its intended time (an
    /// unthrottled record keeps the time of its first attempt, so the wait counts).
    blocked: Option<Blocked>,
    /// The batch being assembled, and the bytes its records borrow: keys, and stamped copies of
    /// the payload when the job tracks replication (each record's stamp differs).
    staged: Vec<Staged>,
    keys: Vec<u8>,
    stamped: Vec<u8>,
    /// a shard's tracked load: the partitions its records go to, in turn
    partitions: Option<Vec<i32>>,
}

/// A record of the batch being assembled: its in-flight slot is taken, its bytes are ready.
struct Staged {
    index: u64,
    slot: u32,
    size: u32,
    key: Option<Range<usize>>,
    stamped: Option<Range<usize>>,
    /// What to remember if the producer has no room for it.
    blocked: Blocked,
}

/// A record the producer had no room for.
#[derive(Debug, Clone, Copy)]
struct Blocked {
    intended_ns: u64,
    phase: u32,
    target_rate: Option<f64>,
}

/// What the sending loop does after a batch of sends.
enum AfterBatch {
    /// Serve the delivery reports that arrived and send on.
    Serve,
    /// The next record is due in this many nanoseconds.
    Wait(u64),
    /// The producer's queue is full.
    Full(Blocked),
    /// Stopped, every record sent, or the deadline passed.
    Done,
}

impl<'a> Sender<'a> {
    fn new(
        job: &'a LoadJob,
        producer: &'a BaseProducer<JobContext>,
        reports: &'a ReportSignal,
        topic: &'a mut TopicHandle,
        plan: LoadPlan,
        partitions: Option<Vec<i32>>,
    ) -> Sender<'a> {
        let mut rng = SmallRng::from_os_rng();
        let largest = plan.record_sizes.iter().copied().max().unwrap_or(0) as usize;
        // Like kafka-producer-perf-test: random upper-case letters.
        let payload = (0..largest)
            .map(|_| rng.random_range(b'A'..=b'Z'))
            .collect();
        let origin_ns = job.clock.now_ns();
        // A shard's first record is its place in the whole schedule.
        let first_due_ns = origin_ns + plan.shard.offset_ns(plan.rate);
        Sender {
            job,
            producer,
            reports,
            topic,
            schedule: Schedule::new(first_due_ns, plan.rate),
            origin_ns,
            plan,
            cursor: PhaseCursor::default(),
            payload,
            rng,
            next: 0,
            blocked: None,
            staged: Vec::with_capacity(SENDS_PER_BATCH),
            keys: Vec::new(),
            stamped: Vec::new(),
            partitions,
        }
    }

    fn run(&mut self) {
        let deadline_ns = self
            .plan
            .duration
            .map(|d| self.origin_ns + d.as_nanos() as u64);
        loop {
            match self.send_batch(deadline_ns) {
                AfterBatch::Serve => self.serve_waiting_reports(),
                AfterBatch::Wait(wait_ns) => {
                    self.job.due_unsent.store(0, Ordering::Relaxed);
                    self.serve_waiting_reports();
                    self.nap(wait_ns);
                }
                AfterBatch::Full(blocked) => {
                    self.blocked = Some(blocked);
                    self.wait_for_room(blocked);
                }
                AfterBatch::Done => return,
            }
        }
    }

    /// Sends the records that are due, up to a batch, in one librdkafka call under one hold of
    /// the recorder's lock. They are handed over together, so one clock read stamps them all.
    fn send_batch(&mut self, deadline_ns: Option<u64>) -> AfterBatch {
        let job = self.job;
        let mut recorder = job.recorder.lock().unwrap();
        if let Some(rate) = job.take_rate_request() {
            self.schedule.set_rate(job.clock.now_ns(), self.next, rate);
            job.set_target_rate(rate);
        }
        let now = job.clock.now_ns();
        let mut after = AfterBatch::Serve;
        while self.staged.len() < SENDS_PER_BATCH {
            if job.stop.load(Ordering::Acquire) || self.plan.count.is_some_and(|c| self.next >= c) {
                after = AfterBatch::Done;
                break;
            }
            let scheduled = self.schedule.intended_ns(self.next);
            // Past the deadline, only records scheduled before it still go out (late).
            if deadline_ns.is_some_and(|d| now >= d && scheduled.is_none_or(|t| t >= d)) {
                after = AfterBatch::Done;
                break;
            }
            let first_attempt = self.blocked.take();
            let intended = match scheduled {
                Some(intended) if intended > now => {
                    after = AfterBatch::Wait(intended - now);
                    break;
                }
                Some(intended) => {
                    let due_unsent = match self.schedule.due_count(now) {
                        // Records left late by a switch to unthrottled go out first, and nothing
                        // counts as due beyond what the producer accepts.
                        u64::MAX => 0,
                        due => due
                            .min(self.plan.count.unwrap_or(u64::MAX))
                            .saturating_sub(self.next),
                    };
                    job.due_unsent.store(due_unsent, Ordering::Relaxed);
                    intended
                }
                // Unthrottled: nothing is "due" beyond what the producer accepts.
                None => first_attempt.map_or(now, |blocked| blocked.intended_ns),
            };
            if let Err(blocked) = self.stage(&mut recorder, intended, now) {
                after = AfterBatch::Full(blocked);
                break;
            }
        }
        match self.hand_over(&mut recorder) {
            Some(blocked) => AfterBatch::Full(blocked),
            None => after,
        }
    }

    /// Takes an in-flight slot for record `self.next`, due at `intended_ns` and handed over at
    /// `now_ns`, and prepares its bytes; a full in-flight table hands the record back.
    fn stage(
        &mut self,
        recorder: &mut JobRecorder,
        intended_ns: u64,
        now_ns: u64,
    ) -> Result<(), Blocked> {
        let index = self.next;
        let size = self.plan.record_sizes[(index % self.plan.record_sizes.len() as u64) as usize];
        let phase = self
            .cursor
            .phase_at(&self.job.board, intended_ns)
            .map_or(NO_PHASE, |p| p as u32);
        let target_rate = self.schedule.rate_at(index).per_second();
        let blocked = Blocked {
            intended_ns,
            phase,
            target_rate,
        };
        let slot = recorder
            .begin(Enqueue {
                seq: index,
                intended_ns,
                enqueued_ns: now_ns,
                phase,
                bytes: size,
                period_ns: self.schedule.period_ns(index),
                target_rate,
            })
            .ok_or(blocked)?;
        // Keys and stamps number records as the whole schedule does, across the shards.
        let global = self.plan.shard.global_seq(index);
        let key_number = match self.plan.key_mode {
            KeyMode::None => None,
            KeyMode::Sequential => Some(global),
            KeyMode::Random(space) => Some(self.rng.random_range(0..space.max(1))),
        };
        let key = key_number.map(|n| {
            let start = self.keys.len();
            self.keys
                .extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
            start..self.keys.len()
        });
        let stamped = self.plan.replication.is_some().then(|| {
            let start = self.stamped.len();
            self.stamped
                .extend_from_slice(&self.payload[..size as usize]);
            Stamp {
                run: self.job.run_id,
                job: self.job.id as u32,
                seq: global,
                intended_ns,
            }
            .write(&mut self.stamped[start..]);
            start..self.stamped.len()
        });
        self.staged.push(Staged {
            index,
            slot,
            size,
            key,
            stamped,
            blocked,
        });
        self.next += 1;
        Ok(())
    }

    /// Hands the staged records to the producer. A full queue refuses a record and every one
    /// after it: those are sent again from the first of them, which is returned.
    fn hand_over(&mut self, recorder: &mut JobRecorder) -> Option<Blocked> {
        if self.staged.is_empty() {
            return None;
        }
        let records: Vec<Outgoing<'_>> = self
            .staged
            .iter()
            .map(|staged| Outgoing {
                payload: match &staged.stamped {
                    Some(range) => &self.stamped[range.clone()],
                    None => &self.payload[..staged.size as usize],
                },
                key: staged.key.clone().map(|range| &self.keys[range]),
                partition: self
                    .partitions
                    .as_ref()
                    .map(|owned| owned[(staged.index % owned.len() as u64) as usize]),
                opaque: staged.slot as usize,
            })
            .collect();
        let results = self.topic.produce(&records);
        drop(records);
        let mut refused = None;
        for (staged, result) in self.staged.drain(..).zip(results) {
            match result {
                Ok(()) => {}
                Err(RDKafkaErrorCode::QueueFull) => {
                    recorder.abandon_for_retry(staged.slot);
                    refused.get_or_insert((staged.index, staged.blocked));
                }
                Err(code) => {
                    recorder.abandon(staged.slot, KafkaError::MessageProduction(code).to_string())
                }
            }
        }
        self.keys.clear();
        self.stamped.clear();
        refused.map(|(index, blocked)| {
            self.next = index;
            blocked
        })
    }

    /// Serves every event already queued (delivery reports, mostly), without waiting for more,
    /// and records the reports. A zero-timeout poll serves one event, a batch of reports that
    /// arrived together.
    fn serve_waiting_reports(&self) {
        let context = self.producer.context();
        while self.reports.waiting() > 0 {
            context
                .served_at_ns
                .store(self.job.clock.now_ns().max(1), Ordering::Relaxed);
            self.producer.poll(Duration::ZERO);
        }
        context.served_at_ns.store(0, Ordering::Relaxed);
        self.record_delivered();
    }

    /// Moves the reports delivered since the last call into the recorder, under one lock.
    fn record_delivered(&self) {
        DELIVERED.with_borrow_mut(|delivered| {
            if delivered.is_empty() {
                return;
            }
            let mut recorder = self.job.recorder.lock().unwrap();
            for report in delivered.drain(..) {
                recorder.complete(report.slot, report.at_ns, report.error);
            }
        });
    }

    /// The producer's queue (or the in-flight table, of the same size) is full: count it, pause,
    /// and serve the delivery reports that arrived meanwhile.
    fn wait_for_room(&self, blocked: Blocked) {
        self.job.recorder.lock().unwrap().queue_full(
            blocked.phase,
            blocked.target_rate,
            blocked.intended_ns,
        );
        thread::sleep(QUEUE_FULL_PAUSE);
        self.serve_waiting_reports();
    }

    /// Waits for what is in flight; purges what is not acknowledged in time (counted as failed).
    fn flush(&self) {
        let deadline = Instant::now() + FLUSH_TIMEOUT;
        loop {
            self.serve_waiting_reports();
            if self.producer.in_flight_count() == 0 {
                break;
            }
            let now = Instant::now();
            if now >= deadline {
                self.producer
                    .purge(PurgeConfig::default().queue().inflight());
                let _ = self.producer.flush(Duration::from_secs(5));
                self.record_delivered();
                break;
            }
            self.reports.wait((deadline - now).min(MAX_NAP));
        }
        self.job.due_unsent.store(0, Ordering::Relaxed);
    }

    /// Waits until the next record is due, or until a delivery report arrives (the caller
    /// serves it and naps again): sleeps until just before the record when it can, and yields the
    /// last microseconds. Spinning through whole waits would take a core from librdkafka and the
    /// broker; sleeping through the shortest ones would cost as much (a sleep is a timer
    /// interrupt, dear on a VM) and add the wake-up latency to every record.
    fn nap(&self, wait_ns: u64) {
        let wait = Duration::from_nanos(wait_ns);
        if wait > 2 * WAKE_UP_LATENCY {
            self.reports.wait((wait - WAKE_UP_LATENCY).min(MAX_NAP));
        } else {
            thread::yield_now();
        }
    }
}
