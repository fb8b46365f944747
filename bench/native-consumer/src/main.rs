//! The client-side limit for `cargo xtask bench`'s consume section: the smallest loop that reads
//! a topic through librdkafka's `BaseConsumer` — one consumer in a fresh group, no commits, no
//! per-record work beyond counting — so kscen's consume job can be compared with what the client
//! library itself does with the same settings.
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

/// How long one `poll` waits for a record. Records are waiting in librdkafka's queue most of the
/// time, so `poll` returns at once; the wait only matters before the first fetch and at the end.
const POLL_WAIT: Duration = Duration::from_millis(100);
/// The longest stretch without a record before the run counts as failed (perf-test's `--timeout`
/// has the same meaning); generous, because the first fetch waits for the group to form.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

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

    let started = Instant::now();
    consumer
        .subscribe(&[&args.topic])
        .with_context(|| format!("subscribing to {}", args.topic))?;
    let (mut records, mut bytes) = (0u64, 0u64);
    // No clock read per record: the loop ends right after the last one is counted.
    let mut idle_since: Option<Instant> = None;
    while records < args.count {
        match consumer.poll(POLL_WAIT) {
            Some(Ok(message)) => {
                records += 1;
                // Keys and values, as perf-test counts them (the bench's records have no key).
                bytes += (message.key_len() + message.payload_len()) as u64;
                idle_since = None;
            }
            Some(Err(error)) => bail!("after {records} records: {error}"),
            None => {
                if idle_since.get_or_insert_with(Instant::now).elapsed() > IDLE_TIMEOUT {
                    bail!(
                        "no record for {} s after {records} of {}: does {} hold that many?",
                        IDLE_TIMEOUT.as_secs(),
                        args.count,
                        args.topic
                    );
                }
            }
        }
    }
    let last_record = Instant::now();
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
