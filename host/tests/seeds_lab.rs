//! The seeds' own deployment in the lab (`kscen lab up --mm2-config seed-003 --timers seeds`):
//! seed 003's MM2 connectors, names and aliases included, on workers with seed 001's rebalance
//! timers (session 30 s, heartbeat 10 s, scheduled rebalance delay 60 s). Test 5.1 measures the
//! rebalance those timers really give, and its RTO threshold follows that figure, pass or fail.

mod support;

use std::path::PathBuf;

use support::{u64_of, Run};

fn seeds_lab_profile() -> Option<PathBuf> {
    support::lab_profile_from("KSCEN_SEEDS_LAB_PROFILE", "seeds' lab")
}

fn all_thresholds_passed(run: &Run) -> bool {
    run.result()["thresholds"]
        .as_array()
        .expect("thresholds")
        .iter()
        .all(|t| t["verdict"] == "passed")
}

#[test]
fn worker_kill_on_the_seeds_timers_gets_the_verdict_its_rebalance_earns() {
    let Some(profile) = seeds_lab_profile() else {
        return;
    };
    let run = support::run_bundled(
        &profile,
        "resilience-5-1-worker-kill.toml",
        &[
            "--set",
            "warmup=\"15s\"",
            "--set",
            "after=\"5s\"",
            "--set",
            "recovery_timeout=\"4m\"",
        ],
    );
    let rebalance = run.figure("rebalance_ms");
    // A dead worker is noticed only once its session (30 s) expires; a dead follower's tasks then
    // wait for the scheduled rebalance delay (60 s) too.
    assert!(rebalance > 30_000.0, "rebalance {rebalance} ms");
    let expected = if rebalance < 60_000.0 {
        "passed"
    } else {
        "failed"
    };
    assert_eq!(
        run.threshold_verdict("rebalance_ms < 60s"),
        expected,
        "rebalance {rebalance} ms"
    );
    // Exit 0 only when every threshold passed, 2 when one failed: what a CI job gates on.
    assert_eq!(run.code(), if all_thresholds_passed(&run) { 0 } else { 2 });
    // The mirror measured is the seed's, found under its own names.
    assert_eq!(
        run.mirror_measured(),
        ("nemo->applicatif", "nemo-to-applicatif-source")
    );
    for verdict in run.result()["replication"].as_array().unwrap() {
        assert_eq!(u64_of(&verdict["lost"]), 0, "{verdict}");
    }
}
