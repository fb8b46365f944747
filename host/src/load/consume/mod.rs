//! Native consume jobs: a consumer group of N members, each a librdkafka consumer on its own
//! thread, reading a topic as fast as it can (never one host call per record), committing as
//! the plan says, and measuring what `kafka-consumer-perf-test` does plus what it cannot:
//! end-to-end latency of this run's stamped records on the run's one clock, the group's
//! rebalances and the time a partition had no member, and a per-record verdict shared by every
//! job that reads as the same group ([`crate::verify::group_ledger`]).

mod assignment;
mod lag;
mod member;
mod records;
mod taken;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use hdrhistogram::Histogram;
use rdkafka::consumer::BaseConsumer;
use serde::{Deserialize, Serialize};

use crate::error::{HostError, HostResult};
use crate::metrics::clock::RunClock;
use crate::metrics::histogram::{self, LatencySummary};
use crate::verify::group_ledger::GroupLedger;
use assignment::GroupAssignment;
pub use assignment::Rebalances;

/// Most members one job may start: each is a thread and a librdkafka client.
pub const MAX_MEMBERS: u32 = 64;
/// `fetch.queue.backoff.ms` unless the user set it. Once a partition's prefetch queue passes
/// `queued.min.messages` or `queued.max.messages.kbytes`, librdkafka postpones that partition's
/// next fetch by this long (1 000 ms by default) instead of fetching again when the queue drains.
/// A member reading a backlog empties the queue in a fraction of that and then waits out the
/// rest: reading 2 M records of 100 B on the bench's lab, librdkafka's default held a bare
/// `BaseConsumer` loop to 0.23–0.29 M records/s, and 10 ms let it and a member read 0.9–2.2 M/s
/// (a shared 2-core machine), at the same CPU per record (`cargo xtask bench`, consume section).
/// Fetching again 10 ms after the queue was found full costs the broker thread nothing
/// measurable.
const FETCH_QUEUE_BACKOFF_MS: &str = "10";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CommitPolicy {
    /// librdkafka commits what was handed over every `auto.commit.interval.ms`
    Auto,
    /// each member commits after each batch it took (asynchronously)
    PerBatch,
    /// nothing is committed: the group leaves no offsets
    None,
}

/// `group.protocol`: the classic rebalance protocol, or KIP-848's (Kafka 4.x brokers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GroupProtocol {
    Classic,
    Consumer,
}

/// Where a member starts on a partition the group has no committed offset for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StartFrom {
    Earliest,
    Latest,
}

/// Which group reads which topic, and how: what a consume job is asked, and what its result
/// records of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupReading {
    pub cluster: String,
    pub topic: String,
    pub group: String,
    pub members: u32,
    pub commit: CommitPolicy,
    pub protocol: GroupProtocol,
}

/// A validated consume request.
#[derive(Debug, Clone)]
pub struct ConsumePlan {
    pub reading: GroupReading,
    pub start: StartFrom,
    /// stop after this many records (over all members)
    pub count: Option<u64>,
    /// stop after this long
    pub duration: Option<Duration>,
}

impl ConsumePlan {
    pub fn validate(&self) -> HostResult<()> {
        let invalid = |what: String| Err(HostError::Invalid(what));
        if self.reading.topic.is_empty() {
            return invalid("the topic name is empty".into());
        }
        if self.reading.group.trim().is_empty() {
            return invalid("the consumer group name is empty".into());
        }
        if !(1..=MAX_MEMBERS).contains(&self.reading.members) {
            return invalid(format!(
                "members must be 1..={MAX_MEMBERS}, got {}",
                self.reading.members
            ));
        }
        Ok(())
    }

    /// The group's settings on top of the cluster's and the user's consumer configuration, and
    /// the job's defaults where the user set nothing.
    fn apply(&self, config: &mut rdkafka::ClientConfig) {
        if config.get("fetch.queue.backoff.ms").is_none() {
            config.set("fetch.queue.backoff.ms", FETCH_QUEUE_BACKOFF_MS);
        }
        config
            .set("group.id", &self.reading.group)
            // A member stores the offsets of the records it took (see `taken`).
            .set("enable.auto.offset.store", "false")
            .set(
                "enable.auto.commit",
                (self.reading.commit == CommitPolicy::Auto).to_string(),
            )
            .set(
                "auto.offset.reset",
                match self.start {
                    StartFrom::Earliest => "earliest",
                    StartFrom::Latest => "latest",
                },
            )
            .set(
                "group.protocol",
                match self.reading.protocol {
                    GroupProtocol::Classic => "classic",
                    GroupProtocol::Consumer => "consumer",
                },
            );
    }
}

/// What the members record, under one lock per batch.
#[derive(Debug)]
pub struct ConsumeRecorder {
    pub records: u64,
    pub bytes: u64,
    /// records stamped by this run's loads
    pub stamped: u64,
    /// received − intended send time of stamped records, µs
    pub e2e: Histogram<u64>,
    /// since the last live sample
    interval_records: u64,
    interval_bytes: u64,
    pub last_error: Option<String>,
    last_record_ns: u64,
}

impl Default for ConsumeRecorder {
    fn default() -> Self {
        ConsumeRecorder {
            records: 0,
            bytes: 0,
            stamped: 0,
            e2e: histogram::new_latency_histogram(),
            interval_records: 0,
            interval_bytes: 0,
            last_error: None,
            last_record_ns: 0,
        }
    }
}

/// Records and bytes since the previous sample, for the timeline.
#[derive(Debug, Clone, Copy, Default)]
pub struct ConsumeInterval {
    pub records: u64,
    pub bytes: u64,
}

impl ConsumeRecorder {
    pub fn take_interval(&mut self) -> ConsumeInterval {
        let interval = ConsumeInterval {
            records: self.interval_records,
            bytes: self.interval_bytes,
        };
        self.interval_records = 0;
        self.interval_bytes = 0;
        interval
    }
}

/// State shared by a job's member threads and the host.
pub struct ConsumeJob {
    pub id: u64,
    pub run_id: u64,
    pub plan: ConsumePlan,
    pub recorder: Mutex<ConsumeRecorder>,
    pub ledger: Arc<Mutex<GroupLedger>>,
    assignment: Mutex<GroupAssignment>,
    lag: Mutex<lag::LagTrack>,
    /// records taken by all members, against the plan's count
    taken: AtomicU64,
    stop: AtomicBool,
    started_ns: u64,
    finished_ns: AtomicU64,
    members_running: AtomicU64,
    done: tokio::sync::watch::Sender<bool>,
    pub clock: RunClock,
}

/// A job's figures now.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConsumeStatus {
    pub running: bool,
    pub records: u64,
    pub bytes: u64,
    pub elapsed_ms: u64,
    pub records_per_s: f64,
    pub mb_per_s: f64,
    /// partitions of the topic assigned to a member now
    pub assigned_partitions: u32,
    pub partitions: u32,
    #[serde(flatten)]
    pub rebalances: Rebalances,
    pub stamped: u64,
    /// stamped records the group (over all its jobs) read more than once
    pub read_twice: u64,
    /// end-to-end latency of stamped records (received − intended send time), µs
    pub e2e_us: LatencySummary,
    /// the group's lag on the topic (end − committed, over its partitions), sampled every
    /// second while the job runs: the last sample and the largest; none without commits
    pub lag: Option<i64>,
    pub lag_max: Option<i64>,
    pub last_error: Option<String>,
}

impl ConsumeJob {
    pub fn request_stop(&self) {
        self.stop.store(true, Ordering::Release);
    }

    pub fn stopping(&self) -> bool {
        self.stop.load(Ordering::Acquire)
    }

    pub fn is_done(&self) -> bool {
        *self.done.borrow()
    }

    pub async fn wait_done(&self) {
        let mut done = self.done.subscribe();
        let _ = done.wait_for(|d| *d).await;
    }

    /// Counts `records` against the plan's count; true once the count is reached.
    fn take(&self, records: u64) -> bool {
        let taken = self.taken.fetch_add(records, Ordering::AcqRel) + records;
        self.plan.count.is_some_and(|count| taken >= count)
    }

    pub fn status(&self) -> ConsumeStatus {
        let now = self.clock.now_ns();
        let finished = self.finished_ns.load(Ordering::Acquire);
        let end = if finished == 0 { now } else { finished };
        let recorder = self.recorder.lock().unwrap();
        let assignment = self.assignment.lock().unwrap();
        let rebalances = assignment.rebalances(now);
        // Rates over the fetch time, as kafka-consumer-perf-test's fetch.nMsg.sec: from the
        // moment the group held every partition to the last record.
        let fetch_s = match (rebalances.join_ms, recorder.records) {
            (Some(join_ms), 1..) => {
                (recorder.last_record_ns - self.started_ns) as f64 / 1e9 - join_ms / 1e3
            }
            _ => 0.0,
        };
        let per_s = |value: f64| if fetch_s > 0.0 { value / fetch_s } else { 0.0 };
        let (lag, lag_max) = {
            let track = self.lag.lock().unwrap();
            (track.last, track.max)
        };
        ConsumeStatus {
            running: finished == 0,
            records: recorder.records,
            bytes: recorder.bytes,
            elapsed_ms: (end - self.started_ns) / 1_000_000,
            records_per_s: per_s(recorder.records as f64),
            mb_per_s: per_s(recorder.bytes as f64 / (1024.0 * 1024.0)),
            assigned_partitions: assignment.assigned(),
            partitions: assignment.partitions(),
            rebalances,
            stamped: recorder.stamped,
            read_twice: self.ledger.lock().unwrap().read_twice(),
            e2e_us: histogram::summarize(&recorder.e2e),
            lag,
            lag_max,
            last_error: recorder.last_error.clone(),
        }
    }

    /// Wall-clock start and end of the job on the run's clock, ns.
    pub fn span_ns(&self) -> (u64, u64) {
        let finished = self.finished_ns.load(Ordering::Acquire);
        let end = if finished == 0 {
            self.clock.now_ns()
        } else {
            finished
        };
        (self.started_ns, end)
    }

    fn member_finished(&self) {
        if self.members_running.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.finished_ns
                .store(self.clock.now_ns().max(1), Ordering::Release);
            self.done.send_replace(true);
        }
    }
}

/// Looks the topic up (it must exist: a consume job never creates one), then starts the
/// members, each with its own client.
pub fn spawn(
    id: u64,
    run_id: u64,
    plan: ConsumePlan,
    mut config: rdkafka::ClientConfig,
    clock: RunClock,
    ledger: Arc<Mutex<GroupLedger>>,
) -> HostResult<Arc<ConsumeJob>> {
    plan.apply(&mut config);
    let partitions = topic_partitions(&config, &plan.reading.cluster, &plan.reading.topic)?;
    // The sampler's own client: same group, never joining it.
    let sampler_config = config.clone();
    ledger
        .lock()
        .unwrap()
        .reads(&plan.reading.cluster, &plan.reading.topic);
    let started_ns = clock.now_ns();
    let (done, _) = tokio::sync::watch::channel(false);
    let members = plan.reading.members;
    let job = Arc::new(ConsumeJob {
        id,
        run_id,
        recorder: Mutex::new(ConsumeRecorder::default()),
        ledger,
        assignment: Mutex::new(GroupAssignment::new(partitions, members, started_ns)),
        lag: Mutex::default(),
        taken: AtomicU64::new(0),
        stop: AtomicBool::new(false),
        started_ns,
        finished_ns: AtomicU64::new(0),
        members_running: AtomicU64::new(u64::from(members)),
        done,
        clock,
        plan,
    });
    for index in 0..members {
        let consumer = member::create(&job, index, partitions, &config)?;
        let thread_job = job.clone();
        thread::Builder::new()
            .name(format!("kscen-consume-{id}-{index}"))
            .spawn(move || {
                member::run(&thread_job, &consumer);
                // Closing leaves the group (and commits, with auto commit): the job is done
                // only once every member has left, so the group is free for its next job.
                drop(consumer);
                thread_job.member_finished();
            })
            .map_err(|e| {
                job.request_stop();
                HostError::Kafka(format!(
                    "cannot start consumer thread {index} of job {id}: {e}"
                ))
            })?;
    }
    if job.plan.reading.commit != CommitPolicy::None {
        lag::start_sampler(&job, sampler_config)?;
    }
    Ok(job)
}

/// The topic's partition count; NotFound, named, when the cluster does not have it.
fn topic_partitions(config: &rdkafka::ClientConfig, cluster: &str, topic: &str) -> HostResult<u32> {
    let consumer: BaseConsumer = config.create()?;
    let metadata = crate::cluster::fetch_metadata(&consumer, Some(topic))
        .map_err(|e| HostError::Kafka(format!("metadata of {topic} on {cluster}: {e}")))?;
    let found = metadata.topics().iter().find(|t| t.name() == topic);
    match found {
        Some(t) if t.error().is_none() && !t.partitions().is_empty() => {
            Ok(t.partitions().len() as u32)
        }
        _ => Err(HostError::NotFound(format!(
            "topic {topic} on cluster {cluster}: a consume job reads an existing topic (create \
             it first, or start the consumers after the producer or the mirror has)"
        ))),
    }
}
