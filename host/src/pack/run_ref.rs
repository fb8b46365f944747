//! `kscen run <pack>[@<version>]/<scenario>`: an installed pack's scenario, re-verified before it
//! runs (signature when the pack was signed, and the sha256 of the scenario file and its
//! component), so a file changed after install is refused.

use std::path::Path;

use anyhow::{bail, Context, Result};

use super::digest;
use super::install::{packs_dir, versions, Installed};
use super::pinned::PinnedScenario;
use super::trust::{trust_dir, TrustStore};
use super::verify::{check_signature, Publisher};
use crate::config::scenario::ScenarioFile;

#[derive(Debug, Clone, PartialEq)]
pub struct PackRef {
    pub pack: String,
    pub version: Option<String>,
    pub scenario: String,
}

impl PackRef {
    /// `name/scenario` or `name@1.2.0/scenario`; anything else is not a pack reference.
    pub fn parse(text: &str) -> Option<PackRef> {
        let (pack, scenario) = text.split_once('/')?;
        if scenario.is_empty() || scenario.contains('/') || pack.is_empty() {
            return None;
        }
        let (pack, version) = match pack.split_once('@') {
            Some((pack, version)) => (pack, Some(version.to_string())),
            None => (pack, None),
        };
        Some(PackRef {
            pack: pack.to_string(),
            version,
            scenario: scenario
                .strip_suffix(".toml")
                .unwrap_or(scenario)
                .to_string(),
        })
    }
}

/// The scenario `kscen run` was given: an existing file as before, else an installed pack's.
pub fn load_scenario(arg: &Path) -> Result<ScenarioFile> {
    if PinnedScenario::of(arg).is_some() {
        bail!(
            "{}: a pack pinned by digest is pulled by `kscen run` and `kscen k8s run`; elsewhere \
             (a campaign step), `kscen pack pull` and `kscen pack install` it and name it \
             PACK/SCENARIO",
            arg.display()
        );
    }
    let reference = match arg.to_str().and_then(PackRef::parse) {
        Some(reference) if !arg.exists() => reference,
        _ if crate::bundle::is_scenario_name(arg) => {
            return ScenarioFile::load(&crate::bundle::find_scenario(&arg.to_string_lossy())?)
        }
        _ => return ScenarioFile::load(arg),
    };
    let packs = packs_dir(None)?;
    let trust = TrustStore::load(&trust_dir(None)?)?;
    load_from_pack(&reference, &packs, &trust)
        .with_context(|| format!("cannot run {}", arg.display()))
}

pub fn load_from_pack(
    reference: &PackRef,
    packs_dir: &Path,
    trust: &TrustStore,
) -> Result<ScenarioFile> {
    let installed = find(reference, packs_dir)?;
    let manifest = &installed.manifest;
    // Re-check the signature too: a component and its manifest entry edited together after
    // install would pass the digest check alone. A pack installed without a trusted signature was
    // accepted explicitly (--allow-unsigned); a trusted key removed since then revokes its packs.
    let allow_unsigned = installed.signature.is_none()
        || installed
            .record
            .as_ref()
            .is_some_and(|r| r.accepted_unsigned);
    let publisher = check_signature(
        &installed.manifest_bytes,
        installed.signature.as_deref(),
        trust,
        allow_unsigned,
    )
    .with_context(|| {
        format!(
            "installed pack {} at {}",
            manifest.id(),
            installed.dir.display()
        )
    })?;
    if !matches!(publisher, Publisher::Trusted { .. }) {
        eprintln!(
            "warning: pack {} is {publisher} (installed with --allow-unsigned); its files are \
             checked against its manifest only",
            manifest.id()
        );
    }
    let entry = manifest.scenario(&reference.scenario).with_context(|| {
        let names: Vec<&str> = manifest.scenarios.iter().map(|s| s.name.as_str()).collect();
        format!(
            "pack {} has no scenario {:?} (it has: {})",
            manifest.id(),
            reference.scenario,
            names.join(", ")
        )
    })?;
    let plugin = manifest
        .plugin(&entry.plugin)
        .expect("a validated manifest names only plugins it holds");
    digest::check_file(&installed.dir, &plugin.file)?;
    let path = installed.dir.join(&entry.file.path);
    let bytes = std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
    digest::check(&entry.file, &bytes)
        .with_context(|| format!("installed pack at {}", installed.dir.display()))?;
    // Parse the bytes that were checked, not a second read of the file.
    let text =
        String::from_utf8(bytes).with_context(|| format!("{} is not UTF-8", path.display()))?;
    let mut scenario = ScenarioFile::parse(&path, &text)?;
    // The pack's own component, whatever KSCEN_PLUGIN_PATH says: that is what was signed.
    scenario.plugin = installed.dir.join(&plugin.file.path).display().to_string();
    Ok(scenario)
}

/// The named version, or the newest installed one.
fn find(reference: &PackRef, packs_dir: &Path) -> Result<Installed> {
    let installed = versions(packs_dir, &reference.pack);
    if installed.is_empty() {
        bail!(
            "there is no such scenario file, and no pack {:?} is installed in {} (install one \
             with `kscen pack install PACK`; see `kscen pack list`)",
            reference.pack,
            packs_dir.display()
        );
    }
    let dir = match &reference.version {
        None => &installed[0].1,
        Some(version) => {
            let wanted = semver::Version::parse(version)
                .with_context(|| format!("{version:?} is not a semantic version"))?;
            match installed.iter().find(|(v, _)| *v == wanted) {
                Some((_, dir)) => dir,
                None => {
                    let have: Vec<String> = installed.iter().map(|(v, _)| v.to_string()).collect();
                    bail!(
                        "pack {} {version} is not installed (installed versions: {})",
                        reference.pack,
                        have.join(", ")
                    )
                }
            }
        }
    };
    Installed::load(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pack_references() {
        assert_eq!(
            PackRef::parse("acme/nominal.toml"),
            Some(PackRef {
                pack: "acme".into(),
                version: None,
                scenario: "nominal".into()
            })
        );
        assert_eq!(
            PackRef::parse("acme@1.2.0/nominal")
                .unwrap()
                .version
                .as_deref(),
            Some("1.2.0")
        );
        assert_eq!(PackRef::parse("nominal.toml"), None);
        assert_eq!(PackRef::parse("a/b/c.toml"), None);
        assert_eq!(PackRef::parse("/abs.toml"), None);
    }
}
