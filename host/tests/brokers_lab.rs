//! The brokers under tracked load, on the real 3-node KRaft lab (RF 3, min.insync.replicas 2,
//! acks=all), through the `kscen` binary and the bundled scenario files: the leading broker killed
//! and started again. The rolling restart runs as the rolling upgrade (`upgrade_lab.rs`): the same
//! steps and checks, onto new binaries.

mod support;

use std::path::PathBuf;

use serde_json::Value;
use support::{u64_of, Run};

fn lab_profile() -> Option<PathBuf> {
    support::lab_profile_from("KSCEN_LAB_PROFILE", "lab")
}

fn run_bundled(scenario: &str, args: &[&str]) -> Option<Run> {
    Some(support::run_bundled(&lab_profile()?, scenario, args))
}

/// Every scenario threshold passed, nothing was lost across the mirror, and the durability the
/// topic really had is the one the scenario asked for.
fn assert_held_under_acks_all(run: &Run) {
    assert_eq!(run.code(), 0, "thresholds: {}", run.result()["thresholds"]);
    let verdict = run.result()["replication"].as_array().unwrap()[0].clone();
    assert_eq!(u64_of(&verdict["lost"]), 0, "{verdict}");
    assert!(u64_of(&verdict["replicated"]) > 0, "{verdict}");
    let topic_event = events(run)
        .into_iter()
        .find(|e| e["kind"] == "topic")
        .expect("a topic event");
    let message = topic_event["message"].as_str().unwrap();
    assert!(
        message.contains("replication factor 3, min.insync.replicas 2"),
        "{message}"
    );
}

fn events(run: &Run) -> Vec<Value> {
    run.result()["events"].as_array().unwrap().clone()
}

#[test]
fn killing_the_leading_broker_moves_its_leaders_and_loses_nothing() {
    let Some(run) = run_bundled(
        "broker-kill.toml",
        &[
            "--set",
            "warmup=\"10s\"",
            "--set",
            "down=\"10s\"",
            "--set",
            "after=\"5s\"",
        ],
    ) else {
        return;
    };
    assert_held_under_acks_all(&run);
    assert_eq!(
        run.phase_names(),
        ["before", "broker down", "broker back", "after"]
    );
    // The victim led partitions of the load's topic, and the kill is on the run's timeline.
    let events = events(&run);
    let victim = events
        .iter()
        .find(|e| e["kind"] == "victim")
        .expect("a victim event");
    assert!(
        victim["message"]
            .as_str()
            .unwrap()
            .contains("leads partitions"),
        "{victim}"
    );
    assert!(events
        .iter()
        .any(|e| e["kind"] == "fault" && e["message"].as_str().unwrap().starts_with("kill ")));
    // Leaders move only once the controller fences the dead broker: never at once.
    assert!(run.figure("leaders_moved_ms") > 0.0);
    assert!(run.figure("isr_full_ms") >= run.figure("back_online_ms"));
    assert!(run.figure("under_replicated_peak") > 0.0);
    assert_eq!(run.figure("producer_failed"), 0.0);
    // The cluster's health through the run: a broker down, nothing offline (RF 3), the victim
    // back in the ISRs (KRaft's controller removed it when fencing it: no leader counts that as
    // a shrink), and the timeline saw the broker go and come back.
    assert!(run.figure("brokers_down_peak") >= 1.0);
    assert!(run.figure("isr_expands") >= 1.0);
    assert_eq!(run.figure("offline_partitions_peak"), 0.0);
    support::assert_gauge_dips_and_recovers(&run, "brokers_online", 3.0);
    let under_replicated = support::gauge_series(&run, "under_replicated_partitions");
    assert!(
        under_replicated.iter().any(|&v| v > 0.0),
        "{under_replicated:?}"
    );
}
