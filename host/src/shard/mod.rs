//! A run split into exact stripes (`kscen run --shard I/N`), and `merge`, which adds the shards'
//! results back into one. Shard I of N sends the records I, I+N, I+2N, ... of the schedule one
//! process would have sent: rates and counts divide so the shards add up to the target to the
//! record, and a tracked load's records go to the partitions the shard owns (p mod N = I), so
//! each shard verifies exactly its own records on the mirror's target.

pub mod command;
pub mod merge;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::load::Rate;

/// Shard `index` of `count`, 0-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl Shard {
    /// The whole run in one process.
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };

    /// Whether this shard runs what must run once: topic creation, Connect changes, faults.
    pub fn is_first(self) -> bool {
        self.index == 0
    }

    /// How many of the records `0..total` are this shard's (`index`, `index + count`, ...).
    pub fn count_of(self, total: u64) -> u64 {
        let (index, count) = (u64::from(self.index), u64::from(self.count));
        (total + count - 1 - index) / count
    }

    /// This shard's part of a rate: every `count`-th record of the schedule.
    pub fn rate_of(self, rate: Rate) -> Rate {
        match rate {
            Rate::Unthrottled => Rate::Unthrottled,
            Rate::PerSecond(r) => Rate::PerSecond(r / f64::from(self.count)),
        }
    }

    /// When this shard's first record is due after the schedule's start, the shard sending at
    /// `stripe_rate` (its part of the whole rate): it is record `index` of the whole schedule.
    pub fn offset_ns(self, stripe_rate: Rate) -> u64 {
        stripe_rate.per_second().map_or(0, |r| {
            (f64::from(self.index) * 1e9 / (r * f64::from(self.count))).round() as u64
        })
    }

    /// The schedule's record number of this shard's record `local`.
    pub fn global_seq(self, local: u64) -> u64 {
        local * u64::from(self.count) + u64::from(self.index)
    }

    /// This shard's record number of the schedule's record `global`, if it is this shard's.
    pub fn local_seq(self, global: u64) -> Option<u64> {
        let count = u64::from(self.count);
        (global % count == u64::from(self.index)).then_some(global / count)
    }

    /// Whether partition `partition` is this shard's.
    pub fn owns_partition(self, partition: i32) -> bool {
        partition >= 0 && partition as u32 % self.count == self.index
    }

    /// This shard's partitions of a topic of `partitions`; an error saying what to do when it has
    /// none.
    pub fn partitions_of(self, topic: &str, partitions: usize) -> Result<Vec<i32>, String> {
        let owned: Vec<i32> = (0..partitions as i32)
            .filter(|p| self.owns_partition(*p))
            .collect();
        if owned.is_empty() {
            return Err(format!(
                "shard {self} owns no partition of {topic} ({partitions} partition(s)): a tracked \
                 load needs at least as many partitions as shards; run fewer shards or give the \
                 topic more partitions"
            ));
        }
        Ok(owned)
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = String;

    /// `I/N`, 0 <= I < N.
    fn from_str(text: &str) -> Result<Shard, String> {
        let wrong = || format!("--shard {text:?}: write it as I/N with 0 <= I < N, e.g. 0/4");
        let (index, count) = text.split_once('/').ok_or_else(wrong)?;
        let index: u32 = index.trim().parse().map_err(|_| wrong())?;
        let count: u32 = count.trim().parse().map_err(|_| wrong())?;
        if count == 0 || index >= count {
            return Err(wrong());
        }
        Ok(Shard { index, count })
    }
}

/// A run's part in a sharded run: which shard, and the instant every shard starts at.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ShardPlan {
    pub shard: Shard,
    pub start_at: chrono::DateTime<chrono::Utc>,
}

impl ShardPlan {
    /// The run id every shard stamps its records with, so their stamps together are one run's:
    /// the shared start instant, which the shards all know.
    pub fn run_id(&self) -> u64 {
        self.start_at
            .timestamp_nanos_opt()
            .unwrap_or_default()
            .unsigned_abs()
    }
}

/// `--start-at`: an RFC 3339 instant, or `+DURATION` from now (`+30s`).
pub fn parse_start_at(text: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    if let Some(delay) = text.strip_prefix('+') {
        let delay = humantime::parse_duration(delay)
            .map_err(|e| format!("--start-at {text:?}: {e}; e.g. +30s"))?;
        return Ok(chrono::Utc::now() + delay);
    }
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&chrono::Utc))
        .map_err(|e| {
            format!(
                "--start-at {text:?}: {e}; give an RFC 3339 instant (2026-12-05T10:00:00Z) or +30s"
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shards(count: u32) -> impl Iterator<Item = Shard> {
        (0..count).map(move |index| Shard { index, count })
    }

    #[test]
    fn the_shards_counts_add_up_to_the_total_to_the_record() {
        for count in 1..=7 {
            for total in [0, 1, 2, 3, 6, 7, 100, 1_000_001] {
                let sum: u64 = shards(count).map(|s| s.count_of(total)).sum();
                assert_eq!(sum, total, "{total} records over {count} shards");
            }
        }
        assert_eq!(Shard { index: 3, count: 4 }.count_of(3), 0);
    }

    #[test]
    fn every_record_of_the_schedule_is_one_shards_and_keeps_its_number() {
        let total = 103;
        let mut seen = vec![0; total];
        for shard in shards(4) {
            for local in 0..shard.count_of(total as u64) {
                let global = shard.global_seq(local);
                seen[global as usize] += 1;
                assert_eq!(shard.local_seq(global), Some(local));
            }
            assert_eq!(shard.local_seq(shard.global_seq(0) + 1), None);
        }
        assert!(seen.iter().all(|n| *n == 1), "{seen:?}");
    }

    #[test]
    fn rates_divide_and_the_shards_interleave_on_the_schedule() {
        let shard = Shard { index: 2, count: 4 };
        assert_eq!(
            shard.rate_of(Rate::PerSecond(1000.0)),
            Rate::PerSecond(250.0)
        );
        assert_eq!(shard.rate_of(Rate::Unthrottled), Rate::Unthrottled);
        // Record 2 of the whole schedule at 1000/s is due 2 ms after its start.
        assert_eq!(shard.offset_ns(Rate::PerSecond(250.0)), 2_000_000);
        assert_eq!(shard.offset_ns(Rate::Unthrottled), 0);
    }

    #[test]
    fn each_partition_has_one_owner_and_too_few_partitions_are_refused() {
        let owners: Vec<Vec<i32>> = shards(3)
            .map(|s| s.partitions_of("t", 8).unwrap())
            .collect();
        assert_eq!(owners, [vec![0, 3, 6], vec![1, 4, 7], vec![2, 5]]);
        let error = Shard { index: 3, count: 4 }
            .partitions_of("orders", 3)
            .unwrap_err();
        assert!(error.contains("orders (3 partition(s))"), "{error}");
    }

    #[test]
    fn shards_are_read_as_i_of_n_and_mistakes_say_how_to_write_them() {
        assert_eq!("1/4".parse(), Ok(Shard { index: 1, count: 4 }));
        for wrong in ["4/4", "1", "a/4", "0/0", "-1/2"] {
            let error = wrong.parse::<Shard>().unwrap_err();
            assert!(error.contains("I/N"), "{wrong}: {error}");
        }
        assert_eq!(Shard { index: 1, count: 4 }.to_string(), "1/4");
    }

    #[test]
    fn a_start_instant_is_rfc3339_or_a_delay() {
        let at = parse_start_at("2026-12-05T10:00:00Z").unwrap();
        assert_eq!(at.to_rfc3339(), "2026-12-05T10:00:00+00:00");
        let soon = parse_start_at("+30s").unwrap() - chrono::Utc::now();
        assert!((29..=30).contains(&soon.num_seconds()), "{soon}");
        assert!(parse_start_at("tomorrow").unwrap_err().contains("RFC 3339"));
    }
}
