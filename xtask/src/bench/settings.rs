//! The producer settings every tool gets, and the workloads of each section.
//!
//! perf-test and kscen are given the same Java property names (kscen maps them to librdkafka
//! the way it maps a seed's `--producer.config`); the native loop is given what kscen's mapping
//! produces, so all three run librdkafka or the Java client with the same meaning.

use std::time::Duration;

/// Every topic of the bench has this many partitions (one replica: the lab's source is one broker).
pub const PARTITIONS: u32 = 6;

/// Record sizes of the throughput section, bytes.
pub const RECORD_SIZES: [u32; 3] = [100, 1024, 10 * 1024];

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
/// (host/src/config/producer_props.rs): compression.type → compression.codec, buffer.memory →
/// queue.buffering.max.kbytes (bytes / 1024); the rest are librdkafka names too.
pub fn librdkafka_properties(acks: Acks) -> Vec<(String, String)> {
    java_properties(acks)
        .into_iter()
        .map(|(key, value)| match key.as_str() {
            "compression.type" => ("compression.codec".to_string(), value),
            "buffer.memory" => {
                let bytes: u64 = value.parse().expect("a number of bytes");
                (
                    "queue.buffering.max.kbytes".to_string(),
                    bytes.div_ceil(1024).to_string(),
                )
            }
            _ => (key, value),
        })
        .collect()
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
}

impl Workload {
    /// The most value bytes any one run of this workload sends through the broker.
    pub fn largest_run_bytes(&self) -> u64 {
        let throughput = self
            .throughput_records
            .iter()
            .zip(RECORD_SIZES)
            .map(|(records, size)| records * u64::from(size));
        let memory = self
            .memory_records
            .map(|r| r * u64::from(self.memory_record_size));
        let stall = self.stall_records * u64::from(self.stall_record_size);
        throughput.chain(memory).chain([stall]).max().unwrap_or(0)
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
            ..full
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Workload;

    #[test]
    fn the_largest_run_is_the_10_kib_throughput_run() {
        // 300 000 × 10 KiB; --quick: 30 000 × 10 KiB.
        assert_eq!(Workload::new(false).largest_run_bytes(), 3_072_000_000);
        assert_eq!(Workload::new(true).largest_run_bytes(), 307_200_000);
    }
}
