//! Topics a run creates on a real cluster take the operator's durability settings (or the
//! cluster's defaults), the run's events say what each topic got, and `acks=all` on a topic that
//! can never acknowledge is refused up front with what to change.

#[path = "support/lab_env.rs"]
mod lab_env;
mod support;

use lab_env::lab_profile;
use support::{run_scenario, Run};

fn steady_on_lab(topic: &str, new_topics: &str, args: &[&str]) -> Run {
    let profile = std::env::var("KSCEN_LAB_PROFILE").expect("checked by lab_profile");
    let scenario = format!(
        "plugin = \"steady\"\n[params]\ntopic = \"{topic}\"\ncount = 200\nrate = 1000\npartitions = 2\n{new_topics}"
    );
    let mut all = vec!["--profile", profile.as_str()];
    all.extend_from_slice(args);
    run_scenario(&scenario, &all)
}

/// The run created `topic` on the source and its event names every one of `details`.
fn assert_created_with(run: &Run, topic: &str, details: &[&str]) {
    let events: Vec<&str> = run.result()["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "topic")
        .map(|e| e["message"].as_str().unwrap())
        .collect();
    assert!(
        events
            .iter()
            .any(|e| e.starts_with(&format!("created {topic} on source"))
                && details.iter().all(|d| e.contains(d))),
        "no topic event for {topic} with {details:?}: {events:?}"
    );
}

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", std::process::id())
}

#[test]
fn the_operators_replication_settings_are_applied_and_reported() {
    if lab_profile().is_none() {
        return;
    }
    let topic = unique("kscen-new-topics-rf");
    let run = steady_on_lab(
        &topic,
        "[new_topics]\nreplication_factor = 1\nmin_insync_replicas = 1\nconfigs = { \"retention.ms\" = \"600000\" }\n",
        &[],
    );
    assert_eq!(run.code(), 0, "stderr:\n{}", run.stderr());
    assert_created_with(
        &run,
        &topic,
        &[
            "replication factor 1, min.insync.replicas 1",
            "retention.ms=600000",
        ],
    );
}

#[test]
fn without_settings_the_cluster_defaults_apply_and_are_reported() {
    if lab_profile().is_none() {
        return;
    }
    let topic = unique("kscen-new-topics-default");
    let run = steady_on_lab(&topic, "", &[]);
    assert_eq!(run.code(), 0, "stderr:\n{}", run.stderr());
    assert_created_with(&run, &topic, &["replication factor", "min.insync.replicas"]);
}

#[test]
fn acks_all_on_a_topic_that_cannot_acknowledge_is_refused_with_the_fix() {
    if lab_profile().is_none() {
        return;
    }
    // More in-sync replicas than any lab cluster has brokers: no acks=all write can succeed.
    let settings = "[new_topics]\nmin_insync_replicas = 9\n";
    let refused = steady_on_lab(&unique("kscen-new-topics-isr"), settings, &[]);
    assert_eq!(refused.code(), 3, "stderr:\n{}", refused.stderr());
    let stderr = refused.stderr();
    assert!(
        stderr.contains("min.insync.replicas 9")
            && stderr.contains("no acks=all record can be acknowledged")
            && stderr.contains("acks=1"),
        "{stderr}"
    );
    // The same topic settings with acks=1: nothing waits on the in-sync replicas.
    let acks_one = steady_on_lab(
        &unique("kscen-new-topics-acks1"),
        settings,
        &["--producer-props", "acks=1"],
    );
    assert_eq!(acks_one.code(), 0, "stderr:\n{}", acks_one.stderr());
}
