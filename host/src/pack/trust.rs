//! The trust store: a folder of organisation public keys (`<name>.pub`, minisign format). A pack
//! installs only when its manifest is signed by one of them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{ensure, Context, Result};

use super::manifest::check_name;
use super::minisign::{KeyId, PublicKey};

/// `--trust-dir`, else `$KSCEN_TRUST_DIR`, else `~/.config/kscen/trust`.
pub fn trust_dir(flag: Option<&Path>) -> Result<PathBuf> {
    if let Some(dir) = flag {
        return Ok(dir.to_path_buf());
    }
    if let Some(dir) = std::env::var_os("KSCEN_TRUST_DIR") {
        return Ok(PathBuf::from(dir));
    }
    let dirs = directories::BaseDirs::new()
        .context("cannot find the home directory for the trust store; set KSCEN_TRUST_DIR")?;
    Ok(dirs.config_dir().join("kscen").join("trust"))
}

#[derive(Debug, Clone)]
pub struct TrustedKey {
    /// the organisation, from the file name
    pub name: String,
    pub key: PublicKey,
}

#[derive(Debug, Clone)]
pub struct TrustStore {
    pub dir: PathBuf,
    pub keys: Vec<TrustedKey>,
}

impl TrustStore {
    /// A missing folder is an empty store: nothing is trusted until a key is added.
    pub fn load(dir: &Path) -> Result<TrustStore> {
        let mut keys = Vec::new();
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Ok(TrustStore {
                    dir: dir.to_path_buf(),
                    keys,
                })
            }
            Err(error) => {
                return Err(error)
                    .with_context(|| format!("cannot read the trust store {}", dir.display()))
            }
        };
        let mut files: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "pub"))
            .collect();
        files.sort();
        for file in files {
            let name = file
                .file_stem()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            // A broken key file is an error, not a skip: the operator meant to trust someone.
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read trusted key {}", file.display()))?;
            let key = PublicKey::parse(&text).with_context(|| {
                format!(
                    "trusted key {} is not a minisign public key; fix or remove it",
                    file.display()
                )
            })?;
            keys.push(TrustedKey { name, key });
        }
        Ok(TrustStore {
            dir: dir.to_path_buf(),
            keys,
        })
    }

    /// Every trusted key as its file in a store (`<name>.pub`) and that file's text: what another
    /// machine's store needs to trust the same publishers (a `kscen k8s run`'s pods).
    pub fn key_files(&self) -> BTreeMap<String, String> {
        self.keys
            .iter()
            .map(|k| (format!("{}.pub", k.name), k.key.to_file_text(&k.name)))
            .collect()
    }

    pub fn find(&self, id: KeyId) -> Option<&TrustedKey> {
        self.keys.iter().find(|k| k.key.id == id)
    }

    /// For error messages: who is trusted here.
    pub fn describe(&self) -> String {
        if self.keys.is_empty() {
            return format!("the trust store {} holds no keys", self.dir.display());
        }
        let keys: Vec<String> = self
            .keys
            .iter()
            .map(|k| format!("{} ({})", k.name, k.key.id))
            .collect();
        format!(
            "the trust store {} holds {}",
            self.dir.display(),
            keys.join(", ")
        )
    }

    /// Copies a public key file into the store as `<name>.pub`, after checking it parses.
    pub fn add(dir: &Path, name: &str, key_file: &Path) -> Result<TrustedKey> {
        check_name("trust name", name)?;
        let text = std::fs::read_to_string(key_file)
            .with_context(|| format!("cannot read {}", key_file.display()))?;
        let key = PublicKey::parse(&text)
            .with_context(|| format!("{} is not a minisign public key", key_file.display()))?;
        let store = TrustStore::load(dir)?;
        if let Some(existing) = store.find(key.id) {
            anyhow::bail!("key {} is already trusted as {:?}", key.id, existing.name);
        }
        let target = dir.join(format!("{name}.pub"));
        ensure!(
            !target.exists(),
            "{} exists: pick another name or remove it first",
            target.display()
        );
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the trust store {}", dir.display()))?;
        std::fs::write(
            &target,
            key.to_file_text(&format!("kscen trusted key {name}")),
        )
        .with_context(|| format!("cannot write {}", target.display()))?;
        Ok(TrustedKey {
            name: name.to_string(),
            key,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pack::minisign::SecretKey;

    #[test]
    fn keys_are_added_found_and_not_duplicated() {
        let dir = tempfile::tempdir().unwrap();
        let store_dir = dir.path().join("trust");
        assert!(TrustStore::load(&store_dir).unwrap().keys.is_empty());
        let secret = SecretKey::generate().unwrap();
        let key_file = dir.path().join("acme.pub");
        std::fs::write(&key_file, secret.public().to_file_text("acme")).unwrap();
        TrustStore::add(&store_dir, "acme", &key_file).unwrap();
        let store = TrustStore::load(&store_dir).unwrap();
        assert_eq!(store.find(secret.id).unwrap().name, "acme");
        let again = TrustStore::add(&store_dir, "acme2", &key_file).unwrap_err();
        assert!(again.to_string().contains("already trusted"), "{again}");
        std::fs::write(store_dir.join("broken.pub"), "nope").unwrap();
        let error = format!("{:#}", TrustStore::load(&store_dir).unwrap_err());
        assert!(error.contains("broken.pub"), "{error}");
    }
}
