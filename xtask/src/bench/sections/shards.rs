//! Section 8, sharded runs on one machine: one `steady` run of a fixed record count (unthrottled,
//! 100 B, section 1's producer settings at acks=1), once by one kscen process and once split
//! over four shard processes launched together (`--shard i/4 --start-at`, one instant a few
//! seconds ahead), whose results `kscen merge` adds into one. Repetitions alternate which side
//! goes first. Every process is measured from outside as any other tool, so the shards' CPU and
//! memory are the sums of four processes'.

use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{ensure, Context, Result};
use serde_json::{json, Value};

use crate::bench::process::Measured;
use crate::bench::sections::median;
use crate::bench::settings::{self, Acks, Workload, PARTITIONS};
use crate::bench::tools::kscen::{ClientProps, KscenRun, PhaseFigures, Set};
use crate::bench::Bench;

/// Shard processes of the sharded side.
pub const SHARDS: u32 = 4;

/// How far after their launch the shards start: each must have started, loaded the plugin and
/// reached the broker before the instant (a shard that is late fails), four at once on two busy
/// cores. Not counted in records/s, which runs on the shards' clock from that instant.
pub const START_AHEAD: Duration = Duration::from_secs(10);

/// One run of the section's load: by one process, or by the shards together.
#[derive(Debug, Clone)]
pub struct LoadRun {
    pub sent: u64,
    /// the first process's phase start → the last one's phase end, on the shared clock
    pub span_s: f64,
    /// (CPU s, peak RSS KiB) of each process, launch to exit
    pub processes: Vec<(f64, u64)>,
    /// `kscen merge`'s wall time; none for one process
    pub merge_s: Option<f64>,
}

impl LoadRun {
    /// The run's figures from its (merged) phase, after checking that exactly `count` records
    /// were sent and every one was acknowledged.
    fn new(
        what: &str,
        count: u64,
        phase: &PhaseFigures,
        processes: &[Measured],
        merge_s: Option<f64>,
    ) -> Result<LoadRun> {
        ensure!(
            phase.sent == count,
            "{what}: {} records sent, not the {count} asked for",
            phase.sent
        );
        ensure!(
            phase.acked == phase.sent,
            "{what}: {} of {} records acknowledged ({} failed)",
            phase.acked,
            phase.sent,
            phase.failed
        );
        Ok(LoadRun {
            sent: phase.sent,
            span_s: phase.end_s - phase.start_s,
            processes: processes
                .iter()
                .map(|p| (p.cpu_s, p.peak_rss_kib))
                .collect(),
            merge_s,
        })
    }

    pub fn records_per_s(&self) -> f64 {
        self.sent as f64 / self.span_s
    }

    /// CPU seconds of every process, summed.
    pub fn cpu_s(&self) -> f64 {
        self.processes.iter().map(|(cpu_s, _)| cpu_s).sum()
    }

    /// Peak resident sets of every process, summed: what the processes held at most, were their
    /// peaks at the same time.
    pub fn peak_rss_kib(&self) -> u64 {
        self.processes.iter().map(|(_, kib)| kib).sum()
    }

    pub fn to_json(&self) -> Value {
        json!({
            "sent": self.sent,
            "span_s": self.span_s,
            "records_per_s": self.records_per_s(),
            "cpu_s": self.cpu_s(),
            "peak_rss_kib": self.peak_rss_kib(),
            "processes": self.processes.iter().map(|(cpu_s, kib)| json!({
                "cpu_s": cpu_s,
                "peak_rss_kib": kib,
            })).collect::<Vec<_>>(),
            "merge_s": self.merge_s,
        })
    }
}

pub struct Shards {
    pub records: u64,
    pub record_size: u32,
    pub single: Vec<LoadRun>,
    pub sharded: Vec<LoadRun>,
}

impl Shards {
    /// The median of `figure` over `runs`.
    pub fn median(runs: &[LoadRun], figure: impl Fn(&LoadRun) -> f64) -> f64 {
        median(runs.iter().map(figure).collect())
    }

    /// The shards' median of `figure` over the one process's.
    pub fn ratio(&self, figure: impl Fn(&LoadRun) -> f64) -> f64 {
        Shards::median(&self.sharded, &figure) / Shards::median(&self.single, &figure)
    }
}

pub fn run(bench: &mut Bench, workload: &Workload, repeat: usize) -> Result<Shards> {
    let mut shards = Shards {
        records: workload.shards_records,
        record_size: workload.shards_record_size,
        single: Vec::new(),
        sharded: Vec::new(),
    };
    bench.warm_up_broker(shards.record_size, shards.records / 10)?;
    for repetition in 1..=repeat {
        // Odd repetitions start with the one process, even ones with the shards.
        if repetition % 2 == 1 {
            shards.single.push(run_single(bench, &shards, repetition)?);
            shards
                .sharded
                .push(run_sharded(bench, &shards, repetition)?);
        } else {
            shards
                .sharded
                .push(run_sharded(bench, &shards, repetition)?);
            shards.single.push(run_single(bench, &shards, repetition)?);
        }
    }
    Ok(shards)
}

/// `steady` to `topic`, unthrottled, with section 1's producer settings at acks=1.
fn sets(shards: &Shards, topic: &str) -> [Set; 5] {
    [
        Set::text("topic", topic),
        Set::number("rate", 0),
        Set::number("count", shards.records),
        Set::number("record_size", shards.record_size),
        Set::number("partitions", PARTITIONS),
    ]
}

fn run_single(bench: &mut Bench, shards: &Shards, repetition: usize) -> Result<LoadRun> {
    let name = format!("shards-1-process-{repetition}");
    let topic = format!("bench-{name}");
    bench.create_topic(&topic)?;
    let sets = sets(shards, &topic);
    let (process, result) = bench.measure_steady(&name, &sets, Acks::Leader)?;
    bench.delete_topic(&topic)?;
    LoadRun::new(&name, shards.records, &result.phase()?, &[process], None)
}

fn run_sharded(bench: &mut Bench, shards: &Shards, repetition: usize) -> Result<LoadRun> {
    let name = format!("shards-{SHARDS}-shards-{repetition}");
    let topic = format!("bench-{name}");
    bench.create_topic(&topic)?;
    let sets = sets(shards, &topic);
    let props = settings::java_properties(Acks::Leader);
    let profile = bench.lab()?.profile();
    let run = KscenRun {
        plugin: "steady",
        profile: Some(&profile),
        sets: &sets,
        props: ClientProps::Producer(&props),
    };
    let start_at = rfc3339_in(START_AHEAD)?;
    let (processes, results) = bench.run_kscen_shards(&name, &run, SHARDS, &start_at)?;
    bench.delete_topic(&topic)?;
    let (merge, merged) = bench.merge_kscen(&format!("{name}-merge"), &results)?;
    LoadRun::new(
        &name,
        shards.records,
        &merged.phase()?,
        &processes,
        Some(merge.wall_s),
    )
}

/// The whole second at least `ahead` from now, as RFC 3339 (UTC), for `--start-at`: one instant
/// for every shard (`+10s` would be each process's own).
fn rfc3339_in(ahead: Duration) -> Result<String> {
    let at = SystemTime::now() + ahead;
    let seconds = at.duration_since(UNIX_EPOCH)?.as_secs() + 1;
    let output = Command::new("date")
        .args(["-u", "-d", &format!("@{seconds}"), "+%Y-%m-%dT%H:%M:%SZ"])
        .output()
        .context("cannot run date")?;
    ensure!(output.status.success(), "date -d @{seconds} failed");
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::tools::Latency;

    fn merged_phase(sent: u64, acked: u64, start_s: f64, end_s: f64) -> PhaseFigures {
        let latency = Latency {
            p50_ms: 1.0,
            p99_ms: 2.0,
            p999_ms: 3.0,
            max_ms: 4.0,
        };
        PhaseFigures {
            sent,
            acked,
            failed: sent - acked,
            bytes: acked * 100,
            start_s,
            end_s,
            achieved_rate: 0.0,
            target_rate: None,
            schedule_lag_p50_us: 0.0,
            schedule_lag_p99_us: 0.0,
            corrected: latency,
            service: latency,
        }
    }

    fn run_of(phase: &PhaseFigures) -> Result<LoadRun> {
        LoadRun::new("4 shards", 1_000_001, phase, &[], Some(0.2))
    }

    #[test]
    fn records_per_s_is_the_merged_count_over_the_shards_common_span() {
        // The merge's phase runs from the earliest shard's start to the latest one's end.
        let mut run = run_of(&merged_phase(1_000_001, 1_000_001, 0.25, 2.25)).unwrap();
        assert_eq!(run.records_per_s(), 500_000.5);
        run.processes = vec![(1.5, 60_000), (1.25, 50_000), (1.0, 50_000), (1.0, 40_000)];
        assert_eq!(run.cpu_s(), 4.75);
        assert_eq!(run.peak_rss_kib(), 200_000);
    }

    #[test]
    fn a_merge_short_of_the_count_or_of_acknowledgements_fails_the_section() {
        let short = run_of(&merged_phase(1_000_000, 1_000_000, 0.0, 1.0)).unwrap_err();
        assert!(
            short
                .to_string()
                .contains("1000000 records sent, not the 1000001"),
            "{short}"
        );
        let failed = run_of(&merged_phase(1_000_001, 1_000_000, 0.0, 1.0)).unwrap_err();
        assert!(failed.to_string().contains("(1 failed)"), "{failed}");
    }
}
