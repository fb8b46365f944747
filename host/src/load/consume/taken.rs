//! The offsets up to which a member took records, per partition: the only offsets it stores for
//! librdkafka to commit. librdkafka's own store marks a record as consumed when it hands it out,
//! and closing a consumer hands out (and drops) every record fetched ahead of the application:
//! the close's commit then skipped records nobody read, and the group's next member started after
//! them (seen as 5 records missed after a topic migration rolled back on a 3-broker lab).

use std::sync::atomic::{AtomicI64, Ordering};

use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::{Offset, TopicPartitionList};

/// No record taken since the member was given the partition.
const NONE: i64 = -1;

pub struct TakenOffsets {
    topic: String,
    /// The next offset to commit, per partition id. Only the member's own thread writes it (the
    /// rebalance callbacks run inside its polls); atomics make it shareable with its context.
    next: Vec<AtomicI64>,
}

impl TakenOffsets {
    pub fn new(topic: &str, partitions: u32) -> Self {
        TakenOffsets {
            topic: topic.to_string(),
            next: (0..partitions).map(|_| AtomicI64::new(NONE)).collect(),
        }
    }

    /// Notes that the member took the record at `offset` of `partition`; false for a partition
    /// added to the topic after the job started, which the caller stores on its own.
    pub fn took(&self, partition: i32, offset: i64) -> bool {
        match usize::try_from(partition)
            .ok()
            .and_then(|p| self.next.get(p))
        {
            Some(next) => {
                next.store(offset + 1, Ordering::Relaxed);
                true
            }
            None => false,
        }
    }

    /// Hands what was taken to librdkafka's offset store, where every commit (after a batch,
    /// automatic, before a revoke, at close) takes its offsets from.
    pub fn store<C: ConsumerContext>(&self, consumer: &BaseConsumer<C>) {
        let mut list = TopicPartitionList::new();
        for (partition, next) in self.next.iter().enumerate() {
            let next = next.load(Ordering::Relaxed);
            if next != NONE {
                // Partition ids fit i32: the table was sized from one.
                let _ =
                    list.add_partition_offset(&self.topic, partition as i32, Offset::Offset(next));
            }
        }
        if list.count() > 0 {
            // A partition no longer assigned cannot be stored: its next owner resumes at the last
            // commit and reads those records again, which the group's verdict counts.
            let _ = consumer.store_offsets(&list);
        }
    }

    /// Forgets `revoked` partitions once stored and committed: what their next owner reads is not
    /// this member's progress, and an old offset stored later would move the group back.
    pub fn forget(&self, revoked: &TopicPartitionList) {
        for element in revoked.elements_for_topic(&self.topic) {
            if let Some(next) = usize::try_from(element.partition())
                .ok()
                .and_then(|p| self.next.get(p))
            {
                next.store(NONE, Ordering::Relaxed);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn taken(offsets: &TakenOffsets) -> Vec<i64> {
        offsets
            .next
            .iter()
            .map(|n| n.load(Ordering::Relaxed))
            .collect()
    }

    #[test]
    fn a_taken_record_moves_its_partition_to_the_next_offset() {
        let offsets = TakenOffsets::new("orders", 3);
        assert!(offsets.took(1, 41));
        assert!(offsets.took(1, 42));
        assert_eq!(taken(&offsets), [NONE, 43, NONE]);
        // A partition added after the job started is the caller's to store.
        assert!(!offsets.took(3, 0));
        assert!(!offsets.took(-1, 0));
    }

    #[test]
    fn revoked_partitions_are_forgotten_the_others_kept() {
        let offsets = TakenOffsets::new("orders", 3);
        offsets.took(0, 9);
        offsets.took(2, 19);
        let mut revoked = TopicPartitionList::new();
        revoked.add_partition("orders", 2);
        revoked.add_partition("other-topic", 0);
        offsets.forget(&revoked);
        assert_eq!(taken(&offsets), [10, NONE, NONE]);
    }
}
