//! The deployment's own monitoring, read through the lab's Prometheus during a run:
//! - the seeds' MirrorMaker 2 alert rules (seed 003 §7), watched by `kscen run --alerts`: a real
//!   task failure (5.4's poison record) held failed past the rule's `for: 1m` fires MM2TaskFailed
//!   and the run says how long after the fault; a clean PERF-01 run, its records followed across
//!   the mirror, fires none;
//! - MirrorMaker 2's own metrics (`--mm2-metrics`): sampled into the timeline and figures, and its
//!   replication latency set beside kscen's for the tracked load of the run;
//! - the lag the seeds' queries and seed 004's rules read, served by `kscen exporter` and scraped
//!   by the lab's Prometheus.
//!
//! Set `KSCEN_LAB_PROFILE` to the plain lab's profile.toml (with Prometheus); without it the test
//! skips, except under `CI=true`.

mod support;

use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use kscen::config::profile::Profile;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use serde_json::Value;
use support::{f64_of, run_bundled, Run};

/// One test at a time: the clean run must see no alert the other caused.
static LAB: Mutex<()> = Mutex::new(());

fn lab_profile() -> Option<std::path::PathBuf> {
    support::lab_profile_from("KSCEN_LAB_PROFILE", "lab")
}

/// Both runs in one test: a task failure while the clean run goes on would be its alert.
#[test]
fn a_held_task_failure_fires_the_seeds_alert_and_a_clean_run_fires_none() {
    let Some(profile) = lab_profile() else { return };
    let _one_at_a_time = LAB.lock().unwrap_or_else(|e| e.into_inner());

    // Longer than every rule's `for` but MM2LagIncreasing's 3 m: a condition the run caused
    // would have time to fire.
    let clean = run_bundled(
        &profile,
        "perf-01-nominal.toml",
        &[
            "--set",
            "duration=\"125s\"",
            "--set",
            "rate=500",
            "--alerts",
            "prometheus",
            "--threshold",
            "alerts.fired == 0",
            "--mm2-metrics",
            "prometheus",
        ],
    );
    // PERF-01's own latency criterion depends on the machine; the alerts' is the test's.
    assert_eq!(clean.threshold_verdict("alerts.fired == 0"), "passed");
    let watched = &clean.result()["alerts"];
    // Every 2 s for 125 s; a slow answer delays the next poll, so no exact count.
    assert!(f64_of(&watched["polls"]) > 30.0, "{watched}");
    assert_eq!(f64_of(&watched["failed_polls"]), 0.0, "{watched}");
    assert!(clean
        .stdout()
        .contains("alerts (prometheus): 0 fired during the run"));
    // PERF-01 follows its records across the mirror: MM2's figures for its remote topic, beside
    // kscen's replicated latency.
    let mm2 = &clean.result()["mm2_metrics"];
    let remote = clean.result()["replication"][0]["remote_topic"].clone();
    assert_eq!(mm2["topics"], serde_json::json!([remote]), "{mm2}");
    assert!(f64_of(&mm2["latency"]["kscen_max_ms"]) > 0.0, "{mm2}");
    assert!(clean.figure("mm2_record_rate") > 0.0, "{mm2}");
    assert_eq!(clean.figure("lost"), 0.0);
    let timeline = clean.result()["timeline"].as_array().unwrap();
    assert!(
        timeline
            .iter()
            .any(|p| p["gauges"]["mm2_replication_latency_ms"].is_number()),
        "MM2's latency is in the timeline"
    );

    let failure = run_bundled(
        &profile,
        "resilience-5-4-task-failure.toml",
        &[
            "--set",
            "warmup=\"5s\"",
            "--set",
            "offset_flush=\"10s\"",
            "--set",
            "hold=\"75s\"",
            "--alerts",
            "prometheus",
            "--fault-phase",
            "poison",
            "--threshold",
            "alert(MM2TaskFailed).fired_within < 2m",
            "--mm2-metrics",
            "prometheus",
            "--threshold",
            "mm2_replication_latency_max_ms < 10m",
        ],
    );
    assert_eq!(
        failure.code(),
        0,
        "thresholds: {}",
        failure.result()["thresholds"]
    );
    let within = fired_within(&failure, "alert(MM2TaskFailed).fired_within < 2m");
    // The rule holds for 1 m once the exporter shows the task FAILED.
    assert!(
        within >= 60_000.0,
        "fired {within} ms after the poison record"
    );
    let alerts = &failure.result()["alerts"];
    assert_eq!(alerts["fault"], "phase poison", "{alerts}");
    let fired: Vec<&serde_json::Value> = alerts["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["name"] == "MM2TaskFailed" && !a["firing_ms"].is_null())
        .collect();
    assert!(!fired.is_empty(), "{alerts}");
    assert!(
        fired.iter().all(|a| !a["resolved_ms"].is_null()),
        "the fix resolves it before the run ends: {alerts}"
    );
    // The tracked load's remote topic, the run's source connector's producers, both latencies.
    let mm2 = &failure.result()["mm2_metrics"];
    let remote = failure.result()["replication"][0]["remote_topic"].clone();
    assert_eq!(mm2["topics"], serde_json::json!([remote]), "{mm2}");
    assert_eq!(mm2["source_connector"], "mirror-source", "{mm2}");
    let latency = &mm2["latency"];
    assert!(f64_of(&latency["mm2_max_ms"]) > 0.0, "{latency}");
    assert!(f64_of(&latency["kscen_max_ms"]) > 0.0, "{latency}");
    assert!(failure
        .stdout()
        .contains("replication latency, MM2 (replication-latency-ms) vs kscen"));
    let events = failure.result()["events"].as_array().unwrap();
    assert!(
        events
            .iter()
            .any(|e| e["kind"] == "alert" && e["message"].as_str().unwrap().ends_with(" firing")),
        "{events:?}"
    );
}

fn fired_within(run: &Run, threshold: &str) -> f64 {
    let result = run.result()["thresholds"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["threshold"] == threshold)
        .unwrap_or_else(|| panic!("no threshold {threshold}"));
    f64_of(&result["measured"])
}

/// Seed 004's lag monitor and rules and seed 000's lag query, answered by `kscen exporter` where
/// the lab's Prometheus scrapes it: 300 records on a fresh one-partition topic, of which a
/// consumer group committed 100, read as the seeds read them.
#[test]
fn the_seeds_lag_queries_and_rules_read_kscen_exporter_unchanged() {
    let Some(profile_path) = lab_profile() else {
        return;
    };
    let _one_at_a_time = LAB.lock().unwrap_or_else(|e| e.into_inner());
    let profile = Profile::load(profile_path.to_str().unwrap()).unwrap();
    let prometheus = profile.probes["prometheus"].url.clone();
    let source = profile.clusters["source"].bootstrap_servers.clone();
    let addr = kscen::lab::kscen_exporter_addr(profile_path.parent().unwrap())
        .unwrap()
        .expect("the lab runs Prometheus");
    let tag = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis();
    let (topic, group) = (format!("lagged-{tag}"), format!("billing-{tag}"));
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(produce(&source, &topic, 300));
    commit(&source, &group, &topic, 100);

    let _exporter = Exporter::start(&profile_path, &addr);
    let query = |expr: &str| runtime.block_on(query(&prometheus, expr));
    let replicated = format!("sum(mm2_records_replicated_total{{source_topic=\"{topic}\"}})");
    let lag = format!("sum(mm2_replication_lag{{source_topic=\"{topic}\"}})");
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (copied, behind) = (value(&query(&replicated)), value(&query(&lag)));
        if copied == Some(300.0) && behind == Some(0.0) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the mirror's copy of {topic} as Prometheus scrapes it from kscen exporter: \
             {copied:?} replicated, {behind:?} behind"
        );
        std::thread::sleep(Duration::from_secs(1));
    }

    // Seed 004 §11.3.3's ConsumerLagHigh, without its threshold.
    let by_group = query("sum(kafka_consumer_group_lag) by (group, topic)");
    // MM2's checkpoint connector also gives the group offsets on the target's remote topic.
    let ours: Vec<Value> = by_group
        .into_iter()
        .filter(|r| {
            r["metric"]["group"] == group.as_str() && r["metric"]["topic"] == topic.as_str()
        })
        .collect();
    assert_eq!(value(&ours), Some(200.0), "{ours:?}");
    // Seed 000's lag and throughput queries, as its campaign script writes them.
    let seed_000 = query("sum(kafka_consumer_fetch_manager_records_lag{job=\"mm2-connect\"})");
    assert!(value(&seed_000).is_some(), "{seed_000:?}");
    let produced = query(
        "sum(rate(kafka_server_brokertopicmetrics_messagesinpersec{job=\"kafka-source\"}[1m]))",
    );
    assert!(
        value(&produced).is_some_and(|rate| rate > 0.0),
        "{produced:?}"
    );
    // Seed 004 §11.3.2's broker health, recorded as it writes it.
    let under_replicated = query("kafka:under_replicated_partitions:sum");
    assert_eq!(value(&under_replicated), Some(0.0), "{under_replicated:?}");
    // A rule of seed 004 evaluates on the exporter's series: our group has no member.
    let inactive = format!("ALERTS{{alertname=\"ConsumerGroupInactive\",group=\"{group}\"}}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while query(&inactive).is_empty() {
        assert!(Instant::now() < deadline, "{inactive} never pending");
        std::thread::sleep(Duration::from_secs(1));
    }
    let rules = runtime.block_on(get_json(&format!("{prometheus}/api/v1/rules")));
    for name in [
        "mirrormaker2_alerts",
        "kafka_consumer_alerts",
        "kafka_broker_health",
    ] {
        let group = rules["data"]["groups"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["name"] == name)
            .unwrap_or_else(|| panic!("seed 004's {name} loaded"));
        for rule in group["rules"].as_array().unwrap() {
            assert_eq!(rule["health"], "ok", "{rule}");
        }
    }

    // The same figures once, on standard output, as the seed's DR script greps them.
    let once = Command::new(env!("CARGO_BIN_EXE_kscen"))
        .args(["exporter", "--once", "--profile"])
        .arg(&profile_path)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&once.stdout);
    assert_eq!(
        once.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&once.stderr)
    );
    assert!(
        text.contains(&format!(
            "kafka_consumer_group_lag{{cluster=\"source\",group=\"{group}\",topic=\"{topic}\",partition=\"0\"}} 200\n"
        )),
        "{text}"
    );
    assert!(
        text.lines().any(|l| l.starts_with("mm2_replication_lag{")
            && l.contains(&format!("source_topic=\"{topic}\""))
            && l.ends_with(" 0")),
        "{text}"
    );
}

/// `kscen exporter` on the lab, stopped when dropped.
struct Exporter(Child);

impl Exporter {
    fn start(profile: &std::path::Path, addr: &str) -> Exporter {
        let child = Command::new(env!("CARGO_BIN_EXE_kscen"))
            .args(["exporter", "--every", "1s", "--listen", addr, "--profile"])
            .arg(profile)
            .stdout(Stdio::null())
            .spawn()
            .expect("kscen exporter starts");
        Exporter(child)
    }
}

impl Drop for Exporter {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn produce(bootstrap: &str, topic: &str, count: usize) {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .unwrap();
    let created = admin
        .create_topics(
            &[NewTopic::new(topic, 1, TopicReplication::Fixed(-1))],
            &AdminOptions::new().operation_timeout(Some(Duration::from_secs(30))),
        )
        .await
        .unwrap();
    assert!(created.iter().all(Result::is_ok), "{created:?}");
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .unwrap();
    for i in 0..count {
        let payload = format!("record {i}");
        producer
            .send(
                FutureRecord::<(), _>::to(topic).payload(&payload),
                Duration::from_secs(30),
            )
            .await
            .unwrap_or_else(|(e, _)| panic!("producing to {topic}: {e}"));
    }
}

/// Commits `offset` on partition 0 of `topic` for `group`, without joining it.
fn commit(bootstrap: &str, group: &str, topic: &str, offset: i64) {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut offsets = TopicPartitionList::new();
    offsets
        .add_partition_offset(topic, 0, Offset::Offset(offset))
        .unwrap();
    consumer.commit(&offsets, CommitMode::Sync).unwrap();
}

async fn get_json(url: &str) -> Value {
    reqwest::get(url).await.unwrap().json().await.unwrap()
}

/// The result vector of an instant query.
async fn query(prometheus: &str, expr: &str) -> Vec<Value> {
    let url =
        reqwest::Url::parse_with_params(&format!("{prometheus}/api/v1/query"), [("query", expr)])
            .unwrap();
    let body = get_json(url.as_str()).await;
    body["data"]["result"]
        .as_array()
        .unwrap_or_else(|| panic!("{expr}: {body}"))
        .clone()
}

/// The value of a one-series result; `None` when there is no series.
fn value(result: &[Value]) -> Option<f64> {
    result
        .first()
        .map(|r| r["value"][1].as_str().unwrap().parse().unwrap())
}
