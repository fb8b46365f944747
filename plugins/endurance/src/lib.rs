//! PERF-04: hours at the nominal rate with replication tracking and periodic checkpoints — lag,
//! FAILED tasks, and (through the probes) every Connect worker's heap and CPU and every broker's
//! CPU — in memory that does not grow with the number of records.

use kscen_sdk::jvm::{Usage, UsageMeter};
use kscen_sdk::{grants, mm2};
use kscen_sdk::prelude::*;

struct Endurance;

/// The JVMs sampled, each through the probe of its name when the profile has one (the lab's
/// names): the Connect workers `worker-N`, the brokers `source-N` and `target-N`, N from 1 to
/// [`MOST_PER_ROLE`].
const WORKER: &str = "worker";
const BROKER_CLUSTERS: [&str; 2] = ["source", "target"];
const MOST_PER_ROLE: usize = 6;

/// The probe names a role's processes may have.
fn probe_names(role: &str) -> impl Iterator<Item = String> + '_ {
    (1..=MOST_PER_ROLE).map(move |n| format!("{role}-{n}"))
}

/// Defaults of the tracked load every MM2 scenario shares.
const TRACKED: mm2::TrackedLoadDefaults = mm2::TrackedLoadDefaults {
    topic: "test-mm2-perf",
    rate: 1000.0,
    partitions: 8,
    grace: "60s",
};

impl Scenario for Endurance {
    fn describe() -> ScenarioInfo {
        let mut describe = Describe::new(
            "endurance",
            "Hours at nominal rate with checkpoints of lag, FAILED tasks, heap, CPU (PERF-04)",
        )
        .description(
            "Tracked load at `rate` for `duration`. Every `sample` the heap and CPU (in % of \
                 one core since the previous sample) of each Connect worker (the profile's probes \
                 `worker-1..6`) and the CPU of each broker (probes `source-1..6`, `target-1..6`) \
                 go to the timeline; every `checkpoint` (the seed: every hour) a phase closes and the \
                 checkpoint goes to the event log: replication lag (records, ms), FAILED MM2 \
                 tasks, and the latest heap and CPU of each process. Figures: the peaks.",
        )
        .param(spec::duration("duration", "8h", "total length"))
        .param(spec::duration(
            "checkpoint",
            "1h",
            "interval between checkpoints",
        ))
        .param(spec::duration(
            "sample",
            "1m",
            "interval between heap and CPU samples",
        ))
        .param(spec::flag(
            "use_probe",
            true,
            "sample heap and CPU through the probes",
        ))
        .apply(|d| mm2::tracked_load_params(d, TRACKED))
        .cluster("source")
        .cluster("target")
        .connect();
        let brokers = BROKER_CLUSTERS.into_iter().flat_map(probe_names);
        for process in probe_names(WORKER).chain(brokers) {
            describe = describe.optional_probe(&process);
        }
        describe.build()
    }

    fn run() -> Result<(), ScenarioError> {
        let duration = param::duration("duration")?;
        let checkpoint = param::duration("checkpoint")?.max(Duration::from_secs(1));
        let sample_every = param::duration("sample")?.max(Duration::from_secs(1));
        let mut sampling = if param::flag("use_probe")? {
            Sampling::of_the_profiles_probes()
        } else {
            None
        };

        let connectors = mm2::mirror()?.connector_names();

        phase("hour-1");
        let (load, _topic) = mm2::start_tracked_load(&[])?;
        if let Some(sampling) = &mut sampling {
            // The first reading: the CPU is a rate, so the first checkpoint has one too.
            sampling.sample();
        }
        let end = monotonic_now() + duration;
        let mut next_checkpoint = monotonic_now() + checkpoint;
        let mut index = 1;
        let mut lag_peak = 0;
        let mut failed_max = 0;
        while monotonic_now() < end {
            let now = monotonic_now();
            sleep(sample_every.min(next_checkpoint.min(end).saturating_sub(now)));
            let latest = match &mut sampling {
                Some(sampling) => sampling.sample(),
                None => String::new(),
            };
            if monotonic_now() < next_checkpoint.min(end) {
                continue;
            }
            let replication = load
                .status()
                .replication
                .ok_or("the load does not track replication")?;
            lag_peak = lag_peak.max(replication.lag_records);
            let failed = mm2::failed_tasks(&mm2::statuses(&connectors)?);
            failed_max = failed_max.max(failed.len());
            gauge("lag_records", replication.lag_records as f64);
            gauge("failed_tasks", failed.len() as f64);
            event(
                "checkpoint",
                &format!(
                    "checkpoint {index}: lag {} records / {} ms, replicated {}, FAILED tasks {}{latest}",
                    replication.lag_records,
                    replication.lag_ms,
                    replication.replicated,
                    failed.len()
                ),
            );
            index += 1;
            next_checkpoint += checkpoint;
            if monotonic_now() < end {
                phase(&format!("hour-{index}"));
            }
        }
        let status = load.stop();
        end_phase();
        figure("lag_peak_records", lag_peak as f64, "records");
        figure("failed_tasks_max", failed_max as f64, "tasks");
        if let Some(sampling) = &sampling {
            sampling.figures();
        }
        if let Some(verdict) = status.replication {
            figure("lost", verdict.lost as f64, "records");
            figure("duplicates", verdict.duplicates as f64, "records");
        }
        Ok(())
    }
}

/// The processes' heap and CPU through the run, and their peaks.
struct Sampling {
    workers: Vec<String>,
    brokers: Vec<String>,
    meter: UsageMeter,
    worker_heap_peak: f64,
    worker_cpu_peak: f64,
    broker_cpu_peak: f64,
    missed_samples: u64,
}

impl Sampling {
    /// The processes whose probes the run was granted; None, said, when it has none.
    fn of_the_profiles_probes() -> Option<Sampling> {
        let granted = |names: Vec<String>| -> Vec<String> {
            names.into_iter().filter(|p| grants::probe(p)).collect()
        };
        let workers = granted(probe_names(WORKER).collect());
        let brokers = granted(
            BROKER_CLUSTERS
                .into_iter()
                .flat_map(probe_names)
                .collect(),
        );
        if workers.is_empty() && brokers.is_empty() {
            warn(&format!(
                "the profile has no probe named {WORKER}-N, source-N or target-N: heap and CPU \
                 are not measured"
            ));
            return None;
        }
        info(&format!(
            "sampling heap and CPU of {}",
            workers.iter().chain(&brokers).cloned().collect::<Vec<_>>().join(", ")
        ));
        Some(Sampling {
            workers,
            brokers,
            meter: UsageMeter::default(),
            worker_heap_peak: 0.0,
            worker_cpu_peak: 0.0,
            broker_cpu_peak: 0.0,
            missed_samples: 0,
        })
    }

    /// Samples every process into the timeline (`worker_1_heap_mib`, `worker_1_cpu_pct`,
    /// `source_1_cpu_pct`…); the reading as a checkpoint line's tail.
    fn sample(&mut self) -> String {
        let mut workers = Vec::new();
        for worker in self.workers.clone() {
            let worker = worker.as_str();
            let Some(read) = self.read(worker) else {
                workers.push(format!("{worker} unreachable"));
                continue;
            };
            let heap_mib = read.heap_bytes / 1048576.0;
            let gauge_name = worker.replace('-', "_");
            gauge(&format!("{gauge_name}_heap_mib"), heap_mib);
            self.worker_heap_peak = self.worker_heap_peak.max(heap_mib);
            let mut line = format!("{worker} heap {heap_mib:.0} MiB");
            if let Some(cpu) = read.cpu_percent {
                gauge(&format!("{gauge_name}_cpu_pct"), cpu);
                self.worker_cpu_peak = self.worker_cpu_peak.max(cpu);
                line.push_str(&format!(" CPU {cpu:.0}%"));
            }
            workers.push(line);
        }
        let mut brokers = Vec::new();
        for broker in self.brokers.clone() {
            let broker = broker.as_str();
            match self.read(broker).map(|read| read.cpu_percent) {
                Some(Some(cpu)) => {
                    gauge(&format!("{}_cpu_pct", broker.replace('-', "_")), cpu);
                    self.broker_cpu_peak = self.broker_cpu_peak.max(cpu);
                    brokers.push(format!("{broker} CPU {cpu:.0}%"));
                }
                // The first reading of this process: a rate needs two.
                Some(None) => brokers.push(format!("{broker} CPU n/a")),
                None => brokers.push(format!("{broker} unreachable")),
            }
        }
        format!("; {}; {}", workers.join(", "), brokers.join(", "))
    }

    /// One process's reading; a probe that does not answer (a loaded JVM can take longer than
    /// the probe's timeout) is a missed sample, counted and logged, never the end of an
    /// hours-long run.
    fn read(&mut self, process: &str) -> Option<Usage> {
        match self.meter.read(process) {
            Ok(read) => Some(read),
            Err(error) => {
                self.missed_samples += 1;
                event("sample-missed", &format!("{process}: {error}"));
                None
            }
        }
    }

    fn figures(&self) {
        figure("worker_heap_peak_mib", self.worker_heap_peak, "MiB");
        figure("worker_cpu_peak_pct", self.worker_cpu_peak, "%");
        figure("broker_cpu_peak_pct", self.broker_cpu_peak, "%");
        figure("missed_samples", self.missed_samples as f64, "samples");
    }
}

kscen_sdk::export_scenario!(Endurance);
