//! What one consumer group read of this run's stamped records, over every consume job that read
//! as that group, on any cluster: a group failed over from the source to the target keeps one
//! ledger, so a record read on both sides counts as read twice and a record read on neither as
//! unread. Memory grows with gaps, not records ([`SeqSet`]).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::seqset::SeqSet;

#[derive(Debug, Default)]
pub struct GroupLedger {
    /// producer job id → sequences read
    read: BTreeMap<u32, SeqSet>,
    read_twice: u64,
    /// (cluster, topic) pairs the group's jobs read: which producer jobs it should have read
    topics: BTreeSet<(String, String)>,
}

/// The group's per-record verdict on the stamped records it should have read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupVerdict {
    /// distinct stamped records read
    pub read: u64,
    /// stamped records read more than once (by any of the group's jobs)
    pub read_twice: u64,
    /// records acknowledged to a topic the group reads (or mirrored into one it reads) and not
    /// read by it yet; once the group has drained, these are the records it missed
    pub unread: u64,
}

/// What a producer job sent, for the verdict: its id, where its records go, how many it sent,
/// and which of them failed (never acknowledged, so never expected).
pub struct Produced<'a> {
    pub job: u32,
    /// (cluster, topic) pairs its records reach: the topic it produces to, and the remote topic
    /// when it tracks replication
    pub reaches: Vec<(String, String)>,
    pub sent: u64,
    pub failed: &'a SeqSet,
}

impl GroupLedger {
    /// The group's job started reading `topic` on `cluster`.
    pub fn reads(&mut self, cluster: &str, topic: &str) {
        self.topics.insert((cluster.to_string(), topic.to_string()));
    }

    /// Record `seq` of producer job `job` was read; false when the group had read it before.
    pub fn read(&mut self, job: u32, seq: u64) -> bool {
        let fresh = self.read.entry(job).or_default().insert(seq);
        if !fresh {
            self.read_twice += 1;
        }
        fresh
    }

    pub fn read_twice(&self) -> u64 {
        self.read_twice
    }

    pub fn verdict<'a>(&self, produced: impl IntoIterator<Item = Produced<'a>>) -> GroupVerdict {
        let none = SeqSet::default();
        let unread = produced
            .into_iter()
            .filter(|p| p.reaches.iter().any(|reach| self.topics.contains(reach)))
            .map(|p| {
                let read = self.read.get(&p.job).unwrap_or(&none);
                read.count_missing(p.sent, p.failed)
            })
            .sum();
        GroupVerdict {
            read: self.read.values().map(SeqSet::len).sum(),
            read_twice: self.read_twice,
            unread,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn produced<'a>(job: u32, topic: &str, sent: u64, failed: &'a SeqSet) -> Produced<'a> {
        Produced {
            job,
            reaches: vec![
                ("source".into(), topic.into()),
                ("target".into(), format!("east.{topic}")),
            ],
            sent,
            failed,
        }
    }

    #[test]
    fn a_group_failed_over_counts_both_sides_once() {
        let mut ledger = GroupLedger::default();
        ledger.reads("source", "orders");
        for seq in 0..600 {
            ledger.read(1, seq);
        }
        // Resumed on the target at a translated offset 50 records early, then read to the end
        // but for records 900..910.
        ledger.reads("target", "east.orders");
        for seq in (550..1000).filter(|s| !(900..910).contains(s)) {
            ledger.read(1, seq);
        }
        let failed = SeqSet::default();
        let verdict = ledger.verdict([produced(1, "orders", 1000, &failed)]);
        assert_eq!(
            verdict,
            GroupVerdict {
                read: 990,
                read_twice: 50,
                unread: 10
            }
        );
    }

    #[test]
    fn records_never_acknowledged_and_other_topics_are_not_expected() {
        let mut ledger = GroupLedger::default();
        ledger.reads("source", "orders");
        let mut failed = SeqSet::default();
        failed.insert(3);
        for seq in (0..10).filter(|s| *s != 3) {
            ledger.read(1, seq);
        }
        let verdict = ledger.verdict([
            produced(1, "orders", 10, &failed),
            produced(2, "payments", 500, &failed),
        ]);
        assert_eq!(verdict.unread, 0);
        assert_eq!(verdict.read, 9);
    }
}
