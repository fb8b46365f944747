//! Container images without Docker or a registry: a one-layer docker-archive tar (the format
//! `docker save` writes, which `ctr images import` reads), built from host files.
//!
//! ```text
//! manifest.json               [{"Config": "<sha256>.json", "RepoTags": [name:tag], "Layers": ["<sha256>/layer.tar"]}]
//! <sha256>.json               the image config: entrypoint, env, working dir, the layer's diff id
//! <sha256>/layer.tar          the root filesystem
//! ```
//! Entries carry mtime 0 and uid/gid 0, so the same inputs give the same image id.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, ensure, Context, Result};
use sha2::{Digest, Sha256};

/// What goes at one path of the image's root filesystem.
enum Entry {
    Dir {
        mode: u32,
    },
    /// A host file, symlinks followed: its content lands at the image path as a regular file.
    File {
        from: PathBuf,
        mode: u32,
    },
    Bytes {
        data: Vec<u8>,
        mode: u32,
    },
    Symlink {
        target: String,
    },
}

/// An image being assembled: its root filesystem (image path -> entry) and its runtime config.
pub struct Image {
    entries: BTreeMap<String, Entry>,
    pub entrypoint: Vec<String>,
    pub env: Vec<String>,
    pub working_dir: String,
}

impl Image {
    pub fn new(entrypoint: &[&str]) -> Image {
        Image {
            entries: BTreeMap::new(),
            entrypoint: entrypoint.iter().map(|s| s.to_string()).collect(),
            env: Vec::new(),
            working_dir: "/".into(),
        }
    }

    /// `dest` (absolute) gets the content of host file `from`, with `mode`.
    pub fn file(&mut self, from: &Path, dest: &str, mode: u32) -> Result<()> {
        ensure!(
            from.is_file(),
            "{} is not a file: cannot put it in the image",
            from.display()
        );
        self.parents(dest);
        self.entries.insert(
            relative(dest),
            Entry::File {
                from: from.to_path_buf(),
                mode,
            },
        );
        Ok(())
    }

    pub fn bytes(&mut self, dest: &str, data: impl Into<Vec<u8>>, mode: u32) {
        self.parents(dest);
        self.entries.insert(
            relative(dest),
            Entry::Bytes {
                data: data.into(),
                mode,
            },
        );
    }

    /// `dest` is a symbolic link to `target`.
    pub fn symlink(&mut self, dest: &str, target: &str) {
        self.parents(dest);
        self.entries.insert(
            relative(dest),
            Entry::Symlink {
                target: target.to_string(),
            },
        );
    }

    pub fn dir(&mut self, dest: &str, mode: u32) {
        self.parents(dest);
        self.entries.insert(relative(dest), Entry::Dir { mode });
    }

    /// Every `*.ext` file of host folder `from` into image folder `dest`, with `mode`.
    pub fn files_with_extension(
        &mut self,
        from: &Path,
        ext: &str,
        dest: &str,
        mode: u32,
    ) -> Result<usize> {
        let mut n = 0;
        let listing =
            std::fs::read_dir(from).with_context(|| format!("listing {}", from.display()))?;
        for entry in listing {
            let path = entry?.path();
            if path.extension().is_some_and(|e| e == ext) && path.is_file() {
                let name = path.file_name().expect("a file name").to_string_lossy();
                self.file(&path, &format!("{dest}/{name}"), mode)?;
                n += 1;
            }
        }
        Ok(n)
    }

    /// The shared libraries `binary` loads (`ldd`), and its dynamic loader, each at the path the
    /// loader looks it up by; nothing for a static binary.
    pub fn shared_libraries_of(&mut self, binary: &Path) -> Result<Vec<String>> {
        let out = Command::new("ldd")
            .arg(binary)
            .output()
            .context("running ldd (needed to find what the binary links against)")?;
        let text = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() {
            // "not a dynamic executable": static, nothing to add.
            return Ok(Vec::new());
        }
        let libs = ldd_paths(&text)?;
        for lib in &libs {
            self.file(Path::new(lib), lib, 0o755)?;
        }
        Ok(libs)
    }

    fn parents(&mut self, dest: &str) {
        let rel = relative(dest);
        let mut at = String::new();
        for part in rel
            .split('/')
            .collect::<Vec<_>>()
            .split_last()
            .map_or(&[][..], |(_, p)| p)
        {
            if !at.is_empty() {
                at.push('/');
            }
            at.push_str(part);
            self.entries
                .entry(at.clone())
                .or_insert(Entry::Dir { mode: 0o755 });
        }
    }

    /// Writes the image as a docker-archive tar at `out`, tagged `reference` (`name:tag`).
    /// Returns the image config's digest (the image id).
    pub fn write(&self, reference: &str, out: &Path) -> Result<String> {
        let layer_path = out.with_extension("layer.tmp");
        let diff_id = self
            .write_layer(&layer_path)
            .with_context(|| format!("writing the image layer {}", layer_path.display()))?;
        let config = serde_json::json!({
            "architecture": "amd64",
            "os": "linux",
            "created": "1970-01-01T00:00:00Z",
            "config": {
                "Entrypoint": self.entrypoint,
                "Env": self.env,
                "WorkingDir": self.working_dir,
            },
            "rootfs": {"type": "layers", "diff_ids": [format!("sha256:{diff_id}")]},
            "history": [{"created": "1970-01-01T00:00:00Z", "created_by": "cargo xtask (kscen)"}],
        });
        let config = serde_json::to_vec(&config)?;
        let config_digest = hex::encode(Sha256::digest(&config));
        let config_name = format!("{config_digest}.json");
        let layer_name = format!("{diff_id}/layer.tar");
        let manifest = serde_json::to_vec(&serde_json::json!([{
            "Config": config_name,
            "RepoTags": [reference],
            "Layers": [layer_name],
        }]))?;

        let file = File::create(out).with_context(|| format!("creating {}", out.display()))?;
        let mut tar = tar::Builder::new(BufWriter::new(file));
        append_bytes(&mut tar, &config_name, &config, 0o644)?;
        let mut header = header(tar::EntryType::Directory, 0o755, 0);
        tar.append_data(&mut header, format!("{diff_id}/"), std::io::empty())?;
        let layer = File::open(&layer_path)?;
        let mut header = header_for_size(layer.metadata()?.len());
        tar.append_data(&mut header, &layer_name, layer)?;
        append_bytes(&mut tar, "manifest.json", &manifest, 0o644)?;
        tar.into_inner()?.flush()?;
        std::fs::remove_file(&layer_path)?;
        Ok(format!("sha256:{config_digest}"))
    }

    /// The root filesystem as an uncompressed tar; returns its sha256 (the layer's diff id).
    fn write_layer(&self, path: &Path) -> Result<String> {
        let file = File::create(path)?;
        let mut tar = tar::Builder::new(HashingWriter {
            inner: BufWriter::new(file),
            hasher: Sha256::new(),
        });
        for (name, entry) in &self.entries {
            match entry {
                Entry::Dir { mode } => {
                    let mut h = header(tar::EntryType::Directory, *mode, 0);
                    tar.append_data(&mut h, format!("{name}/"), std::io::empty())?;
                }
                Entry::File { from, mode } => {
                    let source =
                        File::open(from).with_context(|| format!("reading {}", from.display()))?;
                    let mut h = header(tar::EntryType::Regular, *mode, source.metadata()?.len());
                    tar.append_data(&mut h, name, source)?;
                }
                Entry::Bytes { data, mode } => append_bytes(&mut tar, name, data, *mode)?,
                Entry::Symlink { target } => {
                    let mut h = header(tar::EntryType::Symlink, 0o777, 0);
                    tar.append_link(&mut h, name, target)?;
                }
            }
        }
        let mut writer = tar.into_inner()?;
        writer.inner.flush()?;
        Ok(hex::encode(writer.hasher.finalize()))
    }
}

fn relative(dest: &str) -> String {
    dest.trim_start_matches('/')
        .trim_end_matches('/')
        .to_string()
}

fn header(kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_size(size);
    h.set_mtime(0);
    h.set_uid(0);
    h.set_gid(0);
    h
}

fn header_for_size(size: u64) -> tar::Header {
    header(tar::EntryType::Regular, 0o644, size)
}

fn append_bytes<W: Write>(
    tar: &mut tar::Builder<W>,
    name: &str,
    data: &[u8],
    mode: u32,
) -> Result<()> {
    let mut h = header(tar::EntryType::Regular, mode, data.len() as u64);
    tar.append_data(&mut h, name, data)?;
    Ok(())
}

struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// The absolute paths in `ldd` output: `libX.so => /path (0x..)` and the loader's `/path (0x..)`;
/// the vDSO has none. A library ldd cannot find is an error: the image would not start.
fn ldd_paths(text: &str) -> Result<Vec<String>> {
    let mut paths = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if line.contains("not found") {
            bail!("ldd: {line}");
        }
        let target = line.split_once("=>").map_or(line, |(_, t)| t).trim();
        if let Some(path) = target
            .split_whitespace()
            .next()
            .filter(|p| p.starts_with('/'))
        {
            paths.push(path.to_string());
        }
    }
    Ok(paths)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ldd_output_gives_each_library_and_the_loader_once() {
        let text = "\tlinux-vdso.so.1 (0x00007ffd)\n\
                    \tlibssl.so.3 => /lib/x86_64-linux-gnu/libssl.so.3 (0x00007f01)\n\
                    \tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f02)\n\
                    \t/lib64/ld-linux-x86-64.so.2 (0x00007f03)\n";
        assert_eq!(
            ldd_paths(text).unwrap(),
            [
                "/lib/x86_64-linux-gnu/libssl.so.3",
                "/lib/x86_64-linux-gnu/libc.so.6",
                "/lib64/ld-linux-x86-64.so.2"
            ]
        );
        let missing = "\tlibfoo.so.1 => not found\n";
        assert!(ldd_paths(missing).is_err());
    }

    #[test]
    fn the_archive_holds_a_manifest_a_config_and_a_layer_with_the_parents_of_every_file() {
        let dir = tempfile::tempdir().unwrap();
        let host_file = dir.path().join("tool");
        std::fs::write(&host_file, b"#!binary").unwrap();
        let mut image = Image::new(&["/opt/x/bin/tool"]);
        image.env.push("PATH=/opt/x/bin".into());
        image.file(&host_file, "/opt/x/bin/tool", 0o755).unwrap();
        image.bytes("/etc/hosts", "127.0.0.1 localhost\n", 0o644);
        image.symlink("/etc/hosts.link", "hosts");
        let out = dir.path().join("image.tar");
        let id = image.write("localhost/test/x:1", &out).unwrap();
        let again = dir.path().join("again.tar");
        assert_eq!(image.write("localhost/test/x:1", &again).unwrap(), id);

        let mut files = BTreeMap::new();
        let mut archive = tar::Archive::new(File::open(&out).unwrap());
        for entry in archive.entries().unwrap() {
            let mut entry = entry.unwrap();
            let name = entry.path().unwrap().to_string_lossy().to_string();
            let mut data = Vec::new();
            std::io::Read::read_to_end(&mut entry, &mut data).unwrap();
            files.insert(name, data);
        }
        let manifest: serde_json::Value = serde_json::from_slice(&files["manifest.json"]).unwrap();
        let config_name = manifest[0]["Config"].as_str().unwrap();
        assert_eq!(
            format!("sha256:{}", config_name.trim_end_matches(".json")),
            id
        );
        assert_eq!(manifest[0]["RepoTags"][0], "localhost/test/x:1");
        let config: serde_json::Value = serde_json::from_slice(&files[config_name]).unwrap();
        assert_eq!(config["config"]["Entrypoint"][0], "/opt/x/bin/tool");
        let layer = &files[manifest[0]["Layers"][0].as_str().unwrap()];
        assert_eq!(
            config["rootfs"]["diff_ids"][0],
            format!("sha256:{}", hex::encode(Sha256::digest(layer)))
        );
        let names: Vec<String> = tar::Archive::new(&layer[..])
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().to_string_lossy().to_string())
            .collect();
        assert_eq!(
            names,
            [
                "etc/",
                "etc/hosts",
                "etc/hosts.link",
                "opt/",
                "opt/x/",
                "opt/x/bin/",
                "opt/x/bin/tool"
            ]
        );
    }
}
