//! `cargo xtask dist`: the release archive — kscen (release), its bundled plugins, scenarios and
//! SDK (the layout of `bundle`), a `SHA256SUMS` of every file — as
//! `<target>/dist/kscen-<version>-<host triple>.tar.gz` with its `.sha256` beside it.
//! `cargo xtask dist --check` then unpacks it in a folder of its own and runs a scenario with the
//! unpacked binary, as a user who downloaded it would.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, ensure, Context, Result};
use sha2::{Digest, Sha256};

use crate::bundle;
use crate::workspace::Workspace;

const CHECKSUMS: &str = "SHA256SUMS";

pub fn run(workspace: &Workspace, args: &[String]) -> Result<()> {
    let check = match args {
        [] => false,
        [flag] if flag == "--check" => true,
        _ => bail!("usage: cargo xtask dist [--check]"),
    };
    let archive = build(workspace)?;
    println!("release archive: {}", archive.display());
    if check {
        check_archive(workspace, &archive)?;
    }
    Ok(())
}

/// The archive built and checked, as `cargo xtask dist --check` does (the test suite's last step).
pub fn build_and_check(workspace: &Workspace) -> Result<()> {
    check_archive(workspace, &build(workspace)?)
}

fn build(workspace: &Workspace) -> Result<PathBuf> {
    let name = format!("kscen-{}-{}", workspace.version, host_triple()?);
    let out = workspace.target.join("dist");
    let folder = bundle::fresh_dir(&out.join(&name))?;
    bundle::write(workspace, &folder)?;
    for doc in ["README.md", "LICENSE"] {
        let from = workspace.root.join(doc);
        if from.is_file() {
            bundle::copy(&from, &folder.join(doc))?;
        }
    }
    write_checksums(&folder)?;

    let archive = out.join(format!("{name}.tar.gz"));
    let file = std::fs::File::create(&archive)
        .with_context(|| format!("creating {}", archive.display()))?;
    let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(
        file,
        flate2::Compression::default(),
    ));
    tar.append_dir_all(&name, &folder)
        .with_context(|| format!("archiving {}", folder.display()))?;
    tar.into_inner()?.finish()?;
    let digest = sha256_of(&archive)?;
    std::fs::write(
        out.join(format!("{name}.tar.gz.sha256")),
        format!("{digest}  {name}.tar.gz\n"),
    )?;
    Ok(archive)
}

/// `SHA256SUMS` in `sha256sum -c` format, every file of `folder` but itself.
fn write_checksums(folder: &Path) -> Result<()> {
    let mut lines = String::new();
    for file in files_under(folder)? {
        let relative = file.strip_prefix(folder).expect("under the folder");
        lines += &format!("{}  {}\n", sha256_of(&file)?, relative.display());
    }
    std::fs::write(folder.join(CHECKSUMS), lines).context("writing SHA256SUMS")
}

/// Unpacks `archive` into `<target>/dist-check`, verifies every checksum, and runs the demo
/// scenario (PERF-02 ramp-up, by name, at 0.5 % of real time) with the unpacked binary from that
/// folder, with no plugin path or kscen home in its environment: it must find its bundle itself.
fn check_archive(workspace: &Workspace, archive: &Path) -> Result<()> {
    let place = bundle::fresh_dir(&workspace.target.join("dist-check"))?;
    let file = std::fs::File::open(archive)?;
    tar::Archive::new(flate2::read::GzDecoder::new(file))
        .unpack(&place)
        .with_context(|| format!("unpacking {}", archive.display()))?;
    let folder = place.join(
        archive
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".tar.gz"))
            .context("the archive is not a .tar.gz")?,
    );
    verify_checksums(&folder)?;

    let result = place.join("ramp-up.json");
    let kscen = || {
        let mut command = Command::new(folder.join("bin").join("kscen"));
        command
            .current_dir(&place)
            .env_remove("KSCEN_PLUGIN_PATH")
            .env_remove("KSCEN_SHARE_DIR")
            .env("KSCEN_CACHE_DIR", place.join("cache"));
        command
    };
    let listed = kscen().arg("list").output().context("running kscen list")?;
    let listing = String::from_utf8_lossy(&listed.stdout);
    let share = folder.join("share").join("kscen");
    ensure!(
        listed.status.success() && listing.contains(&share.display().to_string()),
        "the unpacked kscen does not list its bundle in {}:\n{listing}{}",
        share.display(),
        String::from_utf8_lossy(&listed.stderr)
    );
    crate::run(
        kscen()
            .args([
                "run",
                "perf-02-ramp-up",
                "--set",
                "time_scale=0.005",
                "--json",
            ])
            .arg(&result),
    )?;
    let text = std::fs::read_to_string(&result)
        .with_context(|| format!("the run wrote no result at {}", result.display()))?;
    let document: serde_json::Value = serde_json::from_str(&text)?;
    let phases = document["phases"].as_array().map_or(0, Vec::len);
    ensure!(
        phases == 6,
        "the unpacked kscen ran {phases} phases of PERF-02, expected 6 ({})",
        result.display()
    );
    println!(
        "dist check: {} unpacked in {}, checksums verified, PERF-02 ran its 6 phases with the release binary",
        archive.display(),
        place.display()
    );
    Ok(())
}

fn verify_checksums(folder: &Path) -> Result<()> {
    let listed = std::fs::read_to_string(folder.join(CHECKSUMS))
        .with_context(|| format!("no {CHECKSUMS} in {}", folder.display()))?;
    let mut count = 0;
    for line in listed.lines() {
        let (digest, relative) = line
            .split_once("  ")
            .with_context(|| format!("malformed {CHECKSUMS} line {line:?}"))?;
        let actual = sha256_of(&folder.join(relative))?;
        ensure!(
            actual == digest,
            "{relative}: sha256 {actual}, {CHECKSUMS} says {digest}"
        );
        count += 1;
    }
    let files = files_under(folder)?.len();
    ensure!(
        count == files,
        "{CHECKSUMS} lists {count} files, the archive holds {files}"
    );
    Ok(())
}

/// Every file below `folder`, sorted, `SHA256SUMS` left out.
fn files_under(folder: &Path) -> Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    let mut pending = vec![folder.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in
            std::fs::read_dir(&dir).with_context(|| format!("listing {}", dir.display()))?
        {
            let path = entry?.path();
            if path.is_dir() {
                pending.push(path);
            } else if path != folder.join(CHECKSUMS) {
                found.push(path);
            }
        }
    }
    found.sort();
    Ok(found)
}

fn sha256_of(file: &Path) -> Result<String> {
    let mut hasher = Sha256::new();
    let mut reader =
        std::fs::File::open(file).with_context(|| format!("opening {}", file.display()))?;
    std::io::copy(&mut reader, &mut hasher)?;
    Ok(hex::encode(hasher.finalize()))
}

fn host_triple() -> Result<String> {
    let out = Command::new("rustc")
        .arg("-vV")
        .output()
        .context("cannot run rustc -vV")?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|line| line.strip_prefix("host: "))
        .map(str::to_string)
        .context("rustc -vV names no host triple")
}
