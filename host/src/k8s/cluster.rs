//! The run's objects on the Kubernetes API: created together, followed until the Job ends (each
//! pod's state as it changes, shard 0's log as it is written), each shard's result read from its
//! pod's log, and everything deleted at the end.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use futures::{AsyncBufReadExt, TryStreamExt};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Pod, Secret};
use kube::api::{DeleteParams, ListParams, LogParams, PostParams};
use kube::{Api, Client};

use super::manifests::{ShardedJob, RESULT_LINE_PREFIX, RUN_LABEL};
use crate::result::RunResult;

/// The label the Job controller puts on each pod: its completion index.
const INDEX_LABEL: &str = "batch.kubernetes.io/job-completion-index";
/// How often the Job and its pods are looked at.
const POLL: Duration = Duration::from_secs(2);
/// How many lines of a failed shard's log its error quotes.
const LOG_TAIL: usize = 15;

/// A client from `kubeconfig`, or as kubectl finds one (KUBECONFIG, ~/.kube/config, in-cluster).
pub async fn client(kubeconfig: Option<&Path>) -> Result<Client> {
    let config = match kubeconfig {
        Some(path) => {
            let file = kube::config::Kubeconfig::read_from(path)
                .with_context(|| format!("reading kubeconfig {}", path.display()))?;
            kube::Config::from_custom_kubeconfig(file, &Default::default()).await?
        }
        None => kube::Config::infer()
            .await
            .context("no Kubernetes cluster configured: give --kubeconfig or set KUBECONFIG")?,
    };
    Ok(Client::try_from(config)?)
}

/// A run whose objects exist on the cluster.
pub struct JobRun {
    job: ShardedJob,
    jobs: Api<Job>,
    pods: Api<Pod>,
    config_maps: Api<ConfigMap>,
    secrets: Api<Secret>,
}

impl JobRun {
    /// Creates the ConfigMap, the Secret (if any) and the Job; what was created is deleted again
    /// when a later creation fails.
    pub async fn create(client: Client, job: &ShardedJob) -> Result<JobRun> {
        let namespace = &job.namespace;
        let run = JobRun {
            job: job.clone(),
            jobs: Api::namespaced(client.clone(), namespace),
            pods: Api::namespaced(client.clone(), namespace),
            config_maps: Api::namespaced(client.clone(), namespace),
            secrets: Api::namespaced(client, namespace),
        };
        let created = async {
            let post = PostParams::default();
            run.config_maps
                .create(&post, &job.config_map())
                .await
                .with_context(|| format!("creating ConfigMap {}", job.config_map_name()))?;
            if let Some(secret) = job.secret() {
                run.secrets
                    .create(&post, &secret)
                    .await
                    .with_context(|| format!("creating Secret {}", job.secret_name()))?;
            }
            run.jobs
                .create(&post, &job.job())
                .await
                .with_context(|| format!("creating Job {} in {namespace}", job.name))?;
            anyhow::Ok(())
        }
        .await;
        if let Err(error) = created {
            run.delete().await;
            return Err(error);
        }
        Ok(run)
    }

    /// Waits for the Job to end and returns every shard's result, named `shard I (pod P)`; an
    /// error naming the shards that were not running by the start instant, failed without a
    /// result, or did not finish within `timeout` of the start.
    pub async fn follow(&self, timeout: Duration) -> Result<Vec<(String, RunResult)>> {
        let start_at = chrono::DateTime::parse_from_rfc3339(&self.job.start_at)?;
        let deadline = start_at + timeout;
        let mut started = false;
        let mut states: BTreeMap<u32, String> = BTreeMap::new();
        let mut streaming = None;
        loop {
            let pods = self.pods_by_index().await?;
            for (index, pod) in &pods {
                let state = pod_state(pod);
                if states.get(index) != Some(&state) {
                    eprintln!("k8s: shard {index} ({}): {state}", name_of(pod));
                    states.insert(*index, state);
                }
            }
            if streaming.is_none() {
                if let Some(pod) = pods.get(&0).filter(|p| phase_of(p) != "Pending") {
                    streaming = Some(tokio::spawn(stream_log(self.pods.clone(), name_of(pod))));
                }
            }
            let now = chrono::Utc::now();
            if !started && now >= start_at {
                let late: Vec<String> = (0..self.job.shards)
                    .filter(|i| pods.get(i).is_none_or(|p| phase_of(p) == "Pending"))
                    .map(|i| format!("shard {i}"))
                    .collect();
                if !late.is_empty() {
                    bail!(
                        "{} not running at the start instant {}: give the pods more time \
                         (--start-delay) or check the nodes (image, resources, selectors)",
                        late.join(", "),
                        self.job.start_at
                    );
                }
                started = true;
            }
            if let Some(ended) = self.job_ended().await? {
                if let Some(stream) = streaming {
                    stream.abort();
                }
                return self.results(&pods, &ended).await;
            }
            if now >= deadline {
                bail!(
                    "the Job did not finish within {} of its start",
                    humantime::format_duration(timeout)
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// The run's pods by completion index (the newest, should one be there twice).
    async fn pods_by_index(&self) -> Result<BTreeMap<u32, Pod>> {
        let listed = self
            .pods
            .list(&ListParams::default().labels(&format!("{RUN_LABEL}={}", self.job.name)))
            .await
            .context("listing the run's pods")?;
        let mut pods = BTreeMap::new();
        for pod in listed.items {
            let index = pod
                .metadata
                .labels
                .as_ref()
                .and_then(|labels| labels.get(INDEX_LABEL))
                .and_then(|index| index.parse::<u32>().ok());
            if let Some(index) = index {
                pods.insert(index, pod);
            }
        }
        Ok(pods)
    }

    /// The Job's final condition (`Complete` or `Failed`) and its failed indexes, once it ended.
    async fn job_ended(&self) -> Result<Option<JobEnd>> {
        let job = self
            .jobs
            .get(&self.job.name)
            .await
            .with_context(|| format!("reading Job {}", self.job.name))?;
        let Some(status) = job.status else {
            return Ok(None);
        };
        let ended = status
            .conditions
            .unwrap_or_default()
            .into_iter()
            .find(|c| ["Complete", "Failed"].contains(&c.type_.as_str()) && c.status == "True");
        Ok(ended.map(|condition| JobEnd {
            condition: condition.type_,
            reason: condition.message.or(condition.reason).unwrap_or_default(),
            failed: status.failed_indexes.unwrap_or_default(),
        }))
    }

    /// Each shard's result from its pod's log; an error naming the shards whose log holds none.
    async fn results(
        &self,
        pods: &BTreeMap<u32, Pod>,
        ended: &JobEnd,
    ) -> Result<Vec<(String, RunResult)>> {
        eprintln!(
            "k8s: Job {}: {}{}",
            self.job.name,
            ended.condition,
            if ended.failed.is_empty() {
                String::new()
            } else {
                format!(" (failed shards: {})", ended.failed)
            }
        );
        let mut results = Vec::new();
        let mut missing = Vec::new();
        for index in 0..self.job.shards {
            let Some(pod) = pods.get(&index) else {
                missing.push(format!("shard {index}: no pod ({})", ended.reason));
                continue;
            };
            let name = name_of(pod);
            let log = self
                .pods
                .logs(&name, &LogParams::default())
                .await
                .with_context(|| format!("reading the log of shard {index} (pod {name})"))?;
            match log.lines().find_map(|l| l.strip_prefix(RESULT_LINE_PREFIX)) {
                Some(line) => {
                    let result: RunResult = serde_json::from_str(line).with_context(|| {
                        format!("shard {index} (pod {name}) printed a result kscen cannot read")
                    })?;
                    results.push((format!("shard {index} (pod {name})"), result));
                }
                None => {
                    let lines: Vec<&str> = log.lines().collect();
                    let tail = lines[lines.len().saturating_sub(LOG_TAIL)..].join("\n    ");
                    missing.push(format!(
                        "shard {index} (pod {name}, {}) wrote no result; its log ends:\n    {tail}",
                        pod_state(pod)
                    ));
                }
            }
        }
        if !missing.is_empty() {
            bail!("{}", missing.join("\n"));
        }
        Ok(results)
    }

    /// Deletes the Job with its pods, the ConfigMap and the Secret, and waits until the pods are
    /// gone; says what it could not delete.
    pub async fn delete(&self) {
        let background = DeleteParams::background();
        let name = &self.job.name;
        let outcomes = [
            ("Job", self.jobs.delete(name, &background).await.err()),
            (
                "ConfigMap",
                self.config_maps
                    .delete(&self.job.config_map_name(), &background)
                    .await
                    .err(),
            ),
            (
                "Secret",
                match self.job.secret() {
                    Some(_) => self
                        .secrets
                        .delete(&self.job.secret_name(), &background)
                        .await
                        .err(),
                    None => None,
                },
            ),
        ];
        for (kind, error) in outcomes {
            match error {
                None => {}
                Some(kube::Error::Api(status)) if status.code == 404 => {}
                Some(error) => eprintln!("k8s: could not delete the run's {kind}: {error}"),
            }
        }
        // Pods go with their Job in the background; the run is over once none is left.
        for _ in 0..60 {
            match self.pods_by_index().await {
                Ok(pods) if pods.is_empty() => {
                    eprintln!("k8s: the run's Job, pods and inputs are deleted");
                    return;
                }
                Ok(_) => tokio::time::sleep(Duration::from_secs(1)).await,
                Err(error) => {
                    eprintln!("k8s: could not check the run's pods are gone: {error:#}");
                    return;
                }
            }
        }
        eprintln!("k8s: the run's pods are still being deleted (label {RUN_LABEL}={name})");
    }
}

struct JobEnd {
    condition: String,
    reason: String,
    /// the Job's failed indexes, e.g. "1,3-4"
    failed: String,
}

fn name_of(pod: &Pod) -> String {
    pod.metadata.name.clone().unwrap_or_default()
}

fn phase_of(pod: &Pod) -> String {
    pod.status
        .as_ref()
        .and_then(|s| s.phase.clone())
        .unwrap_or_else(|| "Pending".into())
}

/// The pod's phase, and why it waits or ended when the kubelet says.
fn pod_state(pod: &Pod) -> String {
    let phase = phase_of(pod);
    let container = pod
        .status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .and_then(|c| c.first())
        .and_then(|c| c.state.as_ref());
    let detail = container.and_then(|state| {
        if let Some(waiting) = &state.waiting {
            waiting.reason.clone()
        } else {
            state
                .terminated
                .as_ref()
                .map(|t| format!("exit {}", t.exit_code))
        }
    });
    match detail {
        Some(detail) => format!("{phase} ({detail})"),
        None => phase,
    }
}

/// Shard 0's log on stderr as it is written, the result line left out.
async fn stream_log(pods: Api<Pod>, name: String) {
    let params = LogParams {
        follow: true,
        ..Default::default()
    };
    let Ok(stream) = pods.log_stream(&name, &params).await else {
        return;
    };
    let mut lines = stream.lines();
    while let Ok(Some(line)) = lines.try_next().await {
        if !line.starts_with(RESULT_LINE_PREFIX) {
            eprintln!("[shard 0] {line}");
        }
    }
}
