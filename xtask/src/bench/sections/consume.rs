//! Section 7, consumer throughput: kscen's consume job, perf-test's `ConsumerPerformance` and the
//! bare `BaseConsumer` loop read the same topic, one consumer each in a fresh group, with the same
//! consumer settings, per record size. Each topic is filled once (by the native producer) and every
//! run reads the same records from its start, from the broker's page cache; the tools alternate as
//! in the throughput section (`Tool::order`), after one unrecorded read per topic has warmed the
//! broker's fetch path up.
//!
//! A run reads two thirds of its topic, and the topic's partitions are filled evenly, so that no
//! partition runs out during a run. A fetch that finds no new record on any partition it asks for
//! waits `fetch.max.wait.ms` (500 ms) at the broker, and a client has one fetch in flight per
//! broker: reading a topic to its very end, each partition that ends before the others costs the
//! Java consumer up to half a second with nothing to read (four such fetches took 2 of the 3 s of a
//! 125 000 × 1 KiB read). That is the end of the log, not throughput.
//!
//! Compared on the fetch rate (records ÷ the time from the group's assignment to the last record,
//! perf-test's fetch.nMsg.sec, which kscen reports the same way) and on the wall time of the whole
//! process (start-up, join, fetch, leaving the group), which is what someone waiting sees.

use anyhow::{ensure, Result};

use crate::bench::settings::{self, Acks, Workload, CONSUME_RECORD_SIZES};
use crate::bench::tools::kscen::{ClientProps, KscenRun, Set};
use crate::bench::tools::perf_test::{parse_consumer_line, PerfTest};
use crate::bench::tools::{median_of, native, ConsumerRun, Tool};
use crate::bench::Bench;

/// Consumers per tool: perf-test runs one, so kscen's group and the native loop have one too.
pub const MEMBERS: u32 = 1;

pub struct Case {
    pub record_size: u32,
    pub records: u64,
    topic: String,
    pub runs: Vec<ConsumerRun>,
}

impl Case {
    /// The median of `figure` over `tool`'s runs.
    pub fn median(&self, tool: Tool, figure: fn(&ConsumerRun) -> f64) -> f64 {
        median_of(&self.runs, tool, figure)
    }

    /// Over the fetch time.
    pub fn records_per_s(&self, tool: Tool) -> f64 {
        self.median(tool, ConsumerRun::records_per_s)
    }

    /// kscen's median fetch records/s over `other`'s.
    pub fn ratio_vs(&self, other: Tool) -> f64 {
        self.records_per_s(Tool::Kscen) / self.records_per_s(other)
    }

    /// kscen's median records per wall-time second over `other`'s (`other`'s wall time over
    /// kscen's: above 1.0 kscen is done sooner).
    pub fn wall_ratio_vs(&self, other: Tool) -> f64 {
        let wall = |tool| self.median(tool, ConsumerRun::wall_records_per_s);
        wall(Tool::Kscen) / wall(other)
    }
}

pub struct Consume {
    pub cases: Vec<Case>,
}

pub fn run(
    bench: &mut Bench,
    perf_test: &PerfTest,
    workload: &Workload,
    repeat: usize,
) -> Result<Consume> {
    let mut cases: Vec<Case> = CONSUME_RECORD_SIZES
        .into_iter()
        .zip(workload.consume_records)
        .map(|(record_size, records)| Case {
            record_size,
            records,
            topic: format!("bench-consume-{record_size}b"),
            runs: Vec::new(),
        })
        .collect();
    for case in &cases {
        fill(bench, case)?;
    }
    warm_up(bench, &cases)?;
    for repetition in 1..=repeat {
        for case in &mut cases {
            for tool in Tool::order(repetition) {
                let run = run_one(bench, perf_test, case, tool, repetition)?;
                case.runs.push(run);
            }
        }
    }
    for case in &cases {
        bench.delete_topic(&case.topic)?;
    }
    Ok(Consume { cases })
}

/// A fresh topic holding half as many records again as a run reads, written by the native
/// producer with the throughput section's settings (acks=1), spread evenly over the partitions:
/// `sticky.partitioning.linger.ms=0` sends each keyless record to a random partition, where the
/// sticky partitioner would fill one partition's batch at a time and leave the partitions' sizes
/// far apart (12 000 to 31 000 records of 125 000 in one fill).
fn fill(bench: &mut Bench, case: &Case) -> Result<()> {
    let bootstrap = bench.lab()?.bootstrap();
    bench.create_topic(&case.topic)?;
    let mut props = settings::librdkafka_properties(Acks::Leader);
    props.push(("sticky.partitioning.linger.ms".into(), "0".into()));
    let records = settings::consume_topic_records(case.records);
    let command = bench
        .native
        .command(&bootstrap, &case.topic, records, case.record_size, &props);
    let name = format!("consume-fill-{}b", case.record_size);
    let process = bench.measure(&name, command, Vec::new())?;
    let report = native::parse_report(&process.stdout)?;
    ensure!(
        report.acked == records,
        "{name}: {} of {records} records acknowledged ({} failed)",
        report.acked,
        report.failed
    );
    Ok(())
}

/// One unrecorded native read of a tenth of each topic.
fn warm_up(bench: &mut Bench, cases: &[Case]) -> Result<()> {
    let bootstrap = bench.lab()?.bootstrap();
    for case in cases {
        let name = format!("consume-warm-up-{}b", case.record_size);
        let command = bench.native.consumer_command(
            &bootstrap,
            &case.topic,
            &format!("bench-{name}"),
            case.records / 10,
            &settings::consumer_librdkafka_properties(),
        );
        bench.measure(&name, command, Vec::new())?;
    }
    Ok(())
}

fn run_one(
    bench: &mut Bench,
    perf_test: &PerfTest,
    case: &Case,
    tool: Tool,
    repetition: usize,
) -> Result<ConsumerRun> {
    let (records, topic) = (case.records, case.topic.as_str());
    let name = format!("consume-{}b-{}-{repetition}", case.record_size, tool.key());
    // A fresh group per run: nothing is committed, but a group of its own also means no run ever
    // waits for another's members to leave.
    let group = format!("bench-{name}");
    let bootstrap = bench.lab()?.bootstrap();
    let run = match tool {
        Tool::Kscen => {
            let profile = bench.lab()?.profile();
            let sets = [
                Set::text("topic", topic),
                Set::text("group", &group),
                Set::number("count", records),
                Set::number("members", MEMBERS),
            ];
            let props = settings::consumer_java_properties();
            let (process, result) = bench.measure_kscen(
                &name,
                KscenRun {
                    plugin: "bench-consume",
                    profile: Some(&profile),
                    sets: &sets,
                    props: ClientProps::Consumer(&props),
                },
                Vec::new(),
            )?;
            let job = result.consumer()?;
            ConsumerRun::new(
                tool,
                job.records,
                job.bytes,
                job.join_ms,
                job.fetch_s(),
                &process,
            )
        }
        Tool::PerfTest => {
            let command = perf_test.consumer_command(
                &bootstrap,
                topic,
                &group,
                records,
                &settings::consumer_java_properties(),
            )?;
            let process = bench.measure(&name, command, Vec::new())?;
            let line = parse_consumer_line(&process.stdout)?;
            ConsumerRun::new(
                tool,
                line.records,
                line.bytes(),
                line.rebalance_ms,
                line.fetch_ms / 1000.0,
                &process,
            )
        }
        Tool::Native => {
            let command = bench.native.consumer_command(
                &bootstrap,
                topic,
                &group,
                records,
                &settings::consumer_librdkafka_properties(),
            );
            let process = bench.measure(&name, command, Vec::new())?;
            let report = native::parse_consumer_report(&process.stdout)?;
            ConsumerRun::new(
                tool,
                report.records,
                report.bytes,
                report.join_s * 1000.0,
                report.fetch_s,
                &process,
            )
        }
    };
    // Every tool stops once it has taken `records`, which may end within a batch (a poll's for
    // perf-test, up to 1 024 records for kscen and the native loop): a few more records are read
    // and counted.
    ensure!(
        run.records >= records,
        "{name}: read {} of {records} records",
        run.records
    );
    Ok(run)
}
