//! Packs in OCI registries, as Wasm OCI artifacts in the layout `wkg` uses (CNCF Wasm artifact:
//! `application/wasm` layers, an `application/vnd.wasm.config.v0+json` config): one layer per pack
//! entry, named by its `org.opencontainers.image.title` annotation. The signed manifest and its
//! signature travel as layers of their own, so a pulled pack is put back together in memory and
//! verified exactly as a pack file before anything is written.

use std::collections::BTreeMap;

use anyhow::{bail, ensure, Context, Result};
use oci_client::client::{ClientConfig, ClientProtocol, Config, ImageLayer};
use oci_client::manifest::OciImageManifest;
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};

use super::archive::{self, PackArchive, SIGNATURE_FILE};
use super::manifest::{Manifest, MANIFEST_FILE};

pub const CONFIG_MEDIA_TYPE: &str = "application/vnd.wasm.config.v0+json";
pub const WASM_MEDIA_TYPE: &str = "application/wasm";
const MANIFEST_MEDIA_TYPE: &str = "application/vnd.kscen.pack.manifest.v1+json";
const SIGNATURE_MEDIA_TYPE: &str = "application/vnd.kscen.pack.signature.v1+minisign";
const SCENARIO_MEDIA_TYPE: &str = "application/vnd.kscen.scenario.v1+toml";
const TITLE: &str = "org.opencontainers.image.title";
const VERSION: &str = "org.opencontainers.image.version";
/// The registry credentials' environment variables.
pub const USERNAME_VAR: &str = "KSCEN_REGISTRY_USERNAME";
pub const PASSWORD_VAR: &str = "KSCEN_REGISTRY_PASSWORD";

/// How to reach a registry.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct RegistryArgs {
    /// Speak plain HTTP to the registry (a local or lab registry without TLS).
    #[arg(long)]
    pub plain_http: bool,
}

impl RegistryArgs {
    /// What to try when the registry could not be reached as asked.
    fn hint(&self) -> &'static str {
        if self.plain_http {
            ""
        } else {
            " (a registry without TLS needs --plain-http)"
        }
    }

    fn client(&self) -> Client {
        Client::new(ClientConfig {
            protocol: if self.plain_http {
                ClientProtocol::Http
            } else {
                ClientProtocol::Https
            },
            ..ClientConfig::default()
        })
    }
}

/// Basic credentials from the environment, else anonymous (a registry's token exchange follows
/// from either).
fn auth() -> Result<RegistryAuth> {
    match (std::env::var(USERNAME_VAR), std::env::var(PASSWORD_VAR)) {
        (Ok(user), Ok(password)) => Ok(RegistryAuth::Basic(user, password)),
        (Err(_), Err(_)) => Ok(RegistryAuth::Anonymous),
        _ => bail!("set both {USERNAME_VAR} and {PASSWORD_VAR}, or neither (anonymous access)"),
    }
}

fn parse_reference(text: &str) -> Result<Reference> {
    text.parse().with_context(|| {
        format!(
            "{text:?} is not an OCI reference: write REGISTRY/REPOSITORY:TAG or \
             REGISTRY/REPOSITORY@sha256:DIGEST (e.g. registry.example.com/acme/perf:1.2.0)"
        )
    })
}

/// Pushes `pack` to `reference` (a tag); returns the artifact's manifest digest, by which shards
/// and other users can pull exactly this pack.
pub async fn push(pack: &PackArchive, reference: &str, registry: &RegistryArgs) -> Result<String> {
    let reference = parse_reference(reference)?;
    let manifest = Manifest::parse(&pack.manifest).context("the pack's manifest.json")?;
    let layers = layers(pack);
    let config = Config::new(config_json(&layers), CONFIG_MEDIA_TYPE.into(), None);
    let annotations = BTreeMap::from([
        (TITLE.to_string(), manifest.name.clone()),
        (VERSION.to_string(), manifest.version.clone()),
    ]);
    let artifact = OciImageManifest::build(&layers, &config, Some(annotations));
    let client = registry.client();
    let auth = auth()?;
    client
        .push(&reference, &layers, config, &auth, Some(artifact))
        .await
        .with_context(|| format!("cannot push the pack to {reference}{}", registry.hint()))?;
    client
        .fetch_manifest_digest(&reference, &auth)
        .await
        .with_context(|| format!("pushed to {reference}, but cannot read back its digest"))
}

/// Pulls the pack at `reference` (tag or digest) into memory; returns it with the artifact's
/// manifest digest. Nothing is verified here: the caller verifies it as a pack file.
pub async fn pull(reference: &str, registry: &RegistryArgs) -> Result<(PackArchive, String)> {
    let reference = parse_reference(reference)?;
    let client = registry.client();
    let auth = auth()?;
    let (artifact, digest) = client
        .pull_image_manifest(&reference, &auth)
        .await
        .with_context(|| {
            format!(
                "cannot read the artifact manifest of {reference}{}",
                registry.hint()
            )
        })?;
    ensure!(
        artifact.config.media_type == CONFIG_MEDIA_TYPE,
        "{reference} is not a kscen pack: its config is {}, not {CONFIG_MEDIA_TYPE}",
        artifact.config.media_type
    );
    // Sizes are checked before anything is downloaded: a registry is not trusted with memory.
    let total: i64 = artifact.layers.iter().map(|l| l.size.max(0)).sum();
    ensure!(
        artifact.layers.len() <= archive::MAX_ENTRIES && total as u64 <= archive::MAX_TOTAL_BYTES,
        "{reference} holds {} layers of {total} bytes in all: more than a pack may",
        artifact.layers.len()
    );
    // Pinned to the digest just read, so a tag moved meanwhile cannot mix two artifacts.
    let pinned = reference.clone_with_digest(digest.clone());
    let mut layers = Vec::new();
    for descriptor in &artifact.layers {
        let mut data = Vec::with_capacity(descriptor.size.max(0) as usize);
        client
            .pull_blob(&pinned, descriptor, &mut data)
            .await
            .with_context(|| {
                format!("cannot download layer {} of {reference}", descriptor.digest)
            })?;
        layers.push(ImageLayer::new(
            data,
            descriptor.media_type.clone(),
            descriptor.annotations.clone(),
        ));
    }
    let pack =
        assemble(layers).with_context(|| format!("{reference} is not a valid kscen pack"))?;
    Ok((pack, digest))
}

/// One layer per pack entry, the manifest and its signature first.
fn layers(pack: &PackArchive) -> Vec<ImageLayer> {
    let layer = |title: &str, media_type: &str, data: Vec<u8>| {
        let annotations = BTreeMap::from([(TITLE.to_string(), title.to_string())]);
        ImageLayer::new(data, media_type.into(), Some(annotations))
    };
    let mut layers = vec![layer(
        MANIFEST_FILE,
        MANIFEST_MEDIA_TYPE,
        pack.manifest.clone(),
    )];
    if let Some(signature) = &pack.signature {
        layers.push(layer(
            SIGNATURE_FILE,
            SIGNATURE_MEDIA_TYPE,
            signature.clone().into_bytes(),
        ));
    }
    for (path, bytes) in &pack.files {
        let media_type = if path.ends_with(".wasm") {
            WASM_MEDIA_TYPE
        } else {
            SCENARIO_MEDIA_TYPE
        };
        layers.push(layer(path, media_type, bytes.clone()));
    }
    layers
}

/// The pack the layers hold, with the path rules a pack file's entries follow.
fn assemble(layers: Vec<ImageLayer>) -> Result<PackArchive> {
    let mut pack = PackArchive::default();
    let mut manifest = None;
    for layer in layers {
        let title = layer
            .annotations
            .as_ref()
            .and_then(|a| a.get(TITLE))
            .with_context(|| format!("a {} layer has no {TITLE} annotation", layer.media_type))?
            .clone();
        let duplicate = match title.as_str() {
            MANIFEST_FILE => manifest.replace(layer.data).is_some(),
            SIGNATURE_FILE => pack
                .signature
                .replace(String::from_utf8(layer.data).context("the signature is not text")?)
                .is_some(),
            path => {
                archive::check_content_path(path)?;
                pack.files.insert(path.to_string(), layer.data).is_some()
            }
        };
        // A second copy would let the verified bytes differ from the ones that get used.
        ensure!(!duplicate, "layer {title} appears twice");
    }
    pack.manifest = manifest.context("it has no manifest.json layer")?;
    Ok(pack)
}

/// The Wasm OCI config: what the artifact is and its layers in order.
fn config_json(layers: &[ImageLayer]) -> Vec<u8> {
    let digests: Vec<String> = layers.iter().map(|l| l.sha256_digest()).collect();
    serde_json::json!({
        "architecture": "wasm",
        "os": "wasip2",
        "layerDigests": digests,
    })
    .to_string()
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pack() -> PackArchive {
        PackArchive {
            manifest: br#"{"name":"acme"}"#.to_vec(),
            signature: Some("untrusted comment: x\nRWQ...".into()),
            files: BTreeMap::from([
                ("plugins/dist/burst.wasm".to_string(), b"\0asm".to_vec()),
                (
                    "scenarios/burst.toml".to_string(),
                    b"plugin = \"burst\"".to_vec(),
                ),
            ]),
        }
    }

    #[test]
    fn a_pack_goes_to_layers_and_back_unchanged() {
        let layers = layers(&pack());
        let types: Vec<&str> = layers.iter().map(|l| l.media_type.as_str()).collect();
        assert_eq!(
            types,
            [
                MANIFEST_MEDIA_TYPE,
                SIGNATURE_MEDIA_TYPE,
                WASM_MEDIA_TYPE,
                SCENARIO_MEDIA_TYPE
            ]
        );
        let back = assemble(layers).unwrap();
        assert_eq!(back.manifest, pack().manifest);
        assert_eq!(back.signature, pack().signature);
        assert_eq!(back.files, pack().files);
    }

    #[test]
    fn layers_outside_a_pack_s_paths_or_twice_are_refused() {
        let mut layers = layers(&pack());
        layers[2]
            .annotations
            .as_mut()
            .unwrap()
            .insert(TITLE.into(), "../../etc/passwd".into());
        assert!(assemble(layers).is_err());
        let mut layers = super::layers(&pack());
        layers.push(layers[0].clone());
        let error = assemble(layers).unwrap_err().to_string();
        assert!(error.contains("appears twice"), "{error}");
    }
}
