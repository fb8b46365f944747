//! Waiting for the lab to be usable: brokers answer metadata, link proxies forward to them,
//! workers answer `GET /`, connectors and tasks are RUNNING on live workers, Prometheus (when the
//! lab runs it) is ready and scrapes every exporter. Prints what it waits for every few seconds and fails
//! fast, with the log tail, when a process dies meanwhile.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use anyhow::{bail, Result};

use super::connectors::{self, Connector, ConnectorStatus};
use super::process;
use super::security::{self, KafkaProperties};
use super::topology::{Kind, Process, Topology};
use crate::faults::link_state::{self, LinkState};
use rdkafka::consumer::Consumer as _;

const PROGRESS_EVERY: Duration = Duration::from_secs(5);

/// Fails when one of `procs` is no longer running, naming it and showing its log tail.
fn ensure_alive<'a>(procs: impl IntoIterator<Item = &'a Process>) -> Result<()> {
    for p in procs {
        if process::running_pid(p).is_none() {
            let tail = process::tail(&p.log_file(), 30).unwrap_or_else(|e| format!("({e:#})\n"));
            bail!(
                "{} exited while the lab was starting; last lines of {}:\n{tail}\
                 (full log: `kscen lab logs {} -n 500`)",
                p.name,
                p.log_file().display(),
                p.name
            );
        }
    }
    Ok(())
}

/// Generic wait loop: `probe` returns the list of things still pending (empty = ready).
async fn wait_until<F, Fut>(
    what: &str,
    procs: &[&Process],
    deadline: Instant,
    mut probe: F,
) -> Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Vec<String>>,
{
    let started = Instant::now();
    let mut next_report = started + PROGRESS_EVERY;
    loop {
        ensure_alive(procs.iter().copied())?;
        let pending = probe().await;
        if pending.is_empty() {
            println!(
                "{what}: ready after {:.1}s",
                started.elapsed().as_secs_f64()
            );
            return Ok(());
        }
        let now = Instant::now();
        if now > deadline {
            bail!(
                "timed out waiting for {what}; still pending: {}. See `kscen lab status` and \
                 `kscen lab logs <process>`",
                pending.join("; ")
            );
        }
        if now >= next_report {
            println!(
                "  waiting for {what} ({:.0}s): {}",
                started.elapsed().as_secs_f64(),
                pending.join("; ")
            );
            next_report = now + PROGRESS_EVERY;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Every broker answers a Kafka metadata request listing every broker of its cluster (each has
/// registered with the controller quorum).
pub async fn wait_brokers(topo: &Topology, deadline: Instant) -> Result<()> {
    let brokers: Vec<&Process> = topo.brokers().collect();
    let kafka = &security::kscen_client_properties(topo)?;
    let expected = usize::from(topo.brokers_per_cluster);
    wait_until("brokers", &brokers, deadline, move || async move {
        let mut pending = Vec::new();
        for b in topo.brokers() {
            match broker_metadata(b.bootstrap(), kafka).await {
                Ok(registered) if registered == expected => {}
                Ok(registered) => pending.push(format!(
                    "{} lists {registered} of its cluster's {expected} brokers",
                    b.name
                )),
                Err(e) => pending.push(format!("{} metadata on {} ({e})", b.name, b.bootstrap())),
            }
        }
        pending
    })
    .await
}

/// Every link proxy is open and forwards: a metadata request through it is answered by the
/// broker's `PROXIED` listener, which advertises the proxy's own address (so the workers' clients
/// stay behind the proxy for every broker connection).
pub async fn wait_proxies(topo: &Topology, deadline: Instant) -> Result<()> {
    let procs: Vec<&Process> = topo.brokers().chain(topo.proxies()).collect();
    let kafka = &security::kscen_client_properties(topo)?;
    wait_until("link proxies", &procs, deadline, move || async move {
        let mut pending = Vec::new();
        for p in topo.proxies() {
            if let Err(why) = proxy_forwards(p, kafka).await {
                pending.push(why);
            }
        }
        pending
    })
    .await
}

/// `Ok` when the link is open and a metadata request through each of its routes comes back
/// advertising exactly the link's routes: every broker of the cluster, each behind its route.
pub async fn proxy_forwards(p: &Process, kafka: &KafkaProperties) -> Result<(), String> {
    if link_state(p) != Some(LinkState::Open) {
        return Err(format!("{} is not open (cut, or still starting)", p.name));
    }
    let Kind::Proxy { routes, .. } = &p.kind else {
        return Err(format!("{} is not a link proxy", p.name));
    };
    let mut expected: Vec<String> = routes
        .iter()
        .map(|r| format!("127.0.0.1:{}", r.listen))
        .collect();
    expected.sort();
    for through in &expected {
        let mut advertised = advertised_brokers(through.clone(), kafka)
            .await
            .map_err(|e| format!("{} metadata through {through} ({e})", p.name))?;
        advertised.sort();
        if advertised != expected {
            return Err(format!(
                "{}: the brokers behind {through} advertise {advertised:?}, not the link's \
                 routes {expected:?}",
                p.name
            ));
        }
    }
    Ok(())
}

/// The state the link proxy reported, if the running proxy wrote it.
pub fn link_state(p: &Process) -> Option<LinkState> {
    let pid = process::running_pid(p)?;
    match link_state::read(&link_state::state_file(&p.pid_file())) {
        Some((state, reporter)) if reporter == pid => Some(state),
        _ => None,
    }
}

/// The `host:port` of every broker in a metadata answer.
async fn advertised_brokers(
    bootstrap: String,
    kafka: &KafkaProperties,
) -> Result<Vec<String>, String> {
    let kafka = kafka.clone();
    tokio::task::spawn_blocking(move || {
        let md = metadata_consumer(&bootstrap, kafka)?
            .fetch_metadata(None, Duration::from_secs(2))
            .map_err(|e| e.to_string())?;
        Ok(md
            .brokers()
            .iter()
            .map(|b| format!("{}:{}", b.host(), b.port()))
            .collect())
    })
    .await
    .map_err(|e| e.to_string())?
}

/// A consumer for metadata requests; `kafka` carries the secure lab's SASL_SSL settings.
fn metadata_consumer(
    bootstrap: &str,
    kafka: KafkaProperties,
) -> Result<rdkafka::consumer::BaseConsumer, String> {
    let mut config = rdkafka::config::ClientConfig::new();
    config
        .set("bootstrap.servers", bootstrap)
        .set("log_level", "0");
    for (key, value) in kafka {
        config.set(key, value);
    }
    config.create().map_err(|e| e.to_string())
}

/// One metadata round trip through librdkafka (blocking, so off the async threads); returns the
/// number of brokers the metadata lists.
pub async fn broker_metadata(bootstrap: String, kafka: &KafkaProperties) -> Result<usize, String> {
    let kafka = kafka.clone();
    tokio::task::spawn_blocking(move || {
        let md = metadata_consumer(&bootstrap, kafka)?
            .fetch_metadata(None, Duration::from_secs(2))
            .map_err(|e| e.to_string())?;
        if md.brokers().is_empty() {
            return Err("no broker in metadata".to_string());
        }
        Ok(md.brokers().len())
    })
    .await
    .map_err(|e| e.to_string())?
}

/// Every worker answers `GET /`.
pub async fn wait_workers(topo: &Topology, deadline: Instant) -> Result<()> {
    let procs: Vec<&Process> = topo.processes.iter().collect();
    let client = &connectors::rest_client(topo)?;
    wait_until("Connect workers", &procs, deadline, move || async move {
        let mut pending = Vec::new();
        for w in topo.workers() {
            match client.get(format!("{}/", w.url())).send().await {
                Ok(r) if r.status().is_success() => {}
                Ok(r) => pending.push(format!("{} GET / -> {}", w.name, r.status())),
                Err(e) => pending.push(format!(
                    "{} REST on {} ({})",
                    w.name,
                    w.url(),
                    root_cause(&e)
                )),
            }
        }
        pending
    })
    .await
}

/// The innermost error of a chain: "connection refused", or why TLS failed, not reqwest's
/// generic "error sending request".
fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    std::iter::successors(Some(error), |e| e.source())
        .last()
        .map_or_else(String::new, ToString::to_string)
}

/// Every connector RUNNING and every task RUNNING on a live worker, both as the Connect REST API
/// reports it and as that worker's own JVM does (its JMX exporter).
///
/// The REST status alone is not enough when `up` restarts workers over an existing state folder:
/// a starting worker reads the status topic back, which still holds the statuses written before
/// the lab went down — RUNNING, on the same worker ids, after a worker was killed — and it serves
/// them until the new assignment's statuses replace them. A worker's exporter only shows the
/// connectors and tasks it runs now.
pub async fn wait_connectors(
    topo: &Topology,
    wanted: &[Connector],
    deadline: Instant,
) -> Result<()> {
    let procs: Vec<&Process> = topo.processes.iter().collect();
    let client = &connectors::rest_client(topo)?;
    let exporters = &connectors::http();
    wait_until("MM2 connectors", &procs, deadline, move || async move {
        let Some((_, map)) = connectors::statuses(client, topo).await else {
            return vec!["no worker answers GET /connectors".to_string()];
        };
        let problems = connector_problems(&map, &live_worker_ids(topo), wanted);
        if !problems.is_empty() {
            return problems;
        }
        match worker_exports(exporters, topo).await {
            Ok(workers) => {
                let unsettled = group_unsettled(&workers);
                if !unsettled.is_empty() {
                    return unsettled;
                }
                let running = workers.into_iter().map(|(id, w)| (id, w.running)).collect();
                not_running_where_reported(&map, &running, wanted)
            }
            Err(why) => vec![why],
        }
    })
    .await
}

/// What a worker's JVM runs: connector names (`task` `None`) and tasks, from its exporter.
type Running = BTreeSet<(String, Option<u32>)>;

/// What one worker's exporter says about its place in the Connect group and what it runs.
#[derive(Debug, Default)]
struct WorkerExport {
    running: Running,
    /// The group generation the worker last joined (`connect-worker-rebalance-metrics` `epoch`).
    epoch: Option<f64>,
    rebalancing: bool,
}

/// Per `worker_id`, what its exporter reports: its group generation, whether it is rebalancing,
/// and the connectors and tasks with status `running`.
async fn worker_exports(
    client: &reqwest::Client,
    topo: &Topology,
) -> Result<BTreeMap<String, WorkerExport>, String> {
    let mut per_worker = BTreeMap::new();
    for w in topo.workers() {
        let Some(url) = w.metrics_url() else {
            continue;
        };
        let body = async {
            client
                .get(&url)
                .send()
                .await?
                .error_for_status()?
                .text()
                .await
        }
        .await
        .map_err(|e| format!("{} exporter {url} ({})", w.name, root_cause(&e)))?;
        let samples = crate::probe::text::parse(&body, "kafka_connect_")
            .map_err(|why| format!("{} exporter {url}: {why}", w.name))?;
        let mut export = WorkerExport::default();
        for s in &samples {
            match s.name.as_str() {
                "kafka_connect_worker_rebalance_metrics_epoch" => export.epoch = Some(s.value),
                "kafka_connect_worker_rebalance_metrics_rebalancing" => {
                    export.rebalancing = s.value != 0.0;
                }
                "kafka_connect_connector_status" | "kafka_connect_connector_task_status"
                    if s.label("status") == Some("running") && s.value == 1.0 =>
                {
                    let Some(connector) = s.label("connector") else {
                        continue;
                    };
                    let task = match s.label("task") {
                        None => None,
                        Some(task) => match task.parse() {
                            Ok(id) => Some(id),
                            Err(_) => continue,
                        },
                    };
                    export.running.insert((connector.to_string(), task));
                }
                _ => {}
            }
        }
        per_worker.insert(w.worker_id(), export);
    }
    Ok(per_worker)
}

/// Why the Connect group is not settled: a worker rebalancing, or workers in different
/// generations (one has not joined the others' group yet, so a rebalance is still to come).
fn group_unsettled(workers: &BTreeMap<String, WorkerExport>) -> Vec<String> {
    let mut problems: Vec<String> = workers
        .iter()
        .filter(|(_, w)| w.rebalancing)
        .map(|(id, _)| format!("worker {id} is rebalancing"))
        .collect();
    let epochs: BTreeSet<String> = workers
        .values()
        .map(|w| w.epoch.map_or("none".to_string(), |e| e.to_string()))
        .collect();
    if epochs.len() > 1 {
        let each: Vec<String> = workers
            .iter()
            .map(|(id, w)| {
                format!(
                    "{id} {}",
                    w.epoch.map_or("none".to_string(), |e| e.to_string())
                )
            })
            .collect();
        problems.push(format!(
            "workers in different group generations ({}): a rebalance is still to come",
            each.join(", ")
        ));
    }
    problems
}

/// The lab's connectors and tasks the REST status reports RUNNING on a worker whose JVM does not
/// run them (yet): a status left from before the workers started.
pub fn not_running_where_reported(
    map: &BTreeMap<String, ConnectorStatus>,
    running: &BTreeMap<String, Running>,
    wanted: &[Connector],
) -> Vec<String> {
    let runs = |worker: &str, connector: &str, task: Option<u32>| {
        running
            .get(worker)
            .is_some_and(|r| r.contains(&(connector.to_string(), task)))
    };
    let mut problems = Vec::new();
    for name in wanted.iter().map(|c| c.name.as_str()) {
        let Some(s) = map.get(name) else {
            continue;
        };
        if !runs(&s.connector.worker_id, name, None) {
            problems.push(format!(
                "{name}: RUNNING on {} by a status the worker's JVM does not confirm (one from \
                 before it started)",
                s.connector.worker_id
            ));
        }
        for t in &s.tasks {
            if !runs(&t.worker_id, name, Some(t.id)) {
                problems.push(format!(
                    "{name} task {}: RUNNING on {} by a status the worker's JVM does not confirm",
                    t.id, t.worker_id
                ));
            }
        }
    }
    problems
}

/// `worker_id`s of the workers whose JVM runs (a SIGKILLed worker keeps showing RUNNING tasks
/// in the REST status until the group notices, so liveness comes from the PID, not from REST).
pub fn live_worker_ids(topo: &Topology) -> Vec<String> {
    topo.workers()
        .filter(|w| process::running_pid(w).is_some())
        .map(|w| w.worker_id())
        .collect()
}

/// What keeps the connectors the lab deploys (`wanted`) from being healthy; empty when all is RUNNING on live
/// workers. A checkpoint connector may legitimately run 0 tasks (no consumer group to checkpoint
/// yet).
pub fn connector_problems(
    map: &BTreeMap<String, ConnectorStatus>,
    live: &[String],
    wanted: &[Connector],
) -> Vec<String> {
    let mut problems = Vec::new();
    for c in wanted {
        let name = &c.name;
        let Some(s) = map.get(name) else {
            problems.push(format!("{name} not deployed"));
            continue;
        };
        if s.connector.state != "RUNNING" {
            problems.push(format!("{name} {}", s.connector.state));
        } else if !live.contains(&s.connector.worker_id) {
            problems.push(format!("{name} on dead worker {}", s.connector.worker_id));
        }
        if s.tasks.is_empty() && !c.may_run_no_task() {
            problems.push(format!("{name} has no task yet"));
        }
        for t in &s.tasks {
            if t.state != "RUNNING" {
                problems.push(format!("{name} task {} {}", t.id, t.state));
            } else if !live.contains(&t.worker_id) {
                problems.push(format!(
                    "{name} task {} on dead worker {}",
                    t.id, t.worker_id
                ));
            }
        }
    }
    problems
}

/// What the lab's Prometheus reports about its scrape targets (the lab's JMX exporters).
pub struct PrometheusTargets {
    pub up: usize,
    pub expected: usize,
    /// Exporters not up, with why (`down`, or `not scraped yet`).
    pub not_up: Vec<String>,
}

/// The lab's Prometheus answers `GET /-/ready` and an `up` query reports every exporter up.
pub async fn wait_prometheus(topo: &Topology, deadline: Instant) -> Result<()> {
    let Some(prom) = topo.prometheus() else {
        return Ok(());
    };
    let client = &connectors::http();
    wait_until("Prometheus", &[prom], deadline, move || async move {
        match prometheus_targets(client, topo, prom).await {
            Ok(t) if t.not_up.is_empty() => Vec::new(),
            Ok(t) => vec![format!(
                "{}/{} targets up ({})",
                t.up,
                t.expected,
                t.not_up.join(", ")
            )],
            Err(why) => vec![why],
        }
    })
    .await
}

/// `Err` unless Prometheus is ready (`/-/ready` 200); then, for each exporter (matched by the
/// `process` label `prometheus.yml` gives every target), whether it is up. Up means both: the
/// targets API reports its last scrape healthy — which a restarted Prometheus resets to
/// `unknown`, while the `up` series it wrote before the restart still answer for 5 minutes — and
/// the `up` query (what a scenario asks) returns 1.
pub async fn prometheus_targets(
    client: &reqwest::Client,
    topo: &Topology,
    prom: &Process,
) -> Result<PrometheusTargets, String> {
    let ready = client
        .get(format!("{}/-/ready", prom.url()))
        .send()
        .await
        .map_err(|_| format!("{} HTTP API on {}", prom.name, prom.url()))?;
    if !ready.status().is_success() {
        return Err(format!("{} GET /-/ready -> {}", prom.name, ready.status()));
    }
    let get = |path: &'static str, query: &'static [(&'static str, &'static str)]| async move {
        let body: serde_json::Value = client
            .get(format!("{}/api/v1/{path}", prom.url()))
            .query(query)
            .send()
            .await
            .map_err(|e| format!("{} GET /api/v1/{path}: {e}", prom.name))?
            .json()
            .await
            .map_err(|e| format!("{} GET /api/v1/{path}: {e}", prom.name))?;
        Ok::<_, String>(body)
    };
    let up = get("query", &[("query", "up")]).await?;
    let up = up["data"]["result"]
        .as_array()
        .ok_or_else(|| format!("{} query `up`: no data.result in {up}", prom.name))?
        .clone();
    let health = get("targets", &[("state", "active")]).await?;
    let health = health["data"]["activeTargets"]
        .as_array()
        .ok_or_else(|| format!("{} targets: no data.activeTargets", prom.name))?
        .clone();
    let mut targets = PrometheusTargets {
        up: 0,
        expected: 0,
        not_up: Vec::new(),
    };
    for p in topo.exporters() {
        targets.expected += 1;
        let of = |r: &&serde_json::Value| r["labels"]["process"].as_str() == Some(&p.name);
        let target = health.iter().find(of);
        let value = up
            .iter()
            .find(|r| r["metric"]["process"].as_str() == Some(&p.name))
            .and_then(|r| r["value"][1].as_str());
        match (target.and_then(|t| t["health"].as_str()), value) {
            (Some("up"), Some("1")) => targets.up += 1,
            (Some("down"), _) => {
                let error = target.and_then(|t| t["lastError"].as_str()).unwrap_or("");
                targets.not_up.push(format!("{} down ({error})", p.name));
            }
            (None, _) => targets.not_up.push(format!("{} not a target", p.name)),
            _ => targets.not_up.push(format!("{} not scraped yet", p.name)),
        }
    }
    Ok(targets)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lab::connectors::{StateInfo, TaskInfo};

    fn status(worker: &str, tasks: &[(u32, &str)]) -> ConnectorStatus {
        ConnectorStatus {
            connector: StateInfo {
                state: "RUNNING".into(),
                worker_id: worker.into(),
                trace: None,
            },
            tasks: tasks
                .iter()
                .map(|(id, worker)| TaskInfo {
                    id: *id,
                    state: "RUNNING".into(),
                    worker_id: worker.to_string(),
                    trace: None,
                })
                .collect(),
        }
    }

    #[test]
    fn the_group_is_settled_only_when_every_worker_is_in_one_generation_and_none_rebalances() {
        let worker = |epoch: Option<f64>, rebalancing: bool| WorkerExport {
            epoch,
            rebalancing,
            ..WorkerExport::default()
        };
        let mut workers: BTreeMap<String, WorkerExport> = [
            ("127.0.0.1:20083".to_string(), worker(Some(4.0), false)),
            ("127.0.0.1:20084".to_string(), worker(Some(4.0), false)),
            // started last: not in the group yet
            ("127.0.0.1:20085".to_string(), worker(Some(-1.0), false)),
        ]
        .into();
        let problems = group_unsettled(&workers);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("127.0.0.1:20085 -1"), "{problems:?}");

        *workers.get_mut("127.0.0.1:20085").unwrap() = worker(Some(5.0), true);
        let problems = group_unsettled(&workers);
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert_eq!(problems[0], "worker 127.0.0.1:20085 is rebalancing");

        for w in workers.values_mut() {
            *w = worker(Some(5.0), false);
        }
        assert_eq!(group_unsettled(&workers), Vec::<String>::new());
    }

    #[test]
    fn a_running_status_counts_only_where_the_worker_runs_it() {
        let (w1, w2) = ("127.0.0.1:20083", "127.0.0.1:20084");
        let map: BTreeMap<String, ConnectorStatus> = [
            ("mirror-source", status(w1, &[(0, w1), (1, w2)])),
            ("mirror-checkpoint", status(w2, &[])),
            ("mirror-heartbeat", status(w2, &[(0, w1)])),
        ]
        .into_iter()
        .map(|(name, s)| (name.to_string(), s))
        .collect();
        let entry = |c: &str, t: Option<u32>| (c.to_string(), t);
        let mut running: BTreeMap<String, Running> = BTreeMap::new();
        running.insert(
            w1.into(),
            [
                entry("mirror-source", None),
                entry("mirror-source", Some(0)),
                entry("mirror-heartbeat", Some(0)),
            ]
            .into(),
        );
        // worker 2 has restarted and runs only the checkpoint connector so far
        running.insert(w2.into(), [entry("mirror-checkpoint", None)].into());
        let lab =
            connectors::defaults(&Topology::new(std::path::Path::new("/s"), 0, 1).unwrap(), 4);
        let problems = not_running_where_reported(&map, &running, &lab);
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].starts_with("mirror-source task 1: RUNNING on 127.0.0.1:20084"));
        assert!(problems[1].starts_with("mirror-heartbeat: RUNNING on 127.0.0.1:20084"));

        running.get_mut(w2).unwrap().extend([
            entry("mirror-source", Some(1)),
            entry("mirror-heartbeat", None),
        ]);
        assert_eq!(
            not_running_where_reported(&map, &running, &lab),
            Vec::<String>::new()
        );
    }
}
