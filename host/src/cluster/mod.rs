//! Kafka clusters by logical name: the profile's, or the embedded mock cluster by default.

mod embedded;

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Result;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, ResourceSpecifier, TopicReplication};
use rdkafka::client::{ClientContext, DefaultClientContext};
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::KafkaError;
use rdkafka::metadata::{Metadata, MetadataTopic};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::ClientConfig;

use crate::config::profile::Profile;
use crate::error::{HostError, HostResult};
pub use embedded::EmbeddedCluster;

/// The logical name the embedded cluster answers to.
pub const EMBEDDED_NAME: &str = "source";
pub(crate) const METADATA_TIMEOUT: Duration = Duration::from_secs(10);

/// Metadata of `topic` (every topic with `None`), asked a second time when the first request
/// times out: a new client's first request waits for its connection, which a loaded broker may
/// accept only seconds later (a periodic check on CI's 3-broker lab once failed the whole run
/// on such a timeout).
pub(crate) fn fetch_metadata<C: ConsumerContext>(
    consumer: &BaseConsumer<C>,
    topic: Option<&str>,
) -> rdkafka::error::KafkaResult<Metadata> {
    match consumer.fetch_metadata(topic, METADATA_TIMEOUT) {
        Err(e) if e.rdkafka_error_code() == Some(RDKafkaErrorCode::OperationTimedOut) => {
            consumer.fetch_metadata(topic, METADATA_TIMEOUT)
        }
        answer => answer,
    }
}

#[derive(Debug, Clone)]
struct Connection {
    bootstrap_servers: String,
    properties: Vec<(String, String)>,
}

pub struct Clusters {
    connections: BTreeMap<String, Connection>,
    embedded: Option<EmbeddedCluster>,
}

impl Clusters {
    pub fn from_profile(profile: &Profile) -> Clusters {
        let connections = profile
            .clusters
            .iter()
            .map(|(name, cluster)| {
                let connection = Connection {
                    bootstrap_servers: cluster.bootstrap_servers.clone(),
                    properties: cluster.properties.clone().into_iter().collect(),
                };
                (name.clone(), connection)
            })
            .collect();
        Clusters {
            connections,
            embedded: None,
        }
    }

    /// Starts librdkafka's mock cluster and names it `source`.
    pub fn embedded() -> Result<Clusters> {
        let cluster = EmbeddedCluster::start(1)?;
        let connection = Connection {
            bootstrap_servers: cluster.bootstrap_servers().to_string(),
            properties: Vec::new(),
        };
        Ok(Clusters {
            connections: BTreeMap::from([(EMBEDDED_NAME.to_string(), connection)]),
            embedded: Some(cluster),
        })
    }

    pub fn is_embedded(&self) -> bool {
        self.embedded.is_some()
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.connections.keys().map(String::as_str)
    }

    pub fn bootstrap_servers(&self, name: &str) -> Option<&str> {
        self.connections
            .get(name)
            .map(|c| c.bootstrap_servers.as_str())
    }

    /// Client configuration for `name`: its address and the profile's properties.
    pub fn client_config(&self, name: &str) -> HostResult<ClientConfig> {
        let connection = self.connections.get(name).ok_or_else(|| {
            let known: Vec<&str> = self.names().collect();
            let hint = if self.is_embedded() {
                " (the embedded cluster is only `source`; pass --profile for real clusters)"
            } else {
                ""
            };
            HostError::NotFound(format!(
                "cluster {name:?}; the profile has: {}{hint}",
                known.join(", ")
            ))
        })?;
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", &connection.bootstrap_servers);
        for (key, value) in &connection.properties {
            config.set(key, value);
        }
        Ok(config)
    }

    /// Creates the topic; an existing topic is accepted as it is. True when this call created it.
    /// Without a replication factor the cluster's `default.replication.factor` applies.
    pub async fn create_topic(
        &self,
        name: &str,
        topic: &str,
        partitions: u32,
        replication: Option<u16>,
        topic_config: &[(String, String)],
    ) -> HostResult<bool> {
        let partitions = i32::try_from(partitions)
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| HostError::Invalid(format!("partitions must be 1..{}", i32::MAX)))?;
        let config = self.client_config(name)?;
        if let Some(embedded) = &self.embedded {
            if !topic_config.is_empty() {
                return Err(HostError::Unsupported(
                    "the embedded mock cluster takes no topic configs".into(),
                ));
            }
            return embedded.create_topic(topic, partitions).map(|()| true);
        }
        let admin: AdminClient<DefaultClientContext> = config.create()?;
        let mut new_topic = NewTopic::new(
            topic,
            partitions,
            // -1: the broker's default (KIP-464, Kafka 2.4+).
            TopicReplication::Fixed(replication.map_or(-1, i32::from)),
        );
        for (key, value) in topic_config {
            new_topic = new_topic.set(key, value);
        }
        let options = AdminOptions::new()
            .operation_timeout(Some(METADATA_TIMEOUT))
            .request_timeout(Some(METADATA_TIMEOUT));
        let mut created = false;
        for result in admin.create_topics([&new_topic], &options).await? {
            match result {
                Ok(_) => created = true,
                Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((topic, code)) => {
                    return Err(HostError::Kafka(format!(
                        "creating topic {topic} on {name}: {code}"
                    )))
                }
            }
        }
        // An existing topic may be one this call created on a first attempt whose answer was
        // lost (the admin client retries): waited for the same way, whatever its partitions.
        wait_until_known(config, topic, created.then_some(partitions)).await?;
        Ok(created)
    }

    pub async fn delete_topic(&self, name: &str, topic: &str) -> HostResult<()> {
        let config = self.client_config(name)?;
        if self.is_embedded() {
            return Err(HostError::Unsupported(
                "the embedded mock cluster cannot delete topics".into(),
            ));
        }
        let admin: AdminClient<DefaultClientContext> = config.create()?;
        let options = AdminOptions::new()
            .operation_timeout(Some(METADATA_TIMEOUT))
            .request_timeout(Some(METADATA_TIMEOUT));
        for result in admin.delete_topics(&[topic], &options).await? {
            if let Err((topic, code)) = result {
                let error = format!("deleting topic {topic} on {name}: {code}");
                return Err(match code {
                    RDKafkaErrorCode::UnknownTopicOrPartition => HostError::NotFound(error),
                    _ => HostError::Kafka(error),
                });
            }
        }
        Ok(())
    }

    /// The replication factor of `topic` and its effective `min.insync.replicas` (the topic's
    /// own, else the broker's), as the cluster reports them.
    pub async fn topic_durability(&self, name: &str, topic: &str) -> HostResult<(usize, u32)> {
        // A broker may answer for a topic created a moment ago as if it did not exist, even after
        // every broker listed it (a 3-broker KRaft cluster on a loaded machine, seen on CI):
        // asked again shortly, and the last reason is the error.
        const ATTEMPTS: u32 = 10;
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.topic_durability_once(name, topic).await {
                Ok(durability) => return Ok(durability),
                Err(why) if attempt >= ATTEMPTS => {
                    return Err(HostError::Kafka(format!(
                        "topic {topic} on {name}: the cluster did not report its replicas and \
                         min.insync.replicas ({why}, {attempt} attempts)"
                    )))
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(300)).await,
            }
        }
    }

    async fn topic_durability_once(&self, name: &str, topic: &str) -> HostResult<(usize, u32)> {
        let replicas = self
            .with_topic_metadata(name, topic, |_, metadata| {
                Ok(metadata
                    .partitions()
                    .iter()
                    .map(|p| p.replicas().len())
                    .min()
                    .unwrap_or_default())
            })
            .await?;
        let admin: AdminClient<DefaultClientContext> = self.client_config(name)?.create()?;
        let options = AdminOptions::new().request_timeout(Some(METADATA_TIMEOUT));
        let described = admin
            .describe_configs([&ResourceSpecifier::Topic(topic)], &options)
            .await?;
        let min_isr = match described.into_iter().next() {
            Some(Ok(resource)) => resource
                .entries
                .into_iter()
                .find(|entry| entry.name == "min.insync.replicas")
                .and_then(|entry| entry.value)
                .and_then(|value| value.parse::<u32>().ok())
                .ok_or_else(|| {
                    HostError::Kafka("no min.insync.replicas in its config answer".into())
                })?,
            Some(Err(code)) => return Err(HostError::Kafka(code.to_string())),
            None => return Err(HostError::Kafka("no config answer for the topic".into())),
        };
        Ok((replicas, min_isr))
    }

    /// Whether cluster `name` answers a metadata request within the timeout; if not, why, as
    /// librdkafka saw it (connection refused, TLS handshake, SASL authentication…).
    pub async fn check_reachable(&self, name: &str) -> HostResult<()> {
        let config = self.client_config(name)?;
        tokio::task::spawn_blocking(move || {
            let context = LastClientError::default();
            let consumer: BaseConsumer<LastClientError> = config.create_with_context(context)?;
            match consumer.fetch_metadata(None, METADATA_TIMEOUT) {
                Ok(_) => Ok(()),
                Err(error) => {
                    // Error reports arrive as events, served by a poll.
                    let _ = consumer.poll(Duration::from_millis(200));
                    let seen = consumer.context().last.lock().expect("last error").take();
                    Err(HostError::Kafka(seen.unwrap_or_else(|| error.to_string())))
                }
            }
        })
        .await
        .map_err(|e| HostError::Kafka(format!("reachability check task failed: {e}")))?
    }

    /// High watermark of every partition of `topic`.
    pub async fn end_offsets(&self, name: &str, topic: &str) -> HostResult<Vec<(i32, i64)>> {
        self.with_topic_metadata(name, topic, |consumer, metadata| {
            high_watermarks(consumer, metadata)
        })
        .await
    }

    /// Runs `read` on a blocking thread with a consumer of cluster `name` and the metadata of
    /// `topic`; a topic the cluster does not know (or that has no partitions) is `NotFound`.
    async fn with_topic_metadata<T: Send + 'static>(
        &self,
        name: &str,
        topic: &str,
        read: impl FnOnce(&BaseConsumer, &MetadataTopic) -> HostResult<T> + Send + 'static,
    ) -> HostResult<T> {
        let config = self.client_config(name)?;
        let failed = format!("topic metadata task for {topic} on {name} failed");
        let topic = topic.to_string();
        let cluster = name.to_string();
        tokio::task::spawn_blocking(move || {
            let consumer: BaseConsumer = config.create()?;
            let metadata = fetch_metadata(&consumer, Some(&topic))?;
            read(&consumer, find_topic(&metadata, &cluster, &topic)?)
        })
        .await
        .map_err(|e| HostError::Kafka(format!("{failed}: {e}")))?
    }
}

/// `topic` in `metadata` of cluster `cluster`; a topic the cluster does not know (or that has no
/// partitions) is `NotFound`.
pub(crate) fn find_topic<'m>(
    metadata: &'m Metadata,
    cluster: &str,
    topic: &str,
) -> HostResult<&'m MetadataTopic> {
    let listed = metadata.topics().iter().find(|t| t.name() == topic);
    match listed {
        Some(t) if t.error().is_none() && !t.partitions().is_empty() => Ok(t),
        Some(t) => Err(HostError::NotFound(format!(
            "topic {topic} on {cluster} ({})",
            t.error()
                .map_or("no partitions".to_string(), |e| format!("{e:?}"))
        ))),
        None => Err(HostError::NotFound(format!("topic {topic} on {cluster}"))),
    }
}

/// High watermark of every partition of `topic`.
pub(crate) fn high_watermarks<C: ConsumerContext>(
    consumer: &BaseConsumer<C>,
    topic: &MetadataTopic,
) -> HostResult<Vec<(i32, i64)>> {
    topic
        .partitions()
        .iter()
        .map(|partition| {
            let (_, high) =
                consumer.fetch_watermarks(topic.name(), partition.id(), METADATA_TIMEOUT)?;
            Ok((partition.id(), high))
        })
        .collect()
}

/// Waits until every broker knows a topic the controller just created: each learns it from the
/// metadata log on its own, seconds later on a loaded multi-broker KRaft cluster, and a lookup
/// (metadata, topic configs) answered by one that has not yet says the topic does not exist.
/// Each broker is asked through a client bootstrapped with it alone (a new client sends its first
/// request to its bootstrap broker), until all list every partition with a leader; `partitions`,
/// when given, is how many the topic must have.
async fn wait_until_known(
    config: ClientConfig,
    topic: &str,
    partitions: Option<i32>,
) -> HostResult<()> {
    let topic = topic.to_string();
    tokio::task::spawn_blocking(move || {
        let deadline = std::time::Instant::now() + METADATA_TIMEOUT;
        let knows = |config: &ClientConfig| -> HostResult<(bool, Vec<String>)> {
            let consumer: BaseConsumer = config.create()?;
            let Ok(metadata) = consumer.fetch_metadata(Some(&topic), METADATA_TIMEOUT) else {
                return Ok((false, Vec::new()));
            };
            let known = metadata.topics().iter().any(|t| {
                t.name() == topic
                    && t.error().is_none()
                    && !t.partitions().is_empty()
                    && partitions.is_none_or(|p| t.partitions().len() == p as usize)
                    && t.partitions().iter().all(|p| p.leader() >= 0)
            });
            let brokers = metadata
                .brokers()
                .iter()
                .map(|b| format!("{}:{}", b.host(), b.port()))
                .collect();
            Ok((known, brokers))
        };
        loop {
            let (_, brokers) = knows(&config)?;
            let mut waiting_for = Vec::new();
            for broker in &brokers {
                let mut alone = config.clone();
                alone.set("bootstrap.servers", broker);
                if !knows(&alone)?.0 {
                    waiting_for.push(broker.clone());
                }
            }
            if !brokers.is_empty() && waiting_for.is_empty() {
                return Ok(());
            }
            if std::time::Instant::now() > deadline {
                return Err(HostError::Kafka(format!(
                    "topic {topic} was created, but within {METADATA_TIMEOUT:?} not every broker \
                     listed it with a leader for every partition (still waiting for {})",
                    if brokers.is_empty() {
                        "a metadata answer".to_string()
                    } else {
                        waiting_for.join(", ")
                    }
                )));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    })
    .await
    .map_err(|e| HostError::Kafka(format!("waiting for a new topic's metadata failed: {e}")))?
}

/// Keeps librdkafka's last error report: it says why a broker cannot be reached, where the
/// failed request itself only says it timed out.
#[derive(Default)]
struct LastClientError {
    last: std::sync::Mutex<Option<String>>,
}

impl ClientContext for LastClientError {
    fn error(&self, error: KafkaError, reason: &str) {
        let text = if reason.is_empty() {
            error.to_string()
        } else {
            reason.to_string()
        };
        *self.last.lock().expect("last error") = Some(text);
    }
}

impl ConsumerContext for LastClientError {}
