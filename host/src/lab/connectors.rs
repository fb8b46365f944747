//! The three MirrorMaker 2 connectors (adapted from the seeds' section 4 configs to the lab's
//! broker count, plaintext or secure) and the Connect REST calls the lab needs.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde::Deserialize;
use serde_json::{json, Value};

use super::security;
use super::topology::{Topology, SOURCE_ALIAS, TARGET_ALIAS};

pub const MIRROR_SOURCE: &str = "mirror-source";
pub const MIRROR_CHECKPOINT: &str = "mirror-checkpoint";
pub const MIRROR_HEARTBEAT: &str = "mirror-heartbeat";
pub const CONNECTORS: [&str; 3] = [MIRROR_SOURCE, MIRROR_CHECKPOINT, MIRROR_HEARTBEAT];

/// A source topic created by `up` so mirror-source has partitions to spread over its tasks from
/// the start (with no matching partition, MirrorSourceConnector runs zero tasks).
pub const SEED_TOPIC: &str = "kscen-lab-seed";
const SEED_PARTITIONS: i32 = 8;

/// Topics that are never mirrored (the seeds' exclusion list).
const TOPICS_EXCLUDE: &str = r".*[\.\-]internal,.*\.replica,__.*,connect-.*,mm2-.*";

fn common(topo: &Topology, class: &str, tasks_max: u32) -> serde_json::Map<String, Value> {
    let v = json!({
        "connector.class": format!("org.apache.kafka.connect.mirror.{class}"),
        "tasks.max": tasks_max.to_string(),
        "source.cluster.alias": SOURCE_ALIAS,
        "target.cluster.alias": TARGET_ALIAS,
        // through the link proxies, so cutting a link cuts MM2 off that cluster
        "source.cluster.bootstrap.servers": topo.workers_bootstrap(SOURCE_ALIAS),
        "target.cluster.bootstrap.servers": topo.workers_bootstrap(TARGET_ALIAS),
        "key.converter": "org.apache.kafka.connect.converters.ByteArrayConverter",
        "value.converter": "org.apache.kafka.connect.converters.ByteArrayConverter",
    });
    let Value::Object(mut config) = v else {
        unreachable!()
    };
    // A secure lab's connectors log in as `connect`; their passwords stay `${file:…}` references.
    if let Some(security) = &topo.security {
        config.extend(
            security
                .connector_settings()
                .into_iter()
                .map(|(key, value)| (key, Value::String(value))),
        );
    }
    config
}

/// `(name, config)` of the three connectors.
pub fn configs(topo: &Topology, source_tasks: u32) -> Vec<(&'static str, Value)> {
    // the seeds' 3, or the lab's broker count if smaller
    let rf = topo.replication_factor().to_string();
    let mut source = common(topo, "MirrorSourceConnector", source_tasks);
    source.extend(
        json!({
            "topics": ".*",
            "topics.exclude": TOPICS_EXCLUDE,
            "replication.factor": rf,
            "offset-syncs.topic.replication.factor": rf,
            "sync.topic.configs.enabled": "true",
            "sync.topic.acls.enabled": "false",
            "refresh.topics.enabled": "true",
            // seeds: 60 s; short so a test topic is mirrored within seconds
            "refresh.topics.interval.seconds": "5",
            "producer.override.acks": "all",
            "producer.override.linger.ms": "5",
            "producer.override.enable.idempotence": "true",
            "consumer.override.auto.offset.reset": "earliest",
        })
        .as_object()
        .cloned()
        .unwrap_or_default(),
    );
    let mut checkpoint = common(topo, "MirrorCheckpointConnector", 1);
    checkpoint.extend(
        json!({
            "topics": ".*",
            "topics.exclude": TOPICS_EXCLUDE,
            "groups": ".*",
            "groups.exclude": "console-consumer.*,_.*",
            "checkpoints.topic.replication.factor": rf,
            "offset-syncs.topic.replication.factor": rf,
            "emit.checkpoints.enabled": "true",
            "emit.checkpoints.interval.seconds": "5",
            "sync.group.offsets.enabled": "true",
            "sync.group.offsets.interval.seconds": "5",
            "refresh.groups.enabled": "true",
            "refresh.groups.interval.seconds": "5",
        })
        .as_object()
        .cloned()
        .unwrap_or_default(),
    );
    let mut heartbeat = common(topo, "MirrorHeartbeatConnector", 1);
    heartbeat.extend(
        json!({
            "heartbeats.topic.replication.factor": rf,
            "emit.heartbeats.enabled": "true",
            "emit.heartbeats.interval.seconds": "5",
        })
        .as_object()
        .cloned()
        .unwrap_or_default(),
    );
    vec![
        (MIRROR_SOURCE, Value::Object(source)),
        (MIRROR_CHECKPOINT, Value::Object(checkpoint)),
        (MIRROR_HEARTBEAT, Value::Object(heartbeat)),
    ]
}

const HTTP_TIMEOUT: Duration = Duration::from_secs(10);

/// A plain HTTP client (Prometheus, and the Connect REST API of the plain lab).
pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(HTTP_TIMEOUT)
        .build()
        .expect("building an HTTP client")
}

/// The client for the workers' REST API: plain HTTP, or in a secure lab HTTPS trusting the lab's
/// CA with Basic auth.
pub fn rest_client(topo: &Topology) -> Result<reqwest::Client> {
    match &topo.security {
        None => Ok(http()),
        Some(security) => security.rest_client(HTTP_TIMEOUT),
    }
}

/// Creates or updates each connector with `PUT /connectors/{name}/config` (idempotent), retrying
/// through the 409s a rebalance answers and the moments a worker is busy.
pub async fn deploy_all(topo: &Topology, source_tasks: u32, deadline: Instant) -> Result<()> {
    let client = rest_client(topo)?;
    let urls: Vec<String> = topo.workers().map(|w| w.url()).collect();
    for (name, config) in configs(topo, source_tasks) {
        let mut attempt = 0usize;
        loop {
            let url = &urls[attempt % urls.len()];
            attempt += 1;
            // Re-PUTting an unchanged config would restart the connector: leave it alone.
            if current_config(&client, url, name).await.as_ref() == Some(&config) {
                println!("connector {name} already deployed");
                break;
            }
            let res = client
                .put(format!("{url}/connectors/{name}/config"))
                .json(&config)
                .send()
                .await;
            let why = match res {
                Ok(r) if r.status().is_success() => {
                    println!(
                        "connector {name} {} via {url}",
                        if r.status().as_u16() == 201 {
                            "created"
                        } else {
                            "configured"
                        }
                    );
                    break;
                }
                Ok(r) => {
                    let code = r.status();
                    let body = r.text().await.unwrap_or_default();
                    if code.as_u16() == 400 {
                        bail!("Connect rejected the {name} config ({code}): {body}");
                    }
                    format!("{code}: {body}")
                }
                Err(e) => e.to_string(),
            };
            if Instant::now() > deadline {
                bail!("could not deploy connector {name} before the deadline; last answer {why}");
            }
            if attempt.is_multiple_of(5) {
                println!("  still deploying {name}: {why}");
            }
            tokio::time::sleep(Duration::from_millis(1000)).await;
        }
    }
    Ok(())
}

/// `GET /connectors/{name}/config` without the `name` key Connect adds; `None` if absent.
async fn current_config(client: &reqwest::Client, url: &str, name: &str) -> Option<Value> {
    let r = client
        .get(format!("{url}/connectors/{name}/config"))
        .send()
        .await
        .ok()?;
    if !r.status().is_success() {
        return None;
    }
    let mut v: Value = r.json().await.ok()?;
    v.as_object_mut()?.remove("name");
    Some(v)
}

#[derive(Debug, Clone, Deserialize)]
pub struct StateInfo {
    pub state: String,
    pub worker_id: String,
    #[serde(default)]
    pub trace: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct TaskInfo {
    pub id: u32,
    pub state: String,
    pub worker_id: String,
    #[serde(default)]
    pub trace: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ConnectorStatus {
    pub connector: StateInfo,
    #[serde(default)]
    pub tasks: Vec<TaskInfo>,
}

#[derive(Deserialize)]
struct Expanded {
    status: ConnectorStatus,
}

/// `GET /connectors?expand=status` from the first worker that answers; `None` if none does.
pub async fn statuses(
    client: &reqwest::Client,
    topo: &Topology,
) -> Option<(String, BTreeMap<String, ConnectorStatus>)> {
    for w in topo.workers() {
        let url = format!("{}/connectors?expand=status", w.url());
        let Ok(r) = client.get(&url).send().await else {
            continue;
        };
        if !r.status().is_success() {
            continue;
        }
        if let Ok(map) = r.json::<BTreeMap<String, Expanded>>().await {
            let map = map.into_iter().map(|(k, v)| (k, v.status)).collect();
            return Some((w.name.clone(), map));
        }
    }
    None
}

/// Creates the seed topic on the source cluster (idempotent).
pub async fn create_seed_topic(topo: &Topology) -> Result<()> {
    use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
    use rdkafka::client::DefaultClientContext;
    use rdkafka::config::ClientConfig;
    use rdkafka::types::RDKafkaErrorCode;

    let bootstrap = topo.bootstrap(SOURCE_ALIAS);
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", &bootstrap);
    for (key, value) in security::kscen_client_properties(topo)? {
        config.set(key, value);
    }
    let admin: AdminClient<DefaultClientContext> = config
        .create()
        .with_context(|| format!("creating an admin client for {bootstrap}"))?;
    let topic = NewTopic::new(
        SEED_TOPIC,
        SEED_PARTITIONS,
        TopicReplication::Fixed(i32::from(topo.replication_factor())),
    );
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    let results = admin
        .create_topics([&topic], &opts)
        .await
        .with_context(|| format!("creating topic {SEED_TOPIC} on {bootstrap}"))?;
    for r in results {
        match r {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((t, e)) => bail!("creating topic {t} on the source cluster ({bootstrap}): {e}"),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mirror_topics_are_replicated_as_the_clusters_allow() {
        let state = std::path::Path::new("/s");
        for (brokers, rf) in [(1, "1"), (2, "2"), (3, "3"), (5, "3")] {
            let topo = Topology::new(state, 0, brokers).unwrap();
            let configs = configs(&topo, 4);
            let keys = [
                "replication.factor",
                "offset-syncs.topic.replication.factor",
                "checkpoints.topic.replication.factor",
                "heartbeats.topic.replication.factor",
            ];
            let mut seen = 0;
            for (_, config) in &configs {
                for key in keys {
                    if let Some(value) = config.get(key) {
                        assert_eq!(value, rf, "{brokers} brokers: {key}");
                        seen += 1;
                    }
                }
            }
            assert_eq!(seen, 5, "every MM2 topic's replication factor is set");
            assert_eq!(
                configs[0].1["source.cluster.bootstrap.servers"]
                    .as_str()
                    .unwrap()
                    .split(',')
                    .count(),
                usize::from(brokers),
                "every broker's route"
            );
        }
    }

    #[test]
    fn secure_connectors_log_in_as_connect_through_file_references() {
        let state = std::path::Path::new("/s");
        let plain = Topology::new(state, 2000, 1).unwrap();
        for (name, config) in configs(&plain, 4) {
            let keys: Vec<&String> = config.as_object().unwrap().keys().collect();
            assert!(
                !keys
                    .iter()
                    .any(|k| k.contains("security") || k.contains("ssl")),
                "{name}: {keys:?}"
            );
        }
        for (name, config) in configs(&plain.secured(), 4) {
            for cluster in ["source", "target"] {
                let setting = |key: &str| config[format!("{cluster}.cluster.{key}")].clone();
                assert_eq!(setting("security.protocol"), "SASL_SSL", "{name}");
                assert_eq!(setting("sasl.mechanism"), "SCRAM-SHA-512", "{name}");
                assert_eq!(
                    setting("sasl.jaas.config"),
                    "org.apache.kafka.common.security.scram.ScramLoginModule required \
                     username=\"connect\" \
                     password=\"${file:/s/secrets/kafka.properties:connect.password}\";",
                    "{name}"
                );
                assert_eq!(
                    setting("ssl.truststore.location"),
                    "/s/tls/truststore.p12",
                    "{name}"
                );
                assert_eq!(
                    setting("ssl.truststore.password"),
                    "${file:/s/secrets/kafka.properties:truststore.password}",
                    "{name}"
                );
            }
            assert_eq!(
                config["source.cluster.bootstrap.servers"], "127.0.0.1:22115",
                "through the link"
            );
        }
    }
}
