//! Building a pack from scenario files: each scenario's plugin is found as `kscen run` would find
//! it, loaded and described so the manifest records what it really requests.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, ensure, Context, Result};

use super::archive::PackArchive;
use super::digest::sha256_hex;
use super::manifest::{
    check_name, FileEntry, Manifest, PluginEntry, ScenarioEntry, FORMAT, PLUGIN_DIR, SCENARIO_DIR,
};
use super::minisign::SecretKey;
use super::verify::trusted_comment;
use crate::bindings::WitVersion;
use crate::config::scenario::ScenarioFile;
use crate::engine::limits::Limits;
use crate::engine::Host;
use crate::plugin_path;

pub struct BuildRequest {
    pub name: String,
    pub version: String,
    pub scenarios: Vec<PathBuf>,
    pub key: Option<SecretKey>,
}

pub async fn build(host: &Host, request: &BuildRequest) -> Result<(Manifest, PackArchive)> {
    check_name("pack name", &request.name)?;
    semver::Version::parse(&request.version).with_context(|| {
        format!(
            "--version {:?} is not a semantic version such as 1.0.0",
            request.version
        )
    })?;
    ensure!(
        !request.scenarios.is_empty(),
        "name at least one scenario file"
    );
    let mut files = BTreeMap::new();
    let mut plugins: Vec<PluginEntry> = Vec::new();
    let mut scenarios = Vec::new();
    // The pack needs a host that runs the newest version any of its plugins targets.
    let mut wit = WitVersion::SUPPORTED[0];
    for path in &request.scenarios {
        let bytes = std::fs::read(path)
            .with_context(|| format!("cannot read scenario {}", path.display()))?;
        let text = String::from_utf8(bytes.clone())
            .with_context(|| format!("scenario {} is not UTF-8", path.display()))?;
        let scenario = ScenarioFile::parse(path, &text)?;
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        check_name("scenario file name", &name).with_context(|| path.display().to_string())?;
        if scenario.plugin.ends_with(".wasm") {
            // The scenario is shipped byte for byte (it is signed), so it must name its plugin
            // the way the installed layout resolves: by name.
            bail!(
                "scenario {} names its plugin by file ({}); packs need a plugin name \
                 (plugin = \"{}\") found in the plugin path",
                path.display(),
                scenario.plugin,
                Path::new(&scenario.plugin)
                    .file_stem()
                    .unwrap_or_default()
                    .to_string_lossy()
            );
        }
        check_name("plugin name", &scenario.plugin)
            .with_context(|| format!("scenario {}", path.display()))?;
        if plugins.iter().all(|p| p.name != scenario.plugin) {
            let (entry, bytes, plugin_wit) = describe_plugin(host, &scenario).await?;
            wit = wit.max(plugin_wit);
            files.insert(entry.file.path.clone(), bytes);
            plugins.push(entry);
        }
        let entry = ScenarioEntry {
            file: file_entry(format!("{SCENARIO_DIR}/{name}.toml"), &bytes),
            name: name.clone(),
            plugin: scenario.plugin.clone(),
            limits: scenario.limits.into(),
        };
        ensure!(
            files.insert(entry.file.path.clone(), bytes).is_none(),
            "two scenario files are named {name}.toml; rename one"
        );
        scenarios.push(entry);
    }
    let manifest = Manifest {
        format: FORMAT,
        name: request.name.clone(),
        version: request.version.clone(),
        wit: wit.world(),
        built_by: format!("kscen {}", env!("CARGO_PKG_VERSION")),
        plugins,
        scenarios,
        default_limits: Limits::default().into(),
    };
    // What install will check, checked now: a pack that cannot install is not written.
    manifest.validate()?;
    let bytes = manifest.to_bytes();
    let signature = request
        .key
        .as_ref()
        .map(|key| key.sign(&bytes, &trusted_comment(&manifest)).to_file_text());
    Ok((
        manifest,
        PackArchive {
            manifest: bytes,
            signature,
            files,
        },
    ))
}

async fn describe_plugin(
    host: &Host,
    scenario: &ScenarioFile,
) -> Result<(PluginEntry, Vec<u8>, WitVersion)> {
    let file = plugin_path::resolve(&scenario.plugin, scenario.path.parent())
        .with_context(|| format!("scenario {}", scenario.path.display()))?;
    // Hash the bytes that were described: read once, load from a copy of the same bytes.
    let bytes = std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
    let plugin = host.load(&file)?;
    ensure!(
        plugin.loaded.sha256 == sha256_hex(&bytes),
        "{} changed while the pack was being built; build again",
        file.display()
    );
    let info = plugin.describe(host).await?;
    let mut capabilities: Vec<_> = info.all_requests().map(Into::into).collect();
    capabilities.sort();
    Ok((
        PluginEntry {
            name: scenario.plugin.clone(),
            file: file_entry(format!("{PLUGIN_DIR}/{}.wasm", scenario.plugin), &bytes),
            capabilities,
        },
        bytes,
        plugin.wit_version(),
    ))
}

fn file_entry(path: String, bytes: &[u8]) -> FileEntry {
    FileEntry {
        path,
        sha256: sha256_hex(bytes),
        size: bytes.len() as u64,
    }
}
