//! Offset translation: where MM2's checkpoints send a group on the target, and how wrong that is,
//! measured on the records kscen's load jobs stamp.
//!
//! A group committed offset `O` on a source partition; on the target it resumes the remote
//! partition at `T` (a checkpoint's downstream offset, or the offset MM2 committed for the group
//! there). MM2 keeps partition numbers and record order, and may copy a record more than once
//! after a restart; so each stamped record is placed on the source by its offset and on the target
//! by its copies:
//! - missed: a record at or after `O` whose every copy lies before `T` (never read);
//! - read twice: a record before `O` with a copy at or after `T` (read again).
//!
//! Only windows around `O` and `T` are read, so memory stays bounded whatever the topics' size.

use std::collections::HashMap;

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;

use super::checkpoints::Checkpoints;
use super::{blocking, read_ranges, reader_config, Range};
use crate::cluster::{fetch_metadata, find_topic, Clusters, METADATA_TIMEOUT};
use crate::error::{HostError, HostResult};
use crate::verify::stamp::Stamp;

/// Records read on each side of `O` on the source and of `T` on the target.
pub const WINDOW: i64 = 10_000;

/// What `RemoteClusterUtils.translateOffsets` gives a consumer of the group on the target: one
/// remote partition's offset, from the newest checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Translated {
    pub remote_topic: String,
    pub partition: i32,
    pub upstream_offset: i64,
    pub downstream_offset: i64,
    /// How old the checkpoint was when the checkpoints were read; `None` when its record has no
    /// timestamp.
    pub age_ms: Option<i64>,
}

/// The offsets `group` resumes at on the target, per remote partition, sorted by them.
pub fn translate(checkpoints: &Checkpoints, group: &str) -> Vec<Translated> {
    checkpoints
        .newest
        .iter()
        .filter(|emitted| emitted.checkpoint.group == group)
        .map(|emitted| Translated {
            remote_topic: emitted.checkpoint.topic.clone(),
            partition: emitted.checkpoint.partition,
            upstream_offset: emitted.checkpoint.upstream_offset,
            downstream_offset: emitted.checkpoint.downstream_offset,
            age_ms: emitted
                .timestamp_ms
                .map(|stamped| checkpoints.read_at_ms - stamped),
        })
        .collect()
}

/// An offset of one partition: a consumer's position there.
#[derive(Debug, Clone, Copy)]
pub struct Position<'a> {
    /// The cluster's name in the profile.
    pub cluster: &'a str,
    pub topic: &'a str,
    pub partition: i32,
    pub offset: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TranslationError {
    pub source_topic: String,
    pub remote_topic: String,
    pub partition: i32,
    /// `O`: the group's committed offset on the source.
    pub committed: i64,
    /// `T`: where the group resumes on the target.
    pub translated: i64,
    /// Where it should resume: the first copy of the first stamped record at or after `O`
    /// (after the last copy of those before it when none is there yet); `None` when the windows
    /// hold no stamped record of the run.
    pub exact: Option<i64>,
    /// Stamped records at or after `O` that a consumer resuming at `T` never reads.
    pub missed: u64,
    /// Stamped records before `O` that it reads again.
    pub read_twice: u64,
    /// Every record on one side of `T` within the target window was misplaced (or came from
    /// outside the source window), and the window does not reach the partition's edge there: the
    /// true figure may be larger.
    pub saturated: bool,
}

/// The error of resuming at `target` on the remote partition for a group that committed
/// `source` on the source partition, counted on the records stamped by run `run`. Both
/// partitions should be replicated up to their ends first: a record before `O` that is not
/// copied yet cannot be counted as read twice.
pub async fn translation_error(
    clusters: &Clusters,
    run: u64,
    source: Position<'_>,
    target: Position<'_>,
) -> HostResult<TranslationError> {
    let source_window = read_window(clusters, run, source).await?;
    let target_window = read_window(clusters, run, target).await?;
    let counts = classify(
        run,
        &source_window,
        &target_window,
        source.offset,
        target.offset,
    );
    Ok(TranslationError {
        source_topic: source.topic.to_string(),
        remote_topic: target.topic.to_string(),
        partition: source.partition,
        committed: source.offset,
        translated: target.offset,
        exact: counts.exact,
        missed: counts.missed,
        read_twice: counts.read_twice,
        saturated: counts.saturated,
    })
}

/// The records of one partition read around an offset, in offset order.
#[derive(Debug, Clone, Default)]
pub struct Window {
    /// (offset, stamp) of each stamped record.
    pub records: Vec<(i64, Stamp)>,
    /// The window starts at the partition's first offset: nothing before it was left out.
    pub from_start: bool,
    /// The window reaches the partition's end offset: nothing after it was left out.
    pub to_end: bool,
}

/// Reads the stamped records of run `run` within [`WINDOW`] offsets of `at`, clamped to the
/// partition's first and end offsets.
async fn read_window(clusters: &Clusters, run: u64, at: Position<'_>) -> HostResult<Window> {
    let config = reader_config(clusters, at.cluster)?;
    let (cluster, topic) = (at.cluster.to_string(), at.topic.to_string());
    let (partition, offset) = (at.partition, at.offset);
    blocking(
        format!("reading {topic} [{partition}] on {cluster}"),
        move || {
            let consumer: BaseConsumer = config.create()?;
            let metadata = fetch_metadata(&consumer, Some(&topic))?;
            let found = find_topic(&metadata, &cluster, &topic)?;
            if !found.partitions().iter().any(|p| p.id() == partition) {
                return Err(HostError::NotFound(format!(
                    "partition {partition} of topic {topic} on {cluster}: it has {} partitions",
                    found.partitions().len()
                )));
            }
            let (low, high) = consumer.fetch_watermarks(&topic, partition, METADATA_TIMEOUT)?;
            let range = Range {
                partition,
                from: offset.saturating_sub(WINDOW).max(low),
                until: offset.saturating_add(WINDOW).min(high),
            };
            let mut records = Vec::new();
            read_ranges(&consumer, &cluster, &topic, &[range], |message| {
                if let Some(stamp) = message.payload().and_then(Stamp::read) {
                    if stamp.run == run {
                        records.push((message.offset(), stamp));
                    }
                }
            })?;
            Ok(Window {
                records,
                from_start: range.from == low,
                to_end: range.until == high,
            })
        },
    )
    .await
}

/// What [`classify`] counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Classified {
    pub missed: u64,
    pub read_twice: u64,
    pub saturated: bool,
    pub exact: Option<i64>,
}

/// Counts, among the records of run `run`, those a consumer resuming the target at `translated`
/// misses or reads twice, for a group that committed `committed` on the source. A record is
/// known by its job and sequence; its place on the source is its first offset there.
pub fn classify(
    run: u64,
    source: &Window,
    target: &Window,
    committed: i64,
    translated: i64,
) -> Classified {
    let mut source_offset: HashMap<(u32, u64), i64> = HashMap::new();
    for (offset, stamp) in source.records.iter().filter(|(_, s)| s.run == run) {
        source_offset
            .entry((stamp.job, stamp.seq))
            .and_modify(|first| *first = (*first).min(*offset))
            .or_insert(*offset);
    }
    // Per record: whether it was committed on the source (before `O`), and its first and last
    // copy on the target.
    let mut copies: HashMap<(u32, u64), (bool, i64, i64)> = HashMap::new();
    // Whether a record from after (resp. before) `O` shows on each side of `T`.
    let (mut later_at_or_after_t, mut earlier_before_t) = (false, false);
    let (mut any_before_t, mut any_at_or_after_t) = (false, false);
    for (offset, stamp) in target.records.iter().filter(|(_, s)| s.run == run) {
        let before_t = *offset < translated;
        any_before_t |= before_t;
        any_at_or_after_t |= !before_t;
        let Some(&at_source) = source_offset.get(&(stamp.job, stamp.seq)) else {
            continue;
        };
        let consumed = at_source < committed;
        earlier_before_t |= consumed && before_t;
        later_at_or_after_t |= !consumed && !before_t;
        copies
            .entry((stamp.job, stamp.seq))
            .and_modify(|(_, first, last)| {
                *first = (*first).min(*offset);
                *last = (*last).max(*offset);
            })
            .or_insert((consumed, *offset, *offset));
    }
    let missed = copies
        .values()
        .filter(|(consumed, _, last)| !consumed && *last < translated)
        .count() as u64;
    let read_twice = copies
        .values()
        .filter(|(consumed, _, last)| *consumed && *last >= translated)
        .count() as u64;
    // MM2 keeps the order: one record from before `O` copied before `T` bounds what is missed,
    // one from after `O` copied at or after `T` bounds what is read twice.
    let saturated = (any_before_t && !earlier_before_t && !target.from_start)
        || (any_at_or_after_t && !later_at_or_after_t && !target.to_end);
    let exact = copies
        .values()
        .filter(|(consumed, _, _)| !consumed)
        .map(|(_, first, _)| *first)
        .min()
        .or_else(|| copies.values().map(|(_, _, last)| last + 1).max());
    Classified {
        missed,
        read_twice,
        saturated,
        exact,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::groups::checkpoints::{Checkpoint, Emitted};

    const RUN: u64 = 0x5eed;

    fn stamp(seq: u64) -> Stamp {
        Stamp {
            run: RUN,
            job: 1,
            seq,
            intended_ns: 0,
        }
    }

    /// Records `seqs`, one per offset from `first`.
    fn window(first: i64, seqs: impl IntoIterator<Item = u64>) -> Window {
        Window {
            records: seqs
                .into_iter()
                .zip(first..)
                .map(|(seq, offset)| (offset, stamp(seq)))
                .collect(),
            from_start: true,
            to_end: true,
        }
    }

    /// Source: seq n at offset n, 0..100. Target: the same records 5 offsets further on (the
    /// remote partition held 5 foreign records first).
    fn mirrored() -> (Window, Window) {
        (window(0, 0..100), window(5, 0..100))
    }

    #[test]
    fn the_exact_offset_misses_nothing_and_reads_nothing_twice() {
        let (source, target) = mirrored();
        let exact = classify(RUN, &source, &target, 40, 45);
        assert_eq!(
            exact,
            Classified {
                missed: 0,
                read_twice: 0,
                saturated: false,
                exact: Some(45)
            }
        );
    }

    #[test]
    fn too_far_misses_and_too_early_reads_twice_one_record_per_offset() {
        let (source, target) = mirrored();
        let ahead = classify(RUN, &source, &target, 40, 52);
        assert_eq!((ahead.missed, ahead.read_twice), (7, 0));
        let behind = classify(RUN, &source, &target, 40, 38);
        assert_eq!((behind.missed, behind.read_twice), (0, 7));
        assert!(!ahead.saturated && !behind.saturated);
        // A group at the end of the partition: nothing is missed however far the offset is.
        let done = classify(RUN, &source, &target, 100, 200);
        assert_eq!(
            (done.missed, done.read_twice, done.exact),
            (0, 0, Some(105))
        );
    }

    #[test]
    fn copies_made_twice_count_once_and_a_later_copy_is_still_read() {
        // MM2 restarted after copying seqs 0..50 and copied 40..50 again: 0..50, 40..100.
        let source = window(0, 0..100);
        let target = window(0, (0..50).chain(40..100));
        // `T` on the second copy of seq 40: nothing missed, seqs 40..50 were read before `O`...
        let twice = classify(RUN, &source, &target, 50, 50);
        assert_eq!((twice.missed, twice.read_twice), (0, 10));
        // ...and seqs 40..45, first copied before `T`, still have a copy after it: not missed.
        let skipping = classify(RUN, &source, &target, 45, 55);
        assert_eq!((skipping.missed, skipping.read_twice), (0, 0));
        assert_eq!(skipping.exact, Some(45), "the first copy of seq 45");
        // Past the second copy of seqs 45..50 as well: those 5 are missed.
        let past = classify(RUN, &source, &target, 45, 60);
        assert_eq!((past.missed, past.read_twice), (5, 0));
    }

    #[test]
    fn other_runs_records_and_empty_windows_count_nothing() {
        let empty = classify(RUN, &Window::default(), &Window::default(), 10, 20);
        assert_eq!(
            empty,
            Classified {
                missed: 0,
                read_twice: 0,
                saturated: false,
                exact: None
            }
        );
        let (source, mut target) = mirrored();
        for (_, stamp) in &mut target.records {
            stamp.run = RUN + 1;
        }
        let foreign = classify(RUN, &source, &target, 40, 80);
        assert_eq!(
            (foreign.missed, foreign.read_twice, foreign.exact),
            (0, 0, None)
        );
        // Not replicated yet: nothing to place on the target.
        let unreplicated = classify(RUN, &source, &Window::default(), 40, 45);
        assert_eq!((unreplicated.missed, unreplicated.read_twice), (0, 0));
    }

    #[test]
    fn misplacement_reaching_a_cut_window_edge_is_saturated() {
        // The target window holds offsets 5..105 of a longer partition.
        let (source, mut target) = mirrored();
        target.from_start = false;
        target.to_end = false;
        // Everything in the window before `T` is from after `O`: more may lie before the window.
        let all_missed = classify(RUN, &source, &target, 0, 30);
        assert_eq!(all_missed.missed, 25);
        assert!(all_missed.saturated);
        // Everything from `T` on is from before `O`: more may lie after the window.
        let all_twice = classify(RUN, &source, &target, 100, 60);
        assert_eq!(all_twice.read_twice, 45);
        assert!(all_twice.saturated);
        // Bounded on both sides within the window.
        assert!(!classify(RUN, &source, &target, 40, 52).saturated);
        // The same misplacements where the window reaches the partition's edges are exact.
        target.from_start = true;
        target.to_end = true;
        assert!(!classify(RUN, &source, &target, 0, 30).saturated);
        assert!(!classify(RUN, &source, &target, 100, 60).saturated);
    }

    #[test]
    fn translation_takes_the_groups_newest_checkpoints_with_their_age() {
        let emitted = |group: &str, partition, downstream, timestamp| Emitted {
            checkpoint: Checkpoint {
                group: group.into(),
                topic: "east_orders".into(),
                partition,
                upstream_offset: downstream + 3,
                downstream_offset: downstream,
                metadata: String::new(),
            },
            timestamp_ms: timestamp,
            log_partition: 0,
            log_offset: 0,
        };
        let checkpoints = Checkpoints {
            cluster: "target".into(),
            topic: "east_checkpoints_internal".into(),
            read_at_ms: 10_000,
            newest: vec![
                emitted("billing", 0, 40, Some(9_000)),
                emitted("billing", 1, 70, None),
                emitted("audit", 0, 5, Some(1)),
            ],
            undecodable: 0,
            warnings: Vec::new(),
        };
        let translated = translate(&checkpoints, "billing");
        assert_eq!(
            translated,
            [
                Translated {
                    remote_topic: "east_orders".into(),
                    partition: 0,
                    upstream_offset: 43,
                    downstream_offset: 40,
                    age_ms: Some(1_000),
                },
                Translated {
                    remote_topic: "east_orders".into(),
                    partition: 1,
                    upstream_offset: 73,
                    downstream_offset: 70,
                    age_ms: None,
                },
            ]
        );
        assert!(translate(&checkpoints, "nobody").is_empty());
    }
}
