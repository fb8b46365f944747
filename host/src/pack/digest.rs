//! Digests: every file of a pack must be exactly what the (signed) manifest pins, in the archive
//! at install time and on disk at run time.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};

use super::manifest::{FileEntry, Manifest};

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Checks one file's bytes against its manifest entry; the error names the file and both digests.
pub fn check(entry: &FileEntry, bytes: &[u8]) -> Result<()> {
    let actual = sha256_hex(bytes);
    if actual != entry.sha256 || bytes.len() as u64 != entry.size {
        bail!(
            "{}: sha256 {actual} ({} bytes) does not match the manifest's {} ({} bytes): the file \
             was changed after the pack was built; do not use it, get the pack again from its \
             publisher",
            entry.path,
            bytes.len(),
            entry.sha256,
            entry.size
        );
    }
    Ok(())
}

/// Checks an installed file on disk.
pub fn check_file(root: &Path, entry: &FileEntry) -> Result<()> {
    let path = root.join(&entry.path);
    let bytes = std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
    check(entry, &bytes).with_context(|| format!("installed pack at {}", root.display()))
}

/// The archive's files (path → bytes, signature and manifest excluded) must be exactly the
/// manifest's: none missing, none changed, none extra (an extra file could shadow a plugin).
pub fn check_all(manifest: &Manifest, files: &BTreeMap<String, Vec<u8>>) -> Result<()> {
    for entry in manifest.files() {
        let bytes = files.get(&entry.path).with_context(|| {
            format!(
                "{} is listed in the manifest but missing from the pack",
                entry.path
            )
        })?;
        check(entry, bytes)?;
    }
    if let Some(extra) = files
        .keys()
        .find(|path| !manifest.files().any(|entry| &entry.path == *path))
    {
        bail!("{extra} is in the pack but not in its manifest: the pack was modified after it was built");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pack::manifest::tests::sample;

    fn consistent() -> (Manifest, BTreeMap<String, Vec<u8>>) {
        let mut manifest = sample();
        let mut files = BTreeMap::new();
        for (i, contents) in [b"wasm".as_slice(), b"plugin = \"steady\"\n"]
            .into_iter()
            .enumerate()
        {
            let entry = if i == 0 {
                &mut manifest.plugins[0].file
            } else {
                &mut manifest.scenarios[0].file
            };
            entry.sha256 = sha256_hex(contents);
            entry.size = contents.len() as u64;
            files.insert(entry.path.clone(), contents.to_vec());
        }
        (manifest, files)
    }

    #[test]
    fn matching_files_pass() {
        let (manifest, files) = consistent();
        check_all(&manifest, &files).unwrap();
    }

    #[test]
    fn one_changed_byte_is_named() {
        let (manifest, mut files) = consistent();
        files.get_mut("plugins/dist/steady.wasm").unwrap()[0] ^= 1;
        let error = check_all(&manifest, &files).unwrap_err().to_string();
        assert!(
            error.starts_with("plugins/dist/steady.wasm: sha256") && error.contains("changed"),
            "{error}"
        );
    }

    #[test]
    fn missing_and_extra_files_are_refused() {
        let (manifest, mut files) = consistent();
        files.insert("plugins/dist/evil.wasm".into(), b"x".to_vec());
        let error = check_all(&manifest, &files).unwrap_err().to_string();
        assert!(
            error.contains("evil.wasm is in the pack but not in its manifest"),
            "{error}"
        );
        files.remove("scenarios/nominal.toml");
        let error = check_all(&manifest, &files).unwrap_err().to_string();
        assert!(
            error.contains("nominal.toml is listed in the manifest but missing"),
            "{error}"
        );
    }

    #[test]
    fn installed_files_are_checked_on_disk() {
        let (manifest, files) = consistent();
        let root = tempfile::tempdir().unwrap();
        for (path, bytes) in &files {
            let path = root.path().join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, bytes).unwrap();
        }
        check_file(root.path(), &manifest.plugins[0].file).unwrap();
        std::fs::write(root.path().join("plugins/dist/steady.wasm"), b"wasn").unwrap();
        let error = format!(
            "{:#}",
            check_file(root.path(), &manifest.plugins[0].file).unwrap_err()
        );
        assert!(
            error.contains("installed pack at") && error.contains("does not match"),
            "{error}"
        );
    }
}
