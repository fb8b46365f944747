//! The rolling upgrade (004 §11.1.3) on the real lab: `kscen lab upgrade` stages Kafka 4.3.1 for
//! the source cluster's brokers, then `scenarios/rolling-upgrade.toml` restarts each on it under
//! acks=all tracked load, with the seeds' checks between steps. It changes the lab's version, so
//! `cargo xtask test` runs it on a lab of its own, started on Kafka 3.9.1 (the seed's 3.9 -> 4.3).

mod support;

use std::process::Command;

use serde_json::Value;
use support::u64_of;

const NEW_VERSION: &str = "4.3.1";

#[test]
fn a_rolling_upgrade_moves_every_source_broker_to_the_new_version_and_loses_nothing() {
    let Some(profile) = support::lab_profile_from("KSCEN_LAB_PROFILE", "lab") else {
        return;
    };
    let state = profile
        .parent()
        .expect("the profile is in the lab's state folder");
    let staged = Command::new(env!("CARGO_BIN_EXE_kscen"))
        .args([
            "lab",
            "upgrade",
            "--cluster",
            "source",
            "--kafka-version",
            NEW_VERSION,
        ])
        .arg("--state-dir")
        .arg(state)
        .output()
        .expect("kscen runs");
    let said = String::from_utf8_lossy(&staged.stdout);
    assert!(
        staged.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&staged.stderr)
    );
    assert!(
        said.contains(&format!(
            "staged Kafka {NEW_VERSION} for source-1, source-2, source-3"
        )),
        "{said}"
    );

    let run = support::run_bundled(
        &profile,
        "rolling-upgrade.toml",
        &["--set", "warmup=\"5s\"", "--set", "after=\"5s\""],
    );
    // replication.lost == 0, totals.failed == 0, roll_step_max_ms < 3m
    assert_eq!(run.code(), 0, "thresholds: {}", run.result()["thresholds"]);
    let verdict = &run.result()["replication"][0];
    assert_eq!(u64_of(&verdict["lost"]), 0, "{verdict}");
    let versions: Vec<String> = run.result()["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "versions")
        .filter_map(|e: &Value| e["message"].as_str().map(String::from))
        .collect();
    assert_eq!(versions.len(), 2, "{versions:?}");
    // The lab ran another version before; every broker runs the new one after.
    assert_eq!(
        versions[0].matches(&format!(" {NEW_VERSION}")).count(),
        0,
        "{}",
        versions[0]
    );
    assert_eq!(
        versions[1].matches(&format!(" {NEW_VERSION}")).count(),
        3,
        "{}",
        versions[1]
    );
    // The client-side and the replicated latency during each step of the roll, and the cluster's
    // health on the timeline: a broker down at each step, all three back at the end.
    let steps: Vec<&Value> = run
        .phases()
        .iter()
        .filter(|p| p["name"].as_str().unwrap().starts_with("restart "))
        .collect();
    assert_eq!(steps.len(), 3, "{:?}", run.phase_names());
    for step in steps {
        for histogram in ["corrected_us", "replicated_us"] {
            assert!(
                u64_of(&step[histogram]["count"]) > 0,
                "{} has no {histogram}: {step}",
                step["name"]
            );
        }
    }
    assert!(run.figure("brokers_down_peak") >= 1.0);
    support::assert_gauge_dips_and_recovers(&run, "brokers_online", 3.0);
}
