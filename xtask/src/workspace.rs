//! The checkout `cargo xtask` was invoked in, and where cargo puts each of its workspaces' output.
//!
//! Both are asked of cargo at run time. The root is never taken from where xtask was compiled: one
//! `CARGO_TARGET_DIR` shared by two clones keeps one xtask binary, built in whichever clone came
//! first, and a compile-time root would make the other clone build and test the first one's code.
//! Output folders are never assumed either: `plugins/` is a workspace of its own, so without
//! `CARGO_TARGET_DIR` its wasm lands in `plugins/target/`, with it beside the host's.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, ensure, Context, Result};

pub struct Workspace {
    /// The checkout: the workspace holding `xtask/` and `plugins/`.
    pub root: PathBuf,
    /// The host workspace's target folder (kscen, xtask, the bench tools).
    pub target: PathBuf,
    /// The plugins workspace's target folder.
    pub plugins_target: PathBuf,
    /// The version of the kscen crate in this checkout.
    pub version: String,
}

impl Workspace {
    /// The kscen checkout around the current directory.
    pub fn find() -> Result<Workspace> {
        let located = output(
            crate::cargo().args(["locate-project", "--workspace", "--message-format", "plain"]),
        )
        .context("cannot find the Cargo workspace of the current directory: run `cargo xtask` inside a kscen checkout")?;
        let manifest = PathBuf::from(located.trim());
        let root = manifest
            .parent()
            .context("cargo locate-project answered a manifest without a folder")?
            .to_path_buf();
        ensure!(
            root.join("xtask").join("Cargo.toml").is_file()
                && root.join("plugins").join("Cargo.toml").is_file(),
            "{} is not a kscen checkout (no xtask/ and plugins/ beside its Cargo.toml): run `cargo xtask` \
             from the kscen repository",
            root.display()
        );
        let host_metadata = metadata(&manifest)?;
        let plugins_metadata = metadata(&root.join("plugins").join("Cargo.toml"))?;
        Ok(Workspace {
            target: target_directory(&host_metadata, &manifest)?,
            plugins_target: target_directory(&plugins_metadata, &root.join("plugins"))?,
            version: kscen_version(&host_metadata, &manifest)?,
            root,
        })
    }

    /// A binary of the host workspace built in `profile` (`debug`, `release`).
    pub fn binary(&self, profile: &str, name: &str) -> PathBuf {
        self.target.join(profile).join(name)
    }

    pub fn plugin_dist(&self) -> PathBuf {
        self.root.join("plugins").join("dist")
    }
}

/// `cargo metadata` of the workspace of `manifest`, without dependencies (no network, no lock).
fn metadata(manifest: &Path) -> Result<serde_json::Value> {
    let json = output(
        crate::cargo()
            .args([
                "metadata",
                "--format-version",
                "1",
                "--no-deps",
                "--manifest-path",
            ])
            .arg(manifest),
    )?;
    serde_json::from_str(&json)
        .with_context(|| format!("cargo metadata of {} is not JSON", manifest.display()))
}

/// Where cargo puts the workspace's output (`CARGO_TARGET_DIR`, `build.target-dir` and the
/// default all taken into account).
fn target_directory(metadata: &serde_json::Value, manifest: &Path) -> Result<PathBuf> {
    match metadata["target_directory"].as_str() {
        Some(dir) => Ok(PathBuf::from(dir)),
        None => bail!(
            "cargo metadata of {} has no target_directory",
            manifest.display()
        ),
    }
}

fn kscen_version(metadata: &serde_json::Value, manifest: &Path) -> Result<String> {
    metadata["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|package| package["name"] == "kscen")
        .and_then(|package| package["version"].as_str())
        .map(str::to_string)
        .with_context(|| {
            format!(
                "no kscen package in the workspace of {}",
                manifest.display()
            )
        })
}

fn output(command: &mut Command) -> Result<String> {
    let out = command
        .output()
        .with_context(|| format!("cannot run {command:?}"))?;
    if !out.status.success() {
        bail!(
            "{command:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8(out.stdout)?)
}
