//! Project tasks: `cargo xtask build-plugins | demo | test | install | dist | bench | report-tools`,
//! and the local Kubernetes harness's `k8s-*` (docs/k8s-harness.md).

mod bench;
mod bundle;
mod dist;
mod freshness;
mod js;
mod k8s;
mod lab;
mod plugins;
mod python;
#[cfg(test)]
mod readme_layout;
mod report_tools;
mod workspace;

use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::workspace::Workspace;

const USAGE: &str = "usage: cargo xtask <task>

tasks:
  build-plugins   build the scenario plugins (Rust, Python, JavaScript) into plugins/dist/
  demo            build everything and run the ramp-up scenario on the embedded cluster
  test            build everything, bring the lab up, run every test, tear the lab down
  install         install an optimised kscen with its plugins, scenarios and SDK
                  [--root DIR] (default: where `cargo install` puts binaries, ~/.cargo)
  dist            the release archive: binary, plugins, scenarios, SDK, checksums
                  [--check] unpacks it elsewhere and runs a scenario with it
  paths           the checkout and the target folders this xtask works on
  report-tools    install mermaid-cli (for the report tests) into a cache folder
  bench           kscen vs kafka-producer-perf-test vs a bare rdkafka loop (docs/bench.md)";

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (task, rest) = args
        .split_first()
        .map_or(("", &[][..]), |(t, r)| (t.as_str(), r));
    if task.is_empty() || task == "help" || task == "--help" {
        println!("{USAGE}\n{}", k8s::USAGE);
        return Ok(());
    }
    let workspace = Workspace::find()?;
    std::env::set_current_dir(&workspace.root)?;
    match task {
        "build-plugins" => build_plugins(&workspace),
        "demo" => demo(&workspace),
        "test" => test(&workspace),
        "install" => bundle::install(&workspace, rest),
        "dist" => dist::run(&workspace, rest),
        "paths" => {
            println!("checkout        {}", workspace.root.display());
            println!("host target     {}", workspace.target.display());
            println!("plugins target  {}", workspace.plugins_target.display());
            Ok(())
        }
        "bench" => bench::run(&workspace, rest),
        "k8s-build" | "k8s-up" | "k8s-down" | "k8s-image" | "k8s-smoke" => {
            k8s::run(&workspace, task, rest)
        }
        "report-tools" => {
            let mmdc = report_tools::install_mermaid_cli(&report_tools::cache_dir())?;
            eprintln!("mermaid-cli: {}", mmdc.display());
            Ok(())
        }
        _ => {
            eprintln!("{USAGE}\n{}", k8s::USAGE);
            bail!("unknown task {task:?}")
        }
    }
}

fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

fn run(command: &mut Command) -> Result<()> {
    let status = command
        .status()
        .with_context(|| format!("cannot run {command:?}"))?;
    if !status.success() {
        bail!("{command:?} failed ({status})");
    }
    Ok(())
}

fn demo(workspace: &Workspace) -> Result<()> {
    plugins::build(workspace)?;
    run(cargo().args(["build", "-p", "kscen"]))?;
    let result = workspace.target.join("demo").join("perf-02-ramp-up.json");
    // The seeds' one-hour plan at 0.5 % of real time: six phases of 3 s each.
    run(Command::new(workspace.binary("debug", "kscen"))
        .args([
            "run",
            "scenarios/perf-02-ramp-up.toml",
            "--set",
            "time_scale=0.005",
            "--json",
        ])
        .arg(result))?;
    eprintln!(
        "\nThat was a debug build. For real load, install the optimised one: cargo xtask install"
    );
    Ok(())
}

/// Every scenario plugin: the Rust ones, then those written in Python and JavaScript.
fn build_plugins(workspace: &Workspace) -> Result<()> {
    plugins::build(workspace)?;
    python::build_plugins(workspace)?;
    js::build_plugins(workspace)
}

fn test(workspace: &Workspace) -> Result<()> {
    // The Kubernetes tests come last: their cluster's build (~11 min of CPU the first time) runs
    // meanwhile on what the lab tests leave idle.
    let _kubernetes_build = k8s::build_in_background(workspace)?;
    build_plugins(workspace)?;
    run(cargo().args(["build", "--workspace", "--all-targets"]))?;
    let kscen = workspace.binary("debug", "kscen");
    // The other crates' tests need no lab.
    run(cargo().args(["test", "--workspace", "--exclude", "kscen"]))?;
    run(cargo().args(["test", "-p", "kscen", "--doc"]))?;
    let plain_lab_tests: Vec<String> = kscen_test_targets(workspace)?
        .into_iter()
        .filter(|t| {
            !MM2_LAB_TESTS.contains(&t.as_str())
                && ![
                    MM2_SCENARIOS_LAB_TESTS,
                    SEEDS_LAB_TESTS,
                    BROKERS_LAB_TESTS,
                    UPGRADE_LAB_TESTS,
                    K8S_LAB_TESTS,
                ]
                .contains(&t.as_str())
        })
        .collect();
    lab::with_lab(&kscen, &lab::PLAIN, |profile| {
        let mut command = cargo();
        command.args(["test", "-p", "kscen", "--lib", "--bins"]);
        for target in &plain_lab_tests {
            command.args(["--test", target]);
        }
        // The secure lab's tests run next, against a lab of their own.
        command.args(["--", "--skip", SECURE_LAB_TESTS]);
        run(with_profile(&mut command, "KSCEN_LAB_PROFILE", profile))
    })?;
    lab::with_lab(&kscen, &lab::SECURE, |profile| {
        let mut command = cargo();
        command.args([
            "test",
            "-p",
            "kscen",
            "--test",
            "secure_lab",
            "--",
            SECURE_LAB_TESTS,
        ]);
        run(with_profile(
            &mut command,
            "KSCEN_SECURE_LAB_PROFILE",
            profile,
        ))
    })?;
    lab::with_lab(&kscen, &lab::SEEDS, |profile| {
        let mut command = cargo();
        command.args(["test", "-p", "kscen", "--test", SEEDS_LAB_TESTS]);
        run(with_profile(
            &mut command,
            "KSCEN_SEEDS_LAB_PROFILE",
            profile,
        ))
    })?;
    lab::with_lab(&kscen, &lab::UPGRADE_FROM_KAFKA_3_9, |profile| {
        let mut command = cargo();
        command.args(["test", "-p", "kscen", "--test", UPGRADE_LAB_TESTS]);
        run(with_profile(&mut command, "KSCEN_LAB_PROFILE", profile))
    })?;
    // Each MM2 scenario runs on one Kafka version: the seeds' plan, endurance and the grants on
    // the seeds' 3.x; consumer groups, what MM2 does with their offsets and the replication
    // measures on the newest 4.x, where the consumer and group coordinator changed (a consume bug
    // and a DR bug showed on 4.3.1 only). The deployment and group suites run on both; the broker
    // kill (minutes) and the Kubernetes Job on the newest only.
    mm2_lab(&kscen, &lab::MM2_KAFKA_3, Scenarios::Skip, |_| Ok(()))?;
    mm2_lab(&kscen, &lab::MM2_KAFKA_4, Scenarios::Only, |profile| {
        let mut command = cargo();
        command.args(["test", "-p", "kscen", "--test", BROKERS_LAB_TESTS]);
        run(with_profile(&mut command, "KSCEN_LAB_PROFILE", profile))?;
        // Sharded runs as a Kubernetes Job: its pods load this lab through their node's network.
        k8s::with_cluster(workspace, |kubeconfig| {
            let mut command = cargo();
            command.args(["test", "-p", "kscen", "--test", K8S_LAB_TESTS]);
            with_profile(&mut command, "KSCEN_LAB_PROFILE", profile);
            run(with_profile(
                &mut command,
                "KSCEN_K8S_KUBECONFIG",
                kubeconfig,
            ))
        })
    })?;
    // What a user downloads: the release archive, unpacked elsewhere, runs a scenario.
    dist::build_and_check(workspace)
}

/// An MM2 lab's suites: deployment and groups, the MM2 scenarios `scenarios` picks among
/// VERSION_SENSITIVE_MM2_SCENARIOS, then `more` on the same lab.
fn mm2_lab(
    kscen: &Path,
    mm2_lab: &lab::TestLab,
    scenarios: Scenarios,
    more: impl FnOnce(Option<&Path>) -> Result<()>,
) -> Result<()> {
    lab::with_lab(kscen, mm2_lab, |profile| {
        let mut command = cargo();
        command.args(["test", "-p", "kscen"]);
        for target in MM2_LAB_TESTS {
            command.args(["--test", target]);
        }
        run(with_profile(&mut command, "KSCEN_LAB_PROFILE", profile))?;
        let mut command = cargo();
        command.args(["test", "-p", "kscen", "--test", MM2_SCENARIOS_LAB_TESTS]);
        command.arg("--");
        match scenarios {
            Scenarios::Only => command.args(VERSION_SENSITIVE_MM2_SCENARIOS),
            Scenarios::Skip => command.args(
                VERSION_SENSITIVE_MM2_SCENARIOS
                    .iter()
                    .flat_map(|n| ["--skip", n]),
            ),
        };
        run(with_profile(&mut command, "KSCEN_LAB_PROFILE", profile))?;
        more(profile)
    })
}

/// Points the tests at the lab's profile through `variable`, or unsets it when the lab could not
/// start locally (the tests then say they are skipped).
fn with_profile<'a>(
    command: &'a mut Command,
    variable: &str,
    profile: Option<&Path>,
) -> &'a mut Command {
    match profile {
        Some(profile) => command.env(variable, profile),
        None => command.env_remove(variable),
    }
}

/// The kscen crate's integration test targets: Cargo makes one of each `host/tests/*.rs`.
fn kscen_test_targets(workspace: &Workspace) -> Result<Vec<String>> {
    let dir = workspace.root.join("host").join("tests");
    let mut targets = Vec::new();
    for entry in std::fs::read_dir(&dir).with_context(|| format!("listing {}", dir.display()))? {
        let path = entry
            .with_context(|| format!("listing {}", dir.display()))?
            .path();
        if path.extension().is_some_and(|e| e == "rs") {
            if let Some(stem) = path.file_stem().and_then(|s| s.to_str()) {
                targets.push(stem.to_string());
            }
        }
    }
    targets.sort();
    Ok(targets)
}

/// The name prefix of the tests in host/tests/secure_lab.rs.
const SECURE_LAB_TESTS: &str = "secure_lab_";

/// The test target that runs on lab::SEEDS (seed 003's connectors, the seeds' worker timers).
const SEEDS_LAB_TESTS: &str = "seeds_lab";

/// The broker kill: on the newest 3-broker MM2 lab only.
const BROKERS_LAB_TESTS: &str = "brokers_lab";

/// The rolling upgrade of a 3.9 lab's source cluster to 4.3, on a lab of its own.
const UPGRADE_LAB_TESTS: &str = "upgrade_lab";

/// The MirrorMaker 2 suites: they run on the 3-broker labs whose connectors come from a config
/// file (lab::MM2_KAFKA_3, lab::MM2_KAFKA_4), not on the plain lab. The scenarios run after the
/// others, some of them on one lab only.
const MM2_LAB_TESTS: [&str; 2] = ["deployment_lab", "groups_lab"];
const MM2_SCENARIOS_LAB_TESTS: &str = "mm2_scenarios_lab";
/// Against the newest MM2 lab and the local Kubernetes (`k8s::with_cluster`).
const K8S_LAB_TESTS: &str = "k8s_lab";

/// The MM2 scenarios (test-name filters in host/tests/mm2_scenarios_lab.rs) that run on the newest
/// Kafka: consumer groups and what MM2 does with their offsets, where 4.x changed the consumer and
/// group coordinator, and the replication measures. The 3.x lab runs every other one: the seeds'
/// plan (whose steps measure replicated latency and 9.1 consistency on 3.x too), endurance, the
/// grants; Connect's rebalance protocol under those faults is the same in both versions.
const VERSION_SENSITIVE_MM2_SCENARIOS: &[&str] = &[
    "e2e_latency",
    "consistency",
    "dr_failover",
    "topic_migration",
    "offset_translation",
    "consumer_perf",
];

/// Which MM2 scenario tests a lab runs: VERSION_SENSITIVE_MM2_SCENARIOS, or all the others.
enum Scenarios {
    Only,
    Skip,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A filter that matches no test would silently run nothing on the 4.x lab.
    #[test]
    fn every_scenario_filter_matches_an_mm2_scenario_test() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let file = root.join(format!("host/tests/{MM2_SCENARIOS_LAB_TESTS}.rs"));
        let source = std::fs::read_to_string(&file).unwrap();
        let tests: Vec<&str> = source
            .split("#[test]\nfn ")
            .skip(1)
            .filter_map(|rest| rest.split('(').next())
            .collect();
        assert!(
            tests.len() > VERSION_SENSITIVE_MM2_SCENARIOS.len(),
            "{tests:?}"
        );
        for filter in VERSION_SENSITIVE_MM2_SCENARIOS {
            let matching = tests.iter().filter(|t| t.contains(filter)).count();
            assert!(
                matching >= 1,
                "{filter} matches no test of {}",
                file.display()
            );
        }
    }
}
