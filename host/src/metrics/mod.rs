//! Everything a run measures: phases, load jobs' histograms and counters, the per-second
//! timeline, the event log, gauges and custom histograms.

pub mod clock;
pub mod events;
pub mod histogram;
pub mod phases;
pub mod timeline;
pub mod unit;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use hdrhistogram::Histogram;

use crate::load::consume::ConsumeJob;
use crate::load::recorder::Interval;
use crate::load::LoadJob;
use crate::verify::group_ledger::{GroupLedger, GroupVerdict, Produced};
use clock::RunClock;
use events::EventLog;
use phases::PhaseBoard;
use timeline::TimelinePoint;

pub struct RunMetrics {
    pub clock: RunClock,
    pub phases: Arc<PhaseBoard>,
    pub events: EventLog,
    jobs: Mutex<Vec<Arc<LoadJob>>>,
    consume_jobs: Mutex<Vec<Arc<ConsumeJob>>>,
    /// consumer group name → what it read of this run's stamped records, over all its jobs
    groups: Mutex<BTreeMap<String, Arc<Mutex<GroupLedger>>>>,
    gauges: Mutex<BTreeMap<String, f64>>,
    figures: Mutex<BTreeMap<String, Figure>>,
    custom: Mutex<CustomHistograms>,
    timeline: Mutex<Vec<TimelinePoint>>,
}

/// A named result the plugin reports (a recovery time, a lag peak, a count).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Figure {
    pub value: f64,
    pub unit: String,
}

/// The plugin's own histograms (`metrics.record-value`), by name; units are in the names
/// ([`unit::Unit::of_histogram`]).
#[derive(Debug, Clone, Default)]
pub struct CustomHistograms {
    pub run: BTreeMap<String, Histogram<u64>>,
    /// phase index → the values recorded while that phase was open; values recorded between
    /// phases count run-wide only
    pub by_phase: BTreeMap<usize, BTreeMap<String, Histogram<u64>>>,
}

impl CustomHistograms {
    fn record(&mut self, name: &str, phase: Option<usize>, value: u64) {
        let into = |histograms: &mut BTreeMap<String, Histogram<u64>>| {
            let histogram = histograms
                .entry(name.to_string())
                .or_insert_with(histogram::new_custom_histogram);
            histogram::record_custom(histogram, value);
        };
        into(&mut self.run);
        if let Some(phase) = phase {
            into(self.by_phase.entry(phase).or_default());
        }
    }
}

/// Totals over every job at one instant, for the timeline and live output.
#[derive(Debug, Clone, Default)]
pub struct Sample {
    pub sent: u64,
    pub acked: u64,
    pub failed: u64,
    pub backlog: u64,
    /// summed over tracked jobs; none when no job tracks replication
    pub replication_lag_records: Option<u64>,
    /// the largest over tracked jobs
    pub replication_lag_ms: Option<u64>,
    pub interval: Option<Interval>,
    /// records consume jobs took since the last sample; none when the run has none
    pub consumed: Option<crate::load::consume::ConsumeInterval>,
    /// the last lag sampled for each group a running consume job reads as
    pub group_lag: BTreeMap<String, i64>,
}

impl RunMetrics {
    pub fn new(clock: RunClock) -> RunMetrics {
        RunMetrics {
            clock,
            phases: Arc::new(PhaseBoard::default()),
            events: EventLog::default(),
            jobs: Mutex::default(),
            consume_jobs: Mutex::default(),
            groups: Mutex::default(),
            gauges: Mutex::default(),
            figures: Mutex::default(),
            custom: Mutex::default(),
            timeline: Mutex::default(),
        }
    }

    pub fn add_job(&self, job: Arc<LoadJob>) {
        self.jobs.lock().unwrap().push(job);
    }

    pub fn jobs(&self) -> Vec<Arc<LoadJob>> {
        self.jobs.lock().unwrap().clone()
    }

    pub fn add_consume_job(&self, job: Arc<ConsumeJob>) {
        self.consume_jobs.lock().unwrap().push(job);
    }

    pub fn consume_jobs(&self) -> Vec<Arc<ConsumeJob>> {
        self.consume_jobs.lock().unwrap().clone()
    }

    /// The ledger of consumer group `group`, shared by every job that reads as it.
    pub fn group_ledger(&self, group: &str) -> Arc<Mutex<GroupLedger>> {
        self.groups
            .lock()
            .unwrap()
            .entry(group.to_string())
            .or_default()
            .clone()
    }

    /// The groups consume jobs read as, sorted.
    pub fn group_names(&self) -> Vec<String> {
        self.groups.lock().unwrap().keys().cloned().collect()
    }

    /// Group `group`'s verdict on the records of this run's tracked loads (the ones that stamp
    /// their records); `None` when no consume job read as that group.
    pub fn group_verdict(&self, group: &str) -> Option<GroupVerdict> {
        let ledger = self.groups.lock().unwrap().get(group)?.clone();
        let jobs = self.jobs();
        let recorders: Vec<_> = jobs.iter().map(|j| j.recorder.lock().unwrap()).collect();
        let produced = jobs.iter().zip(&recorders).filter_map(|(job, recorder)| {
            let replication = recorder.replication.as_ref()?;
            let mut reaches = vec![(job.cluster.clone(), job.topic.clone())];
            reaches.extend(job.replication_target.clone());
            Some(Produced {
                job: job.id as u32,
                reaches,
                sent: recorder.totals.sent,
                failed: replication.failed_records(),
            })
        });
        let verdict = ledger.lock().unwrap().verdict(produced);
        Some(verdict)
    }

    pub fn set_gauge(&self, name: &str, value: f64) {
        self.gauges.lock().unwrap().insert(name.to_string(), value);
    }

    pub fn set_figure(&self, name: &str, value: f64, unit: &str) {
        let figure = Figure {
            value,
            unit: unit.to_string(),
        };
        self.figures
            .lock()
            .unwrap()
            .insert(name.to_string(), figure);
    }

    pub fn figures(&self) -> BTreeMap<String, Figure> {
        self.figures.lock().unwrap().clone()
    }

    /// Records into the run-wide histogram and into the phase open now.
    pub fn record_custom(&self, name: &str, value: u64) {
        let phase = self.phases.current_index();
        self.custom.lock().unwrap().record(name, phase, value);
    }

    pub fn custom_histograms(&self) -> CustomHistograms {
        self.custom.lock().unwrap().clone()
    }

    /// Counters of every job now, draining their interval figures.
    pub fn sample(&self) -> Sample {
        let mut sample = Sample::default();
        for job in self.jobs() {
            let status = job.status();
            sample.sent += status.sent;
            sample.acked += status.acked;
            sample.failed += status.failed;
            sample.backlog += status.backlog;
            if let Some(replication) = status.replication {
                let records = sample.replication_lag_records.get_or_insert(0);
                *records += replication.status.lag_records;
                let ms = sample.replication_lag_ms.get_or_insert(0);
                *ms = (*ms).max(replication.status.lag_ms);
            }
            let interval = job.recorder.lock().unwrap().take_interval();
            match &mut sample.interval {
                None => sample.interval = Some(interval),
                Some(total) => {
                    total.acked += interval.acked;
                    total.bytes += interval.bytes;
                    total.service_sum_us += interval.service_sum_us;
                    total.service_max_us = total.service_max_us.max(interval.service_max_us);
                    total
                        .corrected
                        .add(&interval.corrected)
                        .expect("same histogram bounds");
                }
            }
        }
        for job in self.consume_jobs() {
            if let Some(lag) = job.status().lag.filter(|_| !job.is_done()) {
                *sample
                    .group_lag
                    .entry(job.plan.reading.group.clone())
                    .or_default() += lag;
            }
            let interval = job.recorder.lock().unwrap().take_interval();
            let total = sample.consumed.get_or_insert_default();
            total.records += interval.records;
            total.bytes += interval.bytes;
        }
        sample
    }

    /// Takes one timeline point covering the last `seconds`.
    pub fn tick(&self, seconds: f64) -> TimelinePoint {
        let sample = self.sample();
        let interval = sample.interval.unwrap_or_default();
        let ms = |us: f64| us / 1000.0;
        let point = TimelinePoint {
            t_s: self.clock.now_ns() as f64 / 1e9,
            phase: self.phases.current_name(),
            sent: sample.sent,
            acked: sample.acked,
            failed: sample.failed,
            acked_per_s: interval.acked as f64 / seconds,
            mb_per_s: interval.bytes as f64 / seconds / (1024.0 * 1024.0),
            service_avg_ms: if interval.acked == 0 {
                0.0
            } else {
                ms(interval.service_sum_us as f64 / interval.acked as f64)
            },
            service_max_ms: ms(interval.service_max_us as f64),
            corrected_p99_ms: ms(interval.corrected.value_at_quantile(0.99) as f64),
            backlog: sample.backlog,
            replication_lag_records: sample.replication_lag_records,
            replication_lag_ms: sample.replication_lag_ms,
            consumed_per_s: sample.consumed.map(|c| c.records as f64 / seconds),
            consumed_mb_per_s: sample
                .consumed
                .map(|c| c.bytes as f64 / seconds / (1024.0 * 1024.0)),
            group_lag: sample.group_lag,
            gauges: self.gauges.lock().unwrap().clone(),
        };
        self.timeline.lock().unwrap().push(point.clone());
        point
    }

    pub fn timeline(&self) -> Vec<TimelinePoint> {
        self.timeline.lock().unwrap().clone()
    }
}
