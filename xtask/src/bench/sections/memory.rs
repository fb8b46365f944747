//! Section 4, memory over time: the same kscen scenario (steady, at a fixed rate) for a short and a
//! twenty times longer run. Memory that grew with the record count would show as a higher settled
//! RSS in the long run; the long run's RSS, sampled every second, shows its course.
//!
//! Settled, not last: the allocator hands freed pages back to the system now and then, so single
//! samples of a steady run wander by several MiB (22.6–27.6 MiB over one 100 s run). The median of
//! a run's second half is the RSS "at 1M records" and "at 20M records" without that wander, and
//! still rises with anything that grows per record.
//!
//! Paced, not unthrottled: unthrottled, librdkafka's queue holds up to 100 000 records, and how
//! full it is at any moment depends on how fast the broker drains it, which would swamp the
//! comparison; at a rate the broker keeps up with, the queue stays short and steady.

use anyhow::Result;

use super::median;

use crate::bench::process::Measured;
use crate::bench::settings::{Acks, Workload, PARTITIONS};
use crate::bench::tools::kscen::Set;
use crate::bench::Bench;

pub struct MemoryRun {
    pub records: u64,
    pub wall_s: f64,
    /// VmRSS of the last sample before the process ended (at most 250 ms before), KiB
    pub end_rss_kib: u64,
    /// The median VmRSS of the samples in the second half of the run, KiB
    pub settled_rss_kib: u64,
    /// VmHWM: the largest resident set of the run, KiB
    pub peak_rss_kib: u64,
    /// (seconds since launch, VmRSS KiB), one sample per second
    pub rss_per_second: Vec<(f64, u64)>,
}

pub struct Memory {
    pub rate: u64,
    pub record_size: u32,
    pub short: MemoryRun,
    pub long: MemoryRun,
}

impl Memory {
    /// The long run's settled RSS over the short one's.
    pub fn ratio(&self) -> f64 {
        self.long.settled_rss_kib as f64 / self.short.settled_rss_kib as f64
    }
}

pub fn run(bench: &mut Bench, workload: &Workload) -> Result<Memory> {
    let [short, long] = workload.memory_records;
    Ok(Memory {
        rate: workload.memory_rate,
        record_size: workload.memory_record_size,
        short: run_one(bench, workload, short)?,
        long: run_one(bench, workload, long)?,
    })
}

fn run_one(bench: &mut Bench, workload: &Workload, records: u64) -> Result<MemoryRun> {
    let name = format!("memory-{records}");
    let topic = format!("bench-{name}");
    bench.create_topic(&topic)?;
    let sets = [
        Set::text("topic", &topic),
        Set::number("rate", workload.memory_rate),
        Set::number("count", records),
        Set::number("record_size", workload.memory_record_size),
        Set::number("partitions", PARTITIONS),
    ];
    let (process, _) = bench.measure_steady(&name, &sets, Acks::Leader)?;
    bench.delete_topic(&topic)?;
    Ok(MemoryRun {
        records,
        wall_s: process.wall_s,
        end_rss_kib: process.rss_kib.last().map_or(0, |(_, kib)| *kib),
        settled_rss_kib: settled(&process),
        peak_rss_kib: process.peak_rss_kib,
        rss_per_second: per_second(&process),
    })
}

/// The median of the samples taken in the second half of the run.
fn settled(process: &Measured) -> u64 {
    let half = process.wall_s / 2.0;
    let second_half = process
        .rss_kib
        .iter()
        .filter(|(t, _)| *t >= half)
        .map(|(_, kib)| *kib as f64)
        .collect();
    let kib = median(second_half);
    if kib.is_nan() {
        0
    } else {
        kib as u64
    }
}

/// The last sample of each whole second (the first one of the first second is taken before the
/// process has loaded anything).
fn per_second(process: &Measured) -> Vec<(f64, u64)> {
    let mut samples: Vec<(f64, u64)> = Vec::new();
    for &(t, rss) in &process.rss_kib {
        match samples.last_mut() {
            Some(last) if last.0.floor() == t.floor() => *last = (t, rss),
            _ => samples.push((t, rss)),
        }
    }
    samples
}
