//! The client-side limit for `cargo xtask bench`: the smallest loop that drives librdkafka's
//! `BaseProducer` as hard as it goes — no pacing, no histograms, no plugin — so kscen's load job can
//! be compared with what the client library itself does with the same settings.
//!
//! It mirrors the shape of kscen's job thread (serve delivery reports every 64 sends, wait for
//! room when the queue is full, never spin) and prints one JSON line on stdout:
//! `{"tool":"native","records":…,"acked":…,"failed":…,"bytes":…,"elapsed_s":…,"records_per_s":…,"mb_per_s":…}`.
//! The clock runs from just before the first send to the end of the final flush, as
//! kafka-producer-perf-test's does.

use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Parser;
use rand::Rng;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::{ClientConfig, ClientContext};

/// How long the final flush may take before the run counts as failed.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(120);
/// Pause between zero-timeout polls while waiting for delivery reports. `BaseProducer::poll`
/// with a timeout busy-waits through its last millisecond (rdkafka 0.39 rounds the time left
/// down to whole milliseconds), which would take a core from librdkafka's threads and the broker.
const REPORT_PAUSE: Duration = Duration::from_micros(200);

#[derive(Debug, Parser)]
#[command(about = "Produce --count records of --record-size bytes as fast as librdkafka goes")]
struct Args {
    #[arg(long)]
    bootstrap: String,
    #[arg(long)]
    topic: String,
    #[arg(long)]
    count: u64,
    #[arg(long)]
    record_size: usize,
    /// librdkafka producer property, key=value (repeatable).
    #[arg(short = 'X', value_name = "KEY=VALUE")]
    property: Vec<String>,
}

/// Counts delivery reports; they arrive on the sending thread, inside `poll`.
#[derive(Default)]
struct Deliveries {
    acked: AtomicU64,
    failed: AtomicU64,
}

impl ClientContext for Deliveries {}

impl ProducerContext for Deliveries {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        let counter = match result {
            Ok(_) => &self.acked,
            Err(_) => &self.failed,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

fn main() -> Result<()> {
    let args = Args::parse();
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", &args.bootstrap);
    for property in &args.property {
        let (key, value) = property
            .split_once('=')
            .with_context(|| format!("-X {property:?}: expected key=value"))?;
        config.set(key, value);
    }
    let producer: BaseProducer<Deliveries> = config
        .create_with_context(Deliveries::default())
        .context("creating the producer")?;
    // Like kafka-producer-perf-test: random upper-case letters, one buffer for every record.
    let mut rng = rand::rng();
    let payload: Vec<u8> = (0..args.record_size)
        .map(|_| rng.random_range(b'A'..=b'Z'))
        .collect();

    let started = Instant::now();
    for index in 0..args.count {
        loop {
            let record: BaseRecord<'_, [u8], [u8]> = BaseRecord::to(&args.topic).payload(&payload);
            match producer.send(record) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                    producer.poll(Duration::ZERO);
                    thread::sleep(REPORT_PAUSE);
                }
                Err((error, _)) => bail!("send failed: {error}"),
            }
        }
        if index % 64 == 0 {
            producer.poll(Duration::ZERO);
        }
    }
    // Not `flush`: it polls 100 ms at a time, so it notices the last acknowledgement late.
    let all_sent = Instant::now();
    while producer.in_flight_count() > 0 {
        if all_sent.elapsed() > FLUSH_TIMEOUT {
            bail!(
                "{} records still unacknowledged",
                producer.in_flight_count()
            );
        }
        producer.poll(Duration::ZERO);
        thread::sleep(REPORT_PAUSE);
    }
    let elapsed_s = started.elapsed().as_secs_f64();

    let deliveries = producer.context();
    let acked = deliveries.acked.load(Ordering::Relaxed);
    let failed = deliveries.failed.load(Ordering::Relaxed);
    let bytes = acked * args.record_size as u64;
    let report = serde_json::json!({
        "tool": "native",
        "records": args.count,
        "acked": acked,
        "failed": failed,
        "bytes": bytes,
        "elapsed_s": elapsed_s,
        "records_per_s": acked as f64 / elapsed_s,
        "mb_per_s": bytes as f64 / elapsed_s / (1024.0 * 1024.0),
    });
    println!("{report}");
    Ok(())
}
