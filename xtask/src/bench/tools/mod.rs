//! The three tools the bench compares, each launched as its own process and read from its own
//! output: kscen (a scenario plugin driving a native load or consume job), Apache Kafka's
//! `ProducerPerformance` / `ConsumerPerformance` (the seeds' `kafka-producer-perf-test` and
//! `kafka-consumer-perf-test`), and bare rdkafka loops.

pub mod kscen;
pub mod native;
pub mod perf_test;

use serde_json::{json, Value};

use super::process::Measured;
use super::sections::median;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    Kscen,
    PerfTest,
    Native,
}

impl Tool {
    /// The order tables and JSON list the tools in.
    pub const ALL: [Tool; 3] = [Tool::Kscen, Tool::PerfTest, Tool::Native];

    /// The order the tools run in, within each case, in a repetition (from 1). Every six
    /// repetitions go through all six orders, so each tool runs first twice and right after each
    /// other tool twice: whatever a run leaves behind on the broker (a GC cycle, a topic being
    /// deleted) weighs on every tool alike. Plain rotations would always put kscen right after
    /// the native loop.
    pub fn order(repetition: usize) -> [Tool; 3] {
        use Tool::{Kscen as K, Native as N, PerfTest as P};
        const ORDERS: [[Tool; 3]; 6] = [
            [K, P, N],
            [N, P, K],
            [P, N, K],
            [K, N, P],
            [N, K, P],
            [P, K, N],
        ];
        ORDERS[(repetition.max(1) - 1) % ORDERS.len()]
    }

    pub fn key(self) -> &'static str {
        match self {
            Tool::Kscen => "kscen",
            Tool::PerfTest => "perf_test",
            Tool::Native => "native",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Tool::Kscen => "kscen",
            Tool::PerfTest => "perf-test",
            Tool::Native => "native",
        }
    }
}

/// Latency percentiles, ms.
#[derive(Debug, Clone, Copy)]
pub struct Latency {
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
}

impl Latency {
    pub fn to_json(self) -> Value {
        json!({
            "p50_ms": self.p50_ms,
            "p99_ms": self.p99_ms,
            "p999_ms": self.p999_ms,
            "max_ms": self.max_ms,
        })
    }
}

/// One tool's run in a case of several runs per tool.
pub trait ToolRun {
    fn tool(&self) -> Tool;
}

/// The median of `figure` over `tool`'s runs.
pub fn median_of<R: ToolRun>(runs: &[R], tool: Tool, figure: impl Fn(&R) -> f64) -> f64 {
    median(
        runs.iter()
            .filter(|r| r.tool() == tool)
            .map(figure)
            .collect(),
    )
}

/// What one producer run delivered, as the tool itself timed it (first send → last
/// acknowledgement), and what it cost, as measured from outside.
#[derive(Debug, Clone)]
pub struct ProducerRun {
    pub tool: Tool,
    pub acked: u64,
    pub failed: u64,
    pub elapsed_s: f64,
    pub bytes: u64,
    pub cpu_s: f64,
    pub peak_rss_kib: u64,
}

impl ToolRun for ProducerRun {
    fn tool(&self) -> Tool {
        self.tool
    }
}

impl ProducerRun {
    pub fn new(
        tool: Tool,
        acked: u64,
        failed: u64,
        elapsed_s: f64,
        bytes: u64,
        process: &Measured,
    ) -> ProducerRun {
        ProducerRun {
            tool,
            acked,
            failed,
            elapsed_s,
            bytes,
            cpu_s: process.cpu_s,
            peak_rss_kib: process.peak_rss_kib,
        }
    }

    pub fn records_per_s(&self) -> f64 {
        self.acked as f64 / self.elapsed_s
    }

    /// MiB/s, as kafka-producer-perf-test's "MB/sec".
    pub fn mb_per_s(&self) -> f64 {
        self.bytes as f64 / self.elapsed_s / (1024.0 * 1024.0)
    }

    /// CPU seconds of the whole process (start-up included) per million acknowledged records.
    pub fn cpu_s_per_million(&self) -> f64 {
        self.cpu_s / (self.acked as f64 / 1e6)
    }

    pub fn to_json(&self) -> Value {
        json!({
            "acked": self.acked,
            "failed": self.failed,
            "elapsed_s": self.elapsed_s,
            "records_per_s": self.records_per_s(),
            "mb_per_s": self.mb_per_s(),
            "cpu_s": self.cpu_s,
            "cpu_s_per_million": self.cpu_s_per_million(),
            "peak_rss_kib": self.peak_rss_kib,
        })
    }
}

/// What one consumer run read, timed as kafka-consumer-perf-test times it (the group's join, then
/// the fetch time up to the last record), and what it cost, measured from outside.
#[derive(Debug, Clone)]
pub struct ConsumerRun {
    pub tool: Tool,
    pub records: u64,
    /// value (and key) bytes read
    pub bytes: u64,
    /// from before the subscription until the group had assigned every partition
    pub join_ms: f64,
    /// from then until the last record was taken
    pub fetch_s: f64,
    /// the process, launch to exit: start-up, join, fetch and leaving the group
    pub wall_s: f64,
    pub cpu_s: f64,
    pub peak_rss_kib: u64,
}

impl ToolRun for ConsumerRun {
    fn tool(&self) -> Tool {
        self.tool
    }
}

impl ConsumerRun {
    pub fn new(
        tool: Tool,
        records: u64,
        bytes: u64,
        join_ms: f64,
        fetch_s: f64,
        process: &Measured,
    ) -> ConsumerRun {
        ConsumerRun {
            tool,
            records,
            bytes,
            join_ms,
            fetch_s,
            wall_s: process.wall_s,
            cpu_s: process.cpu_s,
            peak_rss_kib: process.peak_rss_kib,
        }
    }

    /// Over the fetch time: perf-test's fetch.nMsg.sec.
    pub fn records_per_s(&self) -> f64 {
        self.records as f64 / self.fetch_s
    }

    /// MiB/s over the fetch time: perf-test's fetch.MB.sec.
    pub fn mb_per_s(&self) -> f64 {
        self.bytes as f64 / self.fetch_s / (1024.0 * 1024.0)
    }

    /// Over the process's whole life: what a user waiting for the tool sees.
    pub fn wall_records_per_s(&self) -> f64 {
        self.records as f64 / self.wall_s
    }

    /// CPU seconds of the whole process (start-up included) per million records read.
    pub fn cpu_s_per_million(&self) -> f64 {
        self.cpu_s / (self.records as f64 / 1e6)
    }

    pub fn to_json(&self) -> Value {
        json!({
            "records": self.records,
            "bytes": self.bytes,
            "join_ms": self.join_ms,
            "fetch_s": self.fetch_s,
            "records_per_s": self.records_per_s(),
            "mb_per_s": self.mb_per_s(),
            "wall_s": self.wall_s,
            "wall_records_per_s": self.wall_records_per_s(),
            "cpu_s": self.cpu_s,
            "cpu_s_per_million": self.cpu_s_per_million(),
            "peak_rss_kib": self.peak_rss_kib,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::Tool;

    #[test]
    fn six_repetitions_balance_first_place_and_predecessors() {
        let orders: Vec<[Tool; 3]> = (1..=6).map(Tool::order).collect();
        for tool in Tool::ALL {
            let first = orders.iter().filter(|order| order[0] == tool).count();
            assert_eq!(first, 2, "{tool:?} runs first");
            for before in Tool::ALL.into_iter().filter(|&other| other != tool) {
                let after = orders
                    .iter()
                    .filter(|order| order.windows(2).any(|w| w == [before, tool]))
                    .count();
                assert_eq!(after, 2, "{tool:?} right after {before:?}");
            }
        }
        assert_eq!(Tool::order(7), Tool::order(1));
    }
}
