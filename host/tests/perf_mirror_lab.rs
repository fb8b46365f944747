//! The seeds' PERF tests through the real lab's MirrorMaker 2 (issue 16 item 1): PERF-02 follows
//! every record across the mirror with each step's replicated latency and lag, and a paused mirror
//! stops the ramp on the replication lag, which the run names; PERF-05's 1 MiB records stop at a
//! default mirror's producer and the run fails with the failed tasks' reason, and once
//! `producer.override.max.request.size` is raised they arrive, with replicated latency per size.
//! Set `KSCEN_LAB_PROFILE`.

#[path = "support/lab_env.rs"]
mod lab_env;
mod support;

use std::time::Duration;

use kscen::config::profile::Profile;
use kscen::connect::{ConnectClient, State};
use kscen::deployment::mirrors::Role;
use lab_env::eventually;
use support::{lab_profile_from, run_bundled, Run};

/// The mirror's source connector is paused or reconfigured by these tests: one at a time.
static MIRROR: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

struct Lab {
    profile: std::path::PathBuf,
    connect: ConnectClient,
    /// the mirror's source connector, as the deployment names it
    source: String,
}

async fn lab() -> Option<Lab> {
    let profile = lab_profile_from("KSCEN_LAB_PROFILE", "lab")?;
    let argument = profile.display().to_string();
    let loaded = Profile::load(&argument).unwrap();
    let mirrors = kscen::deployment::mirrors(&argument, &loaded)
        .await
        .unwrap();
    let source = mirrors[0].connector(Role::Source).unwrap().name.clone();
    let connect = ConnectClient::from_profile(&loaded).unwrap().unwrap();
    Some(Lab {
        profile,
        connect,
        source,
    })
}

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", std::process::id())
}

/// Runs a bundled scenario off the async runtime.
async fn run(lab: &Lab, scenario: &'static str, args: Vec<String>) -> Run {
    let profile = lab.profile.clone();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run_bundled(&profile, scenario, &args)
    })
    .await
    .unwrap()
}

/// Waits until every task of the mirror's source connector runs (a new configuration restarts
/// them: until then, a task failed before it still shows FAILED).
async fn tasks_running(lab: &Lab) {
    eventually(
        "the source connector's tasks RUNNING",
        Duration::from_secs(60),
        || async {
            let status = lab
                .connect
                .status(&lab.source)
                .await
                .map_err(|e| e.to_string())?;
            let states: Vec<State> = status.tasks.iter().map(|t| t.state).collect();
            if !states.is_empty() && states.iter().all(|s| *s == State::Running) {
                Ok(())
            } else {
                Err(format!("{states:?}"))
            }
        },
    )
    .await
}

fn set(pairs: &[(&str, &str)]) -> Vec<String> {
    pairs
        .iter()
        .flat_map(|(key, value)| ["--set".to_string(), format!("{key}={value}")])
        .collect()
}

fn events<'a>(run: &'a Run, kind: &str) -> Vec<&'a str> {
    run.result()["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == kind)
        .map(|e| e["message"].as_str().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn ramp_up_follows_every_record_and_a_paused_mirror_stops_it_on_the_lag() {
    let Some(lab) = lab().await else { return };
    let _mirror = MIRROR.lock().await;
    let topic = unique("kscen-ramp-mirror");
    let ramp = [
        ("time_scale", "0.01"),
        ("topic", topic.as_str()),
        ("nominal_rate", "500"),
        ("multipliers", "[1.0, 2.0]"),
        ("unthrottled_step", "false"),
        ("step_duration", "10m"),
    ];

    let run_ = run(&lab, "perf-02-ramp-up.toml", set(&ramp)).await;
    assert_eq!(run_.code(), 0, "{}", run_.stderr());
    for step in ["step-1 1x", "step-2 2x"] {
        let replicated = &run_.phase(step)["replicated_us"];
        assert!(
            replicated["count"].as_u64().unwrap() > 0,
            "{step}: no replicated latency: {replicated}"
        );
    }
    assert!(run_.figure("step-1.lag_records_max") >= 0.0);
    assert!(run_.figure("step-2.lag_ms_max") >= 0.0);
    assert_eq!(run_.figure("stopped_by"), 0.0);
    // What the clusters ran, as their brokers' exporters said it.
    let versions = &run_.result()["environment"]["kafka_versions"];
    for cluster in ["source", "target"] {
        let said = versions[cluster].as_array();
        assert!(
            said.is_some_and(|v| v.len() == 1 && v[0].as_str().unwrap().contains('.')),
            "{versions}"
        );
    }
    assert_eq!(run_.figure("lost"), 0.0);
    assert_eq!(run_.figure("duplicates"), 0.0);

    // The topic is mirrored now: with the mirror paused, every record stays on the source.
    lab.connect.pause(&lab.source).await.unwrap();
    let mut paused = ramp.to_vec();
    paused.extend([("max_lag_records", "2000"), ("grace_s", "2")]);
    let stopped = run(&lab, "perf-02-ramp-up.toml", set(&paused)).await;
    lab.connect.resume(&lab.source).await.unwrap();
    assert_eq!(stopped.code(), 0, "{}", stopped.stderr());
    assert_eq!(
        stopped.figure("stopped_by"),
        3.0,
        "the replication lag in records"
    );
    let stops = events(&stopped, "stop-condition");
    assert!(
        stops
            .iter()
            .any(|e| e.starts_with("step-1 1x: replication lag ") && e.ends_with("records > 2000")),
        "{stops:?}"
    );
    assert_eq!(
        stopped.phase_names(),
        ["step-1 1x"],
        "the ramp stopped in its first step"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_size_the_mirror_cannot_carry_fails_with_its_reason_until_it_is_raised() {
    let Some(lab) = lab().await else { return };
    let _mirror = MIRROR.lock().await;
    let original = lab.connect.config(&lab.source).await.unwrap();
    let topic = unique("kscen-sizes-mirror");
    let sweep = set(&[
        ("time_scale", "0.01"),
        ("topic", topic.as_str()),
        ("sizes", "[1024, 1048576]"),
        ("target_mib_per_s", "2"),
        ("step_duration", "5m"),
    ]);

    // Both runs first, the raise between them, so a failed assertion never leaves the shared
    // lab's mirror failing on records it cannot carry.
    let refused = run(&lab, "perf-05-sizes.toml", sweep.clone()).await;
    let mut raised = original.clone();
    raised.retain(|(key, _)| key != "producer.override.max.request.size");
    raised.push((
        "producer.override.max.request.size".into(),
        (2 * 1024 * 1024).to_string(),
    ));
    lab.connect.put_config(&lab.source, &raised).await.unwrap();
    tasks_running(&lab).await;
    let carried = run(&lab, "perf-05-sizes.toml", sweep).await;
    // Put back only once the 1 MiB records are across: one still on the source would fail the
    // default mirror again, for every test after this one.
    assert_eq!(carried.code(), 0, "{}", carried.stderr());
    lab.connect
        .put_config(&lab.source, &original)
        .await
        .unwrap();
    tasks_running(&lab).await;

    assert_eq!(
        refused.code(),
        3,
        "the scenario fails: {}",
        refused.stderr()
    );
    let error = refused.stderr();
    assert!(
        error.contains("the scenario failed: size-1048576B: the mirror")
            // which tasks fail depends on the partitions that got a 1 MiB record first
            && error.contains("stopped carrying these records")
            && error.contains(&format!("{}/", lab.source))
            && error.contains("RecordTooLargeException")
            && error.contains("max.request.size"),
        "{error}"
    );
    assert!(refused.figure("size-1024B.replicated") > 0.0);
    assert_eq!(refused.figure("size-1024B.lost"), 0.0);
    assert_eq!(refused.figure("size-1048576B.replicated"), 0.0);

    for size in ["size-1024B", "size-1048576B"] {
        assert!(
            carried.figure(&format!("{size}.replicated")) > 0.0,
            "{size}"
        );
        assert_eq!(carried.figure(&format!("{size}.lost")), 0.0, "{size}");
        let replicated = &carried.phase(size)["replicated_us"];
        assert!(
            replicated["count"].as_u64().unwrap() > 0,
            "{size}: {replicated}"
        );
    }
}
