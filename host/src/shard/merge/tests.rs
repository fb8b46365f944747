use serde_json::json;

use super::*;
use crate::metrics::histogram::{new_latency_histogram, record};

/// A latency of a few hundred µs with a long tail, the same for record `k` wherever it is sent.
fn latency_us(k: u64) -> u64 {
    let spread = (k * 7919) % 1000;
    200 + spread
        + if k.is_multiple_of(997) {
            250_000 + k % 5000
        } else {
            0
        }
}

/// Shard `index` of `count` of a run whose one phase sent `total` records: its stripe's values,
/// judged on `thresholds`, as `kscen run --shard` writes it.
fn shard_result(index: u32, count: u32, total: u64, thresholds: &[&str]) -> RunResult {
    let shard = crate::shard::Shard { index, count };
    let mut corrected = new_latency_histogram();
    let mut sent = 0;
    for local in 0..shard.count_of(total) {
        record(&mut corrected, latency_us(shard.global_seq(local)));
        sent += 1;
    }
    let start_at = "2026-12-05T10:00:00Z";
    let mut result: RunResult = serde_json::from_value(json!({
        "schema": crate::result::SCHEMA,
        "scenario": { "name": "steady" },
        "started_at": start_at,
        "ended_at": "2026-12-05T10:00:10Z",
        "outcome": { "status": "completed" },
        "shard": { "index": index, "count": count, "start_at": start_at },
    }))
    .unwrap();
    result.phases = vec![PhaseResult {
        name: "steady".into(),
        start_s: Some(0.0),
        end_s: Some(10.0 + f64::from(index) / 100.0),
        target_rate: Some(Some(1000.0 / f64::from(count))),
        achieved_rate: Some(sent as f64 / 10.0),
        counts: Counts {
            sent: Some(sent),
            acked: Some(sent),
            failed: Some(0),
            bytes: Some(sent * 100),
            queue_full: Some(0),
        },
        corrected_us: Some(HistogramResult::of(&corrected)),
        ..Default::default()
    }];
    result.totals = Counts::over(&result.phases);
    let parsed: Vec<_> = thresholds
        .iter()
        .map(|t| crate::thresholds::parse(t).unwrap())
        .collect();
    crate::thresholds::judge_run(&mut result, &parsed);
    result
}

fn names(count: usize) -> Vec<String> {
    (0..count).map(|i| format!("shard-{i}.json")).collect()
}

#[test]
fn merged_percentiles_are_one_processs_to_the_byte() {
    let total = 100_003;
    let shards: Vec<RunResult> = (0..4)
        .rev()
        .map(|i| shard_result(i, 4, total, &[]))
        .collect();
    let merged = merge(shards, &names(4)).unwrap();

    let mut one_process = new_latency_histogram();
    for k in 0..total {
        record(&mut one_process, latency_us(k));
    }
    let expected = serde_json::to_string(&HistogramResult::of(&one_process)).unwrap();
    let phase = &merged.phases[0];
    assert_eq!(
        serde_json::to_string(phase.corrected_us.as_ref().unwrap()).unwrap(),
        expected
    );
    assert_eq!(phase.counts.sent, Some(total));
    assert_eq!(merged.totals.sent, Some(total));
    assert_eq!(phase.target_rate, Some(Some(1000.0)));
    assert_eq!(phase.end_s, Some(10.03));
    let sharded = merged.shard.unwrap();
    assert_eq!((sharded.index, sharded.count), (None, 4));
}

#[test]
fn thresholds_are_judged_once_on_the_merged_figures() {
    // Each shard sends a quarter of 40 000: none reaches 30 000, the run does.
    let threshold = "totals.sent >= 30000";
    let shards: Vec<RunResult> = (0..4)
        .map(|i| shard_result(i, 4, 40_000, &[threshold]))
        .collect();
    assert!(shards.iter().all(|s| !s.thresholds[0].passed()));
    let merged = merge(shards, &names(4)).unwrap();
    assert_eq!(merged.thresholds.len(), 1);
    assert!(merged.thresholds[0].passed(), "{:?}", merged.thresholds[0]);
    assert_eq!(merged.thresholds[0].measured, Some(40_000.0));
}

#[test]
fn a_failed_shard_fails_the_merge_and_is_named() {
    let mut shards: Vec<RunResult> = (0..3).map(|i| shard_result(i, 3, 300, &[])).collect();
    shards[2].outcome = Outcome::Aborted {
        reason: "p99 over 50 ms".into(),
    };
    let merged = merge(shards, &names(3)).unwrap();
    assert_eq!(
        merged.outcome,
        Outcome::Aborted {
            reason: "shard 2: p99 over 50 ms".into()
        }
    );
}

#[test]
fn missing_repeated_or_foreign_shards_are_refused_by_name() {
    let run = |indices: &[u32], count| -> Vec<RunResult> {
        indices
            .iter()
            .map(|i| shard_result(*i, count, 100, &[]))
            .collect()
    };
    let error = merge(run(&[0, 2], 3), &names(2)).unwrap_err();
    assert!(error.contains("missing: shard 1"), "{error}");
    let error = merge(run(&[0, 1, 1], 3), &names(3)).unwrap_err();
    assert!(
        error.contains("shard 1 is given twice (shard-2.json)"),
        "{error}"
    );
    let mut other_run = run(&[0, 1], 2);
    other_run[1].shard.as_mut().unwrap().start_at += chrono::TimeDelta::seconds(1);
    let error = merge(other_run, &names(2)).unwrap_err();
    assert!(
        error.contains("shard-1.json is shard Some(1) of 2"),
        "{error}"
    );
    let mut unsharded = run(&[0], 1);
    unsharded[0].shard = None;
    let error = merge(unsharded, &names(1)).unwrap_err();
    assert!(error.contains("not a shard's result"), "{error}");
}

#[test]
fn replication_verdicts_and_counted_figures_of_the_same_load_are_summed() {
    let mut shards: Vec<RunResult> = (0..2).map(|i| shard_result(i, 2, 100, &[])).collect();
    for (i, shard) in shards.iter_mut().enumerate() {
        shard.replication = vec![serde_json::from_value(json!({
            "job": 1, "cluster": "source", "topic": "orders", "target_cluster": "target",
            "remote_topic": "source.orders", "sent": 50, "acked": 50, "failed": 0,
            "replicated": 50 - i, "duplicates": i, "out_of_order": 0, "lost": i,
            "lag_records": 0, "lag_ms": 10 * i,
        }))
        .unwrap()];
    }
    let figure = |value: f64, unit: &str| crate::metrics::Figure {
        value,
        unit: unit.into(),
    };
    for (i, shard) in shards.iter_mut().enumerate() {
        let i = i as f64;
        shard.figures.insert("lost".into(), figure(i, "records"));
        shard
            .figures
            .insert("recovery_ms".into(), figure(100.0 + i, "ms"));
    }
    let merged = merge(shards, &names(2)).unwrap();
    assert_eq!(merged.figures["lost"].value, 1.0, "counts add");
    assert_eq!(merged.figures["recovery_ms"].value, 100.0, "shard 0's time");
    assert_eq!(merged.replication.len(), 1);
    let job = &merged.replication[0];
    assert_eq!((job.sent, job.verdict.replicated), (100, 99));
    assert_eq!(
        (job.verdict.lost, job.verdict.duplicates, job.verdict.lag_ms),
        (1, 1, 10)
    );
}
