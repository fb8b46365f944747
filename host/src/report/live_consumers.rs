//! kafka-consumer-perf-test's `--show-detailed-stats` lines, every 5 s, for each consume job that
//! ran in the interval: what its group took then, and how much of the interval it spent without
//! every partition (perf-test's rebalance time), the rest being fetch time.

use std::collections::BTreeMap;

use crate::load::consume::ConsumeStatus;

/// kafka-consumer-perf-test's header with `--show-detailed-stats`.
const HEADER: &str = "time, threadId, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec";

/// A consume job's totals at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ConsumeSnapshot {
    pub running: bool,
    pub records: u64,
    pub bytes: u64,
    /// since the job started
    pub elapsed_ms: f64,
    /// of that, time the group did not hold every partition: until it first did, then each
    /// rebalance's gap
    pub waiting_ms: f64,
}

impl ConsumeSnapshot {
    pub fn of(status: &ConsumeStatus) -> ConsumeSnapshot {
        let elapsed_ms = status.elapsed_ms as f64;
        let rebalances = &status.rebalances;
        ConsumeSnapshot {
            running: status.running,
            records: status.records,
            bytes: status.bytes,
            elapsed_ms,
            waiting_ms: rebalances.join_ms.unwrap_or(elapsed_ms) + rebalances.unassigned_ms,
        }
    }
}

/// The last snapshot of each job, to print what changed since.
#[derive(Default)]
pub struct LiveConsumers {
    last: BTreeMap<u64, ConsumeSnapshot>,
    header_printed: bool,
}

impl LiveConsumers {
    /// The lines for `jobs` (id, snapshot) at `time`, the header before the first one.
    pub fn lines(&mut self, time: &str, jobs: &[(u64, ConsumeSnapshot)]) -> Vec<String> {
        let mut lines = Vec::new();
        for (job, now) in jobs {
            let before = self.last.insert(*job, *now).unwrap_or_default();
            if !now.running && now.records == before.records {
                continue;
            }
            if !self.header_printed {
                lines.push(HEADER.to_string());
                self.header_printed = true;
            }
            lines.push(detailed_line(time, *job, &before, now));
        }
        lines
    }
}

/// One interval of one job, field for field as perf-test prints it (the job id stands for its
/// thread id): totals so far, then the interval's rates over its whole time and over its fetch
/// time.
fn detailed_line(time: &str, job: u64, before: &ConsumeSnapshot, now: &ConsumeSnapshot) -> String {
    const MB: f64 = 1024.0 * 1024.0;
    let interval_ms = (now.elapsed_ms - before.elapsed_ms).max(f64::EPSILON);
    let rebalance_ms = (now.waiting_ms - before.waiting_ms).clamp(0.0, interval_ms);
    let fetch_ms = interval_ms - rebalance_ms;
    let records = (now.records - before.records) as f64;
    let mb = (now.bytes - before.bytes) as f64 / MB;
    let per_s = |value: f64, ms: f64| if ms > 0.0 { 1000.0 * value / ms } else { 0.0 };
    format!(
        "{time}, {job}, {:.4}, {:.4}, {}, {:.4}, {:.0}, {:.0}, {:.4}, {:.4}",
        now.bytes as f64 / MB,
        per_s(mb, interval_ms),
        now.records,
        per_s(records, interval_ms),
        rebalance_ms,
        fetch_ms,
        per_s(mb, fetch_ms),
        per_s(records, fetch_ms),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(elapsed_ms: f64, records: u64, waiting_ms: f64) -> ConsumeSnapshot {
        ConsumeSnapshot {
            running: true,
            records,
            bytes: records * 1024,
            elapsed_ms,
            waiting_ms,
        }
    }

    #[test]
    fn each_interval_is_a_perf_test_detailed_line_after_one_header() {
        let mut live = LiveConsumers::default();
        let time = "2026-12-02 17:00:05:000";
        // 5 s, of which 1 s joining: 4 000 records of 1 KiB.
        let first = live.lines(time, &[(3, at(5000.0, 4000, 1000.0))]);
        assert_eq!(
            first,
            [
                HEADER.to_string(),
                format!("{time}, 3, 3.9062, 0.7812, 4000, 800.0000, 1000, 4000, 0.9766, 1000.0000")
            ]
        );
        // Next interval: 5 000 records, no rebalance; the header is not repeated.
        let second = live.lines(time, &[(3, at(10_000.0, 9000, 1000.0))]);
        assert_eq!(
            second,
            [format!(
                "{time}, 3, 8.7891, 0.9766, 9000, 1000.0000, 0, 5000, 0.9766, 1000.0000"
            )]
        );
    }

    #[test]
    fn a_finished_job_is_printed_once_more_then_not_again() {
        let mut live = LiveConsumers::default();
        live.lines("t", &[(1, at(5000.0, 10, 0.0))]);
        let finished = ConsumeSnapshot {
            running: false,
            ..at(6000.0, 20, 0.0)
        };
        assert_eq!(live.lines("t", &[(1, finished)]).len(), 1);
        assert!(live.lines("t", &[(1, finished)]).is_empty());
    }
}
