//! The pack manifest: what a pack holds, each file pinned by its sha256. It is the one signed
//! document of a pack, so everything a reviewer must trust (names, digests, capabilities, limits)
//! lives here and nowhere else.

use anyhow::{bail, ensure, Context, Result};
use serde::{Deserialize, Serialize};

use crate::bindings::WitVersion;
use crate::engine::limits::Limits;
use crate::policy::Request;

/// The manifest's file name inside a pack and in an installed pack's folder.
pub const MANIFEST_FILE: &str = "manifest.json";
/// Bumped when a manifest field changes meaning; older hosts refuse newer formats.
pub const FORMAT: u32 = 1;
/// Where components sit, in the pack and once installed: the layout the plugin search path
/// already looks at (`<scenario dir>/../plugins/dist`).
pub const PLUGIN_DIR: &str = "plugins/dist";
/// Where scenario files sit, in the pack and once installed.
pub const SCENARIO_DIR: &str = "scenarios";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub format: u32,
    pub name: String,
    /// semver, e.g. `1.4.0`
    pub version: String,
    /// the newest WIT world its components were built against (e.g. `kscen:scenario@0.2.0`); a
    /// host that does not run it refuses the pack before install
    pub wit: String,
    /// the kscen that built the pack, for support questions only
    pub built_by: String,
    pub plugins: Vec<PluginEntry>,
    pub scenarios: Vec<ScenarioEntry>,
    /// what a plugin instance may use when a scenario file sets no `[limits]`
    pub default_limits: PackLimits,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginEntry {
    pub name: String,
    pub file: FileEntry,
    /// what the component asks for in `describe`, so a reviewer sees it before installing
    pub capabilities: Vec<Capability>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioEntry {
    /// what `kscen run <pack>/<name>` takes: the file name without `.toml`
    pub name: String,
    pub file: FileEntry,
    /// the plugin (by name, one of `plugins`) this scenario runs
    pub plugin: String,
    /// the scenario file's effective `[limits]`
    pub limits: PackLimits,
}

/// One file of the pack, as a path relative to the pack root.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileEntry {
    pub path: String,
    /// lowercase hex
    pub sha256: String,
    pub size: u64,
}

/// A requested capability, spelled as `kscen describe` prints it: `{"kind": "cluster", "name":
/// "source"}`, `{"kind": "topic", "cluster": "source", "pattern": "test-mm2-*"}`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Capability {
    Cluster { name: String },
    Connect,
    Fault { name: String },
    Probe { name: String },
    Topic { cluster: String, pattern: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackLimits {
    pub memory_bytes: u64,
    pub cpu_ms: u64,
}

impl From<&Request> for Capability {
    fn from(request: &Request) -> Self {
        match request {
            Request::Cluster(name) => Capability::Cluster { name: name.clone() },
            Request::Connect => Capability::Connect,
            Request::Fault(name) => Capability::Fault { name: name.clone() },
            Request::Probe(name) => Capability::Probe { name: name.clone() },
            Request::Topic { cluster, pattern } => Capability::Topic {
                cluster: cluster.clone(),
                pattern: pattern.clone(),
            },
        }
    }
}

impl std::fmt::Display for Capability {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Capability::Cluster { name } => write!(f, "cluster {name}"),
            Capability::Connect => write!(f, "connect"),
            Capability::Fault { name } => write!(f, "fault {name}"),
            Capability::Probe { name } => write!(f, "probe {name}"),
            Capability::Topic { cluster, pattern } => write!(f, "topic {pattern} on {cluster}"),
        }
    }
}

impl From<Limits> for PackLimits {
    fn from(limits: Limits) -> Self {
        PackLimits {
            memory_bytes: limits.memory_bytes,
            cpu_ms: limits.cpu.as_millis() as u64,
        }
    }
}

impl std::fmt::Display for PackLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "memory {} MiB, cpu {} ms",
            self.memory_bytes / (1024 * 1024),
            self.cpu_ms
        )
    }
}

impl Manifest {
    /// Parses and checks a manifest. Call only on bytes whose signature was checked (or that the
    /// operator accepted unsigned): the checks keep a well-signed but broken pack from installing.
    pub fn parse(bytes: &[u8]) -> Result<Manifest> {
        let manifest: Manifest =
            serde_json::from_slice(bytes).context("the pack's manifest.json is not valid")?;
        manifest.validate()?;
        Ok(manifest)
    }

    /// Pretty JSON, the exact bytes that get signed.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = serde_json::to_vec_pretty(self).expect("a manifest serializes");
        bytes.push(b'\n');
        bytes
    }

    pub fn id(&self) -> String {
        format!("{}@{}", self.name, self.version)
    }

    pub fn files(&self) -> impl Iterator<Item = &FileEntry> {
        self.plugins
            .iter()
            .map(|p| &p.file)
            .chain(self.scenarios.iter().map(|s| &s.file))
    }

    pub fn plugin(&self, name: &str) -> Option<&PluginEntry> {
        self.plugins.iter().find(|p| p.name == name)
    }

    pub fn scenario(&self, name: &str) -> Option<&ScenarioEntry> {
        let name = name.strip_suffix(".toml").unwrap_or(name);
        self.scenarios.iter().find(|s| s.name == name)
    }

    pub fn validate(&self) -> Result<()> {
        ensure!(
            self.format == FORMAT,
            "manifest format {} is not supported (this kscen reads format {FORMAT}); upgrade kscen",
            self.format
        );
        check_name("pack name", &self.name)?;
        semver::Version::parse(&self.version).with_context(|| {
            format!(
                "pack version {:?} is not a semantic version such as 1.0.0",
                self.version
            )
        })?;
        ensure!(
            WitVersion::from_world(&self.wit).is_some(),
            "pack {} was built for {}, this kscen runs {}; use a kscen that runs it",
            self.id(),
            self.wit,
            WitVersion::supported_list()
        );
        ensure!(
            !self.scenarios.is_empty(),
            "pack {} has no scenarios",
            self.id()
        );
        let mut paths = std::collections::BTreeSet::new();
        for plugin in &self.plugins {
            check_name("plugin name", &plugin.name)?;
            check_file(&plugin.file, &format!("{PLUGIN_DIR}/{}.wasm", plugin.name))?;
            ensure!(
                paths.insert(plugin.file.path.as_str()),
                "plugin {} is listed twice",
                plugin.name
            );
        }
        for scenario in &self.scenarios {
            check_name("scenario name", &scenario.name)?;
            check_file(
                &scenario.file,
                &format!("{SCENARIO_DIR}/{}.toml", scenario.name),
            )?;
            ensure!(
                paths.insert(scenario.file.path.as_str()),
                "scenario {} is listed twice",
                scenario.name
            );
            ensure!(
                self.plugin(&scenario.plugin).is_some(),
                "scenario {} runs plugin {:?}, which the pack does not hold",
                scenario.name,
                scenario.plugin
            );
        }
        Ok(())
    }
}

/// Names become folder and file names on install: keep them to a portable, traversal-free set.
pub fn check_name(what: &str, name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && name.as_bytes()[0].is_ascii_alphanumeric();
    if !ok {
        bail!(
            "{what} {name:?} is not allowed: use 1-64 letters, digits, '-', '_' or '.', starting with a letter or digit"
        );
    }
    Ok(())
}

/// Paths are fixed by the entry's name, so a manifest cannot point outside the pack.
fn check_file(file: &FileEntry, expected_path: &str) -> Result<()> {
    ensure!(
        file.path == expected_path,
        "manifest entry {:?} must be at {expected_path:?}",
        file.path
    );
    ensure!(
        file.sha256.len() == 64
            && file
                .sha256
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
        "manifest entry {} has an invalid sha256 {:?} (64 lowercase hex digits expected)",
        file.path,
        file.sha256
    );
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn sample() -> Manifest {
        Manifest {
            format: FORMAT,
            name: "acme-perf".into(),
            version: "1.2.0".into(),
            wit: WitVersion::NEWEST.world(),
            built_by: "kscen test".into(),
            plugins: vec![PluginEntry {
                name: "steady".into(),
                file: FileEntry {
                    path: "plugins/dist/steady.wasm".into(),
                    sha256: "ab".repeat(32),
                    size: 3,
                },
                capabilities: vec![
                    Capability::Cluster {
                        name: "source".into(),
                    },
                    Capability::Topic {
                        cluster: "source".into(),
                        pattern: "test-mm2-*".into(),
                    },
                ],
            }],
            scenarios: vec![ScenarioEntry {
                name: "nominal".into(),
                file: FileEntry {
                    path: "scenarios/nominal.toml".into(),
                    sha256: "cd".repeat(32),
                    size: 4,
                },
                plugin: "steady".into(),
                limits: Limits::default().into(),
            }],
            default_limits: Limits::default().into(),
        }
    }

    #[test]
    fn a_manifest_round_trips_through_its_signed_bytes() {
        let manifest = sample();
        let parsed = Manifest::parse(&manifest.to_bytes()).unwrap();
        assert_eq!(parsed, manifest);
        assert_eq!(parsed.scenario("nominal.toml").unwrap().plugin, "steady");
        let text = String::from_utf8(manifest.to_bytes()).unwrap();
        assert!(
            text.contains(r#""kind": "cluster""#) && text.contains(r#""name": "source""#),
            "{text}"
        );
        assert!(
            text.contains(r#""kind": "topic""#) && text.contains(r#""pattern": "test-mm2-*""#),
            "{text}"
        );
    }

    fn refused(edit: impl FnOnce(&mut Manifest)) -> String {
        let mut manifest = sample();
        edit(&mut manifest);
        format!("{:#}", Manifest::parse(&manifest.to_bytes()).unwrap_err())
    }

    #[test]
    fn bad_manifests_are_refused_with_the_reason() {
        assert!(refused(|m| m.version = "1.2".into()).contains("semantic version"));
        assert!(refused(|m| m.wit = "kscen:scenario@9.0.0".into()).contains("built for"));
        assert!(refused(|m| m.name = "../etc".into()).contains("not allowed"));
        assert!(refused(|m| m.format = 2).contains("upgrade kscen"));
        assert!(refused(|m| m.scenarios[0].plugin = "other".into()).contains("does not hold"));
        assert!(refused(|m| m.scenarios.clear()).contains("no scenarios"));
        let traversal = refused(|m| m.plugins[0].file.path = "../../bin/sh".into());
        assert!(traversal.contains("must be at"), "{traversal}");
        assert!(refused(|m| m.plugins[0].file.sha256 = "AB".repeat(32)).contains("invalid sha256"));
        let dup = refused(|m| {
            let again = m.plugins[0].clone();
            m.plugins.push(again)
        });
        assert!(dup.contains("listed twice"), "{dup}");
    }

    #[test]
    fn packs_of_every_supported_wit_version_are_accepted() {
        for version in WitVersion::SUPPORTED {
            let mut manifest = sample();
            manifest.wit = version.world();
            assert!(Manifest::parse(&manifest.to_bytes()).is_ok(), "{version}");
        }
    }

    #[test]
    fn a_capability_list_written_before_topic_requests_still_reads() {
        let written_by_0_1: Vec<Capability> = serde_json::from_str(
            r#"[{"kind": "cluster", "name": "source"}, {"kind": "connect"}, {"kind": "fault", "name": "worker-1"}]"#,
        )
        .unwrap();
        assert_eq!(
            written_by_0_1[2],
            Capability::Fault {
                name: "worker-1".into()
            }
        );
    }

    #[test]
    fn unknown_fields_are_refused() {
        let mut value: serde_json::Value = serde_json::from_slice(&sample().to_bytes()).unwrap();
        value["run_as_root"] = true.into();
        let error = Manifest::parse(&serde_json::to_vec(&value).unwrap()).unwrap_err();
        assert!(format!("{error:#}").contains("unknown field"), "{error:#}");
    }
}
