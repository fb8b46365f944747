//! The seeds' Java client configuration mapped to librdkafka: producer properties
//! (`--producer.config` files, `--producer-props k=v`) and consumer properties (`--consumer.config`,
//! `--consumer-props k=v`, a consume job's `consumer-config`). Nothing is dropped silently: every
//! key is either passed on, renamed, converted, or reported by name with the reason.

use std::path::Path;

use anyhow::{Context, Result};
use serde::Serialize;

/// One client property as the user wrote it, in order of precedence (later wins).
pub type Property = (String, String);

/// Which Java client the properties were written for: a few keys differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Client {
    Producer,
    Consumer,
}

impl Client {
    fn name(self) -> &'static str {
        match self {
            Client::Producer => "producer",
            Client::Consumer => "consumer",
        }
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct MappedConfig {
    /// librdkafka properties, in the order they were given.
    #[serde(skip)]
    pub librdkafka: Vec<Property>,
    /// What happened to keys that were not passed on as written.
    pub notes: Vec<PropertyNote>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum PropertyNote {
    /// Passed on under librdkafka's name.
    Renamed { from: String, to: String },
    /// Not applied: no librdkafka equivalent (or handled elsewhere), with what to do instead.
    NotApplied { key: String, reason: String },
}

impl std::fmt::Display for PropertyNote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PropertyNote::Renamed { from, to } => write!(f, "{from} → {to}"),
            PropertyNote::NotApplied { key, reason } => write!(f, "{key} not applied: {reason}"),
        }
    }
}

/// Settings as a result or a report may show them: later ones winning, secrets `(redacted)`.
pub fn shown<'a>(
    settings: impl IntoIterator<Item = &'a (String, String)>,
) -> std::collections::BTreeMap<String, String> {
    settings
        .into_iter()
        .map(|(key, value)| {
            let shown = if is_secret(key) {
                "(redacted)".to_string()
            } else {
                value.clone()
            };
            (key.clone(), shown)
        })
        .collect()
}

/// Keys whose values never leave the process (results, reports): passwords, JAAS configs,
/// tokens, `basic.auth.user.info`, credentials and PEM private keys (`ssl.keystore.key`).
pub fn is_secret(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    [
        "password",
        "secret",
        "jaas",
        "token",
        "user.info",
        "credential",
        "keystore.key",
        "private.key",
    ]
    .iter()
    .any(|word| key.contains(word))
}

/// Reads a Java `.properties` file (comments, `\` continuations, `:` or `=` separators).
pub fn read_properties_file(client: Client, path: &Path) -> Result<Vec<Property>> {
    let what = client.name();
    let file = std::fs::File::open(path)
        .with_context(|| format!("cannot open {what} config {}", path.display()))?;
    let map = java_properties::read(std::io::BufReader::new(file)).with_context(|| {
        format!(
            "cannot parse {what} config {} as Java properties",
            path.display()
        )
    })?;
    let mut properties: Vec<Property> = map.into_iter().collect();
    // The file's own order is lost by the parser; sort so runs are reproducible.
    properties.sort();
    Ok(properties)
}

/// Parses `--producer-props` / `--consumer-props` items (`key=value`).
pub fn parse_property_arg(client: Client, arg: &str) -> Result<Property> {
    let what = client.name();
    let (key, value) = arg
        .split_once('=')
        .with_context(|| format!("{what} property {arg:?} must be written key=value"))?;
    let key = key.trim();
    anyhow::ensure!(!key.is_empty(), "{what} property {arg:?} has an empty key");
    Ok((key.to_string(), value.trim().to_string()))
}

/// Java client keys whose librdkafka name differs, for both clients.
const RENAMED: &[(&str, &str)] = &[
    ("send.buffer.bytes", "socket.send.buffer.bytes"),
    ("receive.buffer.bytes", "socket.receive.buffer.bytes"),
    ("sasl.mechanism", "sasl.mechanisms"),
];

/// Java producer keys whose librdkafka name differs.
const PRODUCER_RENAMED: &[(&str, &str)] = &[
    ("compression.type", "compression.codec"),
    ("max.request.size", "message.max.bytes"),
];

/// Java consumer keys whose librdkafka name differs.
const CONSUMER_RENAMED: &[(&str, &str)] = &[("fetch.max.wait.ms", "fetch.wait.max.ms")];

/// Java producer keys with no librdkafka meaning, and what the user should know.
const PRODUCER_NOT_APPLIED: &[(&str, &str)] = &[
    ("key.serializer", "kscen sends raw bytes"),
    ("value.serializer", "kscen sends raw bytes"),
    (
        "max.block.ms",
        "librdkafka never blocks send(); kscen counts queue-full waits instead",
    ),
    (
        "partitioner.class",
        "use librdkafka's `partitioner` property",
    ),
];

/// Java consumer keys with no librdkafka meaning, and what the user should know.
const CONSUMER_NOT_APPLIED: &[(&str, &str)] = &[
    ("key.deserializer", "kscen reads raw bytes"),
    ("value.deserializer", "kscen reads raw bytes"),
    (
        "max.poll.records",
        "librdkafka hands records over one at a time; kscen's consumers take them in batches \
         of their own",
    ),
    (
        "default.api.timeout.ms",
        "Java-only; kscen's calls carry their own timeouts",
    ),
    (
        "group.id",
        "the consume job names its group (the plugin's `group`)",
    ),
];

/// Java client keys with no librdkafka meaning for either client.
const NOT_APPLIED: &[(&str, &str)] = &[
    (
        "bootstrap.servers",
        "cluster addresses come from the profile (--profile)",
    ),
    ("interceptor.classes", "Java-only"),
    (
        "metric.reporters",
        "Java-only; kscen records its own metrics",
    ),
    (
        "ssl.truststore.location",
        "librdkafka reads PEM: convert the JKS trust store and set ssl.ca.location",
    ),
    (
        "ssl.truststore.password",
        "librdkafka reads PEM: convert the JKS trust store and set ssl.ca.location",
    ),
    (
        "ssl.truststore.type",
        "librdkafka reads PEM: set ssl.ca.location",
    ),
    (
        "ssl.keystore.location",
        "librdkafka reads PEM: set ssl.certificate.location and ssl.key.location",
    ),
    (
        "ssl.keystore.password",
        "librdkafka reads PEM: set ssl.key.password",
    ),
    (
        "ssl.keystore.type",
        "librdkafka reads PEM: set ssl.certificate.location",
    ),
];

/// Java assignor classes and librdkafka's `partition.assignment.strategy` names.
const ASSIGNORS: &[(&str, &str)] = &[
    ("org.apache.kafka.clients.consumer.RangeAssignor", "range"),
    (
        "org.apache.kafka.clients.consumer.RoundRobinAssignor",
        "roundrobin",
    ),
    (
        "org.apache.kafka.clients.consumer.CooperativeStickyAssignor",
        "cooperative-sticky",
    ),
];

/// Maps Java producer properties to librdkafka: see [`map_properties`].
pub fn map_producer_properties(properties: &[Property]) -> MappedConfig {
    map_properties(Client::Producer, properties)
}

/// Maps Java consumer properties to librdkafka: see [`map_properties`].
pub fn map_consumer_properties(properties: &[Property]) -> MappedConfig {
    map_properties(Client::Consumer, properties)
}

/// Maps Java client properties to librdkafka, then asks librdkafka itself whether it knows
/// each resulting key, so that anything it would reject is reported instead of failing late.
pub fn map_properties(client: Client, properties: &[Property]) -> MappedConfig {
    let (renamed, not_applied) = match client {
        Client::Producer => (PRODUCER_RENAMED, PRODUCER_NOT_APPLIED),
        Client::Consumer => (CONSUMER_RENAMED, CONSUMER_NOT_APPLIED),
    };
    let mut mapped = MappedConfig::default();
    for (key, value) in properties {
        if let Some((_, reason)) = NOT_APPLIED
            .iter()
            .chain(not_applied)
            .find(|(k, _)| k == key)
        {
            mapped.note(PropertyNote::NotApplied {
                key: key.clone(),
                reason: (*reason).into(),
            });
            continue;
        }
        if client == Client::Producer && key == "buffer.memory" {
            match value.parse::<u64>() {
                Ok(bytes) => {
                    mapped.rename(key, "queue.buffering.max.kbytes");
                    mapped.set(
                        "queue.buffering.max.kbytes",
                        bytes.div_ceil(1024).to_string(),
                    );
                }
                Err(_) => mapped.note(PropertyNote::NotApplied {
                    key: key.clone(),
                    reason: format!("{value:?} is not a number of bytes"),
                }),
            }
            continue;
        }
        if key == "sasl.jaas.config" {
            match jaas_credentials(value) {
                Some((username, password)) => {
                    mapped.rename(key, "sasl.username + sasl.password");
                    mapped.set("sasl.username", username);
                    mapped.set("sasl.password", password);
                }
                None => mapped.note(PropertyNote::NotApplied {
                    key: key.clone(),
                    reason: "no username=\"…\" password=\"…\" found in the JAAS line".into(),
                }),
            }
            continue;
        }
        if key == "ssl.endpoint.identification.algorithm" && value.is_empty() {
            // Java's empty value disables host name checks; librdkafka spells it "none".
            mapped.set(key, "none".into());
            continue;
        }
        if client == Client::Consumer && key == "partition.assignment.strategy" {
            mapped.assignors(value);
            continue;
        }
        match RENAMED.iter().chain(renamed).find(|(from, _)| from == key) {
            Some((from, to)) => {
                mapped.rename(from, to);
                mapped.set(to, value.clone());
            }
            None => match librdkafka_rejects(key, value) {
                Some(reason) => mapped.note(PropertyNote::NotApplied {
                    key: key.clone(),
                    reason,
                }),
                None => mapped.set(key, value.clone()),
            },
        }
    }
    mapped
}

impl MappedConfig {
    /// The settings passed to librdkafka, later ones winning, secrets shown as `(redacted)`.
    pub fn in_force(&self) -> std::collections::BTreeMap<String, String> {
        shown(&self.librdkafka)
    }

    /// Java's assignor class list, as librdkafka's strategy names; a class librdkafka does not
    /// implement is reported, and the others are kept.
    fn assignors(&mut self, classes: &str) {
        let key = "partition.assignment.strategy";
        let mut names = Vec::new();
        for class in classes.split(',').map(str::trim).filter(|c| !c.is_empty()) {
            match ASSIGNORS
                .iter()
                .find(|(java, short)| *java == class || *short == class)
            {
                Some((_, name)) => names.push(*name),
                None => self.note(PropertyNote::NotApplied {
                    key: format!("{key} {class}"),
                    reason: "librdkafka implements range, roundrobin and cooperative-sticky only"
                        .into(),
                }),
            }
        }
        if !names.is_empty() {
            let names = names.join(",");
            self.rename(&format!("{key}={classes}"), &format!("{key}={names}"));
            self.set(key, names);
        }
    }

    fn set(&mut self, key: &str, value: String) {
        self.librdkafka.retain(|(k, _)| k != key);
        self.librdkafka.push((key.to_string(), value));
    }

    fn rename(&mut self, from: &str, to: &str) {
        self.note(PropertyNote::Renamed {
            from: from.into(),
            to: to.into(),
        });
    }

    fn note(&mut self, note: PropertyNote) {
        if !self.notes.contains(&note) {
            self.notes.push(note);
        }
    }

    /// The keys that were not applied, for warnings.
    pub fn not_applied(&self) -> impl Iterator<Item = &PropertyNote> {
        self.notes
            .iter()
            .filter(|n| matches!(n, PropertyNote::NotApplied { .. }))
    }
}

/// `Some(reason)` when librdkafka refuses the key or its value.
fn librdkafka_rejects(key: &str, value: &str) -> Option<String> {
    let mut config = rdkafka::ClientConfig::new();
    config.set(key, value);
    match config.create_native_config() {
        Ok(_) => None,
        Err(rdkafka::error::KafkaError::ClientConfig(_, description, _, _)) => {
            Some(format!("librdkafka: {description}"))
        }
        Err(other) => Some(format!("librdkafka: {other}")),
    }
}

/// Extracts `username="…" password="…"` from a Java JAAS login module line.
fn jaas_credentials(jaas: &str) -> Option<(String, String)> {
    let field = |name: &str| -> Option<String> {
        let start = jaas.find(&format!("{name}=\""))? + name.len() + 2;
        let end = start + jaas[start..].find('"')?;
        Some(jaas[start..end].to_string())
    };
    Some((field("username")?, field("password")?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(items: &[(&str, &str)]) -> Vec<Property> {
        items
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn not_applied_keys(mapped: &MappedConfig) -> Vec<String> {
        mapped
            .not_applied()
            .map(|n| match n {
                PropertyNote::NotApplied { key, .. } => key.clone(),
                _ => unreachable!(),
            })
            .collect()
    }

    fn value<'a>(mapped: &'a MappedConfig, key: &str) -> Option<&'a str> {
        mapped
            .librdkafka
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn the_seeds_producer_config_maps_to_librdkafka() {
        let mapped = map_producer_properties(&props(&[
            ("acks", "all"),
            ("retries", "3"),
            ("batch.size", "65536"),
            ("linger.ms", "5"),
            ("buffer.memory", "67108864"),
            ("compression.type", "lz4"),
        ]));
        assert_eq!(value(&mapped, "acks"), Some("all"));
        assert_eq!(value(&mapped, "batch.size"), Some("65536"));
        assert_eq!(value(&mapped, "linger.ms"), Some("5"));
        assert_eq!(value(&mapped, "queue.buffering.max.kbytes"), Some("65536"));
        assert_eq!(value(&mapped, "compression.codec"), Some("lz4"));
        assert_eq!(mapped.not_applied().count(), 0);
        assert!(mapped.notes.contains(&PropertyNote::Renamed {
            from: "compression.type".into(),
            to: "compression.codec".into()
        }));
    }

    #[test]
    fn keys_without_equivalent_are_reported_by_name() {
        let mapped = map_producer_properties(&props(&[
            ("bootstrap.servers", "broker:9092"),
            ("ssl.truststore.location", "/etc/truststore.jks"),
            ("no.such.property", "1"),
            ("linger.ms", "50"),
        ]));
        let reported = not_applied_keys(&mapped);
        assert_eq!(
            reported,
            [
                "bootstrap.servers",
                "ssl.truststore.location",
                "no.such.property"
            ]
        );
        assert_eq!(value(&mapped, "linger.ms"), Some("50"));
        assert!(value(&mapped, "no.such.property").is_none());
    }

    #[test]
    fn scram_jaas_line_becomes_sasl_credentials() {
        let jaas = r#"org.apache.kafka.common.security.scram.ScramLoginModule required username="perf" password="s3cret";"#;
        let mapped = map_producer_properties(&props(&[
            ("sasl.jaas.config", jaas),
            ("sasl.mechanism", "SCRAM-SHA-512"),
        ]));
        assert_eq!(value(&mapped, "sasl.username"), Some("perf"));
        assert_eq!(value(&mapped, "sasl.password"), Some("s3cret"));
        assert_eq!(value(&mapped, "sasl.mechanisms"), Some("SCRAM-SHA-512"));
    }

    #[test]
    fn properties_files_with_continuations_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("producer.properties");
        std::fs::write(
            &path,
            "# seeds\nacks=all\nsasl.jaas.config=Module required \\\n    username=\"u\" \\\n    password=\"p\";\ncompression.type: lz4\n",
        )
        .unwrap();
        let read = read_properties_file(Client::Producer, &path).unwrap();
        assert!(read.contains(&("acks".into(), "all".into())));
        assert!(read.contains(&("compression.type".into(), "lz4".into())));
        let jaas = &read
            .iter()
            .find(|(k, _)| k == "sasl.jaas.config")
            .unwrap()
            .1;
        assert_eq!(jaas_credentials(jaas), Some(("u".into(), "p".into())));
        assert!(parse_property_arg(Client::Producer, "linger.ms").is_err());
        assert_eq!(
            parse_property_arg(Client::Producer, "acks=1").unwrap(),
            ("acks".into(), "1".into())
        );
    }

    #[test]
    fn a_java_consumer_config_maps_to_librdkafka() {
        let mapped = map_consumer_properties(&props(&[
            ("fetch.min.bytes", "1048576"),
            ("fetch.max.wait.ms", "200"),
            ("max.partition.fetch.bytes", "2097152"),
            ("isolation.level", "read_committed"),
            (
                "partition.assignment.strategy",
                "org.apache.kafka.clients.consumer.CooperativeStickyAssignor",
            ),
            ("session.timeout.ms", "45000"),
        ]));
        assert_eq!(mapped.not_applied().count(), 0, "{:?}", mapped.notes);
        assert_eq!(value(&mapped, "fetch.wait.max.ms"), Some("200"));
        assert_eq!(value(&mapped, "fetch.min.bytes"), Some("1048576"));
        assert_eq!(value(&mapped, "isolation.level"), Some("read_committed"));
        assert_eq!(
            value(&mapped, "partition.assignment.strategy"),
            Some("cooperative-sticky")
        );
    }

    #[test]
    fn consumer_keys_without_equivalent_are_reported_by_name() {
        let mapped = map_consumer_properties(&props(&[
            ("max.poll.records", "500"),
            (
                "value.deserializer",
                "org.apache.kafka.common.serialization.ByteArrayDeserializer",
            ),
            (
                "partition.assignment.strategy",
                "org.apache.kafka.clients.consumer.StickyAssignor,range",
            ),
            ("compression.type", "lz4"),
        ]));
        let reported = not_applied_keys(&mapped);
        assert_eq!(
            reported,
            [
                "max.poll.records",
                "value.deserializer",
                "partition.assignment.strategy org.apache.kafka.clients.consumer.StickyAssignor",
            ]
        );
        // The producer's renaming does not apply to a consumer: librdkafka takes the key as is.
        assert_eq!(
            value(&mapped, "partition.assignment.strategy"),
            Some("range")
        );
        assert_eq!(value(&mapped, "compression.type"), Some("lz4"));
    }

    #[test]
    fn keys_holding_credentials_are_secret() {
        for key in [
            "sasl.jaas.config",
            "source.cluster.ssl.keystore.password",
            "target.cluster.ssl.keystore.key",
            "schema.registry.basic.auth.user.info",
            "aws.credentials.provider",
        ] {
            assert!(is_secret(key), "{key}");
        }
        for key in [
            "tasks.max",
            "linger.ms",
            "ssl.keystore.location",
            "security.protocol",
        ] {
            assert!(!is_secret(key), "{key}");
        }
    }
}
