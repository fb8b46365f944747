//! MirrorMaker 2 discovery against the real lab (`kscen lab up`): `kscen describe-deployment`
//! finds the lab's mirror under the names and aliases its connectors carry, a mirror deployed
//! here under names and aliases generated at test time is discovered with its identity policy and
//! topic filter, and an `[mm2]` pin is checked against what Connect runs. Set `KSCEN_LAB_PROFILE`
//! to the lab's profile.toml; without it the tests skip (and fail under CI=true). Every connector
//! deployed here is deleted, also when a check fails. One test needs no lab: a profile that names
//! neither Connect nor mirrors.

#[path = "support/lab_env.rs"]
mod lab_env;

use std::process::Output;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use kscen::config::profile::Profile;
use kscen::connect::{ConnectClient, State};
use kscen::deployment::filter::Verdict;
use kscen::deployment::mirrors::{self, Lookup, Mirror};
use kscen::deployment::policy::ReplicationPolicy;
use kscen::deployment::problems::{problems, Problem};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;

use lab_env::{eventually, lab_profile, Stopped, LAB_LOCK};

const SETTLE: Duration = Duration::from_secs(60);

fn profile_path() -> String {
    std::env::var("KSCEN_LAB_PROFILE").expect("checked by lab_profile")
}

/// The checkout: bundled scenarios and built plugins.
fn checkout() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn describe_deployment(profile: &str, args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_kscen"))
        .args(["describe-deployment", "--profile", profile])
        .args(args)
        .output()
        .expect("kscen runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The lab's MirrorMaker 2 connectors and their aliases, read straight from Connect's REST API
/// (`?expand=info`), not through the discovery code under test.
/// Also the name the lab's mirror gives a topic `orders` on the target. The source connector is
/// listed first.
async fn lab_names(profile: &Profile) -> (String, String, Vec<String>, String) {
    let url = &profile
        .connect
        .as_ref()
        .expect("the lab profile has [connect]")
        .urls[0];
    let listing: serde_json::Value = reqwest::get(format!("{url}/connectors?expand=info"))
        .await
        .and_then(reqwest::Response::error_for_status)
        .expect("Connect lists its connectors")
        .json()
        .await
        .expect("a JSON listing");
    let mut connectors = Vec::new();
    let mut aliases = None;
    let mut remote_orders = None;
    for (name, entry) in listing.as_object().expect("a map by name") {
        let config = &entry["info"]["config"];
        let class = config["connector.class"].as_str().unwrap_or_default();
        if !class.starts_with("org.apache.kafka.connect.mirror.Mirror") {
            continue;
        }
        let alias = |key: &str, default: &str| config[key].as_str().unwrap_or(default).to_string();
        if class.ends_with("MirrorSourceConnector") {
            let source = alias("source.cluster.alias", "source");
            remote_orders = Some(
                if alias("replication.policy.class", "").ends_with("IdentityReplicationPolicy") {
                    "orders".to_string()
                } else {
                    format!(
                        "{source}{}orders",
                        alias("replication.policy.separator", ".")
                    )
                },
            );
            aliases = Some((source, alias("target.cluster.alias", "target")));
            // source first: a test pins it as the source connector
            connectors.insert(0, name.clone());
        } else {
            connectors.push(name.clone());
        }
    }
    let (source, target) = aliases.expect("the lab runs a MirrorSourceConnector");
    (
        source,
        target,
        connectors,
        remote_orders.expect("with its source"),
    )
}

/// The lab's clusters without its Connect: a 0.3.0 plugin asking for the mirror (consistency, for
/// its remote topic) is told what the profile lacks, and nothing runs.
#[test]
fn a_scenario_on_a_profile_without_connect_or_mm2_is_told_what_to_add() {
    if lab_profile().is_none() {
        return;
    }
    let lab: toml::Table =
        toml::from_str(&std::fs::read_to_string(profile_path()).unwrap()).unwrap();
    let mut kafka_only = toml::Table::new();
    kafka_only.insert("clusters".into(), lab["clusters"].clone());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kafka-only.toml");
    std::fs::write(&path, toml::to_string(&kafka_only).unwrap()).unwrap();
    let scenario = dir.path().join("consistency.toml");
    std::fs::write(&scenario, "plugin = \"consistency\"\n").unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_kscen"))
        .arg("run")
        .arg(&scenario)
        .arg("--profile")
        .arg(&path)
        .args(["--set", "count=10"])
        .env("KSCEN_PLUGIN_PATH", checkout().join("plugins/dist"))
        .output()
        .expect("kscen runs");
    let stderr = text(&output.stderr);
    assert_ne!(output.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("the profile describes no MirrorMaker 2 deployment: add [connect] urls"),
        "{stderr}"
    );
}

/// No lab needed: a profile that cannot say where MM2 runs.
#[test]
fn a_profile_without_connect_or_mm2_is_one_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kafka-only.toml");
    std::fs::write(
        &path,
        "[clusters.source]\nbootstrap_servers = \"127.0.0.1:9092\"\n",
    )
    .unwrap();
    let output = describe_deployment(path.to_str().unwrap(), &[]);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "profile {} has no [connect] section and no [mm2] pin",
            path.display()
        )) && stderr.contains("add [connect] urls"),
        "{stderr}"
    );
}

#[tokio::test]
async fn describe_deployment_finds_the_labs_mirror() {
    let Some(profile) = lab_profile() else { return };
    let _lab = LAB_LOCK.lock().await;
    let (source, target, connectors, remote_orders) = lab_names(&profile).await;
    assert_eq!(connectors.len(), 3, "{connectors:?}");
    healthy_mirror(&profile, &format!("{source}->{target}"), SETTLE).await;
    let output = describe_deployment(&profile_path(), &["--topic", "orders"]);
    let stdout = text(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{stdout}{}",
        text(&output.stderr)
    );
    assert!(
        stdout.contains(&format!("\nmirror {source}->{target}\n")),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("orders -> {remote_orders} on {target}")),
        "{stdout}"
    );
    for connector in &connectors {
        assert!(
            stdout.contains(&format!("  {connector} (Mirror")),
            "{connector} in\n{stdout}"
        );
    }
    assert!(stdout.contains("problems    none"), "{stdout}");
    // The Kafka version of the workers, as Connect itself says it.
    let url = &profile.connect.as_ref().unwrap().urls[0];
    let info: serde_json::Value = reqwest::get(url.as_str())
        .await
        .expect("Connect answers GET /")
        .json()
        .await
        .expect("JSON");
    let version = info["version"].as_str().expect("a version");
    assert!(
        stdout.contains(&format!("  connect     Kafka {version}\n")),
        "{stdout}"
    );

    // The same mirror, chosen by its alias pair and by a connector name.
    let mirrors = kscen::deployment::mirrors("lab", &profile).await.unwrap();
    let by_pair = mirrors::choose(&mirrors, &format!("{source}->{target}")).unwrap();
    let by_name = mirrors::choose(&mirrors, &connectors[0]).unwrap();
    assert_eq!(by_pair.label(), by_name.label());
}

#[tokio::test]
async fn a_task_on_a_worker_that_does_not_answer_is_a_problem() {
    let Some(profile) = lab_profile() else { return };
    let _lab = LAB_LOCK.lock().await;
    let (source, target, _, _) = lab_names(&profile).await;
    let pair = format!("{source}->{target}");
    let mirror = healthy_mirror(&profile, &pair, SETTLE).await;
    let status = match &mirror.source.as_ref().unwrap().lookup {
        Lookup::Found(deployed) => deployed.status.clone().unwrap(),
        other => panic!("{other:?}"),
    };
    let busy = status.tasks[0].worker_id.clone();
    let (_, worker) = profile
        .workers
        .iter()
        .find(|(_, w)| w.worker_id.as_deref() == Some(busy.as_str()))
        .unwrap_or_else(|| panic!("no worker of the profile is {busy}"));
    {
        // SIGSTOPped: it keeps its TCP port but answers nothing, and Connect's status topic
        // still shows its tasks RUNNING until the group's session timeout.
        let _stopped = Stopped::stop(worker.pid_file.as_deref().unwrap());
        let found = kscen::deployment::mirrors("lab", &profile).await.unwrap();
        let shown: Vec<String> = problems(mirrors::choose(&found, &pair).unwrap(), None)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert!(
            shown
                .iter()
                .any(|p| p.contains(&format!("RUNNING on {busy}, which does not answer"))),
            "{shown:?}"
        );
    }
    healthy_mirror(&profile, &pair, Duration::from_secs(120)).await;
}

/// The lab's mirror `pair` once discovery finds no problem with it. Tests before this one may
/// have stopped a worker or added a connector, and Connect's group takes a rebalance or two to
/// assign every task again.
async fn healthy_mirror(profile: &Profile, pair: &str, within: Duration) -> Mirror {
    eventually("the lab's mirror healthy", within, || async {
        let found = kscen::deployment::mirrors("lab", profile)
            .await
            .map_err(|e| format!("{e:#}"))?;
        let mirror = mirrors::choose(&found, pair)
            .map_err(|e| e.to_string())?
            .clone();
        match problems(&mirror, None).as_slice() {
            [] => Ok(mirror),
            some => Err(format!("{some:?}")),
        }
    })
    .await
}

#[tokio::test]
async fn a_pin_with_a_wrong_connector_name_is_reported() {
    let Some(profile) = lab_profile() else { return };
    let _lab = LAB_LOCK.lock().await;
    let (source, target, connectors, _) = lab_names(&profile).await;
    let lab_text = std::fs::read_to_string(profile_path()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let pinned = dir.path().join("pinned.toml");
    std::fs::write(
        &pinned,
        format!(
            "{lab_text}\n[[mm2.mirrors]]\nsource_alias = {source:?}\ntarget_alias = {target:?}\n\
             source_connector = {:?}\nheartbeat_connector = \"no-such-heartbeat\"\n",
            connectors[0]
        ),
    )
    .unwrap();
    let output = describe_deployment(pinned.to_str().unwrap(), &[]);
    let stdout = text(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(2),
        "{stdout}{}",
        text(&output.stderr)
    );
    assert!(
        stdout.contains("(pinned by the profile's [mm2])"),
        "{stdout}"
    );
    assert!(
        stdout.contains("no-such-heartbeat: pinned in [mm2] but Connect does not run it"),
        "{stdout}"
    );
    assert!(stdout.contains("no checkpoint connector"), "{stdout}");
}

#[tokio::test]
async fn a_mirror_named_at_test_time_with_the_identity_policy_is_discovered() {
    let Some(profile) = lab_profile() else { return };
    let _lab = LAB_LOCK.lock().await;
    let tag = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis()
        .to_string();
    let flow = Flow {
        tag: tag.clone(),
        name: format!("flow-{tag}"),
        source_alias: format!("src{tag}"),
        target_alias: format!("tgt{tag}"),
        include: format!("t{tag}-.*"),
        exclude: format!("t{tag}-skip.*"),
    };
    // The profile's clusters by role; the flow's aliases are its own.
    let bootstrap = |cluster: &str| profile.clusters[cluster].bootstrap_servers.clone();
    let (source_bootstrap, target_bootstrap) = (bootstrap("source"), bootstrap("target"));
    let client = ConnectClient::from_profile(&profile).unwrap().unwrap();
    client
        .put_config(
            &flow.name,
            &flow.config(&source_bootstrap, &target_bootstrap),
        )
        .await
        .unwrap();

    // The checks run in their own task so the connector is deleted whatever they find.
    let profile = Arc::new(profile);
    let checks = tokio::spawn({
        let flow = flow.clone();
        async move {
            check_discovered(profile.clone(), flow.clone()).await;
            settle_with_a_first_topic(&profile, &flow).await;
            check_consistency_through(&flow).await;
        }
    });
    let outcome = checks.await;
    client.delete(&flow.name).await.unwrap();
    eventually("the test connector gone", SETTLE, || async {
        let names = client.connectors().await.map_err(|e| e.to_string())?;
        match names.contains(&flow.name) {
            false => Ok(()),
            true => Err(format!("{names:?}")),
        }
    })
    .await;
    // MirrorSourceConnector made its offset-syncs topic on the source cluster.
    delete_topic(
        &source_bootstrap,
        &format!("mm2-offset-syncs.{}.internal", flow.target_alias),
    )
    .await;
    // The identity policy mirrored the first topic under its own name.
    for bootstrap in [&source_bootstrap, &target_bootstrap] {
        delete_topic(bootstrap, &flow.first_topic()).await;
    }
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic.into_panic());
    }
}

#[derive(Clone)]
struct Flow {
    tag: String,
    name: String,
    source_alias: String,
    target_alias: String,
    include: String,
    exclude: String,
}

impl Flow {
    /// A topic the flow copies before the consistency run's own, so that the connector has its
    /// tasks by then.
    fn first_topic(&self) -> String {
        format!("t{}-first", self.tag)
    }

    fn config(&self, source_bootstrap: &str, target_bootstrap: &str) -> Vec<(String, String)> {
        [
            (
                "connector.class",
                "org.apache.kafka.connect.mirror.MirrorSourceConnector",
            ),
            ("tasks.max", "2"),
            ("source.cluster.alias", &self.source_alias),
            ("target.cluster.alias", &self.target_alias),
            ("source.cluster.bootstrap.servers", source_bootstrap),
            ("target.cluster.bootstrap.servers", target_bootstrap),
            (
                "replication.policy.class",
                "org.apache.kafka.connect.mirror.IdentityReplicationPolicy",
            ),
            ("topics", &self.include),
            ("topics.exclude", &self.exclude),
            ("replication.factor", "1"),
            ("offset-syncs.topic.replication.factor", "1"),
            // MM2's default (10 min) would not see the consistency run's topic in time
            ("refresh.topics.interval.seconds", "5"),
            ("sync.topic.acls.enabled", "false"),
            (
                "key.converter",
                "org.apache.kafka.connect.converters.ByteArrayConverter",
            ),
            (
                "value.converter",
                "org.apache.kafka.connect.converters.ByteArrayConverter",
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }
}

async fn check_discovered(profile: Arc<Profile>, flow: Flow) {
    let mirror = eventually("the test mirror discovered RUNNING", SETTLE, || async {
        let found = kscen::deployment::mirrors("lab", &profile)
            .await
            .map_err(|e| format!("{e:#}"))?;
        let mirror = mirrors::choose(&found, &flow.name)
            .map_err(|e| e.to_string())?
            .clone();
        let state = match &mirror.source.as_ref().map(|c| &c.lookup) {
            Some(Lookup::Found(deployed)) => deployed.status.as_ref().map(|s| s.state),
            _ => None,
        };
        match state {
            Some(State::Running) => Ok(mirror),
            other => Err(format!("source connector state {other:?}")),
        }
    })
    .await;
    assert_eq!(
        mirror.label(),
        format!("{}->{}", flow.source_alias, flow.target_alias)
    );
    assert_eq!(
        mirror.policy,
        ReplicationPolicy::Identity {
            internal_separator: ".".into()
        }
    );
    let kept = format!("t{}-orders", flow.tag);
    let skipped = format!("t{}-skip-orders", flow.tag);
    assert_eq!(mirror.remote_topic(&kept).as_deref(), Some(kept.as_str()));
    let found = problems(&mirror, Some(&skipped));
    assert!(
        found.contains(&Problem::TopicNotReplicated {
            topic: skipped.clone(),
            why: Verdict::Excluded {
                pattern: flow.exclude.clone()
            },
        }),
        "{found:?}"
    );
    assert!(!problems(&mirror, Some(&kept))
        .iter()
        .any(|p| matches!(p, Problem::TopicNotReplicated { .. })));

    let output = describe_deployment(
        &profile_path(),
        &["--mirror", &flow.name, "--topic", &skipped],
    );
    let stdout = text(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(2),
        "{stdout}{}",
        text(&output.stderr)
    );
    for line in [
        format!("mirror {}->{}", flow.source_alias, flow.target_alias),
        "policy      IdentityReplicationPolicy".to_string(),
        format!(
            "topic       {skipped} -> {skipped} on {}",
            flow.target_alias
        ),
        format!(
            "topics      include {}; exclude {}",
            flow.include, flow.exclude
        ),
        format!(
            "source      {} (MirrorSourceConnector, tasks.max 2): RUNNING",
            flow.name
        ),
        format!(
            "topic {skipped:?} is excluded by {:?}: not replicated",
            flow.exclude
        ),
        "no checkpoint connector (MirrorCheckpointConnector) for this alias pair".to_string(),
    ] {
        assert!(stdout.contains(&line), "{line:?} in\n{stdout}");
    }
}

/// A MirrorSourceConnector runs no task until a topic matches, and the Connect group rebalances a
/// few times once it has some; a task moved while copying copies some records twice (MirrorMaker
/// 2 is at least once), which 9.1 would count as duplicates. So the flow first copies a topic of
/// its own, and the consistency run starts once the connector's tasks have stayed RUNNING on the
/// same workers for `QUIET`. Its topic then only changes the tasks' configuration in place.
async fn settle_with_a_first_topic(profile: &Profile, flow: &Flow) {
    const QUIET: Duration = Duration::from_secs(10);
    create_topic(
        &profile.clusters["source"].bootstrap_servers,
        &flow.first_topic(),
    )
    .await;
    let client = ConnectClient::from_profile(profile).unwrap().unwrap();
    let started = std::time::Instant::now();
    let mut last: Option<(Vec<(u32, String)>, std::time::Instant)> = None;
    loop {
        let placement = match client.status(&flow.name).await {
            Ok(status)
                if !status.tasks.is_empty()
                    && status.tasks.iter().all(|t| t.state == State::Running) =>
            {
                Some(
                    status
                        .tasks
                        .iter()
                        .map(|t| (t.id, t.worker_id.clone()))
                        .collect::<Vec<_>>(),
                )
            }
            _ => None,
        };
        last = match (placement, last) {
            (Some(now), Some((before, since))) if now == before => {
                if since.elapsed() >= QUIET {
                    return;
                }
                Some((before, since))
            }
            (Some(now), _) => Some((now, std::time::Instant::now())),
            (None, _) => None,
        };
        assert!(
            started.elapsed() < 2 * SETTLE,
            "{}'s tasks did not stay RUNNING in place for {QUIET:?} within {:?} of {} being created",
            flow.name,
            2 * SETTLE,
            flow.first_topic()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Bundled scenario 9.1 through the identity mirror, chosen by name beside the lab's own: its
/// records are found on the target under their source name, none lost.
async fn check_consistency_through(flow: &Flow) {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("result.json");
    let root = checkout();
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_kscen"))
        .arg("run")
        .arg(root.join("scenarios/consistency-9-1.toml"))
        .args([
            "--profile",
            &profile_path(),
            "--mirror",
            &flow.name,
            "--json",
        ])
        .arg(&json)
        .args(["--set", &format!("topic=\"t{}-orders\"", flow.tag)])
        .args([
            "--set",
            "count=2000",
            "--set",
            "rate=1000",
            "--set",
            "timeout=\"2m\"",
        ])
        .env("KSCEN_PLUGIN_PATH", root.join("plugins/dist"))
        .output()
        .await
        .expect("kscen runs");
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let result: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let replication = &result["replication"][0];
    assert_eq!(replication["replicated"], 2000, "{replication}");
    assert_eq!(replication["lost"], 0, "{replication}");
    let source = result["figures"]["source_records"]["value"].as_f64();
    assert_eq!(source, Some(2000.0), "{}", result["figures"]);
    assert_eq!(
        result["figures"]["target_records"]["value"].as_f64(),
        source
    );
    let events = result["events"].to_string();
    let topic = format!("t{}-orders-", flow.tag);
    assert!(
        events.contains(&format!("on source tracked to {topic}"))
            && events.contains(&format!(
                "by mirror {}->{}",
                flow.source_alias, flow.target_alias
            )),
        "the identity mirror names the remote topic after the source one: {events}"
    );
}

fn admin(bootstrap: &str) -> AdminClient<DefaultClientContext> {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .expect("admin client")
}

fn admin_options() -> AdminOptions {
    AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)))
}

/// Two partitions, so that both of the flow's tasks have one; the cluster's own replication factor.
async fn create_topic(bootstrap: &str, topic: &str) {
    let results = admin(bootstrap)
        .create_topics(
            &[NewTopic::new(topic, 2, TopicReplication::Fixed(-1))],
            &admin_options(),
        )
        .await
        .expect("create_topics");
    for result in results {
        if let Err((topic, error)) = result {
            panic!("creating {topic} on {bootstrap}: {error}");
        }
    }
}

async fn delete_topic(bootstrap: &str, topic: &str) {
    let results = admin(bootstrap)
        .delete_topics(&[topic], &admin_options())
        .await
        .expect("delete_topics");
    for result in results {
        match result {
            Ok(_) | Err((_, rdkafka::types::RDKafkaErrorCode::UnknownTopicOrPartition)) => {}
            Err((topic, error)) => panic!("deleting {topic}: {error}"),
        }
    }
}
