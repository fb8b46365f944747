//! Installed packs: `<packs dir>/<name>/<version>/` holding the verified manifest, its signature,
//! `install.json` (who signed it, when, from where) and the pack's `plugins/dist/` and `scenarios/`
//! — the layout the plugin search path already understands.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use super::archive::{PackArchive, SIGNATURE_FILE};
use super::manifest::{Manifest, MANIFEST_FILE};
use super::verify::{Publisher, Verified};

pub const INSTALL_FILE: &str = "install.json";

/// `--packs-dir`, else `$KSCEN_PACKS_DIR`, else `~/.local/share/kscen/packs`.
pub fn packs_dir(flag: Option<&Path>) -> Result<PathBuf> {
    if let Some(dir) = flag {
        return Ok(dir.to_path_buf());
    }
    if let Some(dir) = std::env::var_os("KSCEN_PACKS_DIR") {
        return Ok(PathBuf::from(dir));
    }
    let dirs = directories::BaseDirs::new()
        .context("cannot find the home directory for installed packs; set KSCEN_PACKS_DIR")?;
    Ok(dirs.data_dir().join("kscen").join("packs"))
}

/// What `list` shows; not part of the signed pack, so nothing trusts it for security decisions.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InstallRecord {
    /// the trust store name of the signing key, or `unsigned` / `untrusted key`
    pub publisher: String,
    pub key_id: Option<String>,
    pub installed_at: String,
    pub source: String,
    /// installed with --allow-unsigned without a trusted signature: runs then skip the trust check
    pub accepted_unsigned: bool,
}

impl InstallRecord {
    fn new(publisher: &Publisher, source: &Path) -> InstallRecord {
        let (name, key_id) = match publisher {
            Publisher::Trusted { name, key_id } => (name.clone(), Some(key_id.to_string())),
            Publisher::UnknownKey(key_id) => ("untrusted key".into(), Some(key_id.to_string())),
            Publisher::Unsigned => ("unsigned".into(), None),
        };
        InstallRecord {
            publisher: name,
            key_id,
            installed_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            source: source.display().to_string(),
            accepted_unsigned: !matches!(publisher, Publisher::Trusted { .. }),
        }
    }
}

/// A pack unpacked beside its final folder; removed unless committed, so a failed install leaves
/// nothing behind and never a half-written pack under the real name.
pub struct Staged {
    pub dir: PathBuf,
    pub dest: PathBuf,
    committed: bool,
}

pub fn destination(packs_dir: &Path, manifest: &Manifest) -> PathBuf {
    packs_dir.join(&manifest.name).join(&manifest.version)
}

pub fn stage(
    packs_dir: &Path,
    archive: &PackArchive,
    verified: &Verified,
    source: &Path,
    force: bool,
) -> Result<Staged> {
    let manifest = &verified.manifest;
    let dest = destination(packs_dir, manifest);
    if dest.exists() && !force {
        bail!(
            "pack {} is already installed at {}; pass --force to replace it",
            manifest.id(),
            dest.display()
        );
    }
    let parent = dest.parent().expect("a version folder has a parent");
    let staged = Staged {
        dir: parent.join(format!(
            ".{}.partial-{}",
            manifest.version,
            std::process::id()
        )),
        dest: dest.clone(),
        committed: false,
    };
    if staged.dir.exists() {
        std::fs::remove_dir_all(&staged.dir)
            .with_context(|| format!("cannot clear {}", staged.dir.display()))?;
    }
    let write = |relative: &str, bytes: &[u8]| -> Result<()> {
        let path = staged.dir.join(relative);
        std::fs::create_dir_all(path.parent().expect("files sit in a folder"))
            .and_then(|()| std::fs::write(&path, bytes))
            .with_context(|| format!("cannot write {}", path.display()))
    };
    write(MANIFEST_FILE, &archive.manifest)?;
    if let Some(signature) = &archive.signature {
        write(SIGNATURE_FILE, signature.as_bytes())?;
    }
    // Only the manifest's files, at the manifest's (validated) paths.
    for entry in manifest.files() {
        write(&entry.path, &archive.files[&entry.path])?;
    }
    let record = InstallRecord::new(&verified.publisher, source);
    write(
        INSTALL_FILE,
        &serde_json::to_vec_pretty(&record).expect("a record serializes"),
    )?;
    Ok(staged)
}

impl Staged {
    pub fn commit(mut self) -> Result<PathBuf> {
        let old = self.dir.with_extension("old");
        if self.dest.exists() {
            std::fs::rename(&self.dest, &old).with_context(|| {
                format!("cannot move the installed {} aside", self.dest.display())
            })?;
        }
        std::fs::rename(&self.dir, &self.dest)
            .with_context(|| format!("cannot install into {}", self.dest.display()))?;
        self.committed = true;
        if old.exists() {
            std::fs::remove_dir_all(&old)
                .with_context(|| format!("cannot remove the replaced {}", old.display()))?;
        }
        Ok(self.dest.clone())
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

#[derive(Debug, Clone)]
pub struct Installed {
    pub dir: PathBuf,
    pub manifest: Manifest,
    pub manifest_bytes: Vec<u8>,
    pub signature: Option<String>,
    pub record: Option<InstallRecord>,
}

impl Installed {
    pub fn load(dir: &Path) -> Result<Installed> {
        let manifest_path = dir.join(MANIFEST_FILE);
        let manifest_bytes = std::fs::read(&manifest_path)
            .with_context(|| format!("cannot read {}", manifest_path.display()))?;
        let manifest = Manifest::parse(&manifest_bytes)
            .with_context(|| format!("installed pack at {}", dir.display()))?;
        let signature = match std::fs::read_to_string(dir.join(SIGNATURE_FILE)) {
            Ok(text) => Some(text),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
            Err(error) => {
                return Err(error)
                    .with_context(|| format!("cannot read {}", dir.join(SIGNATURE_FILE).display()))
            }
        };
        let record = std::fs::read(dir.join(INSTALL_FILE))
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok());
        Ok(Installed {
            dir: dir.to_path_buf(),
            manifest,
            manifest_bytes,
            signature,
            record,
        })
    }
}

/// Every installed pack version, by name then version; broken ones come back as errors so `list`
/// can show them instead of hiding them.
pub fn list(packs_dir: &Path) -> Vec<Result<Installed>> {
    let mut found = Vec::new();
    for name_dir in sorted_dirs(packs_dir) {
        let mut versions: Vec<(Option<semver::Version>, PathBuf)> = sorted_dirs(&name_dir)
            .into_iter()
            .map(|dir| (version_of(&dir), dir))
            .collect();
        versions.sort();
        found.extend(versions.into_iter().map(|(_, dir)| Installed::load(&dir)));
    }
    found
}

/// The installed versions of one pack, newest first.
pub fn versions(packs_dir: &Path, name: &str) -> Vec<(semver::Version, PathBuf)> {
    let mut versions: Vec<(semver::Version, PathBuf)> = sorted_dirs(&packs_dir.join(name))
        .into_iter()
        .filter_map(|dir| version_of(&dir).map(|v| (v, dir)))
        .collect();
    versions.sort_by(|a, b| b.0.cmp(&a.0));
    versions
}

fn version_of(dir: &Path) -> Option<semver::Version> {
    semver::Version::parse(&dir.file_name()?.to_string_lossy()).ok()
}

/// Sub-folders, skipping hidden ones (staging and replaced folders start with a dot).
fn sorted_dirs(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut dirs: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .filter(|p| {
            !p.file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .starts_with('.')
        })
        .collect();
    dirs.sort();
    dirs
}
