//! Project tasks: `cargo xtask build-plugins | demo | test | install | dist | bench | report-tools`.

mod bench;
mod bundle;
mod dist;
mod lab;
mod plugins;
mod report_tools;
mod workspace;

use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::workspace::Workspace;

const USAGE: &str = "usage: cargo xtask <task>

tasks:
  build-plugins   build the scenario plugins for wasm32-wasip2 into plugins/dist/
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
        println!("{USAGE}");
        return Ok(());
    }
    let workspace = Workspace::find()?;
    std::env::set_current_dir(&workspace.root)?;
    match task {
        "build-plugins" => plugins::build(&workspace),
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

fn test(workspace: &Workspace) -> Result<()> {
    plugins::build(workspace)?;
    run(cargo().args(["build", "--workspace", "--all-targets"]))?;
    let kscen = workspace.binary("debug", "kscen");
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
    })?;
    // What a user downloads: the release archive, unpacked elsewhere, runs a scenario.
    dist::build_and_check(workspace)
}

/// The name prefix of the tests in host/tests/secure_lab.rs.
const SECURE_LAB_TESTS: &str = "secure_lab_";
