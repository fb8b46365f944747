//! Replication verification: every tracked record is followed from the source to the target on
//! the run's one clock — replicated latency, lag, and a per-record verdict (lost, duplicated, out
//! of order) kept in memory that grows with the number of gaps, not of records.

pub mod consumer;
pub mod group_ledger;
pub mod seqset;
pub mod stamp;

use std::collections::{HashMap, VecDeque};

use serde::Serialize;

use seqset::SeqSet;

/// Every this many records, the source side notes (sequence, intended time), so the age of the
/// oldest unreplicated record can be told without storing every record's time.
const SAMPLE_EVERY: u64 = 256;

/// What the source and target sides know about one tracked load job.
#[derive(Debug, Default)]
pub struct ReplicationState {
    seen: SeqSet,
    failed: SeqSet,
    duplicates: u64,
    out_of_order: u64,
    /// highest sequence seen per target partition
    last_per_partition: HashMap<i32, u64>,
    samples: VecDeque<(u64, u64)>,
    acked: u64,
    last_ack_ns: u64,
    /// set when the job ends: records acknowledged and never seen within the grace period
    lost: Option<u64>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct ReplicationStatus {
    pub replicated: u64,
    pub duplicates: u64,
    pub out_of_order: u64,
    pub lost: u64,
    pub lag_records: u64,
    pub lag_ms: u64,
}

impl ReplicationState {
    /// The source side handed record `seq` to the producer.
    pub fn sent(&mut self, seq: u64, intended_ns: u64) {
        if seq.is_multiple_of(SAMPLE_EVERY) {
            self.samples.push_back((seq, intended_ns));
        }
    }

    pub fn acked(&mut self, now_ns: u64) {
        self.acked += 1;
        self.last_ack_ns = now_ns;
    }

    pub fn failed(&mut self, seq: u64) {
        self.failed.insert(seq);
    }

    /// Record `seq` arrived on the target. Returns false for a duplicate.
    pub fn replicated(&mut self, seq: u64, partition: i32) -> bool {
        let last = self.last_per_partition.entry(partition).or_insert(seq);
        if seq < *last {
            self.out_of_order += 1;
        } else {
            *last = seq;
        }
        let fresh = self.seen.insert(seq);
        if !fresh {
            self.duplicates += 1;
        }
        fresh
    }

    /// Records whose send failed: never acknowledged, so never expected anywhere.
    pub fn failed_records(&self) -> &SeqSet {
        &self.failed
    }

    pub fn last_ack_ns(&self) -> u64 {
        self.last_ack_ns
    }

    /// Records acknowledged on the source and not seen on the target yet.
    pub fn lag_records(&self) -> u64 {
        self.acked.saturating_sub(self.seen.len())
    }

    /// The first record, in sequence order, still awaited on the target.
    fn oldest_awaited(&self) -> u64 {
        let mut at = 0;
        loop {
            let next = self
                .seen
                .first_missing_from(self.failed.first_missing_from(at));
            if next == at {
                return at;
            }
            at = next;
        }
    }

    /// Age of the oldest record still awaited, from the nearest sample at or before it.
    fn lag_ms(&mut self, now_ns: u64, sent: u64) -> u64 {
        let awaited = self.oldest_awaited();
        if awaited >= sent || self.lag_records() == 0 {
            return 0;
        }
        // Samples older than the one covering `awaited` are no longer needed.
        while self.samples.len() > 1 && self.samples[1].0 <= awaited {
            self.samples.pop_front();
        }
        self.samples
            .front()
            .filter(|(seq, _)| *seq <= awaited)
            .map_or(0, |(_, intended)| {
                now_ns.saturating_sub(*intended) / 1_000_000
            })
    }

    /// The job is over and the grace period has passed: whatever was acknowledged and not seen
    /// is lost.
    pub fn conclude(&mut self, sent: u64) {
        self.lost = Some(self.seen.count_missing(sent, &self.failed));
    }

    pub fn status(&mut self, now_ns: u64, sent: u64) -> ReplicationStatus {
        ReplicationStatus {
            replicated: self.seen.len(),
            duplicates: self.duplicates,
            out_of_order: self.out_of_order,
            lost: self.lost.unwrap_or(0),
            lag_records: self.lag_records(),
            lag_ms: self.lag_ms(now_ns, sent),
        }
    }

    /// Ranges held by the verifier: its memory grows with this, not with records.
    pub fn gaps(&self) -> usize {
        self.seen.ranges() + self.failed.ranges()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn send_and_ack(state: &mut ReplicationState, count: u64) {
        for seq in 0..count {
            state.sent(seq, seq * 1_000_000);
            state.acked(seq * 1_000_000);
        }
    }

    #[test]
    fn exactly_the_missing_and_repeated_records_are_reported() {
        let mut state = ReplicationState::default();
        send_and_ack(&mut state, 1000);
        for seq in 0..1000 {
            if seq % 100 != 7 {
                state.replicated(seq, (seq % 3) as i32);
            }
        }
        for seq in [1, 2, 3] {
            assert!(!state.replicated(seq, (seq % 3) as i32));
        }
        state.conclude(1000);
        let status = state.status(1_000_000_000, 1000);
        assert_eq!(status.lost, 10);
        assert_eq!(status.duplicates, 3);
        assert_eq!(status.replicated, 990);
        assert_eq!(status.lag_records, 10);
        assert!(state.gaps() <= 11);
    }

    #[test]
    fn failed_sends_are_not_counted_lost() {
        let mut state = ReplicationState::default();
        for seq in 0..10 {
            state.sent(seq, 0);
        }
        state.failed(4);
        for seq in (0..10).filter(|s| *s != 4) {
            state.acked(0);
            state.replicated(seq, 0);
        }
        state.conclude(10);
        assert_eq!(state.status(0, 10).lost, 0);
    }

    #[test]
    fn order_is_checked_per_partition() {
        let mut state = ReplicationState::default();
        state.replicated(5, 0);
        state.replicated(3, 1);
        state.replicated(6, 0);
        state.replicated(4, 0);
        assert_eq!(state.status(0, 7).out_of_order, 1);
    }

    #[test]
    fn lag_in_time_is_the_age_of_the_oldest_awaited_record() {
        let mut state = ReplicationState::default();
        send_and_ack(&mut state, 2000);
        for seq in 0..1000 {
            state.replicated(seq, 0);
        }
        // Record 1000 was intended at 1000 ms; the nearest sample before it is 768 (768 ms).
        let status = state.status(3_000_000_000, 2000);
        assert_eq!(status.lag_records, 1000);
        assert_eq!(status.lag_ms, 3000 - 768);
    }
}
