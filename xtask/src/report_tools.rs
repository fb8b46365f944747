//! The tools the report tests use, installed outside the repository: mermaid-cli (`mmdc`, to
//! render every Mermaid block of a generated report) from the npm registry into a cache folder.
//! Chromium is a system package (`apt-get install -y chromium`); mmdc drives it through
//! puppeteer-core, so puppeteer's own browser download is skipped.
//!
//! `cargo xtask report-tools` installs it; the report tests find the same folder
//! (`KSCEN_REPORT_TOOLS`, else `$HOME/.cache/kscen/report-tools`).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

/// The mermaid-cli version the tests are known to pass with.
pub const MERMAID_CLI: &str = "@mermaid-js/mermaid-cli@11.17.0";

/// `KSCEN_REPORT_TOOLS`, else `$HOME/.cache/kscen/report-tools`.
pub fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("KSCEN_REPORT_TOOLS") {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME").unwrap_or_else(|| "/tmp".into());
    Path::new(&home).join(".cache/kscen/report-tools")
}

/// Installs mermaid-cli into `dir` unless it is there; returns the `mmdc` executable.
pub fn install_mermaid_cli(dir: &Path) -> Result<PathBuf> {
    let mmdc = dir.join("node_modules/.bin/mmdc");
    if mmdc.is_file() {
        return Ok(mmdc);
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let manifest = dir.join("package.json");
    if !manifest.is_file() {
        std::fs::write(&manifest, "{\"private\": true}\n")
            .with_context(|| format!("cannot write {}", manifest.display()))?;
    }
    let status = Command::new("npm")
        .args(["install", "--no-audit", "--no-fund", "--prefix"])
        .arg(dir)
        .arg(MERMAID_CLI)
        .env("PUPPETEER_SKIP_DOWNLOAD", "1")
        .status()
        .context("cannot run npm (Node 20 and npm are needed for the report tests)")?;
    if !status.success() {
        bail!(
            "npm install {MERMAID_CLI} into {} failed: {status}",
            dir.display()
        );
    }
    if !mmdc.is_file() {
        bail!(
            "npm installed {MERMAID_CLI} but {} is missing",
            mmdc.display()
        );
    }
    Ok(mmdc)
}
