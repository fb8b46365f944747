//! A set of sequence numbers stored as disjoint ranges: memory grows with the number of gaps,
//! not with the number of records.

use std::collections::BTreeMap;

#[derive(Debug, Clone, Default)]
pub struct SeqSet {
    /// start → end (exclusive), disjoint and not adjacent
    ranges: BTreeMap<u64, u64>,
    len: u64,
}

impl SeqSet {
    /// Adds `seq`; false when it was already there.
    pub fn insert(&mut self, seq: u64) -> bool {
        let left = self.ranges.range(..=seq).next_back().map(|(s, e)| (*s, *e));
        if let Some((_, end)) = left {
            if seq < end {
                return false;
            }
        }
        let right = self.ranges.range(seq + 1..).next().map(|(s, e)| (*s, *e));
        let joins_left = left.filter(|(_, end)| *end == seq);
        let joins_right = right.filter(|(start, _)| *start == seq + 1);
        match (joins_left, joins_right) {
            (Some((start, _)), Some((right_start, right_end))) => {
                self.ranges.remove(&right_start);
                self.ranges.insert(start, right_end);
            }
            (Some((start, _)), None) => {
                self.ranges.insert(start, seq + 1);
            }
            (None, Some((right_start, right_end))) => {
                self.ranges.remove(&right_start);
                self.ranges.insert(seq, right_end);
            }
            (None, None) => {
                self.ranges.insert(seq, seq + 1);
            }
        }
        self.len += 1;
        true
    }

    pub fn contains(&self, seq: u64) -> bool {
        self.ranges
            .range(..=seq)
            .next_back()
            .is_some_and(|(_, end)| seq < *end)
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// How many ranges are stored: a measure of memory use.
    pub fn ranges(&self) -> usize {
        self.ranges.len()
    }

    /// The smallest number ≥ `from` not in the set.
    pub fn first_missing_from(&self, from: u64) -> u64 {
        match self.ranges.range(..=from).next_back() {
            Some((_, end)) if from < *end => *end,
            _ => from,
        }
    }

    /// Numbers in `0..until` in neither this set nor `excluded`.
    pub fn count_missing(&self, until: u64, excluded: &SeqSet) -> u64 {
        let mut missing = 0;
        let mut at = 0;
        while at < until {
            let next = self.first_missing_from(excluded.first_missing_from(at));
            if next != at {
                at = next;
                continue;
            }
            // `at` is missing from both: count up to the next number either set has.
            let next_present = [self.next_present_from(at), excluded.next_present_from(at)]
                .into_iter()
                .flatten()
                .min()
                .unwrap_or(until)
                .min(until);
            missing += next_present - at;
            at = next_present;
        }
        missing
    }

    fn next_present_from(&self, from: u64) -> Option<u64> {
        self.ranges.range(from..).next().map(|(start, _)| *start)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contiguous_inserts_stay_one_range() {
        let mut set = SeqSet::default();
        for seq in 0..100_000 {
            assert!(set.insert(seq));
        }
        assert_eq!(set.ranges(), 1);
        assert_eq!(set.len(), 100_000);
        assert!(!set.insert(500), "a duplicate is reported");
    }

    #[test]
    fn out_of_order_inserts_merge() {
        let mut set = SeqSet::default();
        for seq in [5, 3, 4, 0, 2, 1] {
            assert!(set.insert(seq));
        }
        assert_eq!(set.ranges(), 1);
        assert!(set.contains(5) && !set.contains(6));
        assert_eq!(set.first_missing_from(0), 6);
    }

    #[test]
    fn missing_numbers_are_counted_around_exclusions() {
        let mut seen = SeqSet::default();
        for seq in (0..10).chain(20..30) {
            seen.insert(seq);
        }
        let mut failed = SeqSet::default();
        failed.insert(12);
        failed.insert(13);
        // 10..20 missing except 12 and 13; 30..35 missing.
        assert_eq!(seen.count_missing(35, &failed), 8 + 5);
        assert_eq!(seen.count_missing(30, &SeqSet::default()), 10);
        assert_eq!(seen.count_missing(10, &SeqSet::default()), 0);
    }
}
