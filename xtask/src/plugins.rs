//! The scenario plugins: built for wasm32-wasip2 from their own workspace, gathered in
//! `plugins/dist/` where kscen and the tests find them.

use std::process::Command;

use anyhow::{Context, Result};

use crate::workspace::Workspace;

/// The plugins the bundled scenarios use: installed and shipped in the release archive.
pub const BUNDLED: &[&str] = &[
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
    "consumer-perf",
    "dr-failover",
    "topic-migration",
    "offset-translation",
    "broker-faults",
];

/// Test fixtures and the bench's plugins: built for the tests, never shipped.
const FIXTURES: &[&str] = &[
    "misbehave",
    "bench-produce",
    "bench-consume",
    "legacy-v0-1",
    "declared-topics",
    "custom-histograms",
];

const WASM_TARGET: &str = "wasm32-wasip2";

/// Builds every plugin (release) and copies them to `plugins/dist/<name>.wasm`.
pub fn build(workspace: &Workspace) -> Result<()> {
    ensure_wasm_target()?;
    crate::run(
        crate::cargo()
            .args([
                "build",
                "--release",
                "--target",
                WASM_TARGET,
                "--manifest-path",
            ])
            .arg(workspace.root.join("plugins").join("Cargo.toml")),
    )?;
    let built = workspace.plugins_target.join(WASM_TARGET).join("release");
    let dist = workspace.plugin_dist();
    std::fs::create_dir_all(&dist).with_context(|| format!("creating {}", dist.display()))?;
    for plugin in BUNDLED.iter().chain(FIXTURES) {
        let from = built.join(format!("{}.wasm", plugin.replace('-', "_")));
        let to = dist.join(format!("{plugin}.wasm"));
        std::fs::copy(&from, &to)
            .with_context(|| format!("copying {} to {}", from.display(), to.display()))?;
    }
    eprintln!("plugins in {}", dist.display());
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
        Ok(_) => crate::run(Command::new("rustup").args(["target", "add", WASM_TARGET])),
        Err(_) => {
            eprintln!("rustup not found: assuming the {WASM_TARGET} target is installed");
            Ok(())
        }
    }
}
