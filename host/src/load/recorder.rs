//! What a load job records: per-phase histograms and counters, an in-flight table that carries
//! each message's intended and enqueue times to its acknowledgement without allocating, and the
//! interval figures the per-second timeline drains.

use hdrhistogram::Histogram;

use crate::metrics::histogram::{new_latency_histogram, record};
use crate::verify::{ReplicationState, ReplicationStatus};

/// Phase index for messages scheduled while no phase was open.
pub const NO_PHASE: u32 = u32::MAX;

#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    seq: u64,
    intended_ns: u64,
    enqueued_ns: u64,
    phase: u32,
    bytes: u32,
}

/// Fixed-size table of in-flight messages; the slot number travels as the delivery opaque.
#[derive(Debug)]
struct InFlight {
    slots: Vec<Slot>,
    free: Vec<u32>,
}

impl InFlight {
    fn with_capacity(capacity: u32) -> InFlight {
        InFlight {
            slots: vec![Slot::default(); capacity as usize],
            free: (0..capacity).rev().collect(),
        }
    }

    fn take(&mut self, slot: Slot) -> Option<u32> {
        let index = self.free.pop()?;
        self.slots[index as usize] = slot;
        Some(index)
    }

    fn release(&mut self, index: u32) -> Slot {
        self.free.push(index);
        self.slots[index as usize]
    }

    fn len(&self) -> u64 {
        (self.slots.len() - self.free.len()) as u64
    }
}

/// The figures of one load job within one phase.
#[derive(Debug, Clone)]
pub struct PhaseRecord {
    /// enqueued − intended
    pub schedule_lag: Histogram<u64>,
    /// acknowledged − enqueued (what kafka-producer-perf-test reports)
    pub service: Histogram<u64>,
    /// acknowledged − intended (the headline figure)
    pub corrected: Histogram<u64>,
    /// seen on the target − intended, when the load tracks replication
    pub replicated: Histogram<u64>,
    pub sent: u64,
    pub acked: u64,
    pub failed: u64,
    pub bytes: u64,
    pub queue_full: u64,
    pub first_intended_ns: u64,
    pub last_intended_ns: u64,
    pub last_enqueued_ns: u64,
    pub last_period_ns: u64,
    /// The target rate of the phase's latest message; none when unthrottled.
    pub target_rate: Option<f64>,
}

impl PhaseRecord {
    fn new(target_rate: Option<f64>, intended_ns: u64) -> PhaseRecord {
        PhaseRecord {
            schedule_lag: new_latency_histogram(),
            service: new_latency_histogram(),
            corrected: new_latency_histogram(),
            replicated: new_latency_histogram(),
            sent: 0,
            acked: 0,
            failed: 0,
            bytes: 0,
            queue_full: 0,
            first_intended_ns: intended_ns,
            last_intended_ns: intended_ns,
            last_enqueued_ns: intended_ns,
            last_period_ns: 0,
            target_rate,
        }
    }

    /// The stretch of the schedule this job covered in the phase: from the first intended send
    /// to one period after the last message went out (late sends stretch it).
    pub fn window_ns(&self) -> u64 {
        let end = self.last_intended_ns.max(self.last_enqueued_ns) + self.last_period_ns;
        end.saturating_sub(self.first_intended_ns)
    }
}

/// Service and corrected latency since the timeline last drained them.
#[derive(Debug, Clone)]
pub struct Interval {
    pub acked: u64,
    pub bytes: u64,
    pub service_sum_us: u64,
    pub service_max_us: u64,
    pub corrected: Histogram<u64>,
}

impl Default for Interval {
    fn default() -> Self {
        Interval {
            acked: 0,
            bytes: 0,
            service_sum_us: 0,
            service_max_us: 0,
            corrected: new_latency_histogram(),
        }
    }
}

#[derive(Debug, Clone, Copy, Default)]
pub struct Totals {
    pub sent: u64,
    pub acked: u64,
    pub failed: u64,
    pub bytes: u64,
    pub queue_full: u64,
}

#[derive(Debug)]
pub struct JobRecorder {
    in_flight: InFlight,
    /// Indexed by phase; the last entry is for messages outside any phase.
    phases: Vec<Option<PhaseRecord>>,
    unphased: Option<PhaseRecord>,
    interval: Interval,
    pub totals: Totals,
    pub last_error: Option<String>,
    /// Present when the job tracks replication.
    pub replication: Option<ReplicationState>,
}

/// What the job knows when it hands a message to the producer.
#[derive(Debug, Clone, Copy)]
pub struct Enqueue {
    pub seq: u64,
    pub intended_ns: u64,
    pub enqueued_ns: u64,
    pub phase: u32,
    pub bytes: u32,
    pub period_ns: u64,
    pub target_rate: Option<f64>,
}

impl JobRecorder {
    pub fn new(in_flight_capacity: u32, tracks_replication: bool) -> JobRecorder {
        JobRecorder {
            in_flight: InFlight::with_capacity(in_flight_capacity),
            phases: Vec::new(),
            unphased: None,
            interval: Interval::default(),
            totals: Totals::default(),
            last_error: None,
            replication: tracks_replication.then(ReplicationState::default),
        }
    }

    fn phase_mut(
        &mut self,
        phase: u32,
        target_rate: Option<f64>,
        intended_ns: u64,
    ) -> &mut PhaseRecord {
        let entry = if phase == NO_PHASE {
            &mut self.unphased
        } else {
            let index = phase as usize;
            if self.phases.len() <= index {
                self.phases.resize(index + 1, None);
            }
            &mut self.phases[index]
        };
        entry.get_or_insert_with(|| PhaseRecord::new(target_rate, intended_ns))
    }

    /// Takes an in-flight slot for a message about to be sent; `None` when the table is full
    /// (the producer queue is, too: the caller waits).
    pub fn begin(&mut self, message: Enqueue) -> Option<u32> {
        let slot = self.in_flight.take(Slot {
            seq: message.seq,
            intended_ns: message.intended_ns,
            enqueued_ns: message.enqueued_ns,
            phase: message.phase,
            bytes: message.bytes,
        })?;
        let phase = self.phase_mut(message.phase, message.target_rate, message.intended_ns);
        record(
            &mut phase.schedule_lag,
            (message.enqueued_ns - message.intended_ns.min(message.enqueued_ns)) / 1000,
        );
        phase.sent += 1;
        phase.last_intended_ns = message.intended_ns;
        phase.last_enqueued_ns = message.enqueued_ns;
        phase.last_period_ns = message.period_ns;
        // The rate the phase settled on: a phase opened just before a rate change is reported
        // at the new rate.
        phase.target_rate = message.target_rate;
        self.totals.sent += 1;
        if let Some(replication) = &mut self.replication {
            replication.sent(message.seq, message.intended_ns);
        }
        Some(slot)
    }

    /// The producer refused the message outright: give the slot back and count a failure.
    pub fn abandon(&mut self, slot: u32, error: String) {
        let message = self.in_flight.release(slot);
        let phase = self.phase_mut(message.phase, None, message.intended_ns);
        phase.sent -= 1;
        phase.failed += 1;
        self.totals.sent -= 1;
        self.totals.failed += 1;
        self.last_error = Some(error);
        if let Some(replication) = &mut self.replication {
            replication.failed(message.seq);
        }
    }

    /// The producer queue was full: give the slot back; the message is sent again later.
    pub fn abandon_for_retry(&mut self, slot: u32) {
        let message = self.in_flight.release(slot);
        self.phase_mut(message.phase, None, message.intended_ns)
            .sent -= 1;
        self.totals.sent -= 1;
    }

    pub fn queue_full(&mut self, phase: u32, target_rate: Option<f64>, intended_ns: u64) {
        self.phase_mut(phase, target_rate, intended_ns).queue_full += 1;
        self.totals.queue_full += 1;
    }

    /// The delivery report for `slot` arrived at `now_ns`.
    pub fn complete(&mut self, slot: u32, now_ns: u64, error: Option<String>) {
        let message = self.in_flight.release(slot);
        let phase = self.phase_mut(message.phase, None, message.intended_ns);
        match error {
            None => {
                let service_us = now_ns.saturating_sub(message.enqueued_ns) / 1000;
                let corrected_us = now_ns.saturating_sub(message.intended_ns) / 1000;
                record(&mut phase.service, service_us);
                record(&mut phase.corrected, corrected_us);
                phase.acked += 1;
                phase.bytes += u64::from(message.bytes);
                self.totals.acked += 1;
                self.totals.bytes += u64::from(message.bytes);
                let interval = &mut self.interval;
                interval.acked += 1;
                interval.bytes += u64::from(message.bytes);
                interval.service_sum_us += service_us;
                interval.service_max_us = interval.service_max_us.max(service_us);
                record(&mut interval.corrected, corrected_us);
                if let Some(replication) = &mut self.replication {
                    replication.acked(now_ns);
                }
            }
            Some(error) => {
                phase.failed += 1;
                self.totals.failed += 1;
                self.last_error = Some(error);
                if let Some(replication) = &mut self.replication {
                    replication.failed(message.seq);
                }
            }
        }
    }

    /// Record `seq` of this job was seen on the target at `received_ns`.
    pub fn replicated(
        &mut self,
        seq: u64,
        partition: i32,
        intended_ns: u64,
        received_ns: u64,
        phase: Option<usize>,
    ) {
        let Some(replication) = &mut self.replication else {
            return;
        };
        if replication.replicated(seq, partition) {
            let phase = phase.map_or(NO_PHASE, |p| p as u32);
            let latency_us = received_ns.saturating_sub(intended_ns) / 1000;
            record(
                &mut self.phase_mut(phase, None, intended_ns).replicated,
                latency_us,
            );
        }
    }

    pub fn replication_status(&mut self, now_ns: u64) -> Option<ReplicationStatus> {
        let sent = self.totals.sent;
        self.replication.as_mut().map(|r| r.status(now_ns, sent))
    }

    /// p99 of replicated latency in `phase`, µs.
    pub fn replicated_p99_us(&self, phase: Option<usize>) -> u64 {
        self.phase_record(phase)
            .map_or(0, |r| r.replicated.value_at_quantile(0.99))
    }

    pub fn in_flight(&self) -> u64 {
        self.in_flight.len()
    }

    pub fn take_interval(&mut self) -> Interval {
        std::mem::take(&mut self.interval)
    }

    fn phase_record(&self, phase: Option<usize>) -> Option<&PhaseRecord> {
        match phase {
            Some(index) => self.phases.get(index).and_then(Option::as_ref),
            None => self.unphased.as_ref(),
        }
    }

    /// p99 of corrected latency in `phase`, µs.
    pub fn corrected_p99_us(&self, phase: Option<usize>) -> u64 {
        self.phase_record(phase)
            .map_or(0, |r| r.corrected.value_at_quantile(0.99))
    }

    /// Every phase this job recorded into, by phase index (`None` = outside any phase).
    pub fn phase_records(&self) -> impl Iterator<Item = (Option<usize>, &PhaseRecord)> {
        self.phases
            .iter()
            .enumerate()
            .filter_map(|(index, record)| record.as_ref().map(|r| (Some(index), r)))
            .chain(self.unphased.as_ref().map(|r| (None, r)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enqueue(intended_ns: u64, enqueued_ns: u64, phase: u32) -> Enqueue {
        Enqueue {
            seq: 0,
            intended_ns,
            enqueued_ns,
            phase,
            bytes: 100,
            period_ns: 1_000_000,
            target_rate: Some(1000.0),
        }
    }

    #[test]
    fn three_latencies_from_intended_enqueued_and_acknowledged_times() {
        let mut recorder = JobRecorder::new(4, false);
        // Intended at 1 ms, sent 2 ms late, acknowledged 5 ms after sending.
        let slot = recorder.begin(enqueue(1_000_000, 3_000_000, 0)).unwrap();
        recorder.complete(slot, 8_000_000, None);
        let (_, phase) = recorder.phase_records().next().unwrap();
        // Histograms keep 3 significant figures: compare at that precision.
        assert!(phase
            .schedule_lag
            .equivalent(phase.schedule_lag.max(), 2000));
        assert!(phase.service.equivalent(phase.service.max(), 5000));
        assert!(phase.corrected.equivalent(phase.corrected.max(), 7000));
        assert_eq!((phase.sent, phase.acked, phase.bytes), (1, 1, 100));
        assert_eq!(recorder.in_flight(), 0);
    }

    #[test]
    fn the_in_flight_table_is_bounded_and_reused() {
        let mut recorder = JobRecorder::new(2, false);
        let a = recorder.begin(enqueue(0, 0, 0)).unwrap();
        let _b = recorder.begin(enqueue(1, 1, 0)).unwrap();
        assert!(recorder.begin(enqueue(2, 2, 0)).is_none());
        recorder.complete(a, 10, Some("timed out".into()));
        assert!(recorder.begin(enqueue(2, 2, 0)).is_some());
        assert_eq!(recorder.totals.failed, 1);
        assert_eq!(recorder.last_error.as_deref(), Some("timed out"));
    }

    #[test]
    fn messages_land_in_their_phase_and_windows_cover_the_schedule() {
        let mut recorder = JobRecorder::new(16, false);
        for i in 0..4u64 {
            let phase = if i < 2 { 0 } else { 1 };
            let slot = recorder
                .begin(enqueue(i * 1_000_000, i * 1_000_000, phase))
                .unwrap();
            recorder.complete(slot, i * 1_000_000 + 500, None);
        }
        let records: Vec<_> = recorder.phase_records().collect();
        assert_eq!(records.len(), 2);
        assert_eq!(records[0].1.sent, 2);
        // Two messages 1 ms apart at 1000/s cover a 2 ms window.
        assert_eq!(records[0].1.window_ns(), 2_000_000);
        let interval = recorder.take_interval();
        assert_eq!(interval.acked, 4);
        assert_eq!(recorder.take_interval().acked, 0);
    }
}
