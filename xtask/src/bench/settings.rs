//! The producer and consumer settings every tool gets, and the workloads of each section.
//!
//! perf-test and kscen are given the same Java property names (kscen maps them to librdkafka
//! the way it maps a seed's `--producer.config` / `--consumer.config`); the native loops are given
//! what kscen's mapping produces, so all three run librdkafka or the Java client with the same
//! meaning.

use std::time::Duration;

use crate::bench::options::Section;

/// Every topic of the bench has this many partitions (one replica: the lab's source is one broker).
pub const PARTITIONS: u32 = 6;

/// Record sizes of the throughput section, bytes.
pub const RECORD_SIZES: [u32; 3] = [100, 1024, 10 * 1024];

/// Record sizes of the consume section, bytes.
pub const CONSUME_RECORD_SIZES: [u32; 2] = [100, 1024];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Acks {
    Leader,
    All,
}

impl Acks {
    pub const BOTH: [Acks; 2] = [Acks::Leader, Acks::All];

    pub fn value(self) -> &'static str {
        match self {
            Acks::Leader => "1",
            Acks::All => "all",
        }
    }
}

/// Java producer properties shared by every run. Explicit, because the two clients' defaults
/// differ: linger.ms (Java 0, librdkafka 5), batch.size (16 KiB vs 1 MB), idempotence (on by
/// default in Java 3.x with acks=all, off in librdkafka), in-flight requests (5 vs 1 000 000).
const COMMON_JAVA: [(&str, &str); 6] = [
    ("linger.ms", "5"),
    ("batch.size", "131072"),
    ("compression.type", "none"),
    ("buffer.memory", "67108864"),
    ("enable.idempotence", "false"),
    ("max.in.flight.requests.per.connection", "5"),
];

/// `acks` plus the common settings, with Java names: for perf-test and `kscen run --producer-props`.
pub fn java_properties(acks: Acks) -> Vec<(String, String)> {
    std::iter::once(("acks", acks.value()))
        .chain(COMMON_JAVA)
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The same settings under librdkafka's names, as kscen maps them
/// (host/src/config/client_props.rs): compression.type → compression.codec, buffer.memory →
/// queue.buffering.max.kbytes (bytes / 1024); the rest are librdkafka names too.
pub fn librdkafka_properties(acks: Acks) -> Vec<(String, String)> {
    to_librdkafka(java_properties(acks))
}

/// Java consumer properties shared by every consume run. Explicit where the two clients' defaults
/// differ (isolation.level: Java read_uncommitted, librdkafka read_committed) and where perf-test
/// sets its own (receive.buffer.bytes 2 MiB through `--socket-buffer-size`, max.partition.fetch.bytes
/// through `--fetch-size`, check.crcs=false); the rest are both clients' defaults, written out so
/// the JSON says what ran. Nothing is committed and every group is new: each run reads the whole
/// topic from its first offset.
const CONSUMER_JAVA: [(&str, &str); 9] = [
    ("enable.auto.commit", "false"),
    ("auto.offset.reset", "earliest"),
    ("fetch.min.bytes", "1"),
    ("fetch.max.wait.ms", "500"),
    ("fetch.max.bytes", "52428800"),
    ("max.partition.fetch.bytes", "1048576"),
    ("receive.buffer.bytes", "2097152"),
    ("check.crcs", "false"),
    ("isolation.level", "read_uncommitted"),
];

/// The consumer settings with Java names: for perf-test's `--consumer.config` and
/// `kscen run --consumer-props`.
pub fn consumer_java_properties() -> Vec<(String, String)> {
    CONSUMER_JAVA
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// What kscen's consume jobs set where the user did not (`FETCH_QUEUE_BACKOFF_MS` in
/// host/src/load/consume/mod.rs): the native loop gets it too, so that it and kscen differ only
/// in their loops. The Java consumer has no such setting (it fetches when its buffer is drained).
pub const KSCEN_CONSUMER_DEFAULTS: [(&str, &str); 1] = [("fetch.queue.backoff.ms", "10")];

/// The consumer settings under librdkafka's names, as kscen maps them (fetch.max.wait.ms →
/// fetch.wait.max.ms, receive.buffer.bytes → socket.receive.buffer.bytes), plus kscen's own
/// consumer defaults: what a kscen consume job runs with.
pub fn consumer_librdkafka_properties() -> Vec<(String, String)> {
    let defaults = KSCEN_CONSUMER_DEFAULTS
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()));
    to_librdkafka(consumer_java_properties())
        .into_iter()
        .chain(defaults)
        .collect()
}

/// Renames and converts the Java keys of this module's settings the way kscen's mapping does; the
/// producer's and the consumer's keys do not overlap, so one table serves both.
fn to_librdkafka(java: Vec<(String, String)>) -> Vec<(String, String)> {
    const RENAMED: [(&str, &str); 3] = [
        ("compression.type", "compression.codec"),
        ("fetch.max.wait.ms", "fetch.wait.max.ms"),
        ("receive.buffer.bytes", "socket.receive.buffer.bytes"),
    ];
    java.into_iter()
        .map(|(key, value)| {
            if key == "buffer.memory" {
                let bytes: u64 = value.parse().expect("a number of bytes");
                return (
                    "queue.buffering.max.kbytes".to_string(),
                    bytes.div_ceil(1024).to_string(),
                );
            }
            match RENAMED.iter().find(|(java, _)| *java == key) {
                Some((_, librdkafka)) => (librdkafka.to_string(), value),
                None => (key, value),
            }
        })
        .collect()
}

/// Records in a consume topic whose runs read `records_read`: half as many again, so that no
/// partition runs out during a run (sections/consume.rs says why).
pub fn consume_topic_records(records_read: u64) -> u64 {
    records_read * 3 / 2
}

/// How much each section runs; `--quick` shortens everything.
#[derive(Debug, Clone, Copy)]
pub struct Workload {
    /// Records per throughput run, per record size.
    pub throughput_records: [u64; 3],
    /// Targets of the rate section and how long each runs.
    pub rate_targets: [f64; 4],
    pub rate_duration: Duration,
    pub rate_record_size: u32,
    /// The stall section: rate, records, record size, when the broker stops and for how long.
    pub stall_rate: u64,
    pub stall_records: u64,
    pub stall_record_size: u32,
    pub stall_at: Duration,
    pub stall_for: Duration,
    /// The memory section: two run lengths of the same scenario, its rate and record size.
    pub memory_records: [u64; 2],
    pub memory_rate: u64,
    pub memory_record_size: u32,
    /// The plugin section's produce calls.
    pub produce_calls: u64,
    /// Records each consume run reads, per record size (`CONSUME_RECORD_SIZES`).
    pub consume_records: [u64; 2],
    /// The shards section: records of one run (one process's, or the shards' together), their
    /// size.
    pub shards_records: u64,
    pub shards_record_size: u32,
}

impl Workload {
    /// The most value bytes any one run of `sections` sends through the broker.
    pub fn largest_run_bytes(&self, sections: &[Section]) -> u64 {
        let throughput = self
            .throughput_records
            .iter()
            .zip(RECORD_SIZES)
            .map(|(records, size)| (Section::Throughput, records * u64::from(size)));
        let memory = self
            .memory_records
            .map(|r| (Section::Memory, r * u64::from(self.memory_record_size)));
        let stall = self.stall_records * u64::from(self.stall_record_size);
        let shards = self.shards_records * u64::from(self.shards_record_size);
        // The consume section keeps both of its topics until it ends.
        let consume = self
            .consume_records
            .iter()
            .zip(CONSUME_RECORD_SIZES)
            .map(|(records, size)| consume_topic_records(*records) * u64::from(size))
            .sum();
        throughput
            .chain(memory)
            .chain([
                (Section::Stall, stall),
                (Section::Consume, consume),
                (Section::Shards, shards),
            ])
            .filter(|(section, _)| sections.contains(section))
            .map(|(_, bytes)| bytes)
            .max()
            .unwrap_or(0)
    }

    pub fn new(quick: bool) -> Workload {
        let full = Workload {
            throughput_records: [5_000_000, 2_000_000, 300_000],
            rate_targets: [1.0, 100.0, 10_000.0, 100_000.0],
            rate_duration: Duration::from_secs(10),
            rate_record_size: 100,
            stall_rate: 10_000,
            stall_records: 150_000,
            stall_record_size: 1024,
            stall_at: Duration::from_secs(5),
            stall_for: Duration::from_secs(2),
            memory_records: [1_000_000, 20_000_000],
            memory_rate: 200_000,
            memory_record_size: 100,
            produce_calls: 20_000,
            consume_records: [2_000_000, 500_000],
            // Section 1's 100 B case: the one process's figure compares with its kscen runs.
            shards_records: 5_000_000,
            shards_record_size: 100,
        };
        if !quick {
            return full;
        }
        Workload {
            throughput_records: [500_000, 200_000, 30_000],
            rate_duration: Duration::from_secs(3),
            stall_records: 80_000,
            stall_at: Duration::from_secs(3),
            memory_records: [100_000, 2_000_000],
            produce_calls: 2_000,
            consume_records: [500_000, 125_000],
            shards_records: 500_000,
            ..full
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consumer_settings_are_renamed_as_kscen_maps_them() {
        let librdkafka = consumer_librdkafka_properties();
        let value = |key: &str| {
            librdkafka
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(value("fetch.wait.max.ms"), Some("500"));
        assert_eq!(value("socket.receive.buffer.bytes"), Some("2097152"));
        assert_eq!(value("fetch.max.wait.ms"), None);
        assert_eq!(value("fetch.queue.backoff.ms"), Some("10"));
        assert_eq!(librdkafka.len(), consumer_java_properties().len() + 1);
        let producer = librdkafka_properties(Acks::All);
        assert!(producer.contains(&("queue.buffering.max.kbytes".into(), "65536".into())));
        assert!(producer.contains(&("compression.codec".into(), "none".into())));
    }

    #[test]
    fn the_largest_run_is_the_10_kib_throughput_run() {
        // 300 000 × 10 KiB; --quick: 30 000 × 10 KiB.
        assert_eq!(
            Workload::new(false).largest_run_bytes(&Section::ALL),
            3_072_000_000
        );
        assert_eq!(
            Workload::new(true).largest_run_bytes(&Section::ALL),
            307_200_000
        );
    }

    #[test]
    fn the_disk_is_asked_for_the_sections_that_run() {
        // The consume topics: 3 000 000 × 100 B and 750 000 × 1 KiB.
        let full = Workload::new(false);
        assert_eq!(full.largest_run_bytes(&[Section::Consume]), 1_068_000_000);
        assert_eq!(full.largest_run_bytes(&[Section::Micro]), 0);
        // One run's 5 000 000 × 100 B, whether one process or the shards send it.
        assert_eq!(full.largest_run_bytes(&[Section::Shards]), 500_000_000);
    }
}
