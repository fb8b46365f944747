//! Which of the topic's partitions the group's members hold, and what rebalances cost: the time
//! the group took to cover every partition at first, then each stretch during which some
//! partition had no member (a rebalance took it away and had not given it back yet).

use serde::{Deserialize, Serialize};

#[derive(Debug)]
pub struct GroupAssignment {
    partitions: u32,
    per_member: Vec<u32>,
    started_ns: u64,
    /// when every partition first had a member
    covered_ns: Option<u64>,
    /// since when some partition has had no member, after the first cover
    gap_since_ns: Option<u64>,
    gaps: u32,
    gap_total_ns: u64,
    gap_max_ns: u64,
}

/// The group's rebalance figures.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Rebalances {
    /// times a rebalance left a partition without a member, after the group first covered all
    pub rebalances: u32,
    /// from the job's start until every partition had a member; none while that has not happened
    pub join_ms: Option<f64>,
    /// time some partition had no member after that, in all and the longest stretch
    pub unassigned_ms: f64,
    pub unassigned_max_ms: f64,
}

impl GroupAssignment {
    pub fn new(partitions: u32, members: u32, started_ns: u64) -> GroupAssignment {
        GroupAssignment {
            partitions,
            per_member: vec![0; members as usize],
            started_ns,
            covered_ns: None,
            gap_since_ns: None,
            gaps: 0,
            gap_total_ns: 0,
            gap_max_ns: 0,
        }
    }

    pub fn partitions(&self) -> u32 {
        self.partitions
    }

    pub fn assigned(&self) -> u32 {
        self.per_member.iter().sum()
    }

    /// Member `member` holds `held` partitions from `now_ns` on (after a rebalance callback, or
    /// 0 when it leaves the group).
    pub fn member_holds(&mut self, member: u32, held: u32, now_ns: u64) {
        self.per_member[member as usize] = held;
        let covered = self.assigned() >= self.partitions;
        match (self.covered_ns, self.gap_since_ns, covered) {
            (None, _, true) => self.covered_ns = Some(now_ns),
            (Some(_), None, false) => {
                self.gap_since_ns = Some(now_ns);
                self.gaps += 1;
            }
            (Some(_), Some(since), true) => {
                self.close_gap(since, now_ns);
                self.gap_since_ns = None;
            }
            _ => {}
        }
    }

    fn close_gap(&mut self, since_ns: u64, now_ns: u64) {
        let gap = now_ns.saturating_sub(since_ns);
        self.gap_total_ns += gap;
        self.gap_max_ns = self.gap_max_ns.max(gap);
    }

    /// The figures at `now_ns`, counting a gap still open up to now.
    pub fn rebalances(&self, now_ns: u64) -> Rebalances {
        let open = self
            .gap_since_ns
            .map_or(0, |since| now_ns.saturating_sub(since));
        let ms = |ns: u64| ns as f64 / 1e6;
        Rebalances {
            rebalances: self.gaps,
            join_ms: self.covered_ns.map(|at| ms(at - self.started_ns)),
            unassigned_ms: ms(self.gap_total_ns + open),
            unassigned_max_ms: ms(self.gap_max_ns.max(open)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    #[test]
    fn join_then_one_rebalance_that_moves_partitions() {
        let mut group = GroupAssignment::new(6, 2, 0);
        group.member_holds(0, 6, 300 * MS);
        assert_eq!(group.rebalances(400 * MS).join_ms, Some(300.0));
        // A second member joins: eager protocol, everything is revoked then reassigned.
        group.member_holds(0, 0, 1000 * MS);
        group.member_holds(1, 3, 1200 * MS);
        assert_eq!(group.rebalances(1250 * MS).unassigned_max_ms, 250.0);
        group.member_holds(0, 3, 1400 * MS);
        let figures = group.rebalances(5000 * MS);
        assert_eq!(figures.rebalances, 1);
        assert_eq!(figures.unassigned_ms, 400.0);
        assert_eq!(figures.unassigned_max_ms, 400.0);
        assert_eq!(group.assigned(), 6);
    }

    #[test]
    fn members_without_partitions_are_no_gap() {
        // Three members for two partitions: one member idles, every partition is held.
        let mut group = GroupAssignment::new(2, 3, 0);
        group.member_holds(0, 1, MS);
        group.member_holds(1, 1, 2 * MS);
        group.member_holds(2, 0, 3 * MS);
        let figures = group.rebalances(10 * MS);
        assert_eq!(figures.rebalances, 0);
        assert_eq!(figures.join_ms, Some(2.0));
        assert_eq!(figures.unassigned_ms, 0.0);
    }
}
