//! The Connect client against a real lab (`kscen lab up`): three workers running the three MM2
//! connectors. Set `KSCEN_LAB_PROFILE` to the lab's profile.toml; without it the tests skip.
//! Every test leaves the lab as it found it (resumed, restored, SIGCONTed).

#[path = "support/lab_env.rs"]
mod lab_env;

use std::time::{Duration, Instant};

use kscen::config::profile::Profile;
use kscen::connect::{ConnectClient, ConnectorStatus, State};
use kscen::error::HostError;
use kscen::probe::Probes;

use lab_env::{eventually, lab_profile, Stopped, LAB_LOCK};

const MM2: [&str; 3] = ["mirror-checkpoint", "mirror-heartbeat", "mirror-source"];
/// Status changes travel through the status topic; a restart or a rebalance takes seconds.
const SETTLE: Duration = Duration::from_secs(30);

fn lab_client(profile: &Profile) -> ConnectClient {
    ConnectClient::from_profile(profile)
        .unwrap()
        .expect("the lab profile has [connect]")
}

/// The connector and every task in `state`, on live workers.
fn all_in(status: &ConnectorStatus, state: State) -> Result<(), String> {
    let ok = status.state == state
        && status.worker_alive
        && status
            .tasks
            .iter()
            .all(|t| t.state == state && t.worker_alive);
    if ok {
        Ok(())
    } else {
        Err(format!("{status:?}"))
    }
}

async fn wait_state(client: &ConnectClient, connector: &str, state: State) {
    eventually(&format!("{connector} {state:?}"), SETTLE, || async {
        let status = client.status(connector).await.map_err(|e| e.to_string())?;
        all_in(&status, state)
    })
    .await
}

#[tokio::test]
async fn mm2_connectors_run_on_live_workers() {
    let Some(profile) = lab_profile() else { return };
    let _lab = LAB_LOCK.lock().await;
    let client = lab_client(&profile);
    assert_eq!(client.connectors().await.unwrap(), MM2);
    let workers = client.workers().await;
    assert_eq!(workers.len(), 3, "{workers:?}");
    assert!(workers.iter().all(|w| w.alive), "{workers:?}");
    let all = eventually("every MM2 connector RUNNING", SETTLE, || async {
        let all = client.status_all().await.map_err(|e| e.to_string())?;
        all.iter().try_for_each(|s| all_in(s, State::Running))?;
        Ok(all)
    })
    .await;
    assert_eq!(all.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), MM2);
    let source = client.status("mirror-source").await.unwrap();
    assert!(
        !source.tasks.is_empty(),
        "mirror-source has tasks: {source:?}"
    );
    assert_eq!(
        client.status("mirror-heartbeat").await.unwrap().tasks.len(),
        1
    );
}

#[tokio::test]
async fn pause_then_resume() {
    let Some(profile) = lab_profile() else { return };
    let _lab = LAB_LOCK.lock().await;
    let client = lab_client(&profile);
    wait_state(&client, "mirror-heartbeat", State::Running).await;
    // Resume even if an assertion fails, so the lab is left running.
    struct Resume<'a>(&'a Profile);
    impl Drop for Resume<'_> {
        fn drop(&mut self) {
            if std::thread::panicking() {
                let profile = self.0;
                let _ = on_fresh_runtime(async {
                    lab_client(profile).resume("mirror-heartbeat").await
                });
            }
        }
    }
    let _resume = Resume(&profile);
    client.pause("mirror-heartbeat").await.unwrap();
    wait_state(&client, "mirror-heartbeat", State::Paused).await;
    client.resume("mirror-heartbeat").await.unwrap();
    wait_state(&client, "mirror-heartbeat", State::Running).await;
}

#[tokio::test]
async fn restart_with_tasks() {
    let Some(profile) = lab_profile() else { return };
    let _lab = LAB_LOCK.lock().await;
    let client = lab_client(&profile);
    wait_state(&client, "mirror-heartbeat", State::Running).await;
    client
        .restart("mirror-heartbeat", true, false)
        .await
        .unwrap();
    wait_state(&client, "mirror-heartbeat", State::Running).await;
    client.restart_task("mirror-heartbeat", 0).await.unwrap();
    wait_state(&client, "mirror-heartbeat", State::Running).await;
}

#[tokio::test]
async fn config_round_trip() {
    let Some(profile) = lab_profile() else { return };
    let _lab = LAB_LOCK.lock().await;
    let client = lab_client(&profile);
    const KEY: &str = "emit.heartbeats.interval.seconds";
    let original = client.config("mirror-heartbeat").await.unwrap();
    let old = original
        .iter()
        .find(|(k, _)| k == KEY)
        .map(|(_, v)| v.clone())
        .expect(KEY);
    let new = if old == "6" { "7" } else { "6" };
    let changed: Vec<(String, String)> = original
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                if k == KEY { new.to_string() } else { v.clone() },
            )
        })
        .collect();
    // The name is part of the URL; Connect refuses a body naming another connector, not this.
    let outcome = async {
        client.put_config("mirror-heartbeat", &changed).await?;
        client.config("mirror-heartbeat").await
    }
    .await;
    // Restore before asserting: the PUT rebalances, and the restore rides the 409 retries.
    client
        .put_config("mirror-heartbeat", &original)
        .await
        .expect("restoring the original config");
    let read_back = outcome.expect("put then get");
    assert!(
        read_back.contains(&(KEY.to_string(), new.to_string())),
        "{read_back:?}"
    );
    let restored = client.config("mirror-heartbeat").await.unwrap();
    assert_eq!(restored, original);
    wait_state(&client, "mirror-heartbeat", State::Running).await;
}

#[tokio::test]
async fn an_unknown_connector_is_not_found() {
    let Some(profile) = lab_profile() else { return };
    let client = lab_client(&profile);
    let name = "kscen-no-such-connector";
    for error in [
        client.status(name).await.unwrap_err(),
        client.config(name).await.unwrap_err(),
        client.pause(name).await.unwrap_err(),
    ] {
        assert!(
            matches!(&error, HostError::NotFound(m) if m.contains(name)),
            "{error:?}"
        );
    }
}

#[tokio::test]
async fn the_leader_is_a_lab_worker_and_agrees_with_its_metric() {
    let Some(profile) = lab_profile() else { return };
    let client = lab_client(&profile);
    let leader = client
        .leader()
        .await
        .unwrap()
        .expect("the lab's logs name the leader");
    assert!(
        profile.workers.contains_key(&leader),
        "{leader} is not a profile worker"
    );
    // Cross-check with the JMX exporter's view on each worker (the log is the first source).
    let probes = Probes::load(&profile).unwrap();
    let leader_url = profile.workers[&leader].url.clone().unwrap();
    for worker in profile.workers.keys() {
        let samples = probes
            .scrape(worker, "kafka_connect_worker_rebalance_leader")
            .await
            .unwrap();
        let metric = samples
            .iter()
            .find_map(|s| s.label("leader"))
            .expect("leader metric");
        assert_eq!(
            metric.trim_end_matches('/'),
            leader_url.trim_end_matches('/'),
            "{worker}'s view"
        );
    }
}

/// SIGSTOP a worker that is not the leader but hosts tasks, put first in `connect.urls` so
/// calls would go to it: the client must notice within the liveness timeout and use another.
#[tokio::test]
async fn a_stopped_worker_is_dead_and_calls_go_elsewhere() {
    let Some(mut profile) = lab_profile() else {
        return;
    };
    let _lab = LAB_LOCK.lock().await;
    let probe_client = lab_client(&profile);
    let all = eventually("every MM2 connector RUNNING", SETTLE, || async {
        let all = probe_client.status_all().await.map_err(|e| e.to_string())?;
        all.iter().try_for_each(|s| all_in(s, State::Running))?;
        Ok(all)
    })
    .await;
    let leader = probe_client.leader().await.unwrap();
    let (victim, victim_profile) = profile
        .workers
        .iter()
        .filter(|(name, _)| Some(*name) != leader.as_ref())
        .max_by_key(|(_, w)| {
            let id = w.worker_id.as_deref().unwrap();
            all.iter()
                .flat_map(|s| &s.tasks)
                .filter(|t| t.worker_id == id)
                .count()
        })
        .map(|(name, w)| (name.clone(), w.clone()))
        .unwrap();
    let victim_id = victim_profile.worker_id.clone().unwrap();
    let victim_url = victim_profile.url.clone().unwrap();
    let connect = profile.connect.as_mut().unwrap();
    connect
        .urls
        .retain(|u| u.trim_end_matches('/') != victim_url.trim_end_matches('/'));
    connect.urls.insert(0, victim_url);
    let client = lab_client(&profile);
    client
        .connectors()
        .await
        .expect("a first call through the victim while it runs");

    let stopped = Stopped::stop(victim_profile.pid_file.as_ref().unwrap());
    let started = Instant::now();
    let names = client
        .connectors()
        .await
        .expect("a call while the first worker is stopped");
    let failover = started.elapsed();
    assert_eq!(names, MM2);
    let started = Instant::now();
    let workers = client.workers().await;
    let workers_took = started.elapsed();
    let started = Instant::now();
    let statuses = client
        .status_all()
        .await
        .expect("status_all through a live worker");
    let status_took = started.elapsed();
    // Once the cached answer expires (100 ms), each call probes the victim again: one liveness
    // timeout (500 ms), concurrent with the other workers' probes.
    tokio::time::sleep(Duration::from_millis(150)).await;
    let started = Instant::now();
    let victim_status = client
        .status("mirror-source")
        .await
        .expect("status through a live worker");
    let reprobe_took = started.elapsed();
    drop(stopped);

    println!(
        "stopped {victim} ({victim_id}): failover call {failover:?}, workers() {workers_took:?}, \
         status_all {status_took:?}, status after the cache expired {reprobe_took:?}"
    );
    for worker in &workers {
        assert_eq!(worker.alive, worker.name != victim, "{workers:?}");
    }
    let on_victim: Vec<_> = statuses
        .iter()
        .flat_map(|s| &s.tasks)
        .filter(|t| t.worker_id == victim_id)
        .collect();
    assert!(
        !on_victim.is_empty(),
        "the victim hosted no task: {statuses:?}"
    );
    assert!(
        on_victim
            .iter()
            .all(|t| t.state == State::Running && !t.worker_alive),
        "{on_victim:?}"
    );
    assert!(
        victim_status
            .tasks
            .iter()
            .any(|t| t.worker_id == victim_id && !t.worker_alive),
        "{victim_status:?}"
    );
    for (name, took) in [
        ("failover", failover),
        ("workers", workers_took),
        ("status_all", status_took),
        ("status after the cache expired", reprobe_took),
    ] {
        assert!(took < Duration::from_millis(1200), "{name} took {took:?}");
    }
    // Resumed within seconds (under session.timeout.ms): the group never noticed.
    eventually("the victim answers again", SETTLE, || async {
        let workers = client.workers().await;
        workers
            .iter()
            .all(|w| w.alive)
            .then_some(())
            .ok_or(format!("{workers:?}"))
    })
    .await;
}

/// Drop cannot await: run `future` on a thread with its own runtime (and its own HTTP client:
/// a client's pooled connections belong to the runtime that opened them).
fn on_fresh_runtime<F: std::future::Future + Send>(future: F) -> F::Output
where
    F::Output: Send,
{
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap()
                    .block_on(future)
            })
            .join()
            .unwrap()
    })
}
