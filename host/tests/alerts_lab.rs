//! The seeds' MirrorMaker 2 alert rules (seed 003 §7), loaded by the lab's Prometheus, watched by
//! `kscen run --alerts`: a real task failure (5.4's poison record) held failed past the rule's
//! `for: 1m` fires MM2TaskFailed and the run says how long after the fault; a clean PERF-01 run
//! fires none. Set `KSCEN_LAB_PROFILE` to the plain lab's profile.toml (with Prometheus); without it
//! the test skips, except under `CI=true`.

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
        ],
    );
    // PERF-01's own latency criterion depends on the machine; the alerts' is the test's.
    assert_eq!(clean.threshold_verdict("alerts.fired == 0"), "passed");
    let watched = &clean.result()["alerts"];
    assert!(f64_of(&watched["polls"]) > 50.0, "{watched}");
    assert_eq!(f64_of(&watched["failed_polls"]), 0.0, "{watched}");
    assert!(clean
        .stdout()
        .contains("alerts (prometheus): 0 fired during the run"));

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
