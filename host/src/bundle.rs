//! What an installed kscen ships beside its binary: `cargo xtask install` and the release archive
//! (`cargo xtask dist`) lay out `<prefix>/bin/kscen` with `<prefix>/share/kscen/` holding
//! `plugins/*.wasm`, `scenarios/*.toml`, `campaigns/*.toml` and `sdk/` (the kscen-sdk crate, for `kscen new`).
//! xtask/src/bundle.rs writes that layout; this module is the one place kscen reads it.

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};

/// Points kscen at a bundle folder (a `share/kscen`) other than the one beside its binary.
pub const SHARE_DIR_ENV: &str = "KSCEN_SHARE_DIR";

/// The bundle of this kscen: `$KSCEN_SHARE_DIR`, else `share/kscen` beside the binary's `bin/`
/// folder when it exists (a development build in `target/debug` has none).
pub fn share_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os(SHARE_DIR_ENV) {
        return Some(PathBuf::from(dir));
    }
    let exe = std::env::current_exe().ok()?.canonicalize().ok()?;
    let share = exe.parent()?.parent()?.join("share").join("kscen");
    share.is_dir().then_some(share)
}

pub fn plugins_dir() -> Option<PathBuf> {
    share_dir().map(|dir| dir.join("plugins"))
}

/// The kscen-sdk crate shipped with this kscen, if it has one.
pub fn sdk_dir() -> Option<PathBuf> {
    share_dir()
        .map(|dir| dir.join("sdk"))
        .filter(|dir| dir.join("Cargo.toml").is_file())
}

/// Folders of scenario files a name is looked up in, first match wins: `scenarios/` under the
/// current folder (a checkout of kscen, or a team's own), then the bundle's.
pub fn scenario_dirs() -> Vec<PathBuf> {
    bundled_dirs(Kind::Scenario)
}

/// A scenario given by name (`perf-02-ramp-up`, with or without `.toml`) rather than by path.
pub fn find_scenario(name: &str) -> Result<PathBuf> {
    find(Kind::Scenario, name)
}

/// Folders of campaign files a name is looked up in: `campaigns/` here, then the bundle's.
pub fn campaign_dirs() -> Vec<PathBuf> {
    bundled_dirs(Kind::Campaign)
}

/// A campaign given by name (`seeds-plan`), from `campaigns/` here, then the bundle's.
pub fn find_campaign(name: &str) -> Result<PathBuf> {
    find(Kind::Campaign, name)
}

/// What kscen ships as TOML files found by name.
#[derive(Clone, Copy)]
enum Kind {
    Scenario,
    Campaign,
}

impl Kind {
    fn folder(self) -> &'static str {
        match self {
            Kind::Scenario => "scenarios",
            Kind::Campaign => "campaigns",
        }
    }

    fn what(self) -> &'static str {
        match self {
            Kind::Scenario => "scenario",
            Kind::Campaign => "campaign",
        }
    }
}

fn bundled_dirs(kind: Kind) -> Vec<PathBuf> {
    let mut dirs = vec![PathBuf::from(kind.folder())];
    dirs.extend(share_dir().map(|dir| dir.join(kind.folder())));
    dirs.into_iter().filter(|dir| dir.is_dir()).collect()
}

fn find(kind: Kind, name: &str) -> Result<PathBuf> {
    let file = if name.ends_with(".toml") {
        name.to_string()
    } else {
        format!("{name}.toml")
    };
    let what = kind.what();
    let dirs = bundled_dirs(kind);
    if let Some(found) = dirs.iter().map(|dir| dir.join(&file)).find(|p| p.is_file()) {
        return Ok(found);
    }
    if dirs.is_empty() {
        bail!(
            "no {what} file {name:?} here, and this kscen has no bundled {what}s: install it \
             with `cargo xtask install` (or give the path of a {what} file)"
        );
    }
    let looked: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
    bail!(
        "no {what} file {name:?} here, and no bundled {what} of that name (looked in: {}); \
         `kscen list` shows them",
        looked.join(", ")
    )
}

/// A command-line scenario argument that names a bundled scenario rather than a file.
pub fn is_scenario_name(arg: &Path) -> bool {
    !arg.exists() && arg.components().count() == 1
}
