//! Kafka Connect REST client: calls go to a worker that answers (a killed or SIGSTOPped worker is
//! skipped within the liveness timeout), rebalance refusals (409, or 500 "a rebalance is
//! expected") are retried, and statuses say whether the worker a task shows RUNNING on is alive.
//!
//! Module map (one job each):
//! - `endpoints`: REST URLs and named workers from the profile, worker_id ↔ name;
//! - `liveness`: concurrent `GET /` probes with a short-lived cache;
//! - `transport`: one call on the first live worker, rebalance retries, typed errors;
//! - `retry`: the rebalance backoff schedule;
//! - `status`: status JSON into `ConnectorStatus`;
//! - `leader`: the group leader from worker logs or the leader metric.

mod endpoints;
mod leader;
mod liveness;
mod retry;
mod status;
mod transport;

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use anyhow::Context as _;
use reqwest::Method;

use self::endpoints::Endpoints;
use self::liveness::LivenessCache;
pub use self::retry::RebalanceRetry;
use self::transport::{Call, Transport};
use crate::config::profile::{BasicAuth, Profile};
use crate::error::{HostError, HostResult};

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum State {
    Unassigned,
    Running,
    Paused,
    Failed,
    Restarting,
    Stopped,
    Unknown,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TaskStatus {
    pub id: u32,
    pub state: State,
    pub worker_id: String,
    /// Whether that worker answers now: a task RUNNING on a dead worker is not running.
    pub worker_alive: bool,
    pub trace: Option<String>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ConnectorStatus {
    pub name: String,
    pub state: State,
    pub worker_id: String,
    pub worker_alive: bool,
    pub tasks: Vec<TaskStatus>,
    pub trace: Option<String>,
}

/// One partition of a source connector's offsets, as `GET /connectors/{name}/offsets` gives it.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
pub struct SourceOffset {
    pub partition: BTreeMap<String, serde_json::Value>,
    pub offset: BTreeMap<String, serde_json::Value>,
}

#[derive(Debug, serde::Deserialize)]
struct Offsets {
    offsets: Vec<SourceOffset>,
}

/// What Connect says of itself (`GET /`).
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
pub struct ServerInfo {
    /// the Kafka version the workers run
    pub version: String,
    pub commit: String,
    pub kafka_cluster_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct WorkerView {
    /// logical name from the profile
    pub name: String,
    pub worker_id: String,
    pub alive: bool,
}

/// How a client is set up. The profile gives the endpoints, the CA trusted for HTTPS and the
/// Basic auth credentials; the rest has defaults suited to a failover scenario.
pub struct ConnectClientBuilder {
    endpoints: Endpoints,
    ca_file: Option<std::path::PathBuf>,
    basic_auth: Option<BasicAuth>,
    liveness_timeout: Duration,
    liveness_ttl: Duration,
    request_timeout: Duration,
    rebalance_retry: RebalanceRetry,
}

impl ConnectClientBuilder {
    /// How long a worker has to answer `GET /` before it counts as dead (default 500 ms).
    pub fn liveness_timeout(mut self, timeout: Duration) -> Self {
        self.liveness_timeout = timeout;
        self
    }

    /// How long a liveness answer is reused (default 100 ms: a 100–250 ms status poll stays
    /// cheap, and a worker stopped mid-scenario is seen within that).
    pub fn liveness_ttl(mut self, ttl: Duration) -> Self {
        self.liveness_ttl = ttl;
        self
    }

    /// How long a live worker may take to answer a call (default 30 s; Connect itself gives up
    /// on a forwarded request after 90 s).
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    pub fn rebalance_retry(mut self, retry: RebalanceRetry) -> Self {
        self.rebalance_retry = retry;
        self
    }

    pub fn build(self) -> anyhow::Result<ConnectClient> {
        let mut http = reqwest::Client::builder().connect_timeout(self.liveness_timeout);
        if let Some(ca_file) = &self.ca_file {
            for certificate in trusted_certificates(ca_file)? {
                http = http.add_root_certificate(certificate);
            }
        }
        if let Some(auth) = &self.basic_auth {
            http = http.default_headers(basic_auth_header(auth)?);
        }
        let http = http.build().context("building the Connect HTTP client")?;
        let liveness = LivenessCache::new(http.clone(), self.liveness_timeout, self.liveness_ttl);
        let transport = Transport::new(
            http,
            self.endpoints.rest.clone(),
            liveness,
            self.rebalance_retry,
            self.request_timeout,
        );
        Ok(ConnectClient {
            endpoints: self.endpoints,
            transport,
        })
    }
}

pub struct ConnectClient {
    endpoints: Endpoints,
    transport: Transport,
}

impl ConnectClient {
    /// `None` when the profile has no `[connect]` section.
    pub fn from_profile(profile: &Profile) -> anyhow::Result<Option<ConnectClient>> {
        match ConnectClient::builder(profile)? {
            Some(builder) => Ok(Some(builder.build()?)),
            None => Ok(None),
        }
    }

    /// A builder on the profile's endpoints, to change timeouts; `None` without `[connect]`.
    pub fn builder(profile: &Profile) -> anyhow::Result<Option<ConnectClientBuilder>> {
        Ok(
            Endpoints::from_profile(profile)?.map(|endpoints| ConnectClientBuilder {
                endpoints,
                ca_file: profile.connect.as_ref().and_then(|c| c.ca_file.clone()),
                basic_auth: profile.connect.as_ref().and_then(|c| c.basic_auth.clone()),
                liveness_timeout: Duration::from_millis(500),
                liveness_ttl: Duration::from_millis(100),
                request_timeout: Duration::from_secs(30),
                rebalance_retry: RebalanceRetry::default(),
            }),
        )
    }

    /// Every worker of the profile and whether it answers now (probed concurrently).
    pub async fn workers(&self) -> Vec<WorkerView> {
        let ids: Vec<String> = self
            .endpoints
            .workers
            .iter()
            .map(|w| w.worker_id.clone())
            .collect();
        let alive = self.alive(&ids).await;
        self.endpoints
            .workers
            .iter()
            .map(|w| WorkerView {
                name: w.name.clone(),
                worker_id: w.worker_id.clone(),
                alive: alive[&w.worker_id],
            })
            .collect()
    }

    pub async fn connectors(&self) -> HostResult<Vec<String>> {
        let mut names: Vec<String> = self
            .transport
            .send(&Call::new(Method::GET, &["connectors"]))
            .await?
            .json("GET /connectors")?;
        names.sort();
        Ok(names)
    }

    pub async fn status(&self, connector: &str) -> HostResult<ConnectorStatus> {
        let call = Call::on_connector(Method::GET, checked(connector)?, &["status"]);
        let raw: status::RawStatus = self
            .transport
            .send(&call)
            .await?
            .json("a connector status")?;
        let mut statuses = [raw.into_status()];
        self.apply_liveness(&mut statuses).await;
        let [status] = statuses;
        Ok(status)
    }

    pub async fn status_all(&self) -> HostResult<Vec<ConnectorStatus>> {
        let call = Call::new(Method::GET, &["connectors"]).query("expand", "status");
        let expanded: BTreeMap<String, status::Expanded> = self
            .transport
            .send(&call)
            .await?
            .json("GET /connectors?expand=status")?;
        let mut statuses = status::from_expanded(expanded);
        self.apply_liveness(&mut statuses).await;
        Ok(statuses)
    }

    /// Asynchronous in Connect (202): the status shows PAUSED a moment later.
    pub async fn pause(&self, connector: &str) -> HostResult<()> {
        self.send_on(Method::PUT, connector, &["pause"]).await
    }

    pub async fn resume(&self, connector: &str) -> HostResult<()> {
        self.send_on(Method::PUT, connector, &["resume"]).await
    }

    /// Kafka 3.5+: the connector and its tasks shut down (tasks vanish from the status).
    pub async fn stop(&self, connector: &str) -> HostResult<()> {
        self.send_on(Method::PUT, connector, &["stop"]).await
    }

    /// Without flags Connect restarts the connector instance only (204); with `include_tasks`
    /// and/or `only_failed` it answers 202 and the status shows RESTARTING.
    pub async fn restart(
        &self,
        connector: &str,
        include_tasks: bool,
        only_failed: bool,
    ) -> HostResult<()> {
        let call = Call::on_connector(Method::POST, checked(connector)?, &["restart"])
            .query("includeTasks", include_tasks)
            .query("onlyFailed", only_failed);
        self.transport.send(&call).await.map(drop)
    }

    pub async fn restart_task(&self, connector: &str, task: u32) -> HostResult<()> {
        self.send_on(
            Method::POST,
            connector,
            &["tasks", &task.to_string(), "restart"],
        )
        .await
    }

    /// The version of Kafka the worker that answers runs (a rolling upgrade may leave others on
    /// another).
    pub async fn server_info(&self) -> HostResult<ServerInfo> {
        self.transport
            .send(&Call::new(Method::GET, &[]))
            .await?
            .json("Connect's server info")
    }

    pub async fn config(&self, connector: &str) -> HostResult<Vec<(String, String)>> {
        let call = Call::on_connector(Method::GET, checked(connector)?, &["config"]);
        let config: BTreeMap<String, serde_json::Value> = self
            .transport
            .send(&call)
            .await?
            .json("a connector config")?;
        // Connect answers strings; keep any other JSON value readable rather than fail.
        Ok(config
            .into_iter()
            .map(|(key, value)| match value {
                serde_json::Value::String(text) => (key, text),
                other => (key, other.to_string()),
            })
            .collect())
    }

    /// A source connector's committed source offsets (Kafka 3.5+, KIP-875): each source partition
    /// (a map such as MirrorMaker 2's `cluster`, `topic`, `partition`) with its offset map.
    pub async fn offsets(&self, connector: &str) -> HostResult<Vec<SourceOffset>> {
        let call = Call::on_connector(Method::GET, checked(connector)?, &["offsets"]);
        let answer: Offsets = self
            .transport
            .send(&call)
            .await?
            .json("a connector's offsets")?;
        Ok(answer.offsets)
    }

    /// Creates the connector or replaces its whole configuration (201 / 200).
    pub async fn put_config(&self, connector: &str, config: &[(String, String)]) -> HostResult<()> {
        let connector = checked(connector)?;
        if config.is_empty() {
            return Err(HostError::Invalid(format!(
                "an empty config for connector {connector:?}"
            )));
        }
        let mut body = serde_json::Map::new();
        for (key, value) in config {
            if body.insert(key.clone(), value.clone().into()).is_some() {
                return Err(HostError::Invalid(format!(
                    "config key {key:?} given twice for connector {connector:?}"
                )));
            }
        }
        let call = Call::on_connector(Method::PUT, connector, &["config"]).json(body.into());
        self.transport.send(&call).await.map(drop)
    }

    pub async fn delete(&self, connector: &str) -> HostResult<()> {
        self.send_on(Method::DELETE, connector, &[]).await
    }

    /// The worker leading the Connect group, by logical name, when it can be told: from the
    /// newest "Joined group" line in the workers' logs, else from a live worker's leader metric.
    pub async fn leader(&self) -> HostResult<Option<String>> {
        let leader_url = match self.leader_from_logs().await {
            Some(url) => Some(url),
            None => self.leader_from_metrics().await,
        };
        Ok(leader_url
            .and_then(|url| leader::leader_host_port(&url))
            .map(|id| {
                // A leader outside the profile is still worth naming: by its host:port.
                self.endpoints
                    .worker_by_id(&id)
                    .map_or(id.clone(), |w| w.name.clone())
            }))
    }

    async fn leader_from_logs(&self) -> Option<String> {
        let logs: Vec<_> = self
            .endpoints
            .workers
            .iter()
            .filter_map(|w| w.log_file.clone())
            .collect();
        if logs.is_empty() {
            return None;
        }
        let newest = tokio::task::spawn_blocking(move || {
            logs.iter()
                .filter_map(|path| match leader::newest_in_log(path) {
                    Ok(joined) => joined,
                    Err(error) => {
                        tracing::debug!(log = %path.display(), %error, "cannot read a worker log for the leader");
                        None
                    }
                })
                .max()
        })
        .await
        .ok()??;
        Some(newest.leader_url)
    }

    async fn leader_from_metrics(&self) -> Option<String> {
        let ids: Vec<String> = self
            .endpoints
            .workers
            .iter()
            .map(|w| w.worker_id.clone())
            .collect();
        let alive = self.alive(&ids).await;
        for worker in &self.endpoints.workers {
            let Some(url) = worker
                .metrics_url
                .as_ref()
                .filter(|_| alive[&worker.worker_id])
            else {
                continue;
            };
            let body = async {
                self.transport
                    .http
                    .get(url.clone())
                    .timeout(Duration::from_secs(5))
                    .send()
                    .await?
                    .text()
                    .await
            };
            match body.await {
                Ok(body) => {
                    if let Some(leader) = leader::leader_from_metrics(&body) {
                        return Some(leader);
                    }
                }
                Err(error) => {
                    tracing::debug!(worker = worker.name, %error, "cannot scrape for the leader metric")
                }
            }
        }
        None
    }

    async fn send_on(&self, method: Method, connector: &str, rest: &[&str]) -> HostResult<()> {
        let call = Call::on_connector(method, checked(connector)?, rest);
        self.transport.send(&call).await.map(drop)
    }

    /// Liveness by worker_id; ids outside the profile are probed at `<scheme>://<id>/`.
    async fn alive(&self, ids: &[String]) -> HashMap<String, bool> {
        let probed: Vec<(String, reqwest::Url)> = ids
            .iter()
            .filter_map(|id| self.endpoints.liveness_url(id).map(|url| (id.clone(), url)))
            .collect();
        let urls: Vec<reqwest::Url> = probed.iter().map(|(_, url)| url.clone()).collect();
        let answers = self.transport.liveness.check(&urls).await;
        let mut alive: HashMap<String, bool> = ids.iter().map(|id| (id.clone(), false)).collect();
        for ((id, _), liveness) in probed.into_iter().zip(answers) {
            alive.insert(id, liveness.is_alive());
        }
        alive
    }

    async fn apply_liveness(&self, statuses: &mut [ConnectorStatus]) {
        let alive = self.alive(&status::worker_ids(statuses)).await;
        status::apply_liveness(statuses, |id| alive.get(id).copied().unwrap_or(false));
    }
}

/// An empty name would address `/connectors/` itself.
fn checked(connector: &str) -> HostResult<&str> {
    if connector.trim().is_empty() {
        return Err(HostError::Invalid("an empty connector name".into()));
    }
    Ok(connector)
}

/// An HTTP error with its causes ("error sending request: connection refused"): reqwest's
/// top-level message alone hides the useful part.
/// The certificates of a PEM bundle (`connect.ca_file`).
fn trusted_certificates(ca_file: &std::path::Path) -> anyhow::Result<Vec<reqwest::Certificate>> {
    let pem = std::fs::read(ca_file)
        .with_context(|| format!("reading connect.ca_file {}", ca_file.display()))?;
    let certificates = reqwest::Certificate::from_pem_bundle(&pem).with_context(|| {
        format!(
            "connect.ca_file {} is not a PEM certificate bundle",
            ca_file.display()
        )
    })?;
    if certificates.is_empty() {
        anyhow::bail!(
            "connect.ca_file {} holds no PEM certificate (expected -----BEGIN CERTIFICATE-----)",
            ca_file.display()
        );
    }
    Ok(certificates)
}

/// `Authorization: Basic …` on every call, marked sensitive so it never shows in debug output.
fn basic_auth_header(auth: &BasicAuth) -> anyhow::Result<reqwest::header::HeaderMap> {
    use base64::Engine as _;
    let token = base64::engine::general_purpose::STANDARD
        .encode(format!("{}:{}", auth.username, auth.password));
    let mut value = reqwest::header::HeaderValue::from_str(&format!("Basic {token}"))
        .context("connect.basic_auth: the credentials cannot form an HTTP header")?;
    value.set_sensitive(true);
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(reqwest::header::AUTHORIZATION, value);
    Ok(headers)
}

pub(crate) fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
