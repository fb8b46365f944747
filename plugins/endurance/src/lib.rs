//! PERF-04: hours at the nominal rate with replication tracking and periodic checkpoints — lag,
//! FAILED tasks, and (through the probe) the Connect workers' heap and CPU — in memory that does
//! not grow with the number of records.

use kscen_sdk::mm2;
use kscen_sdk::prelude::*;
use kscen_sdk::probe;

struct Endurance;

const PROBE: &str = "worker-1";

/// Defaults of the tracked load every MM2 scenario shares.
const TRACKED: mm2::TrackedLoadDefaults = mm2::TrackedLoadDefaults {
    topic: "test-mm2-perf",
    rate: 1000.0,
    partitions: 8,
    grace: "60s",
};

impl Scenario for Endurance {
    fn describe() -> ScenarioInfo {
        Describe::new("endurance", "Hours at nominal rate with checkpoints of lag, FAILED tasks, heap, CPU (PERF-04)")
            .description(
                "Tracked load at `rate` for `duration`. Every `checkpoint` (the seed: every hour) a \
                 phase closes and the checkpoint goes to the event log and the timeline: replication \
                 lag (records, ms), FAILED MM2 tasks, and the heap and CPU time of the worker behind \
                 the `worker-1` probe when `use_probe` is set.",
            )
            .param(spec::duration("duration", "8h", "total length"))
            .param(spec::duration("checkpoint", "1h", "interval between checkpoints"))
            .param(spec::flag("use_probe", true, "read heap and CPU from the worker-1 probe"))
            .apply(|d| mm2::tracked_load_params(d, TRACKED))
        .cluster("source")
            .cluster("target")
            .connect()
            .probe(PROBE)
            .build()
    }

    fn run() -> Result<(), ScenarioError> {
        let duration = param::duration("duration")?;
        let checkpoint = param::duration("checkpoint")?.max(Duration::from_secs(1));
        let use_probe = param::flag("use_probe")?;

        let connectors = mm2::mirror()?.connector_names();

        phase("hour-1");
        let (load, _topic) = mm2::start_tracked_load(&[])?;
        let end = monotonic_now() + duration;
        let mut index = 1;
        let mut lag_peak = 0;
        let mut failed_max = 0;
        while monotonic_now() < end {
            sleep(checkpoint.min(end - monotonic_now()));
            let replication = load
                .status()
                .replication
                .ok_or("the load does not track replication")?;
            lag_peak = lag_peak.max(replication.lag_records);
            let failed = mm2::failed_tasks(&mm2::statuses(&connectors)?);
            failed_max = failed_max.max(failed.len());
            let mut line = format!(
                "checkpoint {index}: lag {} records / {} ms, replicated {}, FAILED tasks {}",
                replication.lag_records,
                replication.lag_ms,
                replication.replicated,
                failed.len()
            );
            gauge("lag_records", replication.lag_records as f64);
            gauge("failed_tasks", failed.len() as f64);
            if use_probe {
                if let Some((heap, cpu)) = heap_and_cpu()? {
                    line.push_str(&format!(
                        ", worker-1 heap {:.0} MiB, CPU {cpu:.1} s",
                        heap / 1048576.0
                    ));
                    gauge("worker_heap_bytes", heap);
                    gauge("worker_cpu_seconds", cpu);
                }
            }
            event("checkpoint", &line);
            index += 1;
            if monotonic_now() < end {
                phase(&format!("hour-{index}"));
            }
        }
        let status = load.stop();
        end_phase();
        figure("lag_peak_records", lag_peak as f64, "records");
        figure("failed_tasks_max", failed_max as f64, "tasks");
        if let Some(verdict) = status.replication {
            figure("lost", verdict.lost as f64, "records");
            figure("duplicates", verdict.duplicates as f64, "records");
        }
        Ok(())
    }
}

/// Heap in use (bytes) and process CPU time (s) from the worker's Prometheus endpoint.
fn heap_and_cpu() -> Result<Option<(f64, f64)>, ScenarioError> {
    let samples = probe::scrape(PROBE, "")?;
    let heap = samples
        .iter()
        .filter(|s| s.name == "jvm_memory_bytes_used" || s.name == "jvm_memory_used_bytes")
        .filter(|s| s.labels.iter().any(|(k, v)| k == "area" && v == "heap"))
        .map(|s| s.value)
        .next();
    let cpu = samples
        .iter()
        .find(|s| s.name == "process_cpu_seconds_total")
        .map(|s| s.value);
    Ok(heap.zip(cpu))
}

kscen_sdk::export_scenario!(Endurance);
