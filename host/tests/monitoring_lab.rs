//! The deployment's own monitoring, read through the lab's Prometheus during a run:
//! - the seeds' MirrorMaker 2 alert rules (seed 003 §7), watched by `kscen run --alerts`: a real
//!   task failure (5.4's poison record) held failed past the rule's `for: 1m` fires MM2TaskFailed
//!   and the run says how long after the fault; a clean PERF-01 run, its records followed across
//!   the mirror, fires none;
//! - MirrorMaker 2's own metrics (`--mm2-metrics`): sampled into the timeline and figures, and its
//!   replication latency set beside kscen's for the tracked load of the run.
//!
//! Set `KSCEN_LAB_PROFILE` to the plain lab's profile.toml (with Prometheus); without it the test
//! skips, except under `CI=true`.

mod support;

use support::{f64_of, run_bundled, Run};

fn lab_profile() -> Option<std::path::PathBuf> {
    support::lab_profile_from("KSCEN_LAB_PROFILE", "lab")
}

/// Both runs in one test: a task failure while the clean run goes on would be its alert.
#[test]
fn a_held_task_failure_fires_the_seeds_alert_and_a_clean_run_fires_none() {
    let Some(profile) = lab_profile() else { return };

    // Longer than every rule's `for` but MM2LagIncreasing's 3 m: a condition the run caused
    // would have time to fire.
    let clean = run_bundled(
        &profile,
        "perf-01-nominal.toml",
        &[
            "--set",
            "duration=\"125s\"",
            "--set",
            "rate=500",
            "--alerts",
            "prometheus",
            "--threshold",
            "alerts.fired == 0",
            "--mm2-metrics",
            "prometheus",
        ],
    );
    // PERF-01's own latency criterion depends on the machine; the alerts' is the test's.
    assert_eq!(clean.threshold_verdict("alerts.fired == 0"), "passed");
    let watched = &clean.result()["alerts"];
    // Every 2 s for 125 s; a slow answer delays the next poll, so no exact count.
    assert!(f64_of(&watched["polls"]) > 30.0, "{watched}");
    assert_eq!(f64_of(&watched["failed_polls"]), 0.0, "{watched}");
    assert!(clean
        .stdout()
        .contains("alerts (prometheus): 0 fired during the run"));
    // PERF-01 follows its records across the mirror: MM2's figures for its remote topic, beside
    // kscen's replicated latency.
    let mm2 = &clean.result()["mm2_metrics"];
    let remote = clean.result()["replication"][0]["remote_topic"].clone();
    assert_eq!(mm2["topics"], serde_json::json!([remote]), "{mm2}");
    assert!(f64_of(&mm2["latency"]["kscen_max_ms"]) > 0.0, "{mm2}");
    assert!(clean.figure("mm2_record_rate") > 0.0, "{mm2}");
    assert_eq!(clean.figure("lost"), 0.0);
    let timeline = clean.result()["timeline"].as_array().unwrap();
    assert!(
        timeline
            .iter()
            .any(|p| p["gauges"]["mm2_replication_latency_ms"].is_number()),
        "MM2's latency is in the timeline"
    );

    let failure = run_bundled(
        &profile,
        "resilience-5-4-task-failure.toml",
        &[
            "--set",
            "warmup=\"5s\"",
            "--set",
            "offset_flush=\"10s\"",
            "--set",
            "hold=\"75s\"",
            "--alerts",
            "prometheus",
            "--fault-phase",
            "poison",
            "--threshold",
            "alert(MM2TaskFailed).fired_within < 2m",
            "--mm2-metrics",
            "prometheus",
            "--threshold",
            "mm2_replication_latency_max_ms < 10m",
        ],
    );
    assert_eq!(
        failure.code(),
        0,
        "thresholds: {}",
        failure.result()["thresholds"]
    );
    let within = fired_within(&failure, "alert(MM2TaskFailed).fired_within < 2m");
    // The rule holds for 1 m once the exporter shows the task FAILED.
    assert!(
        within >= 60_000.0,
        "fired {within} ms after the poison record"
    );
    let alerts = &failure.result()["alerts"];
    assert_eq!(alerts["fault"], "phase poison", "{alerts}");
    let fired: Vec<&serde_json::Value> = alerts["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["name"] == "MM2TaskFailed" && !a["firing_ms"].is_null())
        .collect();
    assert!(!fired.is_empty(), "{alerts}");
    assert!(
        fired.iter().all(|a| !a["resolved_ms"].is_null()),
        "the fix resolves it before the run ends: {alerts}"
    );
    // The tracked load's remote topic, the run's source connector's producers, both latencies.
    let mm2 = &failure.result()["mm2_metrics"];
    let remote = failure.result()["replication"][0]["remote_topic"].clone();
    assert_eq!(mm2["topics"], serde_json::json!([remote]), "{mm2}");
    assert_eq!(mm2["source_connector"], "mirror-source", "{mm2}");
    let latency = &mm2["latency"];
    assert!(f64_of(&latency["mm2_max_ms"]) > 0.0, "{latency}");
    assert!(f64_of(&latency["kscen_max_ms"]) > 0.0, "{latency}");
    assert!(failure
        .stdout()
        .contains("replication latency, MM2 (replication-latency-ms) vs kscen"));
    let events = failure.result()["events"].as_array().unwrap();
    assert!(
        events
            .iter()
            .any(|e| e["kind"] == "alert" && e["message"].as_str().unwrap().ends_with(" firing")),
        "{events:?}"
    );
}

fn fired_within(run: &Run, threshold: &str) -> f64 {
    let result = run.result()["thresholds"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["threshold"] == threshold)
        .unwrap_or_else(|| panic!("no threshold {threshold}"));
    f64_of(&result["measured"])
}
