//! Integration tests against the real local lab (`kscen lab up`): two KRaft clusters, three
//! Connect workers and MirrorMaker 2. `cargo xtask` brings the lab up and sets
//! `KSCEN_LAB_PROFILE`; without it the tests say they are skipped (and fail under `CI=true`).
//!
//! The tests share one lab, and one of them stops a worker: they run one at a time (`LAB` lock).

#[path = "support/lab_kafka.rs"]
mod lab_kafka;

use lab_kafka::{create_topic, unique_topic};

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use kscen::faults::procfs::{live_pid, send_signal};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer, StreamConsumer};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Message, Offset, TopicPartitionList};
use serde_json::Value;

static LAB: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The parts of the lab profile the tests use.
#[derive(Debug)]
struct Lab {
    source: String,
    target: String,
    source_alias: String,
    workers: BTreeMap<String, Worker>,
    probes: BTreeMap<String, String>,
}

#[derive(Debug, Clone)]
struct Worker {
    url: String,
    worker_id: String,
    pid_file: PathBuf,
    start: Vec<String>,
}

/// Reads `KSCEN_LAB_PROFILE`; `None` (test skipped) when unset, a panic when unset under CI=true.
fn lab() -> Option<Lab> {
    let Some(path) = std::env::var_os("KSCEN_LAB_PROFILE") else {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("CI=true but KSCEN_LAB_PROFILE is unset: run the tests through `cargo xtask`");
        }
        eprintln!("skipped: no lab (KSCEN_LAB_PROFILE unset)");
        return None;
    };
    Some(parse_profile(Path::new(&path)))
}

/// The source alias of the lab's mirror: the profile names none (scenarios find the mirrors
/// through Connect); the lab's state folder, where the profile lies, knows what it deployed.
fn lab_source_alias(profile: &Path) -> String {
    let state = profile
        .parent()
        .expect("the profile lies in the lab's state folder");
    let deployed = kscen::lab::deployed_connectors(state).expect("the lab's MM2 connectors");
    deployed[0].source_alias.clone()
}

fn parse_profile(path: &Path) -> Lab {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("reading the lab profile {}: {e}", path.display()));
    let v: toml::Value = toml::from_str(&text).expect("the lab profile is valid TOML");
    let s = |v: &toml::Value| v.as_str().expect("a string").to_string();
    let workers = v["workers"]
        .as_table()
        .expect("[workers]")
        .iter()
        .map(|(name, w)| {
            let start = w["actions"]["start"]["command"]
                .as_array()
                .expect("start command")
                .iter()
                .map(s)
                .collect();
            (
                name.clone(),
                Worker {
                    url: s(&w["url"]),
                    worker_id: s(&w["worker_id"]),
                    pid_file: PathBuf::from(s(&w["pid_file"])),
                    start,
                },
            )
        })
        .collect();
    let probes = v["probes"]
        .as_table()
        .expect("[probes]")
        .iter()
        .map(|(name, p)| (name.clone(), s(&p["url"])))
        .collect();
    Lab {
        source: s(&v["clusters"]["source"]["bootstrap_servers"]),
        target: s(&v["clusters"]["target"]["bootstrap_servers"]),
        source_alias: lab_source_alias(path),
        workers,
        probes,
    }
}

/// Produces `n` records whose values are their index, keys spread over the partitions.
async fn produce(bootstrap: &str, topic: &str, n: usize) {
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("acks", "all")
        .set("enable.idempotence", "true")
        .set("linger.ms", "5")
        .create()
        .expect("producer");
    let mut pending = Vec::with_capacity(n);
    for i in 0..n {
        let value = i.to_string();
        let key = (i % 97).to_string();
        let record = FutureRecord::to(topic).key(&key).payload(&value);
        match producer.send_result(record) {
            Ok(f) => pending.push(f),
            Err((e, _)) => panic!("queueing record {i}: {e}"),
        }
    }
    for (i, f) in pending.into_iter().enumerate() {
        f.await
            .expect("delivery future")
            .unwrap_or_else(|(e, _)| panic!("delivering record {i}: {e}"));
    }
}

/// Waits until `topic` exists on the cluster and returns its partition count.
async fn wait_topic(bootstrap: &str, topic: &str, timeout: Duration) -> usize {
    let deadline = Instant::now() + timeout;
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .expect("consumer");
    loop {
        if let Ok(md) = consumer.fetch_metadata(Some(topic), Duration::from_secs(2)) {
            if let Some(t) = md.topics().iter().find(|t| t.name() == topic) {
                if t.error().is_none() && !t.partitions().is_empty() {
                    return t.partitions().len();
                }
            }
        }
        assert!(
            Instant::now() < deadline,
            "{topic} did not appear on {bootstrap} within {timeout:?} (MM2 topic refresh is 5 s)"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Reads every partition of `topic` from the beginning until `expected` records arrived, then a
/// few more seconds to catch duplicates. Returns the values read.
async fn consume_all(
    bootstrap: &str,
    topic: &str,
    expected: usize,
    timeout: Duration,
) -> Vec<String> {
    let partitions = wait_topic(bootstrap, topic, timeout).await;
    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", format!("kscen-it-reader-{topic}"))
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions as i32 {
        tpl.add_partition_offset(topic, p, Offset::Beginning)
            .expect("partition offset");
    }
    consumer.assign(&tpl).expect("assign");
    let deadline = Instant::now() + timeout;
    let mut values = Vec::new();
    let mut settle_until: Option<Instant> = None;
    loop {
        let now = Instant::now();
        if values.len() >= expected && settle_until.is_none() {
            settle_until = Some(now + Duration::from_secs(3));
        }
        if settle_until.is_some_and(|t| now >= t) || now >= deadline {
            return values;
        }
        match tokio::time::timeout(Duration::from_millis(500), consumer.recv()).await {
            Ok(Ok(m)) => {
                values.push(String::from_utf8_lossy(m.payload().unwrap_or_default()).into_owned())
            }
            Ok(Err(e)) => eprintln!("consumer error (retrying): {e}"),
            Err(_) => {}
        }
    }
}

#[derive(Debug, Clone)]
struct TaskAt {
    connector: String,
    id: u64,
    state: String,
    worker_id: String,
}

/// Every connector task as `worker_url` reports it, or an error text.
async fn tasks(client: &reqwest::Client, worker_url: &str) -> Result<Vec<TaskAt>, String> {
    let v: Value = client
        .get(format!("{worker_url}/connectors?expand=status"))
        .send()
        .await
        .map_err(|e| e.to_string())?
        .json()
        .await
        .map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for (name, c) in v.as_object().ok_or("not an object")? {
        for t in c["status"]["tasks"].as_array().ok_or("no tasks array")? {
            out.push(TaskAt {
                connector: name.clone(),
                id: t["id"].as_u64().unwrap_or_default(),
                state: t["state"].as_str().unwrap_or_default().to_string(),
                worker_id: t["worker_id"].as_str().unwrap_or_default().to_string(),
            });
        }
    }
    Ok(out)
}

fn pid_of(w: &Worker) -> Option<u32> {
    live_pid(&w.pid_file)
}

/// Waits until every worker answers and every task is RUNNING on a live worker.
async fn wait_healthy(lab: &Lab, client: &reqwest::Client, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    loop {
        let live: HashSet<String> = lab
            .workers
            .values()
            .filter(|w| pid_of(w).is_some())
            .map(|w| w.worker_id.clone())
            .collect();
        let mut ok = live.len() == lab.workers.len();
        for w in lab.workers.values() {
            ok &= client
                .get(format!("{}/", w.url))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
        }
        let any = lab.workers.values().next().expect("a worker");
        let last = tasks(client, &any.url).await;
        if let Ok(ts) = &last {
            ok &= ts.iter().any(|t| t.connector == "mirror-source")
                && ts
                    .iter()
                    .all(|t| t.state == "RUNNING" && live.contains(&t.worker_id));
        } else {
            ok = false;
        }
        if ok {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the lab did not become healthy within {timeout:?}; last tasks {last:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mm2_replicates_exactly_n_records() {
    let Some(lab) = lab() else { return };
    let _one_at_a_time = LAB.lock().await;
    const N: usize = 10_000;
    let topic = unique_topic("kscen-it", "repl");
    create_topic(&lab.source, &topic, 6).await;
    let started = Instant::now();
    produce(&lab.source, &topic, N).await;
    let remote = format!("{}.{topic}", lab.source_alias);
    let values = consume_all(&lab.target, &remote, N, Duration::from_secs(90)).await;
    let distinct: HashSet<&String> = values.iter().collect();
    eprintln!(
        "{N} records produced to {topic} on source, {} read from {remote} on target in {:.1}s",
        values.len(),
        started.elapsed().as_secs_f64()
    );
    assert_eq!(
        values.len(),
        N,
        "exactly N records must arrive on the target"
    );
    assert_eq!(distinct.len(), N, "every record exactly once");
}

/// The Connect group leader's URL, from the worker's `leader-name` rebalance metric.
async fn leader_url(client: &reqwest::Client, lab: &Lab, worker: &Worker) -> Option<String> {
    let name = lab.workers.iter().find(|(_, w)| w.url == worker.url)?.0;
    let text = client
        .get(lab.probes.get(name)?)
        .send()
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    let line = text
        .lines()
        .find(|l| l.starts_with("kafka_connect_worker_rebalance_leader{"))?;
    Some(line.split('"').nth(1)?.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_a_worker_moves_its_tasks_to_live_workers() {
    let Some(lab) = lab() else { return };
    let _one_at_a_time = LAB.lock().await;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    wait_healthy(&lab, &client, Duration::from_secs(90)).await;

    // The victim: the worker running the most tasks; we watch through another one.
    let before = tasks(&client, &lab.workers.values().next().unwrap().url)
        .await
        .expect("task status");
    let (victim_name, victim) = lab
        .workers
        .iter()
        .max_by_key(|(_, w)| before.iter().filter(|t| t.worker_id == w.worker_id).count())
        .map(|(n, w)| (n.clone(), w.clone()))
        .unwrap();
    let moved: Vec<&TaskAt> = before
        .iter()
        .filter(|t| t.worker_id == victim.worker_id)
        .collect();
    assert!(!moved.is_empty(), "{victim_name} runs no task: {before:?}");
    let watcher = lab
        .workers
        .values()
        .find(|w| w.worker_id != victim.worker_id)
        .unwrap()
        .clone();
    let pid = pid_of(&victim).expect("the victim runs");
    let leader = leader_url(&client, &lab, &watcher).await;
    eprintln!(
        "stopping {victim_name} (pid {pid}) which runs {:?}; watching through {}; leader {}",
        moved
            .iter()
            .map(|t| format!("{}-{}", t.connector, t.id))
            .collect::<Vec<_>>(),
        watcher.url,
        leader.as_deref().unwrap_or("unknown")
    );
    let stopped_at = Instant::now();
    send_signal(pid, libc::SIGTERM).unwrap();

    // Poll fast: the moment every task is RUNNING on a live worker other than the victim.
    let deadline = stopped_at + Duration::from_secs(90);
    let after = loop {
        if let Ok(ts) = tasks(&client, &watcher.url).await {
            let moved_running = moved.iter().all(|m| {
                ts.iter().any(|t| {
                    t.connector == m.connector
                        && t.id == m.id
                        && t.state == "RUNNING"
                        && t.worker_id != victim.worker_id
                })
            });
            let all_elsewhere = moved_running
                && ts
                    .iter()
                    .all(|t| t.state == "RUNNING" && t.worker_id != victim.worker_id);
            if all_elsewhere {
                break ts;
            }
        }
        assert!(
            Instant::now() < deadline,
            "tasks of {victim_name} did not move within 90 s"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    eprintln!(
        "all tasks RUNNING on other workers {:.1}s after SIGTERM",
        stopped_at.elapsed().as_secs_f64()
    );
    for t in &moved {
        let now = after
            .iter()
            .find(|a| a.connector == t.connector && a.id == t.id)
            .unwrap_or_else(|| panic!("task {}-{} vanished", t.connector, t.id));
        assert_ne!(now.worker_id, victim.worker_id);
        eprintln!("  {}-{} moved to {}", t.connector, t.id, now.worker_id);
    }
    // The group may rebalance before the JVM finishes its clean shutdown: wait for the exit
    // before relaunching (the relaunched worker needs the REST port).
    let exit_deadline = Instant::now() + Duration::from_secs(60);
    while pid_of(&victim).is_some() {
        assert!(
            Instant::now() < exit_deadline,
            "{victim_name} did not exit within 60 s of SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Bring it back with the profile's start action; leave the lab healthy for other tests.
    let status = std::process::Command::new(&victim.start[0])
        .args(&victim.start[1..])
        .status()
        .expect("running the start action");
    assert!(status.success(), "start action of {victim_name} failed");
    wait_healthy(&lab, &client, Duration::from_secs(120)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_metrics_expose_mm2_replication_latency() {
    let Some(lab) = lab() else { return };
    let _one_at_a_time = LAB.lock().await;
    let topic = unique_topic("kscen-it", "metrics");
    create_topic(&lab.source, &topic, 4).await;
    produce(&lab.source, &topic, 200).await;
    let remote = format!("{}.{topic}", lab.source_alias);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(90);
    let worker_probes: Vec<(&String, &String)> = lab
        .probes
        .iter()
        .filter(|(name, _)| name.starts_with("worker-"))
        .collect();
    loop {
        let mut found = None;
        let mut heap = false;
        for (name, url) in &worker_probes {
            let Ok(r) = client.get(url.as_str()).send().await else {
                continue;
            };
            let text = r.text().await.unwrap_or_default();
            heap |= text.contains("jvm_memory_used_bytes{area=\"heap\"}");
            if let Some(line) = text.lines().find(|l| {
                l.starts_with("kafka_connect_mirror_source_connector_replication_latency_ms")
                    && l.contains(&format!("topic=\"{remote}\""))
            }) {
                found = Some((name.to_string(), line.to_string()));
            }
        }
        if let Some((name, line)) = found {
            eprintln!("{name}: {line}");
            assert!(heap, "JVM heap metrics are exported");
            return;
        }
        assert!(
            Instant::now() < deadline,
            "no replication_latency_ms metric for {remote} on any worker within 90 s"
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// `up` over the state folder of a lab that went down must not pass its wait on the connector
/// statuses the workers read back from the status topic. The workers are SIGKILLed first, so the
/// topic holds RUNNING statuses from before on the same worker ids (a clean stop would have
/// written UNASSIGNED). Once `up` returns, every connector and task the REST API reports RUNNING
/// must run in the JVM of the worker it names — its exporter says so — with no wait in between.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn up_after_down_waits_for_the_connectors_to_run_again() {
    let Some(lab) = lab() else { return };
    let _one_at_a_time = LAB.lock().await;
    let profile = PathBuf::from(std::env::var_os("KSCEN_LAB_PROFILE").unwrap());
    let state = profile
        .parent()
        .expect("the profile lies in the state folder");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    wait_healthy(&lab, &client, Duration::from_secs(90)).await;
    for (name, w) in &lab.workers {
        let pid = pid_of(w).unwrap_or_else(|| panic!("{name} runs"));
        send_signal(pid, libc::SIGKILL).unwrap();
    }
    let kscen = |args: &[&str]| {
        let status = std::process::Command::new(env!("CARGO_BIN_EXE_kscen"))
            .arg("lab")
            .args(args)
            .arg("--state-dir")
            .arg(state)
            .status()
            .expect("running kscen lab");
        assert!(status.success(), "kscen lab {args:?} failed: {status}");
    };
    kscen(&["down"]);
    // The choices `up` does not record: keep the lab as the harness made it.
    let mut up = vec!["up"];
    if state.join("prometheus-off").exists() {
        up.push("--no-prometheus");
    }
    let started = Instant::now();
    kscen(&up);
    let up_took = started.elapsed();

    let worker_names: BTreeMap<&str, &str> = lab
        .workers
        .iter()
        .map(|(name, w)| (w.worker_id.as_str(), name.as_str()))
        .collect();
    let any = lab.workers.values().next().unwrap();
    let statuses: Value = client
        .get(format!("{}/connectors?expand=status", any.url))
        .send()
        .await
        .expect("GET /connectors")
        .json()
        .await
        .expect("JSON");
    let mut exporters = BTreeMap::new();
    for name in lab.workers.keys() {
        let text = client
            .get(&lab.probes[name])
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .unwrap_or_else(|e| panic!("{name}'s exporter: {e}"))
            .text()
            .await
            .unwrap();
        exporters.insert(name.as_str(), text);
    }
    // `kafka_connect_connector_status{connector="c",status="running"} 1.0` and
    // `kafka_connect_connector_task_status{connector="c",status="running",task="0"} 1.0`
    let runs = |worker_id: &str, connector: &str, task: Option<u64>| {
        let text = &exporters[worker_names[worker_id]];
        let (metric, tail) = match task {
            None => ("kafka_connect_connector_status", String::new()),
            Some(id) => (
                "kafka_connect_connector_task_status",
                format!(",task=\"{id}\""),
            ),
        };
        let line = format!("{metric}{{connector=\"{connector}\",status=\"running\"{tail}}} 1.0");
        text.lines().any(|l| l == line)
    };
    let mut checked = 0;
    for (name, c) in statuses.as_object().expect("an object") {
        let connector = &c["status"]["connector"];
        assert_eq!(connector["state"], "RUNNING", "{name}: {c}");
        let worker = connector["worker_id"].as_str().unwrap();
        assert!(
            runs(worker, name, None),
            "{name} RUNNING on {worker} by the REST API, not in that worker's JVM"
        );
        for t in c["status"]["tasks"].as_array().unwrap() {
            let (id, worker) = (t["id"].as_u64().unwrap(), t["worker_id"].as_str().unwrap());
            assert_eq!(t["state"], "RUNNING", "{name} task {id}: {t}");
            assert!(
                runs(worker, name, Some(id)),
                "{name} task {id} RUNNING on {worker} by the REST API, not in that worker's JVM"
            );
            checked += 1;
        }
    }
    assert!(
        checked >= 5,
        "mirror-source's 4 tasks and the heartbeat's: {statuses}"
    );
    eprintln!(
        "up after down took {:.1}s; {checked} tasks run where the REST API says",
        up_took.as_secs_f64()
    );
}
