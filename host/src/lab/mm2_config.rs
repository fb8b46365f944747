//! `kscen lab up --mm2-config FILE|PRESET`: the user's own MirrorMaker 2 connector configs — the
//! JSON they send to their Connect — deployed by the lab under their names instead of its own
//! three. Only what must point at the lab is rewritten, and every rewrite is reported: the
//! `*.cluster.bootstrap.servers` (the link proxies of the lab cluster each alias stands for), the
//! security settings (dropped on a plain lab, the lab's own on a secure one) and replication
//! factors above the lab's broker count. Names, aliases, replication policy, filters, `tasks.max`
//! and client overrides are kept.
//!
//! The configs, as given, are recorded in the state folder: later commands (`status`, `up` again)
//! keep them until `up --mm2-config default`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde_json::{Map, Value};

use super::connectors::{self, Connector};
use super::topology::{Topology, SOURCE_ALIAS, TARGET_ALIAS};

/// Presets compiled into kscen; lab/presets/README.md says where each value comes from.
const PRESETS: [(&str, &str); 1] = [(
    "seed-003",
    include_str!("../../../lab/presets/seed-003.json"),
)];

/// `--mm2-config default`: the lab's own three connectors again.
pub const DEFAULT: &str = "default";

/// MM2's own defaults of `source.cluster.alias` and `target.cluster.alias`.
const MM2_DEFAULT_ALIASES: (&str, &str) = ("source", "target");

pub fn record_file(state: &Path) -> PathBuf {
    state.join("mm2-config.json")
}

/// Records in the state folder the user's connectors `asked` for (a file, a preset name, or
/// `default` for none; nothing asked keeps what an earlier `up` recorded). True when the lab
/// deploys a user's connectors.
pub fn choose(state: &Path, asked: Option<&str>) -> Result<bool> {
    let file = record_file(state);
    match asked {
        None => Ok(recorded(state)?.is_some()),
        Some(DEFAULT) => {
            match std::fs::remove_file(&file) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(e).with_context(|| format!("removing {}", file.display()))
                }
                _ => {}
            }
            Ok(false)
        }
        Some(source) => {
            let (text, origin) = read_source(source)?;
            let connectors =
                parse(&text).with_context(|| format!("reading the MM2 connectors of {origin}"))?;
            let record: Vec<Value> = connectors
                .iter()
                .map(|c| serde_json::json!({"name": c.name, "config": c.config}))
                .collect();
            std::fs::create_dir_all(state)
                .with_context(|| format!("creating the state folder {}", state.display()))?;
            let text = serde_json::to_string_pretty(&record).expect("JSON values serialise");
            std::fs::write(&file, text + "\n")
                .with_context(|| format!("recording {origin} in {}", file.display()))?;
            Ok(true)
        }
    }
}

/// The connectors an earlier `up --mm2-config` recorded; `None` if it recorded none.
pub fn recorded(state: &Path) -> Result<Option<Vec<Connector>>> {
    let file = record_file(state);
    match std::fs::read_to_string(&file) {
        Ok(text) => parse(&text).map(Some).with_context(|| {
            format!(
                "{} (recorded by `kscen lab up --mm2-config`) is not valid; `kscen lab up \
                 --mm2-config FILE` to record another, or `--mm2-config default`",
                file.display()
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading {}", file.display())),
    }
}

/// The text of a preset, or of the file `source`, with words that say which.
fn read_source(source: &str) -> Result<(String, String)> {
    if let Some((name, text)) = PRESETS.iter().find(|(name, _)| *name == source) {
        return Ok((text.to_string(), format!("the preset {name}")));
    }
    let text = std::fs::read_to_string(source).with_context(|| {
        let presets: Vec<&str> = PRESETS.iter().map(|(name, _)| *name).collect();
        format!(
            "--mm2-config {source}: not a readable file, nor a preset ({}), nor `{DEFAULT}`",
            presets.join(", ")
        )
    })?;
    Ok((text, source.to_string()))
}

/// The connectors of a JSON document in any form users keep them: one `POST /connectors` body
/// (`{"name": ..., "config": {...}}`), an array of those, or an object of name -> config.
pub fn parse(text: &str) -> Result<Vec<Connector>> {
    let doc: Value = serde_json::from_str(text).context("not JSON")?;
    let connectors = match &doc {
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| post_body(item).with_context(|| format!("element {i}")))
            .collect::<Result<Vec<_>>>()?,
        Value::Object(map) if map.contains_key("config") => vec![post_body(&doc)?],
        Value::Object(map) => map
            .iter()
            .map(|(name, config)| connector(name, config))
            .collect::<Result<Vec<_>>>()?,
        _ => bail!(
            "expected a connector ({{\"name\": ..., \"config\": {{...}}}}), an array of them, or \
             an object of name -> config"
        ),
    };
    if connectors.is_empty() {
        bail!("no connector in it");
    }
    for (i, c) in connectors.iter().enumerate() {
        if connectors[..i].iter().any(|other| other.name == c.name) {
            bail!("the connector name {:?} appears twice", c.name);
        }
    }
    Ok(connectors)
}

/// `{"name": ..., "config": {...}}`.
fn post_body(item: &Value) -> Result<Connector> {
    let name = item["name"]
        .as_str()
        .context("a connector needs a string \"name\" beside its \"config\"")?;
    connector(name, &item["config"])
}

/// A connector from its name and config object; values become the strings Connect stores.
fn connector(name: &str, config: &Value) -> Result<Connector> {
    if name.trim().is_empty() {
        bail!("a connector has an empty name");
    }
    let Value::Object(config) = config else {
        bail!("connector {name}: its config is not an object");
    };
    let mut strings = Map::new();
    for (key, value) in config {
        let text = match value {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            _ => bail!("connector {name}: {key} is not a string, number or boolean"),
        };
        // Connect refuses a config whose `name` differs from the connector's; the same is noise.
        if key == "name" {
            if text != name {
                bail!("connector {name}: its config says \"name\": {text:?}");
            }
            continue;
        }
        strings.insert(key.clone(), Value::String(text));
    }
    let c = Connector {
        name: name.to_string(),
        config: strings,
    };
    if !connectors::is_mirror_class(c.class()) {
        bail!(
            "connector {name}: connector.class {:?} is not a MirrorMaker 2 connector \
             (MirrorSourceConnector, MirrorCheckpointConnector, MirrorHeartbeatConnector); the lab \
             runs MM2 only",
            c.class()
        );
    }
    Ok(c)
}

/// What `adapt` changed in a connector's config, for `up` to print.
#[derive(Debug, Clone, PartialEq)]
pub struct Rewrite {
    pub connector: String,
    pub key: String,
    pub change: Change,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// A value the lab must set (from the user's, or absent).
    Set { from: Option<String>, to: String },
    /// A security setting the lab replaces with its own (values not shown: they may be secrets).
    Security { lab_sets_it: bool },
}

impl fmt::Display for Rewrite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} ", self.connector, self.key)?;
        match &self.change {
            Change::Set {
                from: Some(from),
                to,
            } => write!(f, "{from} -> {to}"),
            Change::Set { from: None, to } => write!(f, "set to {to}"),
            Change::Security { lab_sets_it: true } => write!(f, "replaced by the lab's"),
            Change::Security { lab_sets_it: false } => {
                write!(f, "dropped (the lab supplies its own security settings)")
            }
        }
    }
}

/// The lab cluster (`source` or `target`) each of the configs' two aliases stands for: the first
/// connector's source alias is `source`. A connector of the reversed pair (active/active) mirrors
/// the lab's `target` to its `source`.
fn lab_clusters(connectors: &[Connector]) -> Result<BTreeMap<String, &'static str>> {
    let mut clusters = BTreeMap::new();
    for c in connectors {
        let (from, to) = aliases(c);
        if from == to {
            bail!(
                "connector {}: source.cluster.alias and target.cluster.alias are both {from:?}",
                c.name
            );
        }
        if clusters.is_empty() {
            clusters.insert(from.clone(), SOURCE_ALIAS);
            clusters.insert(to.clone(), TARGET_ALIAS);
        }
        for alias in [&from, &to] {
            if !clusters.contains_key(alias.as_str()) {
                let known: Vec<&String> = clusters.keys().collect();
                bail!(
                    "connector {} mirrors {from:?} -> {to:?}, but the lab has two clusters and \
                     the configs already use the aliases {known:?}: more than two aliases cannot \
                     be mapped onto the lab",
                    c.name
                );
            }
        }
    }
    Ok(clusters)
}

/// `source.cluster.alias`, `target.cluster.alias`, with MM2's defaults.
pub fn aliases(c: &Connector) -> (String, String) {
    let alias = |key: &str, default: &str| {
        c.config
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or(default)
            .to_string()
    };
    (
        alias("source.cluster.alias", MM2_DEFAULT_ALIASES.0),
        alias("target.cluster.alias", MM2_DEFAULT_ALIASES.1),
    )
}

/// A client security setting, whatever prefix carries it (`source.cluster.`,
/// `producer.override.`, ...): the lab's brokers have their own.
fn is_security_key(key: &str) -> bool {
    key.contains("security.protocol") || key.split('.').any(|word| word == "sasl" || word == "ssl")
}

/// The user's connectors as the lab deploys them, with what was rewritten.
pub fn adapt(topo: &Topology, user: &[Connector]) -> Result<(Vec<Connector>, Vec<Rewrite>)> {
    let clusters = lab_clusters(user)?;
    let lab_security: Map<String, Value> = topo
        .security
        .as_ref()
        .map(|s| s.connector_settings())
        .unwrap_or_default()
        .into_iter()
        .map(|(key, value)| (key, Value::String(value)))
        .collect();
    let brokers = topo.brokers_per_cluster;
    let mut rewrites = Vec::new();
    let mut adapted = Vec::new();
    for c in user {
        let mut config = c.config.clone();
        let mut rewrite = |key: &str, change| {
            rewrites.push(Rewrite {
                connector: c.name.clone(),
                key: key.to_string(),
                change,
            })
        };
        let security: Vec<String> = config
            .keys()
            .filter(|k| is_security_key(k))
            .cloned()
            .collect();
        for key in security {
            config.remove(&key);
            let lab_sets_it = lab_security.contains_key(&key);
            rewrite(&key, Change::Security { lab_sets_it });
        }
        let (from, to) = aliases(c);
        for (side, alias) in [("source", &from), ("target", &to)] {
            let key = format!("{side}.cluster.bootstrap.servers");
            let servers = topo.workers_bootstrap(clusters[alias.as_str()]);
            let before = config.insert(key.clone(), Value::String(servers.clone()));
            let before = before.and_then(|v| v.as_str().map(String::from));
            if before.as_deref() != Some(servers.as_str()) {
                rewrite(
                    &key,
                    Change::Set {
                        from: before,
                        to: servers,
                    },
                );
            }
        }
        for (key, value) in config.iter_mut() {
            if !(key == "replication.factor" || key.ends_with(".replication.factor")) {
                continue;
            }
            let asked: i64 = value
                .as_str()
                .unwrap_or_default()
                .parse()
                .with_context(|| {
                    format!("connector {}: {key} = {value} is not a number", c.name)
                })?;
            if asked > i64::from(brokers) {
                let to = brokers.to_string();
                rewrite(
                    key,
                    Change::Set {
                        from: Some(asked.to_string()),
                        to: to.clone(),
                    },
                );
                *value = Value::String(to);
            }
        }
        if let Some((key, value)) = config
            .iter()
            .find(|(_, v)| v.as_str().is_some_and(|s| s.contains("${")))
        {
            bail!(
                "connector {}: {key} = {value} holds a placeholder the lab cannot fill (it \
                 replaces only bootstrap servers and security settings); write the value itself \
                 in the MM2 config",
                c.name
            );
        }
        for (key, value) in &lab_security {
            if !c.config.contains_key(key) {
                rewrite(key, Change::Security { lab_sets_it: true });
            }
            config.insert(key.clone(), value.clone());
        }
        adapted.push(Connector {
            name: c.name.clone(),
            config,
        });
    }
    Ok((adapted, rewrites))
}

/// The connectors the lab of `topo` runs: the recorded user configs adapted to it, else the lab's
/// own three (`source_tasks` for mirror-source), with what was rewritten.
pub fn lab_connectors(
    topo: &Topology,
    source_tasks: u32,
) -> Result<(Vec<Connector>, Vec<Rewrite>)> {
    match recorded(&topo.state)? {
        Some(user) => adapt(topo, &user),
        None => Ok((connectors::defaults(topo, source_tasks), Vec::new())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seed_003() -> Vec<Connector> {
        parse(PRESETS[0].1).unwrap()
    }

    #[test]
    fn the_forms_users_keep_their_configs_in_all_read() {
        let config = r#"{"connector.class": "MirrorSourceConnector", "tasks.max": 6}"#;
        let one = format!(r#"{{"name": "a", "config": {config}}}"#);
        let array = format!(r#"[{one}, {{"name": "b", "config": {config}}}]"#);
        let map = format!(r#"{{"a": {config}, "b": {config}}}"#);
        assert_eq!(parse(&one).unwrap().len(), 1);
        for text in [&array, &map] {
            let connectors = parse(text).unwrap();
            let names: Vec<&str> = connectors.iter().map(|c| c.name.as_str()).collect();
            assert_eq!(names, ["a", "b"]);
            assert_eq!(
                connectors[0].config["tasks.max"], "6",
                "as Connect stores it"
            );
        }
        let names: Vec<String> = seed_003().into_iter().map(|c| c.name).collect();
        assert_eq!(
            names,
            [
                "nemo-to-applicatif-source",
                "nemo-to-applicatif-checkpoint",
                "nemo-to-applicatif-heartbeat"
            ]
        );
    }

    #[test]
    fn configs_that_cannot_be_deployed_say_why() {
        let error = |text: &str| format!("{:#}", parse(text).unwrap_err());
        let replicator = r#"{"name": "r", "config": {"connector.class": "io.confluent.connect.replicator.ReplicatorSourceConnector"}}"#;
        assert!(error(replicator).contains("not a MirrorMaker 2 connector"));
        let twice = r#"[{"name": "a", "config": {"connector.class": "MirrorSource"}}, {"name": "a", "config": {"connector.class": "MirrorHeartbeat"}}]"#;
        assert!(error(twice).contains("\"a\" appears twice"));
        let renamed =
            r#"{"name": "a", "config": {"connector.class": "MirrorSource", "name": "b"}}"#;
        assert!(error(renamed).contains("its config says \"name\": \"b\""));
        assert!(error("[]").contains("no connector"));
        assert!(error("{").contains("not JSON"));
    }

    #[test]
    fn seed_003_points_at_the_lab_and_keeps_its_own_choices() {
        let topo = Topology::new(Path::new("/s"), 5000, 3).unwrap();
        let (lab, rewrites) = adapt(&topo, &seed_003()).unwrap();
        let source = &lab[0].config;
        assert_eq!(
            source["source.cluster.bootstrap.servers"],
            "127.0.0.1:25115,127.0.0.1:25125,127.0.0.1:25135",
            "nemo is the lab's source, through its link"
        );
        assert_eq!(
            source["target.cluster.bootstrap.servers"],
            topo.workers_bootstrap(TARGET_ALIAS)
        );
        for (key, value) in [
            ("source.cluster.alias", "nemo"),
            ("target.cluster.alias", "applicatif"),
            ("tasks.max", "6"),
            ("replication.factor", "3"),
            ("refresh.topics.interval.seconds", "60"),
            ("producer.override.compression.type", "lz4"),
        ] {
            assert_eq!(source[key], value, "{key}");
        }
        assert!(
            !source.keys().any(|k| is_security_key(k)),
            "a plain lab speaks PLAINTEXT: {source:?}"
        );
        let shown: Vec<String> = rewrites.iter().map(ToString::to_string).collect();
        assert!(
            shown.contains(
                &"nemo-to-applicatif-source: source.cluster.bootstrap.servers \
                  ${SOURCE_BOOTSTRAP_SERVERS} -> 127.0.0.1:25115,127.0.0.1:25125,127.0.0.1:25135"
                    .to_string()
            ),
            "{shown:#?}"
        );
        assert!(shown.contains(
            &"nemo-to-applicatif-heartbeat: target.cluster.sasl.jaas.config dropped (the lab \
              supplies its own security settings)"
                .to_string()
        ));
        assert!(
            !shown.iter().any(|line| line.contains("PASSWORD")),
            "security values are never shown"
        );
    }

    #[test]
    fn replication_factors_are_capped_at_the_broker_count() {
        let topo = Topology::new(Path::new("/s"), 0, 1).unwrap();
        let (lab, rewrites) = adapt(&topo, &seed_003()).unwrap();
        for c in &lab {
            for (key, value) in &c.config {
                if key.ends_with("replication.factor") {
                    assert_eq!(value, "1", "{} {key}", c.name);
                }
            }
        }
        assert!(rewrites.iter().any(|r| r.to_string()
            == "nemo-to-applicatif-checkpoint: checkpoints.topic.replication.factor 3 -> 1"));
    }

    #[test]
    fn a_secure_lab_puts_its_own_security_settings_in() {
        let topo = Topology::new(Path::new("/s"), 2000, 1).unwrap().secured();
        let (lab, _) = adapt(&topo, &seed_003()).unwrap();
        let source = &lab[0].config;
        assert_eq!(source["source.cluster.security.protocol"], "SASL_SSL");
        assert_eq!(
            source["target.cluster.ssl.truststore.location"],
            "/s/tls/truststore.p12"
        );
        assert!(!source
            .values()
            .any(|v| v.as_str().unwrap().contains("${SOURCE")));
    }

    fn mirror(name: &str, from: &str, to: &str) -> Connector {
        Connector {
            name: name.into(),
            config: serde_json::json!({
                "connector.class": "org.apache.kafka.connect.mirror.MirrorSourceConnector",
                "source.cluster.alias": from,
                "target.cluster.alias": to,
                "replication.policy.separator": "_",
            })
            .as_object()
            .cloned()
            .unwrap(),
        }
    }

    #[test]
    fn active_active_mirrors_the_lab_both_ways_and_a_third_alias_is_refused() {
        let topo = Topology::new(Path::new("/s"), 0, 1).unwrap();
        let pair = [
            mirror("east-west", "east", "west"),
            mirror("west-east", "west", "east"),
        ];
        let (lab, _) = adapt(&topo, &pair).unwrap();
        let servers = |c: &Connector, side: &str| {
            c.config[&format!("{side}.cluster.bootstrap.servers")].clone()
        };
        assert_eq!(
            servers(&lab[0], "source"),
            topo.workers_bootstrap(SOURCE_ALIAS)
        );
        assert_eq!(
            servers(&lab[1], "source"),
            topo.workers_bootstrap(TARGET_ALIAS)
        );
        assert_eq!(
            servers(&lab[1], "target"),
            topo.workers_bootstrap(SOURCE_ALIAS)
        );
        assert_eq!(lab[1].config["replication.policy.separator"], "_");

        let three = [mirror("a", "east", "west"), mirror("b", "west", "north")];
        let error = format!("{:#}", adapt(&topo, &three).unwrap_err());
        assert!(error.contains("more than two aliases"), "{error}");
        let itself = [mirror("a", "east", "east")];
        assert!(adapt(&topo, &itself).is_err());
    }

    #[test]
    fn a_placeholder_the_lab_cannot_fill_is_refused() {
        let topo = Topology::new(Path::new("/s"), 0, 1).unwrap();
        let mut c = mirror("a", "east", "west");
        c.config
            .insert("topics".into(), Value::String("${TOPICS}".into()));
        let error = format!("{:#}", adapt(&topo, &[c]).unwrap_err());
        assert!(
            error.contains("a: topics = \"${TOPICS}\" holds a placeholder"),
            "{error}"
        );
    }

    #[test]
    fn security_keys_are_recognised_under_any_prefix() {
        for key in [
            "source.cluster.security.protocol",
            "target.cluster.sasl.jaas.config",
            "source.cluster.ssl.truststore.password",
            "producer.override.ssl.keystore.location",
            "security.protocol",
        ] {
            assert!(is_security_key(key), "{key}");
        }
        for key in [
            "source.cluster.bootstrap.servers",
            "replication.policy.separator",
            "topics",
        ] {
            assert!(!is_security_key(key), "{key}");
        }
    }

    #[test]
    fn the_choice_is_recorded_until_default() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path();
        assert!(!choose(state, None).unwrap());
        assert!(choose(state, Some("seed-003")).unwrap());
        assert!(choose(state, None).unwrap(), "kept");
        assert_eq!(recorded(state).unwrap(), Some(seed_003()));
        let file = state.join("mine.json");
        let mine = serde_json::json!({"name": "m", "config": mirror("m", "a", "b").config});
        std::fs::write(&file, mine.to_string()).unwrap();
        assert!(choose(state, Some(file.to_str().unwrap())).unwrap());
        assert_eq!(recorded(state).unwrap().unwrap()[0].name, "m");
        assert!(!choose(state, Some(DEFAULT)).unwrap());
        assert_eq!(recorded(state).unwrap(), None, "forgotten");
        let error = format!("{:#}", choose(state, Some("/nowhere.json")).unwrap_err());
        assert!(error.contains("nor a preset (seed-003)"), "{error}");
    }
}
