//! `kscen run REGISTRY/REPOSITORY@sha256:DIGEST/SCENARIO`: a scenario of a pack in an OCI
//! registry, pinned by the artifact's digest (what `kscen pack push` prints). The pack is pulled,
//! verified as `kscen pack pull` verifies it (a trusted signature required), unpacked into a cache
//! folder named after the digest, and its scenario loaded as an installed pack's is, checked
//! again. The shards of `kscen k8s run` each pull it so: one artifact for all of them, whatever a
//! tag does meanwhile.

use std::path::{Path, PathBuf};

use anyhow::{ensure, Context, Result};

use super::install::{list, stage};
use super::oci::{pull, RegistryArgs};
use super::run_ref::{load_from_pack, PackRef};
use super::trust::{trust_dir, TrustStore};
use super::verify::verify;
use crate::config::scenario::ScenarioFile;

/// A scenario of a pack pinned by digest.
#[derive(Debug, Clone, PartialEq)]
pub struct PinnedScenario {
    /// `REGISTRY/REPOSITORY`
    pub repository: String,
    /// the artifact manifest's sha256, 64 lowercase hex digits
    pub digest: String,
    pub scenario: String,
}

impl PinnedScenario {
    /// `REGISTRY/REPOSITORY@sha256:DIGEST/SCENARIO`; anything else is not a pinned reference.
    pub fn parse(text: &str) -> Option<PinnedScenario> {
        let (repository, rest) = text.split_once("@sha256:")?;
        let (digest, scenario) = rest.split_once('/')?;
        let hex = |d: &str| {
            d.len() == 64
                && d.bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        };
        (repository.contains('/') && hex(digest) && !scenario.is_empty() && !scenario.contains('/'))
            .then(|| PinnedScenario {
                repository: repository.to_string(),
                digest: digest.to_string(),
                scenario: scenario
                    .strip_suffix(".toml")
                    .unwrap_or(scenario)
                    .to_string(),
            })
    }

    /// What a command's scenario argument pins, unless a file of that name exists.
    pub fn of(arg: &Path) -> Option<PinnedScenario> {
        arg.to_str()
            .and_then(PinnedScenario::parse)
            .filter(|_| !arg.exists())
    }

    /// The artifact, as `kscen pack pull` takes it.
    pub fn artifact(&self) -> String {
        format!("{}@sha256:{}", self.repository, self.digest)
    }
}

impl std::fmt::Display for PinnedScenario {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.artifact(), self.scenario)
    }
}

/// `pinned-packs` in kscen's cache folder: one packs folder per digest, filled once (a digest
/// names one content forever).
pub fn cache_dir() -> Result<PathBuf> {
    Ok(crate::paths::cache_dir()?.join("pinned-packs"))
}

/// The scenario a command was given: pinned in a registry (pulled here unless cached), else a
/// file, a bundled scenario or an installed pack's, as `load_scenario` finds it.
pub async fn resolve(arg: &Path, registry: &RegistryArgs) -> Result<ScenarioFile> {
    match PinnedScenario::of(arg) {
        Some(pinned) => Ok(load_trusted(&pinned, registry).await?.0),
        None => super::load_scenario(arg),
    }
}

/// The scenario `reference` names, checked against this machine's trust store and cache; with
/// the trust store it was checked against.
pub async fn load_trusted(
    reference: &PinnedScenario,
    registry: &RegistryArgs,
) -> Result<(ScenarioFile, TrustStore)> {
    let trust = TrustStore::load(&trust_dir(None)?)?;
    let scenario = load(reference, registry, &trust, &cache_dir()?).await?;
    Ok((scenario, trust))
}

/// The scenario `reference` names, its pack pulled into `cache` unless already there, verified
/// against `trust` either way.
pub async fn load(
    reference: &PinnedScenario,
    registry: &RegistryArgs,
    trust: &TrustStore,
    cache: &Path,
) -> Result<ScenarioFile> {
    let packs = cache.join(&reference.digest);
    let manifest = match list(&packs).into_iter().next() {
        Some(installed) => installed?.manifest,
        None => {
            let artifact = reference.artifact();
            let (archive, digest) = pull(&artifact, registry).await?;
            ensure!(
                digest == format!("sha256:{}", reference.digest),
                "{artifact} answered with the artifact {digest}: refused"
            );
            let verified = verify(&archive, trust, false)
                .with_context(|| format!("pack {artifact} refused"))?;
            stage(&packs, &archive, &verified, Path::new(&artifact), false)?.commit()?;
            eprintln!(
                "pulled pack {} from {artifact}, signed by {}",
                verified.manifest.id(),
                verified.publisher
            );
            verified.manifest
        }
    };
    let pack = PackRef {
        pack: manifest.name,
        version: Some(manifest.version),
        scenario: reference.scenario.clone(),
    };
    load_from_pack(&pack, &packs, trust).with_context(|| format!("cannot run {reference}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIGEST: &str = "4f0a8c1e2b3d4c5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6";

    #[test]
    fn a_pinned_reference_names_a_repository_a_digest_and_a_scenario() {
        let text = format!("127.0.0.1:5000/acme/perf@sha256:{DIGEST}/ramp.toml");
        let pinned = PinnedScenario::parse(&text).unwrap();
        assert_eq!(pinned.repository, "127.0.0.1:5000/acme/perf");
        assert_eq!(pinned.scenario, "ramp");
        assert_eq!(
            pinned.artifact(),
            format!("127.0.0.1:5000/acme/perf@sha256:{DIGEST}")
        );
        assert_eq!(
            pinned.to_string(),
            format!("127.0.0.1:5000/acme/perf@sha256:{DIGEST}/ramp")
        );
    }

    #[test]
    fn tags_short_digests_and_installed_pack_references_are_not_pinned() {
        for text in [
            "registry.example/acme/perf:1.0/ramp".to_string(),
            format!("registry.example/acme/perf@sha256:{}/ramp", &DIGEST[..63]),
            format!(
                "registry.example/acme/perf@sha256:{}/ramp",
                DIGEST.to_uppercase()
            ),
            format!("registry.example/acme/perf@sha256:{DIGEST}/"),
            format!("registry.example/acme/perf@sha256:{DIGEST}/a/b"),
            format!("perf@sha256:{DIGEST}/ramp"),
            "acme@1.2.0/ramp".to_string(),
            "scenarios/ramp.toml".to_string(),
        ] {
            assert_eq!(PinnedScenario::parse(&text), None, "{text}");
        }
    }
}
