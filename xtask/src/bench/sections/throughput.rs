//! Section 1, throughput unthrottled: the same records, topic layout and producer settings for
//! kscen, perf-test and the native loop, per record size and acks setting. Within each case the
//! tools run one after the other, and repetitions go round all cases again in another order
//! (`Tool::order`: every tool first, and right after each other tool, equally often), so a noisy
//! minute of the machine, or the place in the order, falls on every tool alike. An unrecorded run
//! per record size first warms the freshly started broker up (its JIT, its page cache).

use anyhow::{ensure, Result};

use crate::bench::settings::{self, Acks, Workload, PARTITIONS, RECORD_SIZES};
use crate::bench::tools::kscen::Set;
use crate::bench::tools::perf_test::{parse_final_line, PerfTest};
use crate::bench::tools::{median_of, native, ProducerRun, Tool};
use crate::bench::Bench;

pub struct Case {
    pub record_size: u32,
    pub acks: Acks,
    pub records: u64,
    pub runs: Vec<ProducerRun>,
}

impl Case {
    /// The median of `figure` over `tool`'s runs.
    pub fn median(&self, tool: Tool, figure: fn(&ProducerRun) -> f64) -> f64 {
        median_of(&self.runs, tool, figure)
    }

    pub fn records_per_s(&self, tool: Tool) -> f64 {
        self.median(tool, ProducerRun::records_per_s)
    }

    /// kscen's median records/s over `other`'s.
    pub fn ratio_vs(&self, other: Tool) -> f64 {
        self.records_per_s(Tool::Kscen) / self.records_per_s(other)
    }
}

pub struct Throughput {
    pub cases: Vec<Case>,
}

pub fn run(
    bench: &mut Bench,
    perf_test: &PerfTest,
    workload: &Workload,
    repeat: usize,
) -> Result<Throughput> {
    let mut cases: Vec<Case> = RECORD_SIZES
        .iter()
        .zip(workload.throughput_records)
        .flat_map(|(&record_size, records)| {
            Acks::BOTH.map(|acks| Case {
                record_size,
                acks,
                records,
                runs: Vec::new(),
            })
        })
        .collect();
    warm_up(bench, &cases)?;
    for repetition in 1..=repeat {
        for case in &mut cases {
            for tool in Tool::order(repetition) {
                let run = run_one(bench, perf_test, case, tool, repetition)?;
                case.runs.push(run);
            }
        }
    }
    Ok(Throughput { cases })
}

/// One unrecorded native run per record size, a tenth of a case's records.
fn warm_up(bench: &mut Bench, cases: &[Case]) -> Result<()> {
    for case in cases.iter().filter(|c| c.acks == Acks::Leader) {
        bench.warm_up_broker(case.record_size, case.records / 10)?;
    }
    Ok(())
}

fn run_one(
    bench: &mut Bench,
    perf_test: &PerfTest,
    case: &Case,
    tool: Tool,
    repetition: usize,
) -> Result<ProducerRun> {
    let (size, acks, records) = (case.record_size, case.acks, case.records);
    let name = format!(
        "tp-{size}b-acks-{}-{}-{repetition}",
        acks.value(),
        tool.key()
    );
    let topic = format!("bench-{name}");
    let bootstrap = bench.lab()?.bootstrap();
    bench.create_topic(&topic)?;
    let run = match tool {
        Tool::Kscen => {
            let sets = [
                Set::text("topic", &topic),
                Set::number("rate", 0),
                Set::number("count", records),
                Set::number("record_size", size),
                Set::number("partitions", PARTITIONS),
            ];
            let (process, result) = bench.measure_steady(&name, &sets, acks)?;
            let phase = result.phase()?;
            ProducerRun::new(
                tool,
                phase.acked,
                phase.failed,
                phase.end_s - phase.start_s,
                phase.bytes,
                &process,
            )
        }
        Tool::PerfTest => {
            let command = perf_test.command(
                &bootstrap,
                &topic,
                records,
                size,
                None,
                &settings::java_properties(acks),
            );
            let process = bench.measure(&name, command, Vec::new())?;
            let last = parse_final_line(&process.stdout)?;
            ProducerRun::new(
                tool,
                last.records,
                records - last.records,
                last.records as f64 / last.records_per_s,
                last.records * u64::from(size),
                &process,
            )
        }
        Tool::Native => {
            let command = bench.native.command(
                &bootstrap,
                &topic,
                records,
                size,
                &settings::librdkafka_properties(acks),
            );
            let process = bench.measure(&name, command, Vec::new())?;
            let report = native::parse_report(&process.stdout)?;
            ProducerRun::new(
                tool,
                report.acked,
                report.failed,
                report.elapsed_s,
                report.bytes,
                &process,
            )
        }
    };
    bench.delete_topic(&topic)?;
    ensure!(
        run.acked == records,
        "{name}: {} of {records} records acknowledged ({} failed)",
        run.acked,
        run.failed
    );
    Ok(run)
}
