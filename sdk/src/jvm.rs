//! The heap and CPU of JVM processes (Connect workers, brokers) from their Prometheus endpoints,
//! each named as a probe in the profile; the CPU as a rate between two samples, in % of one core.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::probe::{self, Sample};
use crate::{monotonic_now, ScenarioError};

/// Heap in use and CPU time spent, at one scrape.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct JvmSample {
    pub heap_bytes: f64,
    pub cpu_seconds: f64,
}

impl JvmSample {
    /// From one scrape; None when the endpoint exports neither the heap nor the process CPU
    /// (the JMX exporter's `jvm_memory_bytes_used` or the newer `jvm_memory_used_bytes`).
    pub fn from_samples(samples: &[Sample]) -> Option<JvmSample> {
        let heap = samples
            .iter()
            .filter(|s| s.name == "jvm_memory_bytes_used" || s.name == "jvm_memory_used_bytes")
            .find(|s| s.labels.iter().any(|(k, v)| k == "area" && v == "heap"))?;
        let cpu = samples
            .iter()
            .find(|s| s.name == "process_cpu_seconds_total")?;
        Some(JvmSample {
            heap_bytes: heap.value,
            cpu_seconds: cpu.value,
        })
    }
}

/// One process's reading: its heap, and its CPU since the previous reading (none on the first).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Usage {
    pub heap_bytes: f64,
    pub cpu_percent: Option<f64>,
}

/// Samples a set of probes, each a JVM, keeping what the CPU rate needs.
#[derive(Debug, Default)]
pub struct UsageMeter {
    previous: BTreeMap<String, (JvmSample, Duration)>,
}

impl UsageMeter {
    /// Reads `probe` now; Err when its endpoint does not answer or exports no JVM figures.
    pub fn read(&mut self, probe: &str) -> Result<Usage, ScenarioError> {
        let samples = probe::scrape(probe, "")?;
        let sample = JvmSample::from_samples(&samples).ok_or_else(|| {
            ScenarioError::Failed(format!(
                "probe {probe} exports no jvm_memory_*{{area=\"heap\"}} or \
                 process_cpu_seconds_total"
            ))
        })?;
        Ok(self.record(probe, sample, monotonic_now()))
    }

    /// Records `sample` of `probe` taken at `at` on the run's clock.
    pub fn record(&mut self, probe: &str, sample: JvmSample, at: Duration) -> Usage {
        let cpu_percent = self
            .previous
            .insert(probe.to_string(), (sample, at))
            .and_then(|(before, then)| {
                let wall = at.checked_sub(then)?.as_secs_f64();
                // A restarted process starts its CPU time again: no rate across the restart.
                let spent = sample.cpu_seconds - before.cpu_seconds;
                (wall > 0.0 && spent >= 0.0).then(|| spent / wall * 100.0)
            });
        Usage {
            heap_bytes: sample.heap_bytes,
            cpu_percent,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jvm(heap_mib: f64, cpu_seconds: f64) -> JvmSample {
        JvmSample {
            heap_bytes: heap_mib * 1048576.0,
            cpu_seconds,
        }
    }

    #[test]
    fn the_cpu_is_a_rate_between_two_readings_of_the_same_process() {
        let mut meter = UsageMeter::default();
        let first = meter.record("worker-a", jvm(200.0, 10.0), Duration::from_secs(60));
        assert_eq!(first.cpu_percent, None);
        assert_eq!(
            meter
                .record("worker-b", jvm(90.0, 1.0), Duration::from_secs(60))
                .cpu_percent,
            None
        );
        let second = meter.record("worker-a", jvm(210.0, 25.0), Duration::from_secs(90));
        assert_eq!(second.cpu_percent, Some(50.0));
        assert_eq!(second.heap_bytes, 210.0 * 1048576.0);
        // Restarted: its CPU time began again.
        let restarted = meter.record("worker-a", jvm(100.0, 2.0), Duration::from_secs(120));
        assert_eq!(restarted.cpu_percent, None);
    }

    #[test]
    fn both_heap_metric_names_of_the_exporter_are_read() {
        use crate::probe_sample as sample;
        for heap in ["jvm_memory_bytes_used", "jvm_memory_used_bytes"] {
            let read = JvmSample::from_samples(&[
                sample(heap, &[("area", "nonheap")], 5.0),
                sample(heap, &[("area", "heap")], 7.0),
                sample("process_cpu_seconds_total", &[], 3.5),
            ]);
            assert_eq!(
                read,
                Some(JvmSample {
                    heap_bytes: 7.0,
                    cpu_seconds: 3.5
                })
            );
        }
        assert_eq!(JvmSample::from_samples(&[sample("up", &[], 1.0)]), None);
    }
}
