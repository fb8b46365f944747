//! Scenario plugins written in JavaScript (issue 19): built into `plugins/dist/` beside the Rust
//! ones.
//!
//! Convention: a folder `plugins/<name>-js/` holding `scenario.js` (an ES module importing
//! `kscen-sdk`) becomes `plugins/dist/<name>-js.wasm`. Each one is bundled with the SDK by esbuild
//! and compiled by ComponentizeJS against `wit/scenario@0.5.0`; `sdk/js/build.mjs` does both.
//!
//! Only Node 20 and npm are needed: the SDK's pinned tools (ComponentizeJS, jco, esbuild) are
//! installed by `npm ci` into `sdk/js/node_modules` whenever it is missing or older than
//! `sdk/js/package-lock.json`, and the TypeScript types of the WIT imports are generated then
//! into `sdk/js/types/generated/` (for editors; not committed). A plugin is rebuilt when its
//! `.wasm` is older than its `scenario.js`, the SDK, the lock file or the WIT.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};

use crate::freshness::up_to_date;
use crate::workspace::Workspace;

/// A folder of `plugins/` holding a JavaScript scenario ends with this.
const SUFFIX: &str = "-js";
const ENTRY: &str = "scenario.js";
const WIT: &str = "wit/scenario@0.5.0";

/// Builds every JavaScript scenario plugin into `plugins/dist/`.
pub fn build_plugins(workspace: &Workspace) -> Result<()> {
    let plugins = js_plugins(&workspace.root.join("plugins"))?;
    if plugins.is_empty() {
        return Ok(());
    }
    let sdk = workspace.root.join("sdk").join("js");
    install_tools(&workspace.root, &sdk)?;
    let dist = workspace.plugin_dist();
    let work = workspace.target.join("js-plugins");
    let sdk_inputs = [
        sdk.join("src"),
        sdk.join("build.mjs"),
        lock_file(&sdk),
        workspace.root.join(WIT),
    ];
    for (name, entry) in &plugins {
        let wasm = dist.join(format!("{name}.wasm"));
        let inputs: Vec<&Path> = sdk_inputs
            .iter()
            .map(PathBuf::as_path)
            .chain([entry.as_path()])
            .collect();
        if up_to_date(&wasm, &inputs)? {
            continue;
        }
        crate::run(
            node()
                .arg(sdk.join("build.mjs"))
                .arg(entry)
                .arg(&wasm)
                .arg(&work),
        )
        .with_context(|| format!("building the JavaScript plugin plugins/{name}/{ENTRY}"))?;
    }
    eprintln!("JavaScript plugins in {}", dist.display());
    Ok(())
}

/// `(name, plugins/<name>/scenario.js)` of every `plugins/*-js/` folder, by name.
fn js_plugins(plugins: &Path) -> Result<Vec<(String, PathBuf)>> {
    let mut found = Vec::new();
    for dir in
        std::fs::read_dir(plugins).with_context(|| format!("reading {}", plugins.display()))?
    {
        let dir = dir.with_context(|| format!("reading {}", plugins.display()))?;
        let name = dir.file_name().to_string_lossy().into_owned();
        let entry = dir.path().join(ENTRY);
        if name.ends_with(SUFFIX) && entry.is_file() {
            found.push((name, entry));
        }
    }
    found.sort();
    Ok(found)
}

/// `npm ci` in `sdk/js` unless its node_modules is as recent as the lock file, then the types.
fn install_tools(root: &Path, sdk: &Path) -> Result<()> {
    // npm writes this file last when it installs: it dates the installed tree.
    let installed = sdk.join("node_modules").join(".package-lock.json");
    if up_to_date(&installed, &[&lock_file(sdk)])? && sdk.join("types").join("generated").is_dir() {
        return Ok(());
    }
    let status = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(sdk)
        .status()
        .context("cannot run npm (Node 20 and npm are needed to build the JavaScript plugins)")?;
    anyhow::ensure!(
        status.success(),
        "npm ci in {} failed: {status}",
        sdk.display()
    );
    // jco reads the WIT through a sandboxed file system rooted at the current folder: relative.
    crate::run(
        Command::new(sdk.join("node_modules/.bin/jco"))
            .args(["guest-types", WIT, "--world-name", "scenario", "-o"])
            .arg(sdk.join("types").join("generated"))
            .current_dir(root),
    )
    .context("generating the TypeScript types of the WIT world into sdk/js/types/generated")
}

fn node() -> Command {
    Command::new("node")
}

fn lock_file(sdk: &Path) -> PathBuf {
    sdk.join("package-lock.json")
}
