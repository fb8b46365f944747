//! The pack file: a gzip-compressed tar holding `manifest.json`, its minisign signature
//! `manifest.json.minisig` (absent when unsigned), `plugins/dist/*.wasm` and `scenarios/*.toml`.
//! Read whole into memory (packs are a few MB) so nothing reaches the disk before it is verified;
//! entries are checked for type, path and size so a hostile archive cannot write elsewhere or
//! exhaust memory.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::Path;

use anyhow::{bail, ensure, Context, Result};
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;

use super::manifest::{check_name, MANIFEST_FILE, PLUGIN_DIR, SCENARIO_DIR};

pub const SIGNATURE_FILE: &str = "manifest.json.minisig";
/// Uncompressed bytes a pack may hold: far above real packs, far below a gzip bomb's goal.
pub(super) const MAX_TOTAL_BYTES: u64 = 1024 * 1024 * 1024;
pub(super) const MAX_ENTRIES: usize = 10_000;
const MAX_MANIFEST_BYTES: u64 = 4 * 1024 * 1024;

#[derive(Debug, Clone, Default)]
pub struct PackArchive {
    /// the exact signed bytes
    pub manifest: Vec<u8>,
    pub signature: Option<String>,
    /// components and scenario files by path inside the pack
    pub files: BTreeMap<String, Vec<u8>>,
}

impl PackArchive {
    pub fn read(path: &Path) -> Result<PackArchive> {
        let file = std::fs::File::open(path)
            .with_context(|| format!("cannot open pack {}", path.display()))?;
        Self::read_from(file).with_context(|| format!("pack {} is unreadable", path.display()))
    }

    fn read_from(reader: impl Read) -> Result<PackArchive> {
        let mut archive = tar::Archive::new(GzDecoder::new(reader));
        let mut pack = PackArchive::default();
        let mut manifest = None;
        let (mut total, mut count) = (0u64, 0usize);
        for entry in archive.entries().context("not a kscen pack (a .tar.gz)")? {
            let mut entry = entry.context("not a kscen pack: damaged tar entry")?;
            count += 1;
            ensure!(count <= MAX_ENTRIES, "more than {MAX_ENTRIES} entries");
            let raw = String::from_utf8(entry.path_bytes().into_owned())
                .context("an entry's path is not UTF-8")?;
            let path = raw.strip_prefix("./").unwrap_or(&raw).to_string();
            let kind = entry.header().entry_type();
            if kind.is_dir() && is_pack_dir(&path) {
                continue;
            }
            ensure!(
                kind.is_file(),
                "entry {raw:?} is a {kind:?}, not a regular file (packs hold no links or devices)"
            );
            let size = entry.header().size()?;
            total += size;
            ensure!(
                total <= MAX_TOTAL_BYTES,
                "it unpacks to more than {MAX_TOTAL_BYTES} bytes"
            );
            let limit = if path == MANIFEST_FILE || path == SIGNATURE_FILE {
                MAX_MANIFEST_BYTES
            } else {
                check_content_path(&path)?;
                MAX_TOTAL_BYTES
            };
            ensure!(size <= limit, "entry {path} is too large ({size} bytes)");
            let mut bytes = Vec::with_capacity(size as usize);
            entry
                .by_ref()
                .take(size)
                .read_to_end(&mut bytes)
                .with_context(|| format!("cannot read entry {path}"))?;
            let duplicate = match path.as_str() {
                MANIFEST_FILE => manifest.replace(bytes).is_some(),
                SIGNATURE_FILE => pack
                    .signature
                    .replace(
                        String::from_utf8(bytes)
                            .context("manifest.json.minisig is not a text file")?,
                    )
                    .is_some(),
                _ => pack.files.insert(path.clone(), bytes).is_some(),
            };
            // A second copy would let the verified bytes differ from the ones that get used.
            ensure!(!duplicate, "entry {path} appears twice");
        }
        pack.manifest = manifest.context("not a kscen pack: it has no manifest.json")?;
        Ok(pack)
    }

    /// Writes the pack reproducibly (fixed order, times, owners, modes) through a temporary file,
    /// so an interrupted write never leaves a half pack under the final name.
    pub fn write(&self, path: &Path) -> Result<()> {
        let name = path
            .file_name()
            .with_context(|| format!("{} is not a file path", path.display()))?;
        let partial = path.with_file_name(format!(".{}.partial", name.to_string_lossy()));
        let result = self.write_to(&partial).and_then(|()| {
            std::fs::rename(&partial, path)
                .with_context(|| format!("cannot move the pack to {}", path.display()))
        });
        if result.is_err() {
            let _ = std::fs::remove_file(&partial);
        }
        result
    }

    fn write_to(&self, path: &Path) -> Result<()> {
        let file = std::fs::File::create(path)
            .with_context(|| format!("cannot create {}", path.display()))?;
        let mut builder = tar::Builder::new(GzEncoder::new(file, flate2::Compression::best()));
        let mut append = |entry_path: &str, bytes: &[u8]| -> Result<()> {
            let mut header = tar::Header::new_ustar();
            header.set_entry_type(tar::EntryType::Regular);
            header.set_mode(0o644);
            header.set_mtime(0);
            header.set_uid(0);
            header.set_gid(0);
            header.set_size(bytes.len() as u64);
            builder
                .append_data(&mut header, entry_path, bytes)
                .with_context(|| format!("cannot write {entry_path} into {}", path.display()))
        };
        append(MANIFEST_FILE, &self.manifest)?;
        if let Some(signature) = &self.signature {
            append(SIGNATURE_FILE, signature.as_bytes())?;
        }
        for (entry_path, bytes) in &self.files {
            append(entry_path, bytes)?;
        }
        let mut gz = builder
            .into_inner()
            .with_context(|| format!("cannot finish {}", path.display()))?;
        gz.flush()?;
        gz.finish()?
            .sync_all()
            .with_context(|| format!("cannot write {}", path.display()))?;
        Ok(())
    }
}

fn is_pack_dir(path: &str) -> bool {
    let path = path.trim_end_matches('/');
    path.is_empty()
        || path == "."
        || path == "plugins"
        || path == PLUGIN_DIR
        || path == SCENARIO_DIR
}

/// Only `plugins/dist/<name>.wasm` and `scenarios/<name>.toml`: no traversal, no other files.
pub(super) fn check_content_path(path: &str) -> Result<()> {
    let name = path
        .strip_prefix(PLUGIN_DIR)
        .and_then(|rest| rest.strip_prefix('/'))
        .and_then(|file| file.strip_suffix(".wasm"))
        .or_else(|| {
            path.strip_prefix(SCENARIO_DIR)
                .and_then(|rest| rest.strip_prefix('/'))
                .and_then(|file| file.strip_suffix(".toml"))
        });
    match name {
        Some(name) => check_name("file name", name)
            .with_context(|| format!("entry {path:?} is not allowed in a pack")),
        None => bail!(
            "entry {path:?} is not allowed in a pack (only {MANIFEST_FILE}, {SIGNATURE_FILE}, \
             {PLUGIN_DIR}/*.wasm and {SCENARIO_DIR}/*.toml)"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> PackArchive {
        let mut files = BTreeMap::new();
        files.insert("plugins/dist/steady.wasm".to_string(), b"\0asm".to_vec());
        files.insert(
            "scenarios/a.toml".to_string(),
            b"plugin = \"steady\"\n".to_vec(),
        );
        PackArchive {
            manifest: b"{}\n".to_vec(),
            signature: Some("sig\n".into()),
            files,
        }
    }

    #[test]
    fn a_pack_round_trips_and_is_reproducible() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a.kpack"), dir.path().join("b.kpack"));
        sample().write(&a).unwrap();
        sample().write(&b).unwrap();
        assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
        let read = PackArchive::read(&a).unwrap();
        assert_eq!(read.manifest, b"{}\n");
        assert_eq!(read.signature.as_deref(), Some("sig\n"));
        assert_eq!(read.files, sample().files);
    }

    fn tar_with(entries: &[(&str, tar::EntryType, &[u8])]) -> Vec<u8> {
        let mut builder = tar::Builder::new(GzEncoder::new(Vec::new(), Default::default()));
        for (path, kind, bytes) in entries {
            let mut header = tar::Header::new_gnu();
            header.set_entry_type(*kind);
            header.set_size(bytes.len() as u64);
            header.set_mode(0o644);
            if kind.is_symlink() {
                header.set_link_name("/etc/passwd").unwrap();
            }
            // set_path refuses `..`; write the name bytes directly as a hostile tool would.
            header.as_old_mut().name[..path.len()].copy_from_slice(path.as_bytes());
            header.set_cksum();
            builder.append(&header, *bytes).unwrap();
        }
        builder.into_inner().unwrap().finish().unwrap()
    }

    #[test]
    fn hostile_entries_are_refused() {
        let regular = tar::EntryType::Regular;
        for (entries, expected) in [
            (
                vec![
                    ("manifest.json", regular, b"{}".as_slice()),
                    ("../evil.wasm", regular, b"x"),
                ],
                "not allowed",
            ),
            (
                vec![
                    ("manifest.json", regular, b"{}".as_slice()),
                    ("plugins/dist/../../x.wasm", regular, b"x"),
                ],
                "not allowed",
            ),
            (
                vec![
                    ("manifest.json", regular, b"{}".as_slice()),
                    ("plugins/dist/a.wasm", tar::EntryType::Symlink, b""),
                ],
                "not a regular file",
            ),
            (
                vec![
                    ("manifest.json", regular, b"{}".as_slice()),
                    ("manifest.json", regular, b"{}"),
                ],
                "appears twice",
            ),
            (
                vec![("scenarios/a.toml", regular, b"x".as_slice())],
                "no manifest.json",
            ),
        ] {
            let error = PackArchive::read_from(tar_with(&entries).as_slice()).unwrap_err();
            assert!(
                format!("{error:#}").contains(expected),
                "{expected}: {error:#}"
            );
        }
        let error = PackArchive::read_from(b"not gzip".as_slice()).unwrap_err();
        assert!(
            format!("{error:#}").contains("not a kscen pack"),
            "{error:#}"
        );
    }
}
