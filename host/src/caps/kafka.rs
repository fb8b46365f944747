//! `kafka`: native load jobs, single-record produce, consumers and topic administration, on the
//! clusters the plugin was granted.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord};
use wasmtime::component::Resource;

use crate::bindings::v0_1_0::kscen::scenario::kafka::{
    ConsumedRecord, Delivery, Host, HostConsumer, HostLoad, KeyMode as WitKeyMode, LoadSpec,
    LoadStatus as WitStatus, PartitionOffset, Rate as WitRate, Replication,
    ReplicationStatus as WitReplicationStatus, StartFrom,
};
use crate::bindings::WitError;
use crate::caps::{unless_cancelled, wait_at_most, Access, PluginState, RunContext};
use crate::cluster::Clusters;
use crate::config::client_props::{map_producer_properties, MappedConfig};
use crate::config::new_topics::{acks_all, NewTopics};
use crate::error::{HostError, HostResult};
use crate::load::{self, KeyMode, LoadJob, LoadPlan, LoadStatus, Rate, ReplicationPlan};

/// The host side of a `load` resource.
pub struct LoadHandle {
    job: Arc<LoadJob>,
}

/// The host side of a `consumer` resource.
pub struct ConsumerHandle {
    consumer: Arc<BaseConsumer>,
}

/// How long a single `produce` waits for its acknowledgement.
const PRODUCE_TIMEOUT: Duration = Duration::from_secs(30);

fn to_rate(rate: WitRate) -> Rate {
    match rate {
        WitRate::Unthrottled => Rate::Unthrottled,
        WitRate::PerSecond(r) => Rate::PerSecond(r),
    }
}

fn to_wit_status(status: LoadStatus) -> WitStatus {
    WitStatus {
        running: status.running,
        sent: status.sent,
        acked: status.acked,
        failed: status.failed,
        bytes: status.bytes,
        queue_full: status.queue_full,
        backlog: status.backlog,
        target_rate: status.target_rate,
        elapsed_ms: status.elapsed_ms,
        corrected_p99_us: status.corrected_p99_us,
        last_error: status.last_error,
        replication: status.replication.map(|r| WitReplicationStatus {
            replicated: r.status.replicated,
            duplicates: r.status.duplicates,
            out_of_order: r.status.out_of_order,
            lost: r.status.lost,
            lag_records: r.status.lag_records,
            lag_ms: r.status.lag_ms,
            replicated_p99_us: r.replicated_p99_us,
        }),
    }
}

/// What the `kafka` and `groups` capabilities act on: the clusters, how the run configures its
/// clients to them, and the topics and jobs the run made.
pub struct KafkaState {
    /// `--producer.config` / `--producer-props`, already mapped to librdkafka.
    pub producer_config: MappedConfig,
    /// `--consumer.config` / `--consumer-props`, already mapped to librdkafka.
    pub consumer_config: MappedConfig,
    /// How topics are created on each cluster: the scenario's `[new_topics]` over the profile's.
    pub new_topics: BTreeMap<String, NewTopics>,
    /// (cluster, topic) pairs this run created: the only topics a plugin may delete.
    pub created_topics: Mutex<BTreeSet<(String, String)>>,
    pub single_record_producers: Mutex<BTreeMap<String, FutureProducer>>,
    pub next_job_id: AtomicU64,
    /// Identifies this run's records on shared topics.
    pub run_id: u64,
    /// Declared last so it is dropped last: the embedded mock cluster must outlive the clients
    /// above, or they log `AllBrokersDown` errors after a run that succeeded.
    pub clusters: Clusters,
}

impl RunContext {
    /// Producer configuration for a cluster: the profile's, then the run's
    /// (`--producer.config`, `--producer-props`), then the plugin's overrides.
    fn producer_config(
        &self,
        cluster: &str,
        overrides: &[(String, String)],
    ) -> HostResult<rdkafka::ClientConfig> {
        self.permit(Access::Cluster(cluster))?;
        let mut config = self.kafka.clusters.client_config(cluster)?;
        for (key, value) in &self.kafka.producer_config.librdkafka {
            config.set(key, value);
        }
        let mapped = map_producer_properties(overrides);
        if let Some(refused) = mapped.not_applied().next() {
            return Err(HostError::Invalid(format!("producer-config: {refused}")));
        }
        for (key, value) in &mapped.librdkafka {
            config.set(key, value);
        }
        Ok(config)
    }

    /// Where a tracked load's records should reappear: the target cluster (which must be
    /// granted too) and the remote topic, as the run's mirror names it unless the plugin does.
    /// Also says how the remote topic was named, for the run's events.
    async fn replication_plan(
        &self,
        source: &str,
        topic: &str,
        replication: Replication,
    ) -> HostResult<(ReplicationPlan, String)> {
        self.permit(Access::Cluster(&replication.cluster))?;
        let target = self.kafka.clusters.client_config(&replication.cluster)?;
        let (remote_topic, why) = match replication.topic {
            Some(named) => (named, "as the plugin named it".to_string()),
            None => {
                let remote = self.mirror.remote_topic(source, topic).await?;
                (remote.name, remote.why)
            }
        };
        self.permit(Access::Topic {
            cluster: &replication.cluster,
            topic: &remote_topic,
        })?;
        let plan = ReplicationPlan {
            target,
            target_cluster: replication.cluster,
            remote_topic,
            grace: Duration::from_millis(replication.grace_ms),
        };
        Ok((plan, why))
    }

    async fn start_load(&self, spec: LoadSpec) -> HostResult<Arc<LoadJob>> {
        self.permit(Access::Topic {
            cluster: &spec.cluster,
            topic: &spec.topic,
        })?;
        let (replication, named) = match spec.replication {
            Some(replication) => {
                let (plan, why) = self
                    .replication_plan(&spec.cluster, &spec.topic, replication)
                    .await?;
                (Some(plan), why)
            }
            None => (None, String::new()),
        };
        // A shard sends its stripe of the schedule the plugin asked for.
        let plan = LoadPlan {
            cluster: spec.cluster,
            topic: spec.topic,
            rate: self.shard.rate_of(to_rate(spec.rate)),
            count: spec.count.map(|count| self.shard.count_of(count)),
            duration: spec.duration_ms.map(Duration::from_millis),
            record_sizes: spec.record_sizes,
            key_mode: match spec.key_mode {
                WitKeyMode::None => KeyMode::None,
                WitKeyMode::Sequential => KeyMode::Sequential,
                WitKeyMode::Random(space) => KeyMode::Random(space),
            },
            replication,
            shard: self.shard,
        };
        plan.validate()?;
        self.check_load_limits(&plan)?;
        let config = self.producer_config(&plan.cluster, &spec.producer_config)?;
        let id = self.kafka.next_job_id.fetch_add(1, Ordering::Relaxed);
        if let Some(replication) = &plan.replication {
            let now = self.metrics.clock.now_ns();
            let message = format!(
                "load {id}: {} on {} tracked to {} on {} (named {named})",
                plan.topic, plan.cluster, replication.remote_topic, replication.target_cluster
            );
            self.metrics.events.push(now, "replication", &message);
        }
        let job = load::job::spawn(
            id,
            self.kafka.run_id,
            plan,
            config,
            self.metrics.clock,
            self.metrics.phases.clone(),
        )?;
        self.metrics.add_job(job.clone());
        Ok(job)
    }

    /// The scenario's `[limits]` on loads: record size and how many jobs in all.
    fn check_load_limits(&self, plan: &LoadPlan) -> HostResult<()> {
        let limits = &self.limits;
        if let Some(size) = plan
            .record_sizes
            .iter()
            .find(|s| **s > limits.max_record_size)
        {
            return Err(HostError::Invalid(format!(
                "record size {size} exceeds the scenario's [limits] max_record_size of {} bytes",
                limits.max_record_size
            )));
        }
        if self.metrics.jobs().len() >= limits.max_load_jobs as usize {
            return Err(HostError::Invalid(format!(
                "the scenario's [limits] max_load_jobs of {} load jobs is reached",
                limits.max_load_jobs
            )));
        }
        Ok(())
    }

    async fn produce_one(
        &self,
        cluster: &str,
        topic: &str,
        key: Option<Vec<u8>>,
        value: Vec<u8>,
    ) -> HostResult<Delivery> {
        self.permit(Access::Topic { cluster, topic })?;
        let producer = self.single_record_producer(cluster)?;
        let mut record = FutureRecord::to(topic).payload(&value);
        if let Some(key) = &key {
            record = record.key(key);
        }
        let started = Instant::now();
        let delivered = producer
            .send(record, PRODUCE_TIMEOUT)
            .await
            .map_err(|(error, _)| {
                HostError::Kafka(format!("producing to {topic} on {cluster}: {error}"))
            })?;
        Ok(Delivery {
            partition: delivered.partition,
            offset: delivered.offset,
            latency_us: started.elapsed().as_micros() as u64,
        })
    }

    /// One producer per cluster serves every single-record `produce`, so a call costs a send and
    /// an acknowledgement, not a client start-up.
    fn single_record_producer(&self, cluster: &str) -> HostResult<FutureProducer> {
        let mut producers = self.kafka.single_record_producers.lock().unwrap();
        if let Some(producer) = producers.get(cluster) {
            return Ok(producer.clone());
        }
        let producer: FutureProducer = self.producer_config(cluster, &[])?.create()?;
        producers.insert(cluster.to_string(), producer.clone());
        Ok(producer)
    }

    fn subscribe(&self, cluster: &str, topic: &str, start: StartFrom) -> HostResult<BaseConsumer> {
        self.permit(Access::Topic { cluster, topic })?;
        let mut config = self.kafka.clusters.client_config(cluster)?;
        let group = format!(
            "kscen-{}-{}",
            std::process::id(),
            self.kafka.next_job_id.fetch_add(1, Ordering::Relaxed)
        );
        config
            .set("group.id", group)
            .set("enable.auto.commit", "false")
            .set(
                "auto.offset.reset",
                match start {
                    StartFrom::Earliest => "earliest",
                    StartFrom::Latest => "latest",
                },
            );
        let consumer: BaseConsumer = config.create()?;
        consumer.subscribe(&[topic])?;
        Ok(consumer)
    }
}

impl Host for PluginState {
    async fn start_load(
        &mut self,
        spec: LoadSpec,
    ) -> wasmtime::Result<Result<Resource<LoadHandle>, WitError>> {
        let run = self.run()?.clone();
        let started = unless_cancelled(&run, run.start_load(spec)).await?;
        Ok(match started {
            Ok(job) => Ok(self.table.push(LoadHandle { job })?),
            Err(error) => Err(error.into()),
        })
    }

    async fn produce(
        &mut self,
        cluster: String,
        topic: String,
        key: Option<Vec<u8>>,
        value: Vec<u8>,
    ) -> wasmtime::Result<Result<Delivery, WitError>> {
        let run = self.run()?.clone();
        let delivered =
            unless_cancelled(&run, run.produce_one(&cluster, &topic, key, value)).await?;
        Ok(delivered.map_err(Into::into))
    }

    async fn subscribe(
        &mut self,
        cluster: String,
        topic: String,
        start: StartFrom,
    ) -> wasmtime::Result<Result<Resource<ConsumerHandle>, WitError>> {
        let run = self.run()?;
        let max = run.limits.max_consumers;
        if self.open_consumers >= max {
            return Ok(Err(HostError::Invalid(format!(
                "the scenario's [limits] max_consumers of {max} open consumers is reached; \
                 drop a consumer before subscribing again, or raise the limit"
            ))
            .into()));
        }
        Ok(match run.subscribe(&cluster, &topic, start) {
            Ok(consumer) => {
                let handle = self.table.push(ConsumerHandle {
                    consumer: Arc::new(consumer),
                })?;
                self.open_consumers += 1;
                Ok(handle)
            }
            Err(error) => Err(error.into()),
        })
    }

    async fn create_topic(
        &mut self,
        cluster: String,
        topic: String,
        partitions: u32,
        replication_factor: u16,
        config: Vec<(String, String)>,
    ) -> wasmtime::Result<Result<(), WitError>> {
        let run = self.run()?.clone();
        if let Err(denied) = run.permit(Access::Topic {
            cluster: &cluster,
            topic: &topic,
        }) {
            return Ok(Err(denied.into()));
        }
        let settings = run
            .kafka
            .new_topics
            .get(&cluster)
            .cloned()
            .unwrap_or_default();
        let replication = settings.replication_factor(replication_factor);
        let config = settings.configs(&config);
        let created = match run
            .kafka
            .clusters
            .create_topic(&cluster, &topic, partitions, replication, &config)
            .await
        {
            Ok(created) => created,
            Err(error) => return Ok(Err(error.into())),
        };
        if created {
            run.kafka
                .created_topics
                .lock()
                .unwrap()
                .insert((cluster.clone(), topic.clone()));
        }
        // What the topic really got, from the cluster: the result says which durability the
        // test ran with, and acks=all on too few replicas fails here, not on every record.
        let durability = if run.kafka.clusters.is_embedded() {
            None
        } else {
            match run.kafka.clusters.topic_durability(&cluster, &topic).await {
                Ok(durability) => Some(durability),
                Err(error) => return Ok(Err(error.into())),
            }
        };
        let now = run.metrics.clock.now_ns();
        run.metrics.events.push(
            now,
            "topic",
            &topic_event(&cluster, &topic, partitions, created, durability, &config),
        );
        if let Some((replicas, min_isr)) = durability {
            if acks_all(&run.kafka.producer_config.librdkafka) && (replicas as u32) < min_isr {
                return Ok(Err(WitError::Invalid(format!(
                    "topic {topic} on {cluster} has replication factor {replicas} but \
                     min.insync.replicas {min_isr}: no acks=all record can be acknowledged. \
                     Create it with more replicas ([new_topics] replication_factor in the \
                     scenario, or [clusters.{cluster}.new_topics] in the profile), lower \
                     min_insync_replicas, or run with --producer-props acks=1"
                ))));
            }
        }
        Ok(Ok(()))
    }

    async fn delete_topic(
        &mut self,
        cluster: String,
        topic: String,
    ) -> wasmtime::Result<Result<(), WitError>> {
        let run = self.run()?.clone();
        if let Err(denied) = run.permit(Access::DeleteTopic {
            cluster: &cluster,
            topic: &topic,
        }) {
            return Ok(Err(denied.into()));
        }
        Ok(run
            .kafka
            .clusters
            .delete_topic(&cluster, &topic)
            .await
            .map_err(Into::into))
    }

    async fn end_offsets(
        &mut self,
        cluster: String,
        topic: String,
    ) -> wasmtime::Result<Result<Vec<PartitionOffset>, WitError>> {
        let run = self.run()?.clone();
        if let Err(denied) = run.permit(Access::Topic {
            cluster: &cluster,
            topic: &topic,
        }) {
            return Ok(Err(denied.into()));
        }
        let offsets =
            unless_cancelled(&run, run.kafka.clusters.end_offsets(&cluster, &topic)).await?;
        Ok(offsets
            .map(|list| {
                list.into_iter()
                    .map(|(partition, offset)| PartitionOffset { partition, offset })
                    .collect()
            })
            .map_err(Into::into))
    }
}

impl HostLoad for PluginState {
    async fn status(&mut self, load: Resource<LoadHandle>) -> wasmtime::Result<WitStatus> {
        Ok(to_wit_status(self.table.get(&load)?.job.status()))
    }

    async fn set_rate(
        &mut self,
        load: Resource<LoadHandle>,
        rate: WitRate,
    ) -> wasmtime::Result<Result<(), WitError>> {
        let rate = to_rate(rate);
        if let Rate::PerSecond(r) = rate {
            if !(r.is_finite() && r > 0.0) {
                return Ok(Err(WitError::Invalid(format!(
                    "rate must be positive, got {r}"
                ))));
            }
        }
        let job = &self.table.get(&load)?.job;
        job.request_rate(self.run()?.shard.rate_of(rate));
        let metrics = &self.run()?.metrics;
        let label = rate
            .per_second()
            .map_or("unthrottled".to_string(), |r| format!("{r} msg/s"));
        metrics.events.push(
            metrics.clock.now_ns(),
            "rate",
            &format!("load {} on {}: {label}", job.id, job.topic),
        );
        Ok(Ok(()))
    }

    async fn stop(&mut self, load: Resource<LoadHandle>) -> wasmtime::Result<WitStatus> {
        let job = self.table.get(&load)?.job.clone();
        job.request_stop();
        job.wait_done().await;
        Ok(to_wit_status(job.status()))
    }

    async fn wait(
        &mut self,
        load: Resource<LoadHandle>,
        timeout_ms: Option<u64>,
    ) -> wasmtime::Result<Result<WitStatus, WitError>> {
        let job = self.table.get(&load)?.job.clone();
        let run = self.run()?.clone();
        Ok(if wait_at_most(&run, timeout_ms, job.wait_done()).await? {
            Ok(to_wit_status(job.status()))
        } else {
            Err(WitError::Timeout(format!(
                "load {} still running after {}ms",
                job.id,
                timeout_ms.unwrap_or(0)
            )))
        })
    }

    async fn drop(&mut self, load: Resource<LoadHandle>) -> wasmtime::Result<()> {
        // Dropping the handle stops the job; its figures stay in the run's metrics.
        self.table.delete(load)?.job.request_stop();
        Ok(())
    }
}

impl HostConsumer for PluginState {
    async fn poll(
        &mut self,
        consumer: Resource<ConsumerHandle>,
        max: u32,
        timeout_ms: u32,
    ) -> wasmtime::Result<Result<Vec<ConsumedRecord>, WitError>> {
        let consumer = self.table.get(&consumer)?.consumer.clone();
        let clock = self.run()?.metrics.clock;
        let polled = tokio::task::spawn_blocking(move || -> HostResult<Vec<ConsumedRecord>> {
            let mut records = Vec::new();
            let mut timeout = Duration::from_millis(u64::from(timeout_ms));
            while records.len() < max as usize {
                let Some(message) = consumer.poll(timeout) else {
                    break;
                };
                let message = message?;
                records.push(ConsumedRecord {
                    partition: message.partition(),
                    offset: message.offset(),
                    key: message.key().map(<[u8]>::to_vec),
                    value: message.payload().map(<[u8]>::to_vec).unwrap_or_default(),
                    received_ns: clock.now_ns(),
                });
                // After the first record, take only what is already there.
                timeout = Duration::ZERO;
            }
            Ok(records)
        })
        .await?;
        Ok(polled.map_err(Into::into))
    }

    async fn drop(&mut self, consumer: Resource<ConsumerHandle>) -> wasmtime::Result<()> {
        self.table.delete(consumer)?;
        self.open_consumers -= 1;
        Ok(())
    }
}

/// The event a topic creation leaves in the run's log: what the topic was made with.
fn topic_event(
    cluster: &str,
    topic: &str,
    partitions: u32,
    created: bool,
    durability: Option<(usize, u32)>,
    configs: &[(String, String)],
) -> String {
    let mut text = format!(
        "{} {topic} on {cluster} ({partitions} partitions",
        if created { "created" } else { "found" }
    );
    if let Some((replicas, min_isr)) = durability {
        text += &format!(", replication factor {replicas}, min.insync.replicas {min_isr}");
    }
    if !configs.is_empty() {
        let configs: Vec<String> = configs.iter().map(|(k, v)| format!("{k}={v}")).collect();
        text += &format!(", configs {}", configs.join(" "));
    }
    text + ")"
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::caps::testing::{cluster, context, events};

    fn plan(record_size: u32) -> LoadPlan {
        LoadPlan {
            cluster: "source".into(),
            topic: "orders".into(),
            rate: Rate::PerSecond(10.0),
            count: Some(1),
            duration: None,
            record_sizes: vec![record_size],
            key_mode: KeyMode::None,
            replication: None,
            shard: crate::shard::Shard::WHOLE,
        }
    }

    #[test]
    fn a_record_over_the_scenarios_max_record_size_is_refused_before_a_job_starts() {
        let (run, _cancel) = context(&[cluster("source")], &[]);
        let max = run.limits.max_record_size;
        assert!(run.check_load_limits(&plan(max)).is_ok());
        let refused = run.check_load_limits(&plan(max + 1)).unwrap_err();
        assert!(
            refused.to_string().contains(&format!(
                "exceeds the scenario's [limits] max_record_size of {max} bytes"
            )),
            "{refused}"
        );
    }

    #[test]
    fn no_producer_is_configured_for_a_cluster_the_plugin_did_not_ask_for() {
        let (run, _cancel) = context(&[cluster("source")], &[]);
        assert!(run.producer_config("source", &[]).is_ok());
        assert!(run.producer_config("target", &[]).is_err());
        assert_eq!(events(&run, "cluster-denied").len(), 1);
    }

    #[test]
    fn a_plugins_producer_setting_librdkafka_cannot_take_is_refused_by_name() {
        let (run, _cancel) = context(&[cluster("source")], &[]);
        let java_only = [("interceptor.classes".to_string(), "x.Y".to_string())];
        let refused = run.producer_config("source", &java_only).unwrap_err();
        assert_eq!(
            refused.to_string(),
            "invalid: producer-config: interceptor.classes not applied: Java-only"
        );
    }
}
