//! A run split over four processes (`kscen run --shard I/4`) on the real lab, its results merged
//! with `kscen merge` (issue 20): together the shards send the count asked for to the record,
//! each follows exactly its own records across the mirror, and the merged result passes the
//! thresholds once with one exit code. `cargo xtask test` starts the lab; without it (outside
//! CI) the lab test says it is skipped.

mod support;

use std::path::Path;
use std::process::{Child, Command};
use std::time::Duration;

use kscen::cluster::Clusters;
use kscen::config::profile::Profile;
use rdkafka::consumer::{BaseConsumer, Consumer};
use serde_json::Value;
use support::{lab_profile_from, plugin_dist, u64_of, Sandbox};

/// PERF-01's plugin for a record count, judged on what a sharded run must keep: nothing failed,
/// nothing lost across the mirror.
const SCENARIO: &str = "plugin = \"steady\"\nthresholds = [\"totals.failed == 0\", \"replication.lost == 0\", \"replication.duplicates == 0\"]\n[params]\nrate = 2000\nrecord_size = 200\npartitions = 8\n";

const RECORDS: u64 = 10_001;
const SHARDS: u32 = 4;

fn shard(dir: &Path, profile: &Path, topic: &str, index: u32, start_at: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_kscen"))
        .arg("run")
        .arg(dir.join("scenario.toml"))
        .arg("--profile")
        .arg(profile)
        .args(["--set", &format!("topic=\"{topic}\"")])
        .args(["--set", &format!("count={RECORDS}")])
        .args([
            "--shard",
            &format!("{index}/{SHARDS}"),
            "--start-at",
            start_at,
        ])
        .arg("--json")
        .arg(dir.join(format!("shard-{index}.json")))
        .env("KSCEN_PLUGIN_PATH", plugin_dist())
        .spawn()
        .expect("kscen runs")
}

fn read(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Records on `topic` of the lab's source cluster: the sum of its partitions' high watermarks.
fn records_on(profile: &Path, topic: &str) -> u64 {
    let profile = Profile::load(&profile.display().to_string()).unwrap();
    let config = Clusters::from_profile(&profile)
        .client_config("source")
        .unwrap();
    let consumer: BaseConsumer = config.create().unwrap();
    let metadata = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .unwrap();
    metadata.topics()[0]
        .partitions()
        .iter()
        .map(|p| {
            let (low, high) = consumer
                .fetch_watermarks(topic, p.id(), Duration::from_secs(10))
                .unwrap();
            (high - low) as u64
        })
        .sum()
}

#[test]
fn four_shards_send_the_count_to_the_record_and_merge_into_one_verdict() {
    let Some(profile) = lab_profile_from("KSCEN_LAB_PROFILE", "lab") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("scenario.toml"), SCENARIO).unwrap();
    let topic = format!("kscen-shards-{}", std::process::id());
    // Time for four processes to load the plugin and reach the deployment on two cores.
    let start_at = (chrono::Utc::now() + chrono::TimeDelta::seconds(25)).to_rfc3339();
    let children: Vec<Child> = (0..SHARDS)
        .map(|i| shard(dir.path(), &profile, &topic, i, &start_at))
        .collect();
    for (index, child) in children.into_iter().enumerate() {
        let status = child.wait_with_output().unwrap().status;
        assert_eq!(status.code(), Some(0), "shard {index}");
    }

    let nominal = |result: &Value| -> Value {
        let phases = result["phases"].as_array().unwrap();
        phases
            .iter()
            .find(|p| p["name"] == "nominal")
            .unwrap()
            .clone()
    };
    let (mut sent_by_shards, mut sent_in_all) = (0, 0);
    for index in 0..SHARDS {
        let result = read(&dir.path().join(format!("shard-{index}.json")));
        assert_eq!(result["shard"]["index"], index);
        assert_eq!(result["started_at"], result["shard"]["start_at"]);
        let sent = u64_of(&nominal(&result)["sent"]);
        // Shard i sends records i, i+4, ...: a quarter, the first shards one more.
        assert_eq!(sent, (RECORDS + 3 - u64::from(index)) / 4, "shard {index}");
        sent_by_shards += sent;
        // Before its load, each shard found the mirror with a few records of its own.
        sent_in_all += u64_of(&result["totals"]["sent"]);
    }
    assert_eq!(sent_by_shards, RECORDS);
    assert_eq!(
        records_on(&profile, &topic),
        sent_in_all,
        "on the source topic"
    );

    let merged_file = dir.path().join("merged.json");
    let shard_files: Vec<String> = (0..SHARDS)
        .rev()
        .map(|i| {
            dir.path()
                .join(format!("shard-{i}.json"))
                .display()
                .to_string()
        })
        .collect();
    let merge = Command::new(env!("CARGO_BIN_EXE_kscen"))
        .arg("merge")
        .args(&shard_files)
        .arg("--json")
        .arg(&merged_file)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&merge.stdout);
    assert_eq!(merge.status.code(), Some(0), "{stdout}{:?}", merge.stderr);
    let merged = read(&merged_file);
    assert_eq!(u64_of(&merged["totals"]["sent"]), sent_in_all);
    assert_eq!(u64_of(&merged["totals"]["acked"]), sent_in_all);
    assert_eq!(merged["shard"]["count"], SHARDS);
    assert!(merged["shard"].get("index").is_none());
    let phase = nominal(&merged);
    assert_eq!(u64_of(&phase["sent"]), RECORDS);
    assert_eq!(u64_of(&phase["corrected_us"]["count"]), RECORDS);
    // Each shard followed exactly its own records, on its own partitions of the remote topic.
    assert_eq!(u64_of(&phase["replicated_us"]["count"]), RECORDS);
    let replication = merged["replication"].as_array().unwrap();
    let replicated: u64 = replication.iter().map(|j| u64_of(&j["replicated"])).sum();
    assert_eq!(replicated, sent_in_all, "{replication:?}");
    for job in replication {
        assert_eq!(u64_of(&job["lost"]), 0, "{job}");
        assert_eq!(u64_of(&job["duplicates"]), 0, "{job}");
    }
    for threshold in merged["thresholds"].as_array().unwrap() {
        assert_eq!(threshold["verdict"], "passed", "{threshold}");
    }
}

#[test]
fn a_shard_past_its_start_instant_refuses_to_run_late() {
    let sandbox = Sandbox::new();
    std::fs::write(sandbox.path("steady.toml"), "plugin = \"steady\"\n").unwrap();
    let refused = sandbox.refused(&[
        "run",
        "steady.toml",
        "--shard",
        "1/2",
        "--start-at",
        "2026-01-01T00:00:00Z",
    ]);
    assert!(
        refused.contains("shard 1/2: the start instant 2026-01-01T00:00:00+00:00 passed"),
        "{refused}"
    );
    let output = sandbox.kscen(&["run", "steady.toml", "--shard", "1/2"]);
    let refused = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(2),
        "clap's usage error: {refused}"
    );
    assert!(refused.contains("--start-at"), "{refused}");
}
