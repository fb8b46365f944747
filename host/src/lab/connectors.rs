//! The lab's MirrorMaker 2 connectors — its own three (adapted from the seeds' section 4 configs
//! to the lab's broker count, plaintext or secure), or a user's (`mm2_config`) — and the Connect
//! REST calls the lab needs.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::security;
use super::topology::{Topology, SOURCE_ALIAS, TARGET_ALIAS};

/// `tasks.max` of the lab's own mirror-source connector unless `--source-tasks` says otherwise.
pub const DEFAULT_SOURCE_TASKS: u32 = 4;

/// A connector the lab deploys: its name and the config it PUTs (every value a string).
#[derive(Debug, Clone, PartialEq)]
pub struct Connector {
    pub name: String,
    pub config: Map<String, Value>,
}

/// The three MirrorMaker 2 connector classes, by the last part of `connector.class`.
const MIRROR_CLASSES: [&str; 3] = [
    "MirrorSourceConnector",
    "MirrorCheckpointConnector",
    "MirrorHeartbeatConnector",
];

/// Whether `class` names a MirrorMaker 2 connector: its full name, its simple name, or Connect's
/// alias without `Connector` (`MirrorSource`).
pub fn is_mirror_class(class: &str) -> bool {
    let simple = class.rsplit('.').next().unwrap_or(class);
    MIRROR_CLASSES
        .iter()
        .any(|c| simple == *c || Some(simple) == c.strip_suffix("Connector"))
}

impl Connector {
    pub fn class(&self) -> &str {
        self.config
            .get("connector.class")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    /// A MirrorCheckpointConnector runs no task until a consumer group matches its filters.
    pub fn may_run_no_task(&self) -> bool {
        self.class()
            .rsplit('.')
            .next()
            .is_some_and(|c| c.starts_with("MirrorCheckpoint"))
    }
}

/// A source topic created by `up` so mirror-source has partitions to spread over its tasks from
/// the start (with no matching partition, MirrorSourceConnector runs zero tasks).
pub const SEED_TOPIC: &str = "kscen-lab-seed";
const SEED_PARTITIONS: i32 = 8;

/// Topics that are never mirrored (the seeds' exclusion list).
const TOPICS_EXCLUDE: &str = r".*[\.\-]internal,.*\.replica,__.*,connect-.*,mm2-.*";

fn common(topo: &Topology, class: &str, tasks_max: u32) -> Map<String, Value> {
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

/// The lab's own three connectors, `mirror-source`, `mirror-checkpoint` and `mirror-heartbeat`.
pub fn defaults(topo: &Topology, source_tasks: u32) -> Vec<Connector> {
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
    [
        ("mirror-source", source),
        ("mirror-checkpoint", checkpoint),
        ("mirror-heartbeat", heartbeat),
    ]
    .into_iter()
    .map(|(name, config)| Connector {
        name: name.to_string(),
        config,
    })
    .collect()
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

/// Creates or updates each connector with `PUT /connectors/{name}/config` (idempotent), then
/// deletes the MirrorMaker 2 connectors Connect runs beside them (those of an earlier
/// `--mm2-config`), so no topic is mirrored twice. Retries through the 409s a rebalance answers
/// and the moments a worker is busy.
pub async fn deploy_all(
    topo: &Topology,
    connectors: &[Connector],
    deadline: Instant,
) -> Result<()> {
    let client = &rest_client(topo)?;
    let urls: Vec<String> = topo.workers().map(|w| w.url()).collect();
    for c in connectors {
        let (name, config) = (&c.name, &Value::Object(c.config.clone()));
        let what = format!("deploying connector {name}");
        on_some_worker(&urls, &what, deadline, async |url| {
            // Re-PUTting an unchanged config would restart the connector: leave it alone.
            if current_config(client, url, name).await.as_ref() == Some(config) {
                return Ok(Answer::Done(format!("connector {name} already deployed")));
            }
            let res = client
                .put(format!("{url}/connectors/{name}/config"))
                .json(config)
                .send()
                .await;
            Ok(match res {
                Ok(r) if r.status().is_success() => Answer::Done(format!(
                    "connector {name} {} via {url}",
                    if r.status().as_u16() == 201 {
                        "created"
                    } else {
                        "configured"
                    }
                )),
                Ok(r) => {
                    let code = r.status();
                    let body = r.text().await.unwrap_or_default();
                    if code.as_u16() == 400 {
                        bail!("Connect rejected the {name} config ({code}): {body}");
                    }
                    Answer::Retry(format!("{code}: {body}"))
                }
                Err(e) => Answer::Retry(e.to_string()),
            })
        })
        .await?;
    }
    let wanted: Vec<&str> = connectors.iter().map(|c| c.name.as_str()).collect();
    for name in mirrors_besides(client, &urls, &wanted).await {
        let what = format!("deleting connector {name}");
        on_some_worker(&urls, &what, deadline, async |url| {
            Ok(
                match client
                    .delete(format!("{url}/connectors/{name}"))
                    .send()
                    .await
                {
                    Ok(r) if r.status().is_success() || r.status().as_u16() == 404 => {
                        Answer::Done(format!(
                            "connector {name} deleted: a MirrorMaker 2 connector the lab's MM2 \
                             config does not hold"
                        ))
                    }
                    Ok(r) => Answer::Retry(r.status().to_string()),
                    Err(e) => Answer::Retry(e.to_string()),
                },
            )
        })
        .await?;
    }
    Ok(())
}

/// What one REST call gave: done (with the line to print), or worth another try (with why).
enum Answer {
    Done(String),
    Retry(String),
}

/// Calls `attempt` with one worker's URL after the other, every second, until it is done or
/// `deadline` passes; an error from `attempt` stops at once.
async fn on_some_worker(
    urls: &[String],
    what: &str,
    deadline: Instant,
    mut attempt: impl AsyncFnMut(&str) -> Result<Answer>,
) -> Result<()> {
    let mut tries = 0usize;
    loop {
        let why = match attempt(&urls[tries % urls.len()]).await? {
            Answer::Done(line) => {
                println!("{line}");
                return Ok(());
            }
            Answer::Retry(why) => why,
        };
        if Instant::now() > deadline {
            bail!("{what}: not done before the deadline; last answer {why}");
        }
        tries += 1;
        if tries.is_multiple_of(5) {
            println!("  still {what}: {why}");
        }
        tokio::time::sleep(Duration::from_millis(1000)).await;
    }
}

/// The MirrorMaker 2 connectors (by class) Connect runs that are not `wanted`; none if no worker
/// answers `GET /connectors?expand=info` (a lab whose workers just started has none anyway).
async fn mirrors_besides(
    client: &reqwest::Client,
    urls: &[String],
    wanted: &[&str],
) -> Vec<String> {
    #[derive(Deserialize)]
    struct Info {
        info: InfoBody,
    }
    #[derive(Deserialize)]
    struct InfoBody {
        config: BTreeMap<String, String>,
    }
    for url in urls {
        let Ok(r) = client
            .get(format!("{url}/connectors?expand=info"))
            .send()
            .await
        else {
            continue;
        };
        let Ok(all) = r.json::<BTreeMap<String, Info>>().await else {
            continue;
        };
        return all
            .into_iter()
            .filter(|(name, i)| {
                !wanted.contains(&name.as_str())
                    && i.info
                        .config
                        .get("connector.class")
                        .is_some_and(|c| is_mirror_class(c))
            })
            .map(|(name, _)| name)
            .collect();
    }
    Vec::new()
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
            let connectors = defaults(&topo, 4);
            let keys = [
                "replication.factor",
                "offset-syncs.topic.replication.factor",
                "checkpoints.topic.replication.factor",
                "heartbeats.topic.replication.factor",
            ];
            let mut seen = 0;
            for c in &connectors {
                for key in keys {
                    if let Some(value) = c.config.get(key) {
                        assert_eq!(value, rf, "{brokers} brokers: {key}");
                        seen += 1;
                    }
                }
            }
            assert_eq!(seen, 5, "every MM2 topic's replication factor is set");
            assert_eq!(
                connectors[0].config["source.cluster.bootstrap.servers"]
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
        for Connector { name, config } in defaults(&plain, 4) {
            let keys: Vec<&String> = config.keys().collect();
            assert!(
                !keys
                    .iter()
                    .any(|k| k.contains("security") || k.contains("ssl")),
                "{name}: {keys:?}"
            );
        }
        for Connector { name, config } in defaults(&plain.secured(), 4) {
            for cluster in ["source", "target"] {
                let setting = |key: &str| config[&format!("{cluster}.cluster.{key}")].clone();
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

    #[test]
    fn mirror_classes_are_known_by_any_name_connect_accepts() {
        for class in [
            "org.apache.kafka.connect.mirror.MirrorSourceConnector",
            "MirrorCheckpointConnector",
            "MirrorHeartbeat",
        ] {
            assert!(is_mirror_class(class), "{class}");
        }
        for class in [
            "io.confluent.connect.replicator.ReplicatorSourceConnector",
            "Mirror",
            "",
        ] {
            assert!(!is_mirror_class(class), "{class}");
        }
        let checkpoint = Connector {
            name: "x".into(),
            config: json!({"connector.class": "org.apache.kafka.connect.mirror.MirrorCheckpointConnector"})
                .as_object()
                .cloned()
                .unwrap(),
        };
        assert!(checkpoint.may_run_no_task());
        assert!(
            !defaults(&Topology::new(std::path::Path::new("/s"), 0, 1).unwrap(), 4)[0]
                .may_run_no_task()
        );
    }
}
