//! Scenario plugins written in Python (issue 19): built into `plugins/dist/` beside the Rust ones.
//!
//! Convention: a folder `plugins/<name>-py/` holding `scenario.py`, whose module defines `WitWorld`
//! (`WitWorld = kscen_sdk.export(MyScenario)`), becomes `plugins/dist/<name>-py.wasm`; the
//! folder may hold other modules the scenario imports. The SDK, `sdk/python/kscen_sdk`, is on the
//! module path, and componentize-py generates the `wit_world` bindings it wraps from
//! `wit/scenario@0.5.0` at each build (they are not committed).
//!
//! componentize-py itself is installed, at the pinned version, into a virtualenv under the host's
//! target folder (`<target>/guest-tools/python-venv`, reused while it holds that version): a
//! fresh machine needs only `python3` with its `venv` module. A plugin is rebuilt only when its
//! folder, the SDK or the WIT changed since its `.wasm` was written.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::workspace::Workspace;

/// The componentize-py version the Python plugins are known to build and run with.
const COMPONENTIZE_PY_VERSION: &str = "0.25.1";

/// The WIT world the plugins are built against (the one the Rust SDK implements).
const WIT_DIR: &str = "wit/scenario@0.5.0";
const WORLD: &str = "scenario";

/// The module of a plugin's folder that defines `WitWorld`.
const APP_MODULE: &str = "scenario";

/// Builds every Python scenario plugin into `plugins/dist/`.
pub fn build_plugins(workspace: &Workspace) -> Result<()> {
    let plugins = python_plugins(&workspace.root.join("plugins"))?;
    if plugins.is_empty() {
        return Ok(());
    }
    let componentize_py = install_componentize_py(&workspace.target.join("guest-tools"))?;
    let sdk = workspace.root.join("sdk").join("python");
    let wit = workspace.root.join(WIT_DIR);
    let dist = workspace.plugin_dist();
    std::fs::create_dir_all(&dist).with_context(|| format!("creating {}", dist.display()))?;
    for (name, folder) in &plugins {
        let out = dist.join(format!("{name}.wasm"));
        if crate::freshness::up_to_date(&out, &[folder, &sdk, &wit, &componentize_py])? {
            continue;
        }
        eprintln!("building Python plugin {name}");
        let status = Command::new(&componentize_py)
            .arg("-d")
            .arg(&wit)
            .args(["-w", WORLD, "componentize", APP_MODULE, "-p"])
            .arg(folder)
            .arg("-p")
            .arg(&sdk)
            .arg("-o")
            .arg(&out)
            .status()
            .with_context(|| format!("cannot run {}", componentize_py.display()))?;
        if !status.success() {
            // A half-written component must not pass for a fresh one at the next build.
            let _ = std::fs::remove_file(&out);
            bail!(
                "Python plugin {name} ({}) did not build ({status}): see componentize-py's message above",
                folder.join(format!("{APP_MODULE}.py")).display()
            );
        }
    }
    eprintln!("Python plugins in {}", dist.display());
    Ok(())
}

/// The folders `plugins/<name>-py/`, by name, sorted.
fn python_plugins(plugins: &Path) -> Result<Vec<(String, PathBuf)>> {
    let entries =
        std::fs::read_dir(plugins).with_context(|| format!("reading {}", plugins.display()))?;
    let mut found = Vec::new();
    for entry in entries {
        let entry = entry.with_context(|| format!("reading {}", plugins.display()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.ends_with("-py") || !entry.path().is_dir() {
            continue;
        }
        if !entry.path().join(format!("{APP_MODULE}.py")).is_file() {
            bail!(
                "{} has no {APP_MODULE}.py: a Python plugin's folder holds the module that defines WitWorld",
                entry.path().display()
            );
        }
        found.push((name, entry.path()));
    }
    found.sort();
    Ok(found)
}

/// componentize-py at the pinned version, in a virtualenv under `tools` (made unless there).
fn install_componentize_py(tools: &Path) -> Result<PathBuf> {
    let venv = tools.join("python-venv");
    let executable = venv.join("bin").join("componentize-py");
    if installed_version(&executable).as_deref() == Some(COMPONENTIZE_PY_VERSION) {
        return Ok(executable);
    }
    std::fs::create_dir_all(tools).with_context(|| format!("creating {}", tools.display()))?;
    if !venv.join("bin").join("pip").is_file() {
        crate::run(Command::new("python3").arg("-m").arg("venv").arg(&venv)).context(
            "Python plugins need python3 (3.10 or later) with its venv module \
             (Debian/Ubuntu: apt-get install python3-venv)",
        )?;
    }
    let requirement = format!("componentize-py=={COMPONENTIZE_PY_VERSION}");
    crate::run(
        Command::new(venv.join("bin").join("pip"))
            .args(["install", "--disable-pip-version-check", "--quiet"])
            .arg(&requirement),
    )
    .with_context(|| format!("installing {requirement} into {}", venv.display()))?;
    match installed_version(&executable) {
        Some(version) if version == COMPONENTIZE_PY_VERSION => Ok(executable),
        other => bail!(
            "pip installed {requirement} into {} but {} reports version {other:?}",
            venv.display(),
            executable.display()
        ),
    }
}

/// What `componentize-py --version` says (`componentize-py 0.25.1`), without the name.
fn installed_version(executable: &Path) -> Option<String> {
    let output = Command::new(executable).arg("--version").output().ok()?;
    let text = String::from_utf8_lossy(&output.stdout);
    Some(text.split_whitespace().last()?.to_string())
}
