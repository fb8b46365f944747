//! Container images without Docker or a registry: a one-layer OCI image layout in a tar, with
//! docker-archive's `manifest.json` over the same blobs (what `docker save` writes since Docker
//! 25), so `ctr images import`, `podman load`, `docker load` and `skopeo copy oci-archive:` all
//! read it.
//!
//! ```text
//! oci-layout                  {"imageLayoutVersion": "1.0.0"}
//! index.json                  one manifest, named by its io.containerd.image.name annotation
//! blobs/sha256/<manifest>     the image manifest: the config and the layer, by digest and size
//! blobs/sha256/<config>       the image config: entrypoint, env, working dir, the layer's diff id
//! blobs/sha256/<layer>        the root filesystem, an uncompressed tar
//! manifest.json               [{"Config": "blobs/sha256/<config>", "RepoTags": [name:tag], "Layers": [...]}]
//! ```
//! Entries carry mtime 0 and uid/gid 0, so the same inputs give the same image id.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, ensure, Context, Result};
use sha2::{Digest, Sha256};

const MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";

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

    /// Writes the image as an OCI image layout tar at `out` (see the module's doc), named
    /// `reference` (`name:tag`). Returns the image config's digest (the image id).
    pub fn write(&self, reference: &str, out: &Path) -> Result<String> {
        let layer_path = out.with_extension("layer.tmp");
        let layer_digest = self
            .write_layer(&layer_path)
            .with_context(|| format!("writing the image layer {}", layer_path.display()))?;
        let layer_size = std::fs::metadata(&layer_path)?.len();
        let config = serde_json::to_vec(&serde_json::json!({
            "architecture": "amd64",
            "os": "linux",
            "created": "1970-01-01T00:00:00Z",
            "config": {
                "Entrypoint": self.entrypoint,
                "Env": self.env,
                "WorkingDir": self.working_dir,
            },
            // Uncompressed: the layer's digest is its diff id.
            "rootfs": {"type": "layers", "diff_ids": [format!("sha256:{layer_digest}")]},
            "history": [{"created": "1970-01-01T00:00:00Z", "created_by": "cargo xtask (kscen)"}],
        }))?;
        let config_digest = hex::encode(Sha256::digest(&config));
        let manifest = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": MANIFEST_MEDIA_TYPE,
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": format!("sha256:{config_digest}"),
                "size": config.len(),
            },
            "layers": [{
                "mediaType": "application/vnd.oci.image.layer.v1.tar",
                "digest": format!("sha256:{layer_digest}"),
                "size": layer_size,
            }],
        }))?;
        let manifest_digest = hex::encode(Sha256::digest(&manifest));
        let tag = reference.rsplit_once(':').map_or("latest", |(_, tag)| tag);
        let index = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [{
                "mediaType": MANIFEST_MEDIA_TYPE,
                "digest": format!("sha256:{manifest_digest}"),
                "size": manifest.len(),
                "annotations": {
                    "io.containerd.image.name": reference,
                    "org.opencontainers.image.ref.name": tag,
                },
            }],
        }))?;
        let blob = |digest: &str| format!("blobs/sha256/{digest}");
        let docker_manifest = serde_json::to_vec(&serde_json::json!([{
            "Config": blob(&config_digest),
            "RepoTags": [reference],
            "Layers": [blob(&layer_digest)],
        }]))?;

        let file = File::create(out).with_context(|| format!("creating {}", out.display()))?;
        let mut tar = tar::Builder::new(BufWriter::new(file));
        append_bytes(
            &mut tar,
            "oci-layout",
            br#"{"imageLayoutVersion":"1.0.0"}"#,
            0o644,
        )?;
        append_bytes(&mut tar, "index.json", &index, 0o644)?;
        for dir in ["blobs/", "blobs/sha256/"] {
            let mut header = header(tar::EntryType::Directory, 0o755, 0);
            tar.append_data(&mut header, dir, std::io::empty())?;
        }
        append_bytes(&mut tar, &blob(&manifest_digest), &manifest, 0o644)?;
        append_bytes(&mut tar, &blob(&config_digest), &config, 0o644)?;
        let layer = File::open(&layer_path)?;
        let mut header = header(tar::EntryType::Regular, 0o644, layer_size);
        tar.append_data(&mut header, blob(&layer_digest), layer)?;
        append_bytes(&mut tar, "manifest.json", &docker_manifest, 0o644)?;
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

    /// The archive's files by name.
    fn files_of(archive: &Path) -> BTreeMap<String, Vec<u8>> {
        let mut files = BTreeMap::new();
        let mut archive = tar::Archive::new(File::open(archive).unwrap());
        for entry in archive.entries().unwrap() {
            let mut entry = entry.unwrap();
            let name = entry.path().unwrap().to_string_lossy().to_string();
            let mut data = Vec::new();
            std::io::Read::read_to_end(&mut entry, &mut data).unwrap();
            files.insert(name, data);
        }
        files
    }

    fn json(data: &[u8]) -> serde_json::Value {
        serde_json::from_slice(data).unwrap()
    }

    /// A blob's name in the layout, checked against its digest and size as `descriptor` gives them.
    fn blob<'a>(files: &'a BTreeMap<String, Vec<u8>>, descriptor: &serde_json::Value) -> &'a [u8] {
        let digest = descriptor["digest"].as_str().unwrap();
        let data = &files[&format!("blobs/sha256/{}", digest.trim_start_matches("sha256:"))];
        assert_eq!(
            digest,
            format!("sha256:{}", hex::encode(Sha256::digest(data)))
        );
        assert_eq!(descriptor["size"], data.len());
        data
    }

    #[test]
    fn the_oci_layout_names_the_image_and_its_blobs_match_their_digests() {
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
        assert_eq!(std::fs::read(&out).unwrap(), std::fs::read(&again).unwrap());

        let files = files_of(&out);
        assert_eq!(json(&files["oci-layout"])["imageLayoutVersion"], "1.0.0");
        let index = json(&files["index.json"]);
        let named = &index["manifests"][0];
        assert_eq!(
            named["annotations"]["io.containerd.image.name"],
            "localhost/test/x:1"
        );
        assert_eq!(
            named["annotations"]["org.opencontainers.image.ref.name"],
            "1"
        );
        let manifest = json(blob(&files, named));
        assert_eq!(manifest["config"]["digest"], id.as_str());
        let config = json(blob(&files, &manifest["config"]));
        assert_eq!(config["config"]["Entrypoint"][0], "/opt/x/bin/tool");
        let layer = blob(&files, &manifest["layers"][0]);
        assert_eq!(
            config["rootfs"]["diff_ids"][0],
            manifest["layers"][0]["digest"]
        );
        let names: Vec<String> = tar::Archive::new(layer)
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

        // docker-archive's manifest names the same blobs.
        let docker = json(&files["manifest.json"]);
        assert_eq!(docker[0]["RepoTags"][0], "localhost/test/x:1");
        assert_eq!(
            docker[0]["Config"],
            format!("blobs/sha256/{}", id.trim_start_matches("sha256:"))
        );
        assert_eq!(
            files[docker[0]["Layers"][0].as_str().unwrap()].as_slice(),
            layer
        );
    }
}
