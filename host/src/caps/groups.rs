//! `groups`: consume jobs that read as a consumer group, group lag, and the run's mirror's offset
//! translation checked on the run's stamped records; on the clusters and topics the plugin was
//! granted.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use wasmtime::component::Resource;

use crate::bindings::v0_1_0::kscen::scenario::kafka::StartFrom as WitStartFrom;
use crate::bindings::v0_4_0::kscen::scenario0_4_0::groups::{
    CommitPolicy as WitCommit, ConsumeSpec, ConsumeStatus as WitStatus, GroupLag as WitGroupLag,
    GroupProtocol as WitProtocol, GroupVerdict as WitVerdict, Host, HostConsumeJob,
    PartitionLag as WitPartitionLag, TranslatedOffset as WitTranslated,
    TranslationError as WitTranslationError,
};
use crate::bindings::WitError;
use crate::caps::{unless_cancelled, wait_at_most, Access, PluginState, RunContext};
use crate::config::client_props::map_consumer_properties;
use crate::deployment::policy::ReplicationPolicy;
use crate::error::{HostError, HostResult};
use crate::groups::commit::{self, Commit};
use crate::groups::translation::{self, Position, Translated};
use crate::groups::{checkpoints, lag};
use crate::load::consume::{
    self, CommitPolicy, ConsumeJob, ConsumePlan, ConsumeStatus, GroupProtocol, GroupReading,
    StartFrom,
};

/// The host side of a `consume-job` resource.
pub struct ConsumeHandle {
    job: Arc<ConsumeJob>,
}

fn to_wit_status(status: ConsumeStatus) -> WitStatus {
    WitStatus {
        running: status.running,
        records: status.records,
        bytes: status.bytes,
        elapsed_ms: status.elapsed_ms,
        records_per_second: status.records_per_s,
        assigned_partitions: status.assigned_partitions,
        partitions: status.partitions,
        rebalances: status.rebalances.rebalances,
        join_ms: status.rebalances.join_ms,
        unassigned_ms: status.rebalances.unassigned_ms,
        unassigned_max_ms: status.rebalances.unassigned_max_ms,
        stamped: status.stamped,
        read_twice: status.read_twice,
        e2e_p99_us: status.e2e_us.p99,
        lag: status.lag,
        last_error: status.last_error,
    }
}

fn to_plan(spec: ConsumeSpec) -> ConsumePlan {
    ConsumePlan {
        reading: GroupReading {
            cluster: spec.cluster,
            topic: spec.topic,
            group: spec.group,
            members: spec.members,
            commit: match spec.commit {
                WitCommit::Auto => CommitPolicy::Auto,
                WitCommit::PerBatch => CommitPolicy::PerBatch,
                WitCommit::None => CommitPolicy::None,
            },
            protocol: match spec.protocol {
                WitProtocol::Classic => GroupProtocol::Classic,
                WitProtocol::Consumer => GroupProtocol::Consumer,
            },
        },
        start: match spec.start {
            WitStartFrom::Earliest => StartFrom::Earliest,
            WitStartFrom::Latest => StartFrom::Latest,
        },
        count: spec.count,
        duration: spec.duration_ms.map(Duration::from_millis),
    }
}

impl RunContext {
    /// Consumer configuration for a cluster: the profile's, then the run's (`--consumer.config`,
    /// `--consumer-props`), then the plugin's overrides; a key with no librdkafka equivalent is
    /// refused by name rather than ignored.
    fn consumer_config(
        &self,
        cluster: &str,
        overrides: &[(String, String)],
    ) -> HostResult<rdkafka::ClientConfig> {
        let mut config = self.kafka.clusters.client_config(cluster)?;
        for (key, value) in &self.kafka.consumer_config.librdkafka {
            config.set(key, value);
        }
        let mapped = map_consumer_properties(overrides);
        if let Some(refused) = mapped.not_applied().next() {
            return Err(HostError::Invalid(format!("consumer-config: {refused}")));
        }
        for (key, value) in &mapped.librdkafka {
            config.set(key, value);
        }
        Ok(config)
    }

    async fn start_consume(&self, spec: ConsumeSpec) -> HostResult<Arc<ConsumeJob>> {
        self.permit(Access::Topic {
            cluster: &spec.cluster,
            topic: &spec.topic,
        })?;
        let config = self.consumer_config(&spec.cluster, &spec.consumer_config)?;
        let plan = to_plan(spec);
        plan.validate()?;
        let running = self.metrics.consume_jobs().len() + self.metrics.jobs().len();
        if running >= self.limits.max_load_jobs as usize {
            return Err(HostError::Invalid(format!(
                "the scenario's [limits] max_load_jobs of {} jobs (load and consume) is reached",
                self.limits.max_load_jobs
            )));
        }
        let id = self.kafka.next_job_id.fetch_add(1, Ordering::Relaxed);
        let ledger = self.metrics.group_ledger(&plan.reading.group);
        let message = format!(
            "consume {id}: group {} reads {} on {} with {} members (commit {:?}, protocol {:?})",
            plan.reading.group,
            plan.reading.topic,
            plan.reading.cluster,
            plan.reading.members,
            plan.reading.commit,
            plan.reading.protocol
        );
        let (run_id, clock) = (self.kafka.run_id, self.metrics.clock);
        let job = tokio::task::spawn_blocking(move || {
            consume::spawn(id, run_id, plan, config, clock, ledger)
        })
        .await
        .map_err(|e| HostError::Kafka(format!("consume job {id} did not start: {e}")))??;
        self.metrics
            .events
            .push(self.metrics.clock.now_ns(), "consume", &message);
        self.metrics.add_consume_job(job.clone());
        Ok(job)
    }
}

impl Host for PluginState {
    async fn start_consume(
        &mut self,
        spec: ConsumeSpec,
    ) -> wasmtime::Result<Result<Resource<ConsumeHandle>, WitError>> {
        let run = self.run()?.clone();
        let started = unless_cancelled(&run, run.start_consume(spec)).await?;
        Ok(match started {
            Ok(job) => Ok(self.table.push(ConsumeHandle { job })?),
            Err(error) => Err(error.into()),
        })
    }

    async fn verdict(&mut self, group: String) -> wasmtime::Result<Result<WitVerdict, WitError>> {
        let run = self.run()?;
        Ok(match run.metrics.group_verdict(&group) {
            Some(verdict) => Ok(WitVerdict {
                read: verdict.read,
                read_twice: verdict.read_twice,
                unread: verdict.unread,
            }),
            None => Err(WitError::NotFound(format!(
                "no consume job of this run read as group {group}"
            ))),
        })
    }

    async fn describe_group(
        &mut self,
        cluster: String,
        group: String,
        topics: Vec<String>,
    ) -> wasmtime::Result<Result<WitGroupLag, WitError>> {
        let run = self.run()?.clone();
        answer(&run, run.describe_group(&cluster, &group, &topics)).await
    }

    async fn translate_offsets(
        &mut self,
        group: String,
    ) -> wasmtime::Result<Result<Vec<WitTranslated>, WitError>> {
        let run = self.run()?.clone();
        answer(&run, async {
            let translation = run.translation(&group).await?;
            Ok(translation
                .offsets
                .iter()
                .map(|t| WitTranslated {
                    topic: translation.upstream(&t.remote_topic).unwrap_or_default(),
                    remote_topic: t.remote_topic.clone(),
                    partition: t.partition,
                    upstream_offset: t.upstream_offset,
                    downstream_offset: t.downstream_offset,
                    age_ms: t.age_ms.unwrap_or(0).max(0) as u64,
                })
                .collect())
        })
        .await
    }

    async fn translation_errors(
        &mut self,
        group: String,
        synced: bool,
    ) -> wasmtime::Result<Result<Vec<WitTranslationError>, WitError>> {
        let run = self.run()?.clone();
        answer(&run, run.translation_errors(&group, synced)).await
    }

    async fn commit_offsets(
        &mut self,
        cluster: String,
        group: String,
        offsets: Vec<(String, i32, i64)>,
    ) -> wasmtime::Result<Result<(), WitError>> {
        let run = self.run()?.clone();
        answer(&run, async {
            for (topic, _, _) in &offsets {
                run.permit(Access::Topic {
                    cluster: &cluster,
                    topic,
                })?;
            }
            let offsets: Vec<Commit> = offsets
                .into_iter()
                .map(|(topic, partition, offset)| Commit {
                    topic,
                    partition,
                    offset,
                })
                .collect();
            commit::commit_offsets(&run.kafka.clusters, &cluster, &group, &offsets).await?;
            let now = run.metrics.clock.now_ns();
            let moved: Vec<String> = offsets
                .iter()
                .map(|c| format!("{}[{}]@{}", c.topic, c.partition, c.offset))
                .collect();
            run.metrics.events.push(
                now,
                "group",
                &format!("group {group} on {cluster} moved to {}", moved.join(" ")),
            );
            Ok(())
        })
        .await
    }
}

/// Runs `call` unless the run is cancelled first; errors mapped for the plugin.
async fn answer<T>(
    run: &RunContext,
    call: impl std::future::Future<Output = HostResult<T>>,
) -> wasmtime::Result<Result<T, WitError>> {
    Ok(unless_cancelled(run, call).await?.map_err(WitError::from))
}

/// The run's mirror's translation of one group: its newest checkpoints, and how to name the
/// source topic of each remote topic.
struct Translation {
    offsets: Vec<Translated>,
    source_alias: String,
    policy: ReplicationPolicy,
}

impl Translation {
    fn upstream(&self, remote_topic: &str) -> Option<String> {
        self.policy.upstream_topic(&self.source_alias, remote_topic)
    }
}

/// The cluster a run's mirror writes to: the profile's `target` (the mirror is found from
/// `source` to `target`).
const TARGET: &str = "target";
const SOURCE: &str = "source";

impl RunContext {
    async fn describe_group(
        &self,
        cluster: &str,
        group: &str,
        topics: &[String],
    ) -> HostResult<WitGroupLag> {
        self.permit(Access::Cluster(cluster))?;
        for topic in topics {
            self.permit(Access::Topic { cluster, topic })?;
        }
        let named = (!topics.is_empty()).then_some(topics);
        let described = lag::group_lag(&self.kafka.clusters, cluster, group, named).await?;
        Ok(WitGroupLag {
            state: described.state,
            members: described.members as u32,
            partitions: described
                .partitions
                .into_iter()
                .map(|p| WitPartitionLag {
                    topic: p.topic,
                    partition: p.partition,
                    committed: p.committed,
                    end: p.end,
                    lag: p.lag,
                })
                .collect(),
        })
    }

    /// The newest checkpoints of `group` in the checkpoints topic the run's mirror's policy
    /// names on the target; NotFound while there is none.
    async fn translation(&self, group: &str) -> HostResult<Translation> {
        self.permit(Access::Cluster(TARGET))?;
        let mirror = self.mirror.chosen().await?;
        let topic = mirror.checkpoints_topic().ok_or_else(|| {
            HostError::Unsupported(format!(
                "mirror {} uses replication policy {}: kscen cannot tell its checkpoints topic",
                mirror.label(),
                mirror.policy
            ))
        })?;
        let checkpoints =
            checkpoints::read_checkpoints(&self.kafka.clusters, TARGET, &topic, Some(group))
                .await?;
        for warning in &checkpoints.warnings {
            tracing::warn!("{warning}");
        }
        let offsets = translation::translate(&checkpoints, group);
        if offsets.is_empty() {
            return Err(HostError::NotFound(format!(
                "no checkpoint of group {group} in {topic} on {TARGET} yet: the mirror's \
                 checkpoint connector emits them every emit.checkpoints.interval.seconds, for \
                 groups its `groups` filter matches that committed offsets on replicated topics"
            )));
        }
        Ok(Translation {
            offsets,
            source_alias: mirror.source_alias.clone(),
            policy: mirror.policy.clone(),
        })
    }

    /// The error of each resume point of `group` on the target — its translated offsets, or
    /// with `synced` the offsets MM2 committed for it there — against its committed offsets
    /// on the source, on this run's stamped records.
    async fn translation_errors(
        &self,
        group: &str,
        synced: bool,
    ) -> HostResult<Vec<WitTranslationError>> {
        self.permit(Access::Cluster(SOURCE))?;
        let translation = self.translation(group).await?;
        let resume_points: Vec<(String, i32, i64)> = if synced {
            let remote_topics: Vec<String> = translation
                .offsets
                .iter()
                .map(|t| t.remote_topic.clone())
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect();
            lag::group_lag(&self.kafka.clusters, TARGET, group, Some(&remote_topics))
                .await?
                .partitions
                .into_iter()
                .filter_map(|p| Some((p.topic, p.partition, p.committed?)))
                .collect()
        } else {
            translation
                .offsets
                .iter()
                .map(|t| (t.remote_topic.clone(), t.partition, t.downstream_offset))
                .collect()
        };
        // Each resume point with the source topic it reads back to.
        let resume_points = resume_points
            .into_iter()
            .map(|(remote, partition, resume_at)| {
                let source = translation.upstream(&remote).ok_or_else(|| {
                    HostError::Invalid(format!(
                        "{remote} on {TARGET} is no remote topic of the run's mirror"
                    ))
                })?;
                Ok((source, remote, partition, resume_at))
            })
            .collect::<HostResult<Vec<_>>>()?;
        // The group's committed offsets on the source, read once for all partitions.
        let source_topics: Vec<String> = resume_points
            .iter()
            .map(|(source, ..)| source.clone())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        let on_source =
            lag::group_lag(&self.kafka.clusters, SOURCE, group, Some(&source_topics)).await?;
        let mut errors = Vec::new();
        for (source_topic, remote_topic, partition, resume_at) in resume_points {
            let Some(committed) = on_source
                .partitions
                .iter()
                .find(|p| p.topic == source_topic && p.partition == partition)
                .and_then(|p| p.committed)
            else {
                continue;
            };
            let measured = translation::translation_error(
                &self.kafka.clusters,
                self.kafka.run_id,
                Position {
                    cluster: SOURCE,
                    topic: &source_topic,
                    partition,
                    offset: committed,
                },
                Position {
                    cluster: TARGET,
                    topic: &remote_topic,
                    partition,
                    offset: resume_at,
                },
            )
            .await?;
            errors.push(WitTranslationError {
                topic: measured.source_topic,
                partition,
                committed,
                resume_at,
                missed: measured.missed,
                read_twice: measured.read_twice,
                saturated: measured.saturated,
            });
        }
        Ok(errors)
    }
}

impl HostConsumeJob for PluginState {
    async fn status(&mut self, job: Resource<ConsumeHandle>) -> wasmtime::Result<WitStatus> {
        Ok(to_wit_status(self.table.get(&job)?.job.status()))
    }

    async fn stop(&mut self, job: Resource<ConsumeHandle>) -> wasmtime::Result<WitStatus> {
        let job = self.table.get(&job)?.job.clone();
        job.request_stop();
        job.wait_done().await;
        Ok(to_wit_status(job.status()))
    }

    async fn wait(
        &mut self,
        job: Resource<ConsumeHandle>,
        timeout_ms: Option<u64>,
    ) -> wasmtime::Result<Result<WitStatus, WitError>> {
        let job = self.table.get(&job)?.job.clone();
        let run = self.run()?.clone();
        Ok(if wait_at_most(&run, timeout_ms, job.wait_done()).await? {
            Ok(to_wit_status(job.status()))
        } else {
            Err(WitError::Timeout(format!(
                "consume job {} still running after {}ms",
                job.id,
                timeout_ms.unwrap_or(0)
            )))
        })
    }

    async fn drop(&mut self, job: Resource<ConsumeHandle>) -> wasmtime::Result<()> {
        // Dropping the handle stops the job; its figures stay in the run's metrics.
        self.table.delete(job)?.job.request_stop();
        Ok(())
    }
}
