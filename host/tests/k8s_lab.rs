//! `kscen k8s run` on a real Kubernetes (`cargo xtask k8s-up`: a control plane, a kubelet and
//! runc containers on this machine) against the real Kafka lab (issue 20): the shards of a tracked
//! scenario run as the pods of an Indexed Job, reach the lab through their node's network, and
//! their results merge into one passing verdict; a shard that fails fails the run and is named;
//! shards pull a signed pack pinned by digest from a real registry and run its scenario; nothing
//! of any run is left in the cluster. `cargo xtask test` starts both; without them
//! (outside CI) the tests say they are skipped.

#[path = "support/registry.rs"]
mod registry;
mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use registry::Registry;
use serde_json::Value;
use support::{lab_profile_from, u64_of, Sandbox};

/// The two tests share the lab and the cluster.
static CLUSTER: std::sync::Mutex<()> = std::sync::Mutex::new(());

const SCENARIO: &str = "plugin = \"steady\"\nthresholds = [\"totals.failed == 0\", \"replication.lost == 0\", \"replication.duplicates == 0\"]\n[params]\nrate = 4000\nrecord_size = 200\n";

const RECORDS: u64 = 20_000;

/// `kscen k8s run` of the scenario in `dir` with 4 shards on `topic` of `partitions`.
fn k8s_run(dir: &Path, kubeconfig: &Path, profile: &Path, topic: &str, partitions: u32) -> Output {
    std::fs::write(dir.join("steady.toml"), SCENARIO).unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_kscen"));
    command.arg("k8s").arg("run").arg(dir.join("steady.toml"));
    k8s_run_with(command, dir, kubeconfig, profile, topic, partitions)
}

/// `command` (`kscen k8s run SCENARIO ...`) with 4 shards on `topic` of `partitions`, its merged
/// result in `dir`.
fn k8s_run_with(
    mut command: Command,
    dir: &Path,
    kubeconfig: &Path,
    profile: &Path,
    topic: &str,
    partitions: u32,
) -> Output {
    let output = command
        .arg("--profile")
        .arg(profile)
        .args(["--shards", "4", "--host-network", "--pull-policy", "Never"])
        .args(["--start-delay", "20s", "--timeout", "5m"])
        .args(["--set", &format!("topic=\"{topic}\"")])
        .args(["--set", &format!("count={RECORDS}")])
        .args(["--set", &format!("partitions={partitions}")])
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .arg("--json")
        .arg(dir.join("merged.json"))
        .output()
        .expect("kscen runs");
    eprintln!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// What of the runs' objects is still in the cluster, as kubectl lists them.
fn left_in_the_cluster(kubeconfig: &Path) -> String {
    let listed = Command::new("kubectl")
        .args(["get", "jobs,pods,configmaps,secrets", "--all-namespaces"])
        .args(["-l", "kscen.dev/run", "-o", "name"])
        .env("KUBECONFIG", kubeconfig)
        .output()
        .expect("kubectl runs");
    assert!(listed.status.success(), "{listed:?}");
    String::from_utf8_lossy(&listed.stdout).trim().to_string()
}

/// The lab's profile and the cluster's kubeconfig `cargo xtask test` started them with.
fn lab_and_cluster() -> Option<(PathBuf, PathBuf)> {
    let profile = lab_profile_from("KSCEN_LAB_PROFILE", "lab")?;
    let kubeconfig = lab_profile_from("KSCEN_K8S_KUBECONFIG", "local Kubernetes")?;
    Some((profile, kubeconfig))
}

fn topic(what: &str) -> String {
    format!("kscen-k8s-{what}-{}", std::process::id())
}

#[test]
fn four_pods_run_a_tracked_scenario_and_merge_into_one_passing_verdict() {
    let Some((profile, kubeconfig)) = lab_and_cluster() else {
        return;
    };
    let _one_at_a_time = CLUSTER.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let output = k8s_run(dir.path(), &kubeconfig, &profile, &topic("tracked"), 8);
    assert_eq!(output.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("[shard 0] "), "shard 0's log streamed");

    assert_the_four_shards_replicated_every_record(&dir.path().join("merged.json"));
    assert_eq!(left_in_the_cluster(&kubeconfig), "");
}

/// The merged result at `path`: 4 shards, the nominal phase's records all sent and replicated,
/// nothing lost, every threshold passed.
fn assert_the_four_shards_replicated_every_record(path: &Path) {
    let merged: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert_eq!(merged["shard"]["count"], 4);
    let nominal = merged["phases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "nominal")
        .unwrap();
    assert_eq!(u64_of(&nominal["sent"]), RECORDS);
    assert_eq!(u64_of(&nominal["replicated_us"]["count"]), RECORDS);
    for job in merged["replication"].as_array().unwrap() {
        assert_eq!(u64_of(&job["lost"]), 0, "{job}");
    }
    for threshold in merged["thresholds"].as_array().unwrap() {
        assert_eq!(threshold["verdict"], "passed", "{threshold}");
    }
}

#[test]
fn a_shard_that_fails_fails_the_run_and_is_named() {
    let Some((profile, kubeconfig)) = lab_and_cluster() else {
        return;
    };
    let _one_at_a_time = CLUSTER.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    // 3 partitions for 4 shards: shard 3 owns none, and its tracked load cannot start.
    let output = k8s_run(dir.path(), &kubeconfig, &profile, &topic("short"), 3);
    assert_eq!(
        output.status.code(),
        Some(3),
        "the plugin failed on a shard"
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("failed shards: 3"), "{stderr}");
    assert!(
        stderr.contains("shard 3: ") && stderr.contains("shard 3/4 owns no partition"),
        "{stderr}"
    );
    assert_eq!(left_in_the_cluster(&kubeconfig), "");
}

/// The pods run a scenario the image does not hold: a signed pack pushed to a registry (a real
/// one, on the node's loopback), pinned by its digest; each pod pulls it and checks its signature
/// against the key `kscen k8s run` gave it from this machine's trust store.
#[test]
fn shards_pull_a_signed_pack_by_digest_and_run_its_scenario() {
    let Some((profile, kubeconfig)) = lab_and_cluster() else {
        return;
    };
    let _one_at_a_time = CLUSTER.lock().unwrap_or_else(|e| e.into_inner());
    let registry = Registry::start().expect("docker-registry is installed where the cluster runs");
    let world = Sandbox::new();
    std::fs::write(world.path("tracked.toml"), SCENARIO).unwrap();
    world.ok(&["pack", "keygen", "--out", "keys", "--name", "acme"]);
    world.ok(&["pack", "trust", "add", "acme", "keys/acme.pub"]);
    world.build_pack("tracked.toml", Some("acme"));
    let digest = registry.push(&world, "acme/load");
    let pinned = format!("{}/acme/load@{digest}/tracked", registry.address);

    let command = world.command(&["k8s", "run", &pinned, "--plain-http"]);
    let output = k8s_run_with(
        command,
        world.dir.path(),
        &kubeconfig,
        &profile,
        &topic("pinned"),
        8,
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("[shard 0] pulled pack acme@1.0.0") && stderr.contains("signed by acme"),
        "shard 0 pulled and checked the pack itself: {stderr}"
    );
    assert_the_four_shards_replicated_every_record(&world.path("merged.json"));
    assert_eq!(left_in_the_cluster(&kubeconfig), "");
}
