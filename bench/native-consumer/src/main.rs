//! The client-side limit for `cargo xtask bench`'s consume section: the smallest loop that reads
//! a topic through librdkafka's `BaseConsumer` — one consumer in a fresh group, no commits, no
//! per-record work beyond counting — so kscen's consume job can be compared with what the client
//! library itself does with the same settings.
//!
//! It takes records the way kscen's members do, up to 1 024 at a time with
//! `rd_kafka_consume_batch_queue` from a queue the topic's partitions are forwarded to, serving the
//! consumer's events with `poll` between batches (kscen's module, `host/src/load/consume/records.rs`,
//! says why); `--per-record` takes them one `poll` at a time instead, as rdkafka's examples do.
//!
//! It reads `--count` records from the beginning of `--topic` and prints one JSON line on stdout:
//! `{"tool":"native","records":…,"bytes":…,"join_s":…,"fetch_s":…,"elapsed_s":…,"records_per_s":…,"mb_per_s":…}`.
//! The clock is kafka-consumer-perf-test's: it starts before `subscribe`, the time until the
//! group assigned the partitions is the join (its `rebalance.time.ms`), and the rest, up to the
//! last record counted, is the fetch time the rates are over (its `fetch.time.ms`). Leaving the
//! group afterwards is not timed, as in perf-test.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Parser;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, Rebalance};
use rdkafka::{ClientConfig, ClientContext};

/// kscen's own, so that the two take records the same way (the loop reads no partition or offset).
#[allow(dead_code)]
#[path = "../../../host/src/load/consume/records.rs"]
mod records;

use records::RecordQueue;

/// How long one `poll` waits for a record. Records are waiting in librdkafka's queue most of the
/// time, so `poll` returns at once; the wait only matters before the first fetch and at the end.
const POLL_WAIT: Duration = Duration::from_millis(100);
/// The longest stretch without a record before the run counts as failed (perf-test's `--timeout`
/// has the same meaning); generous, because the first fetch waits for the group to form.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Records taken at most per batch: a kscen member's batch.
const BATCH: usize = 1024;

#[derive(Debug, Parser)]
#[command(about = "Read --count records of --topic from the beginning as fast as librdkafka goes")]
struct Args {
    #[arg(long)]
    bootstrap: String,
    #[arg(long)]
    topic: String,
    /// The consumer group; nothing is committed, so a new name is a fresh group.
    #[arg(long)]
    group: String,
    #[arg(long)]
    count: u64,
    /// librdkafka consumer property, key=value (repeatable).
    #[arg(short = 'X', value_name = "KEY=VALUE")]
    property: Vec<String>,
    /// Take records one `BaseConsumer::poll` at a time instead of in batches.
    #[arg(long)]
    per_record: bool,
}

/// Notes when the group first gave this consumer its partitions. The consumer is the group's
/// only member, so its first assignment is the whole topic.
#[derive(Default)]
struct Joined {
    at: OnceLock<Instant>,
}

impl ClientContext for Joined {}

impl ConsumerContext for Joined {
    fn post_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Assign(partitions) = rebalance {
            if partitions.count() > 0 {
                let _ = self.at.set(Instant::now());
            }
        }
    }
}

fn main() -> Result<()> {
    let args = Args::parse();
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", &args.bootstrap)
        .set("group.id", &args.group);
    for property in &args.property {
        let (key, value) = property
            .split_once('=')
            .with_context(|| format!("-X {property:?}: expected key=value"))?;
        config.set(key, value);
    }
    let consumer: BaseConsumer<Joined> = config
        .create_with_context(Joined::default())
        .context("creating the consumer")?;

    // The topic's partitions, to forward their records, before the clock starts: kscen looks the
    // topic up before its job starts too.
    let partitions = if args.per_record {
        0
    } else {
        let metadata = consumer
            .fetch_metadata(Some(&args.topic), Duration::from_secs(10))
            .with_context(|| format!("metadata of {}", args.topic))?;
        let partitions = metadata
            .topics()
            .iter()
            .find(|t| t.name() == args.topic)
            .map_or(0, |t| t.partitions().len() as u32);
        if partitions == 0 {
            bail!("topic {} has no partitions", args.topic);
        }
        partitions
    };

    let started = Instant::now();
    let mut queue = if args.per_record {
        None
    } else {
        let queue = RecordQueue::new(&consumer, &args.topic, partitions)
            .context("forwarding the partitions' records")?;
        Some(queue)
    };
    consumer
        .subscribe(&[&args.topic])
        .with_context(|| format!("subscribing to {}", args.topic))?;
    let (records, bytes) = match &mut queue {
        Some(queue) => read_batches(&consumer, queue, &args)?,
        None => read_per_record(&consumer, &args)?,
    };
    let last_record = Instant::now();
    // Before the consumer: the queue holds its client's queues.
    drop(queue);
    let joined = *consumer
        .context()
        .at
        .get()
        .context("records arrived without an assignment")?;
    let join_s = joined.duration_since(started).as_secs_f64();
    let fetch_s = last_record.duration_since(joined).as_secs_f64();
    let report = serde_json::json!({
        "tool": "native",
        "records": records,
        "bytes": bytes,
        "join_s": join_s,
        "fetch_s": fetch_s,
        "elapsed_s": join_s + fetch_s,
        "records_per_s": records as f64 / fetch_s,
        "mb_per_s": bytes as f64 / fetch_s / (1024.0 * 1024.0),
    });
    println!("{report}");
    Ok(())
}

/// Counts records and bytes (keys and values, as perf-test counts them; the bench's records have
/// no key) until `--count`.
#[derive(Default)]
struct Count {
    records: u64,
    bytes: u64,
    idle_since: Option<Instant>,
}

impl Count {
    /// Fails after `IDLE_TIMEOUT` without a record.
    fn idle(&mut self, args: &Args) -> Result<()> {
        if self.idle_since.get_or_insert_with(Instant::now).elapsed() > IDLE_TIMEOUT {
            bail!(
                "no record for {} s after {} of {}: does {} hold that many?",
                IDLE_TIMEOUT.as_secs(),
                self.records,
                args.count,
                args.topic
            );
        }
        Ok(())
    }
}

/// Batches from the partitions' queue, the consumer's events (the assignment) served between
/// them. The count is checked per batch, so the last one may bring a few records more.
fn read_batches(
    consumer: &BaseConsumer<Joined>,
    queue: &mut RecordQueue<'_>,
    args: &Args,
) -> Result<(u64, u64)> {
    let mut count = Count::default();
    let mut error = None;
    while count.records < args.count {
        loop {
            match consumer.poll(Duration::ZERO) {
                Some(Ok(message)) => {
                    count.records += 1;
                    count.bytes += (message.key_len() + message.payload_len()) as u64;
                }
                Some(Err(e)) => bail!("after {} records: {e}", count.records),
                None if !queue.events_waiting() => break,
                None => {}
            }
        }
        let taken = queue.take(POLL_WAIT, BATCH, |record| match record {
            Ok(record) => {
                count.records += 1;
                count.bytes += (record.key_len + record.payload.len()) as u64;
            }
            Err(e) => error = Some(e),
        });
        if let Some(e) = error.take() {
            bail!("after {} records: {e}", count.records);
        }
        if taken == 0 {
            count.idle(args)?;
        } else {
            count.idle_since = None;
        }
    }
    Ok((count.records, count.bytes))
}

/// One `poll` per record. No clock read per record: the loop ends right after the last one is
/// counted.
fn read_per_record(consumer: &BaseConsumer<Joined>, args: &Args) -> Result<(u64, u64)> {
    let mut count = Count::default();
    while count.records < args.count {
        match consumer.poll(POLL_WAIT) {
            Some(Ok(message)) => {
                count.records += 1;
                count.bytes += (message.key_len() + message.payload_len()) as u64;
                count.idle_since = None;
            }
            Some(Err(error)) => bail!("after {} records: {error}", count.records),
            None => count.idle(args)?,
        }
    }
    Ok((count.records, count.bytes))
}
