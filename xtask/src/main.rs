//! Project tasks: `cargo xtask build-plugins | demo | test`.

mod bench;
mod lab;
mod report_tools;

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

const USAGE: &str = "usage: cargo xtask <task>

tasks:
  build-plugins   build the scenario plugins for wasm32-wasip2 into plugins/dist/
  demo            build everything and run the ramp-up scenario on the embedded cluster
  test            build everything, bring the lab up, run every test, tear the lab down
  report-tools    install mermaid-cli (for the report tests) into a cache folder
  bench           kscen vs kafka-producer-perf-test vs a bare rdkafka loop (docs/bench.md)";

/// The plugins the host bundles (test fixtures included: the host tests load them).
const PLUGINS: &[&str] = &[
    "steady",
    "ramp-up",
    "burst",
    "size-sweep",
    "e2e-latency",
    "catch-up",
    "endurance",
    "consistency",
    "worker-kill",
    "connector-restart",
    "connectivity-loss",
    "config-change",
    "task-failure",
    "misbehave",
    "bench-produce",
    "legacy-v0-1",
    "declared-topics",
    "custom-histograms",
];
const WASM_TARGET: &str = "wasm32-wasip2";

fn main() -> Result<()> {
    let task = std::env::args().nth(1).unwrap_or_default();
    let root = workspace_root();
    std::env::set_current_dir(&root)?;
    match task.as_str() {
        "build-plugins" => build_plugins(&root),
        "demo" => demo(&root),
        "test" => test(&root),
        "bench" => bench::run(&root, &std::env::args().skip(2).collect::<Vec<_>>()),
        "report-tools" => {
            let mmdc = report_tools::install_mermaid_cli(&report_tools::cache_dir())?;
            eprintln!("mermaid-cli: {}", mmdc.display());
            Ok(())
        }
        _ => {
            eprintln!("{USAGE}");
            bail!("unknown task {task:?}")
        }
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask sits in the workspace")
        .to_path_buf()
}

fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from)
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

fn ensure_wasm_target() -> Result<()> {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output();
    match installed {
        Ok(out)
            if String::from_utf8_lossy(&out.stdout)
                .lines()
                .any(|l| l.trim() == WASM_TARGET) =>
        {
            Ok(())
        }
        Ok(_) => run(Command::new("rustup").args(["target", "add", WASM_TARGET])),
        Err(_) => {
            eprintln!("rustup not found: assuming the {WASM_TARGET} target is installed");
            Ok(())
        }
    }
}

fn build_plugins(root: &Path) -> Result<()> {
    ensure_wasm_target()?;
    run(cargo()
        .args([
            "build",
            "--release",
            "--target",
            WASM_TARGET,
            "--manifest-path",
        ])
        .arg(root.join("plugins").join("Cargo.toml")))?;
    let built = target_dir(root).join(WASM_TARGET).join("release");
    let dist = root.join("plugins").join("dist");
    std::fs::create_dir_all(&dist)?;
    for plugin in PLUGINS {
        let from = built.join(format!("{}.wasm", plugin.replace('-', "_")));
        let to = dist.join(format!("{plugin}.wasm"));
        std::fs::copy(&from, &to)
            .with_context(|| format!("copying {} to {}", from.display(), to.display()))?;
    }
    eprintln!("plugins in {}", dist.display());
    Ok(())
}

fn kscen_binary(root: &Path) -> PathBuf {
    target_dir(root).join("debug").join("kscen")
}

fn demo(root: &Path) -> Result<()> {
    build_plugins(root)?;
    run(cargo().args(["build", "-p", "kscen"]))?;
    let result = target_dir(root).join("demo").join("perf-02-ramp-up.json");
    // The seeds' one-hour plan at 0.5 % of real time: six phases of 3 s each.
    run(Command::new(kscen_binary(root))
        .args([
            "run",
            "scenarios/perf-02-ramp-up.toml",
            "--set",
            "time_scale=0.005",
            "--json",
        ])
        .arg(result))
}

fn test(root: &Path) -> Result<()> {
    build_plugins(root)?;
    run(cargo().args(["build", "--workspace", "--all-targets"]))?;
    let kscen = kscen_binary(root);
    lab::with_lab(&kscen, &lab::PLAIN, |profile| {
        let mut command = cargo();
        // The secure lab's tests run next, against a lab of their own.
        command.args(["test", "--workspace", "--", "--skip", SECURE_LAB_TESTS]);
        match profile {
            Some(profile) => command.env("KSCEN_LAB_PROFILE", profile),
            None => command.env_remove("KSCEN_LAB_PROFILE"),
        };
        run(&mut command)
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
        match profile {
            Some(profile) => command.env("KSCEN_SECURE_LAB_PROFILE", profile),
            None => command.env_remove("KSCEN_SECURE_LAB_PROFILE"),
        };
        run(&mut command)
    })
}

/// The name prefix of the tests in host/tests/secure_lab.rs.
const SECURE_LAB_TESTS: &str = "secure_lab_";
