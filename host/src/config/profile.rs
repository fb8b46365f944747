//! Profiles: the operator's description of an environment. Clusters, Connect, workers and
//! brokers are named logically (`source`, `target`, `worker-1`); plugins only ever see the names.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    pub name: Option<String>,
    #[serde(default)]
    pub clusters: BTreeMap<String, ClusterProfile>,
    pub connect: Option<ConnectProfile>,
    #[serde(default)]
    pub workers: BTreeMap<String, ProcessProfile>,
    #[serde(default)]
    pub brokers: BTreeMap<String, ProcessProfile>,
    /// Network links that can be cut, e.g. `workers-to-source` (a fault-injecting proxy).
    #[serde(default)]
    pub links: BTreeMap<String, ProcessProfile>,
    #[serde(default)]
    pub probes: BTreeMap<String, ProbeProfile>,
    /// MirrorMaker 2 mirrors pinned by the operator, used instead of discovering them through
    /// Connect.
    pub mm2: Option<Mm2Profile>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterProfile {
    pub bootstrap_servers: String,
    /// librdkafka client properties for this cluster (security and the like).
    #[serde(default, skip_serializing)]
    pub properties: BTreeMap<String, String>,
    /// Topics plugins may touch on this cluster (`*` wildcards); none listed = every topic.
    pub topics: Option<Vec<String>>,
    /// How the topics a run creates here are made (replication factor, `min.insync.replicas`,
    /// configs); unset parts follow the cluster's defaults.
    #[serde(default)]
    pub new_topics: super::new_topics::NewTopics,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectProfile {
    pub urls: Vec<String>,
    /// PEM file of the CA(s) that signed the workers' HTTPS certificates, trusted besides the
    /// system roots (seed 002, day 4: Connect REST over HTTPS).
    pub ca_file: Option<PathBuf>,
    /// Credentials for Connect's `BasicAuthSecurityRestExtension`.
    pub basic_auth: Option<BasicAuth>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BasicAuth {
    pub username: String,
    /// Usually a secret reference (`${env:…}`, `${file:…}`); never serialised.
    #[serde(skip_serializing)]
    pub password: String,
}

/// `[mm2]`: the deployment's mirrors, named rather than discovered (`[[mm2.mirrors]]`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Mm2Profile {
    pub mirrors: Vec<Mm2Mirror>,
}

/// One pinned mirror: its flow, its connectors by name and its replication policy.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Mm2Mirror {
    pub source_alias: String,
    pub target_alias: String,
    pub source_connector: Option<String>,
    pub checkpoint_connector: Option<String>,
    pub heartbeat_connector: Option<String>,
    /// `default`, `identity`, or a `replication.policy.class`; default `default`.
    pub replication_policy: Option<String>,
    /// `replication.policy.separator` of the default policy; default ".".
    pub separator: Option<String>,
}

impl Mm2Mirror {
    /// `(role, connector name)` of the connectors the pin names: `source`, `checkpoint`,
    /// `heartbeat`.
    pub fn connectors(&self) -> [(&'static str, Option<&str>); 3] {
        [
            ("source", self.source_connector.as_deref()),
            ("checkpoint", self.checkpoint_connector.as_deref()),
            ("heartbeat", self.heartbeat_connector.as_deref()),
        ]
    }
}

/// A Connect worker or a broker that fault actions can target.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ProcessProfile {
    pub cluster: Option<String>,
    pub url: Option<String>,
    pub worker_id: Option<String>,
    pub pid_file: Option<PathBuf>,
    pub log_file: Option<PathBuf>,
    /// A worker's properties file, which campaign steps with `worker` settings rewrite (and put
    /// back) before restarting the worker with its `stop` and `start` actions. kscen reads and
    /// writes it itself: a local path, or one mounted from the worker's machine.
    pub config_file: Option<PathBuf>,
    #[serde(default)]
    pub actions: BTreeMap<String, FaultAction>,
}

/// How the host carries out a fault: a signal to the process in `pid_file`, or a command the
/// operator wrote (e.g. `["ssh", "worker1", "systemctl", "stop", "kafka-connect"]`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(untagged, deny_unknown_fields)]
pub enum FaultAction {
    Signal { signal: String },
    Command { command: Vec<String> },
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ProbeProfile {
    pub kind: String,
    pub url: String,
}

impl Profile {
    /// Loads a profile by path, or `lab` for the profile `kscen lab up` wrote.
    pub fn load(name_or_path: &str) -> Result<Profile> {
        let path = resolve_path(name_or_path)?;
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read profile {}", path.display()))?;
        let mut profile: Profile =
            toml::from_str(&text).with_context(|| format!("invalid profile {}", path.display()))?;
        profile.rebase_paths(path.parent().unwrap_or(Path::new("")));
        profile
            .check()
            .with_context(|| format!("invalid profile {}", path.display()))?;
        profile
            .resolve_secrets()
            .with_context(|| format!("profile {}", path.display()))?;
        Ok(profile)
    }

    /// Cluster properties and Connect credentials may reference secrets (`${env:NAME}`,
    /// `${file:/path}`).
    fn resolve_secrets(&mut self) -> Result<()> {
        for (name, cluster) in &mut self.clusters {
            for (key, value) in &mut cluster.properties {
                let setting = format!("clusters.{name}.properties.{key:?}");
                *value = super::secrets::resolve(value, &setting)?;
            }
        }
        if let Some(auth) = self.connect.as_mut().and_then(|c| c.basic_auth.as_mut()) {
            auth.username = super::secrets::resolve(&auth.username, "connect.basic_auth.username")?;
            auth.password = super::secrets::resolve(&auth.password, "connect.basic_auth.password")?;
        }
        Ok(())
    }

    /// Relative file paths in a profile are relative to the profile's folder, not to wherever
    /// kscen is started from.
    fn rebase_paths(&mut self, dir: &Path) {
        let rebase = |path: &mut PathBuf| {
            if path.is_relative() {
                *path = dir.join(&*path);
            }
        };
        if let Some(ca_file) = self.connect.as_mut().and_then(|c| c.ca_file.as_mut()) {
            rebase(ca_file);
        }
        for process in self
            .workers
            .values_mut()
            .chain(self.brokers.values_mut())
            .chain(self.links.values_mut())
        {
            process.pid_file.iter_mut().for_each(rebase);
            process.log_file.iter_mut().for_each(rebase);
        }
    }

    fn check(&self) -> Result<()> {
        for (name, cluster) in &self.clusters {
            if cluster.bootstrap_servers.trim().is_empty() {
                bail!("cluster {name:?} has an empty bootstrap_servers");
            }
        }
        if let Some(mm2) = &self.mm2 {
            check_mm2(mm2)?;
        }
        if let Some(ca_file) = self.connect.as_ref().and_then(|c| c.ca_file.as_ref()) {
            if !ca_file.is_file() {
                bail!(
                    "connect.ca_file {} is not a file: point it at the PEM certificate of the CA \
                     that signed the workers' HTTPS certificates",
                    ca_file.display()
                );
            }
        }
        Ok(())
    }

    pub fn cluster(&self, name: &str) -> Option<&ClusterProfile> {
        self.clusters.get(name)
    }
}

fn check_mm2(mm2: &Mm2Profile) -> Result<()> {
    if mm2.mirrors.is_empty() {
        bail!(
            "[mm2] pins no mirror: add [[mm2.mirrors]] with source_alias and target_alias, or \
             remove [mm2] to discover the mirrors through Connect"
        );
    }
    let mut names = std::collections::BTreeSet::new();
    for (index, mirror) in mm2.mirrors.iter().enumerate() {
        let key = |field: &str| format!("mm2.mirrors[{index}].{field}");
        for (field, value) in [
            ("source_alias", &mirror.source_alias),
            ("target_alias", &mirror.target_alias),
        ] {
            if value.trim().is_empty() {
                bail!(
                    "{} is empty: give the alias MM2 uses for that cluster",
                    key(field)
                );
            }
        }
        for (role, name) in mirror.connectors() {
            let Some(name) = name else { continue };
            let field = key(&format!("{role}_connector"));
            if name.trim().is_empty() {
                bail!("{field} is empty: give the connector's name in Connect, or leave it out");
            }
            if !names.insert(name) {
                bail!("{field}: connector {name:?} is pinned twice");
            }
        }
        let policy = mirror.replication_policy.as_deref().unwrap_or("default");
        let default_policy = matches!(
            policy,
            "default" | "org.apache.kafka.connect.mirror.DefaultReplicationPolicy"
        );
        match &mirror.separator {
            Some(_) if !default_policy => bail!(
                "{}: only the default replication policy has a separator, not {policy:?}",
                key("separator")
            ),
            Some(separator) if separator.is_empty() => {
                bail!("{} is empty: leave it out for \".\"", key("separator"))
            }
            _ => {}
        }
        if policy.trim().is_empty() {
            bail!(
                "{} is empty: `default`, `identity`, or a replication.policy.class",
                key("replication_policy")
            );
        }
    }
    Ok(())
}

/// `lab` means the profile of the running local lab; anything else is a file path.
pub fn resolve_path(name_or_path: &str) -> Result<PathBuf> {
    if name_or_path == "lab" && !Path::new("lab").is_file() {
        let state = match std::env::var_os("KSCEN_LAB_STATE") {
            Some(dir) => PathBuf::from(dir),
            None => crate::paths::cache_dir()?.join("lab").join("state"),
        };
        let path = state.join("profile.toml");
        if !path.is_file() {
            bail!(
                "no lab profile at {}: start the lab with `kscen lab up` first",
                path.display()
            );
        }
        return Ok(path);
    }
    Ok(PathBuf::from(name_or_path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_files_are_relative_to_the_profile() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("certs")).unwrap();
        std::fs::write(dir.path().join("certs/ca.pem"), "pem").unwrap();
        let file = dir.path().join("prod.toml");
        std::fs::write(
            &file,
            r#"
            [clusters.source]
            bootstrap_servers = "127.0.0.1:9092"
            [connect]
            urls = ["https://127.0.0.1:8083"]
            ca_file = "certs/ca.pem"
            [workers.worker-1]
            pid_file = "run/worker-1.pid"
            log_file = "/var/log/connect.log"
            "#,
        )
        .unwrap();
        // Loaded from another folder: the paths still point beside the profile.
        let profile = Profile::load(file.to_str().unwrap()).unwrap();
        let connect = profile.connect.unwrap();
        assert_eq!(connect.ca_file.unwrap(), dir.path().join("certs/ca.pem"));
        let worker = &profile.workers["worker-1"];
        assert_eq!(
            worker.pid_file.as_deref().unwrap(),
            dir.path().join("run/worker-1.pid")
        );
        assert_eq!(
            worker.log_file.as_deref().unwrap(),
            Path::new("/var/log/connect.log")
        );
    }

    #[test]
    fn a_lab_profile_parses() {
        let profile: Profile = toml::from_str(
            r#"
            name = "lab"
            [clusters.source]
            bootstrap_servers = "127.0.0.1:39092"
            [clusters.target]
            bootstrap_servers = "127.0.0.1:39192"
            [clusters.target.properties]
            "security.protocol" = "plaintext"
            [connect]
            urls = ["http://127.0.0.1:38083"]
            [workers.worker-1]
            url = "http://127.0.0.1:38083"
            pid_file = "/tmp/w1.pid"
            [workers.worker-1.actions]
            kill = { signal = "SIGKILL" }
            start = { command = ["/bin/sh", "/tmp/start.sh"] }
            [probes.worker-1]
            kind = "scrape"
            url = "http://127.0.0.1:39404/metrics"
            "#,
        )
        .unwrap();
        assert_eq!(
            profile.cluster("source").unwrap().bootstrap_servers,
            "127.0.0.1:39092"
        );
        let actions = &profile.workers["worker-1"].actions;
        assert!(matches!(&actions["kill"], FaultAction::Signal { signal } if signal == "SIGKILL"));
        assert!(
            matches!(&actions["start"], FaultAction::Command { command } if command.len() == 2)
        );
    }

    #[test]
    fn cluster_properties_read_secrets_from_the_environment() {
        std::env::set_var("KSCEN_PROFILE_TEST_PASSWORD", "p4ss");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secure.toml");
        std::fs::write(
            &path,
            "[clusters.source]\nbootstrap_servers = \"b:9093\"\n[clusters.source.properties]\n\
             \"sasl.password\" = \"${env:KSCEN_PROFILE_TEST_PASSWORD}\"\n",
        )
        .unwrap();
        let profile = Profile::load(path.to_str().unwrap()).unwrap();
        assert_eq!(
            profile.clusters["source"].properties["sasl.password"],
            "p4ss"
        );
        // Serialised profiles (results, reports) never carry properties.
        let shown = toml::to_string(&profile).unwrap();
        assert!(
            !shown.contains("p4ss") && !shown.contains("sasl.password"),
            "{shown}"
        );
    }

    #[test]
    fn connect_credentials_read_secrets_and_are_never_serialised() {
        std::env::set_var("KSCEN_PROFILE_TEST_REST_PASSWORD", "rest-p4ss");
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, "-----BEGIN CERTIFICATE-----\n").unwrap();
        let path = dir.path().join("secure.toml");
        std::fs::write(
            &path,
            format!(
                "[connect]\nurls = [\"https://127.0.0.1:8083\"]\nca_file = {:?}\n\
                 [connect.basic_auth]\nusername = \"kscen\"\n\
                 password = \"${{env:KSCEN_PROFILE_TEST_REST_PASSWORD}}\"\n",
                ca.display().to_string()
            ),
        )
        .unwrap();
        let profile = Profile::load(path.to_str().unwrap()).unwrap();
        let auth = profile
            .connect
            .as_ref()
            .unwrap()
            .basic_auth
            .as_ref()
            .unwrap();
        assert_eq!(
            (auth.username.as_str(), auth.password.as_str()),
            ("kscen", "rest-p4ss")
        );
        let shown = toml::to_string(&profile).unwrap();
        assert!(
            shown.contains("kscen") && !shown.contains("rest-p4ss"),
            "{shown}"
        );

        std::fs::remove_file(&ca).unwrap();
        let error = format!("{:#}", Profile::load(path.to_str().unwrap()).unwrap_err());
        assert!(
            error.contains("connect.ca_file") && error.contains("is not a file"),
            "{error}"
        );
    }

    fn load_text(text: &str) -> Result<Profile> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mm2.toml");
        std::fs::write(&path, text).unwrap();
        Profile::load(path.to_str().unwrap())
    }

    #[test]
    fn mm2_mirrors_are_pinned_by_name() {
        let profile = load_text(
            r#"
            [[mm2.mirrors]]
            source_alias = "nemo"
            target_alias = "applicatif"
            source_connector = "nemo-to-applicatif-source"
            heartbeat_connector = "nemo-to-applicatif-heartbeat"
            separator = "_"
            [[mm2.mirrors]]
            source_alias = "applicatif"
            target_alias = "nemo"
            source_connector = "back"
            replication_policy = "identity"
            "#,
        )
        .unwrap();
        let mirrors = &profile.mm2.unwrap().mirrors;
        assert_eq!(mirrors.len(), 2);
        assert_eq!(
            mirrors[0].connectors(),
            [
                ("source", Some("nemo-to-applicatif-source")),
                ("checkpoint", None),
                ("heartbeat", Some("nemo-to-applicatif-heartbeat"))
            ]
        );
        assert_eq!(mirrors[1].replication_policy.as_deref(), Some("identity"));
    }

    #[test]
    fn mm2_pin_errors_name_the_key() {
        let pin = |body: &str| {
            let error = load_text(&format!(
                "[[mm2.mirrors]]\nsource_alias = \"a\"\ntarget_alias = \"b\"\n{body}"
            ))
            .unwrap_err();
            format!("{error:#}")
        };
        let error = pin("separator = \"_\"\nreplication_policy = \"identity\"\n");
        assert!(
            error.contains("mm2.mirrors[0].separator: only the default replication policy"),
            "{error}"
        );
        let error = pin("source_connector = \"x\"\nheartbeat_connector = \"x\"\n");
        assert!(
            error.contains("mm2.mirrors[0].heartbeat_connector: connector \"x\" is pinned twice"),
            "{error}"
        );
        let error = pin("checkpoint_connector = \" \"\n");
        assert!(
            error.contains("mm2.mirrors[0].checkpoint_connector is empty"),
            "{error}"
        );
        let error = pin("source = \"x\"\n");
        assert!(error.contains("unknown field `source`"), "{error}");
        let error = format!("{:#}", load_text("[mm2]\nmirrors = []\n").unwrap_err());
        assert!(error.contains("[mm2] pins no mirror"), "{error}");
        let error = format!(
            "{:#}",
            load_text("[[mm2.mirrors]]\nsource_alias = \"\"\ntarget_alias = \"b\"\n").unwrap_err()
        );
        assert!(
            error.contains("mm2.mirrors[0].source_alias is empty"),
            "{error}"
        );
    }

    #[test]
    fn unknown_keys_are_refused() {
        let error =
            toml::from_str::<Profile>("[clusters.source]\nbootstrap = \"x\"\n").unwrap_err();
        assert!(
            error.to_string().contains("unknown field `bootstrap`"),
            "{error}"
        );
    }
}
