//! kscen with what it bundles, laid out under one prefix:
//!
//! ```text
//! <prefix>/bin/kscen                   the release binary
//! <prefix>/share/kscen/plugins/*.wasm  the bundled scenario plugins
//! <prefix>/share/kscen/scenarios/*.toml
//! <prefix>/share/kscen/campaigns/*.toml
//! <prefix>/share/kscen/sdk/            the kscen-sdk crate as `cargo package` makes it
//! <prefix>/share/kscen/sdk/python/     the Python SDK (`kscen new --lang python` builds with it)
//! <prefix>/share/kscen/sdk/js/         the JavaScript SDK, without its node_modules
//! ```
//! kscen looks for `share/kscen` beside its binary (host/src/bundle.rs), so an installed kscen
//! and an unpacked release archive both find their plugins, scenarios and SDK from anywhere.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::workspace::Workspace;

/// Builds kscen (release) and the plugins, and lays them out under `prefix`.
pub fn write(workspace: &Workspace, prefix: &Path) -> Result<()> {
    crate::plugins::build(workspace)?;
    crate::run(crate::cargo().args(["build", "--release", "--locked", "-p", "kscen"]))?;
    let bin = prefix.join("bin");
    create_dir(&bin)?;
    copy(&workspace.binary("release", "kscen"), &bin.join("kscen"))?;

    let share = prefix.join("share").join("kscen");
    let plugins = fresh_dir(&share.join("plugins"))?;
    for plugin in crate::plugins::bundled_plugins() {
        let name = format!("{plugin}.wasm");
        copy(&workspace.plugin_dist().join(&name), &plugins.join(name))?;
    }
    for folder in ["scenarios", "campaigns"] {
        let bundled = fresh_dir(&share.join(folder))?;
        for file in files_with_extension(&workspace.root.join(folder), "toml")? {
            copy(&file, &bundled.join(file.file_name().expect("a file")))?;
        }
    }
    let sdk = fresh_dir(&share.join("sdk"))?;
    unpack_crate(&package_sdk(workspace)?, &sdk)?;
    // Beside the crate's wit/, as in a checkout's sdk/: what `kscen new --lang` projects use.
    let sources = workspace.root.join("sdk");
    for guest_sdk in [
        "python/kscen_sdk",
        "js/src",
        "js/build.mjs",
        "js/package.json",
        "js/package-lock.json",
        "js/README.md",
    ] {
        copy_tree(&sources.join(guest_sdk), &sdk.join(guest_sdk))?;
    }
    Ok(())
}

/// Copies a file, or a folder's files and folders, bytecode caches aside.
fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    if !from.is_dir() {
        create_dir(to.parent().expect("a file in a folder"))?;
        return copy(from, to);
    }
    create_dir(to)?;
    for entry in std::fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let entry = entry.with_context(|| format!("reading {}", from.display()))?;
        if entry.file_name() != "__pycache__" {
            copy_tree(&entry.path(), &to.join(entry.file_name()))?;
        }
    }
    Ok(())
}

/// `cargo xtask install [--root DIR]`: the bundle under DIR, by default where `cargo install`
/// puts binaries (`$CARGO_INSTALL_ROOT`, else `$CARGO_HOME`, else `~/.cargo`).
pub fn install(workspace: &Workspace, args: &[String]) -> Result<()> {
    let prefix = match args {
        [] => default_install_root()?,
        [flag, dir] if flag == "--root" => PathBuf::from(dir),
        _ => bail!("usage: cargo xtask install [--root DIR]"),
    };
    write(workspace, &prefix)?;
    let bin = prefix.join("bin");
    eprintln!(
        "installed {} with its plugins, scenarios and SDK in {}",
        bin.join("kscen").display(),
        prefix.join("share").join("kscen").display()
    );
    let on_path = std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir == bin));
    if !on_path {
        eprintln!(
            "{} is not on your PATH: add it to run `kscen` from anywhere",
            bin.display()
        );
    }
    eprintln!("try: kscen run perf-02-ramp-up --set time_scale=0.01");
    Ok(())
}

fn default_install_root() -> Result<PathBuf> {
    if let Some(root) = std::env::var_os("CARGO_INSTALL_ROOT") {
        return Ok(PathBuf::from(root));
    }
    if let Some(home) = std::env::var_os("CARGO_HOME") {
        return Ok(PathBuf::from(home));
    }
    let home = std::env::var_os("HOME").context("HOME is not set: pass --root DIR")?;
    Ok(Path::new(&home).join(".cargo"))
}

/// The kscen-sdk crate as it would be published (its WIT inside it), as a `.crate` file.
fn package_sdk(workspace: &Workspace) -> Result<PathBuf> {
    crate::run(crate::cargo().args([
        "package",
        "-p",
        "kscen-sdk",
        "--no-verify",
        "--allow-dirty",
        "--quiet",
    ]))?;
    // kscen-sdk takes the workspace's version, as kscen does.
    let file = workspace
        .target
        .join("package")
        .join(format!("kscen-sdk-{}.crate", workspace.version));
    if !file.is_file() {
        bail!("cargo package did not write {}", file.display());
    }
    Ok(file)
}

/// Unpacks a `.crate` (a gzipped tar with one top folder) into `dir`, without the top folder.
fn unpack_crate(file: &Path, dir: &Path) -> Result<()> {
    let reader =
        std::fs::File::open(file).with_context(|| format!("opening {}", file.display()))?;
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(reader));
    for entry in archive.entries()? {
        let mut entry = entry?;
        let path = entry.path()?.into_owned();
        let inside: PathBuf = path.components().skip(1).collect();
        if inside.as_os_str().is_empty() {
            continue;
        }
        let to = dir.join(inside);
        if let Some(parent) = to.parent() {
            create_dir(parent)?;
        }
        entry
            .unpack(&to)
            .with_context(|| format!("unpacking {} from {}", path.display(), file.display()))?;
    }
    Ok(())
}

pub fn files_with_extension(dir: &Path, extension: &str) -> Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("listing {}", dir.display()))?
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|e| e == extension))
        .collect();
    files.sort();
    Ok(files)
}

pub fn fresh_dir(dir: &Path) -> Result<PathBuf> {
    if dir.exists() {
        std::fs::remove_dir_all(dir).with_context(|| format!("removing {}", dir.display()))?;
    }
    create_dir(dir)?;
    Ok(dir.to_path_buf())
}

fn create_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))
}

pub fn copy(from: &Path, to: &Path) -> Result<()> {
    std::fs::copy(from, to)
        .map(drop)
        .with_context(|| format!("copying {} to {}", from.display(), to.display()))
}
