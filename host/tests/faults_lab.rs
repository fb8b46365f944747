//! Fault injection on real processes and real packets.
//!
//! - The link proxy alone (always runs): `kscen lab proxy` between a client and an echo server,
//!   cut and restored through `FaultTargets::inject`.
//! - The local lab (`KSCEN_LAB_PROFILE`, else skipped; a failure under `CI=true`): kill and start
//!   a Connect worker, pause and resume one, cut the workers off the source and off the target
//!   cluster and watch MirrorMaker 2 stop and resume while kscen's own clients keep working.
//!
//! Every lab test holds `LAB` (they share one lab) and a `Repair` guard that, even when an
//! assertion fails, resumes paused workers, restores cut links and restarts stopped workers.

#[path = "support/lab_kafka.rs"]
mod lab_kafka;

use lab_kafka::{create_topic, unique_topic};

use std::collections::HashSet;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use kscen::config::profile::{FaultAction, Profile};
use kscen::deployment::run_mirror::RunMirror;
use kscen::error::HostError;
use kscen::faults::procfs::{live_pid, send_signal, state as proc_state};
use kscen::faults::{Action, FaultTargets};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer, StreamConsumer};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Message, Offset, TopicPartitionList};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

static LAB: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

// ---------------------------------------------------------------------------------------------
// The link proxy on its own

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// Echoes every byte back; one task per connection.
async fn echo_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (mut r, mut w) = socket.split();
                let _ = tokio::io::copy(&mut r, &mut w).await;
            });
        }
    });
    port
}

/// Reads exactly `n` bytes, or `None` if they do not all come within `timeout`.
async fn read_within(stream: &mut TcpStream, n: usize, timeout: Duration) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; n];
    tokio::time::timeout(timeout, stream.read_exact(&mut buf))
        .await
        .ok()?
        .ok()?;
    Some(buf)
}

/// Stops the proxy child even when the test fails.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_link_stops_real_bytes_and_restore_delivers_them() {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("pid");
    let upstream = echo_server().await;
    let listen = free_port();
    let log = std::fs::File::create(dir.path().join("proxy.log")).unwrap();
    let child = Child(
        std::process::Command::new(env!("CARGO_BIN_EXE_kscen"))
            .args(["lab", "proxy", "--link=test-link", "--route"])
            .arg(format!("127.0.0.1:{listen}=127.0.0.1:{upstream}"))
            .arg("--state-file")
            .arg(dir.path().join("pid.state"))
            .stderr(log)
            .spawn()
            .expect("running kscen lab proxy"),
    );
    std::fs::write(&pid_file, child.0.id().to_string()).unwrap();
    let profile: Profile = toml::from_str(&format!(
        "[links.test-link]\npid_file = {:?}\n[links.test-link.actions]\n\
         cut = {{ signal = \"SIGUSR1\" }}\nrestore = {{ signal = \"SIGUSR2\" }}\n",
        pid_file.display().to_string()
    ))
    .unwrap();
    let faults = FaultTargets::try_from_profile(&profile).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !dir.path().join("pid.state").is_file() {
        assert!(Instant::now() < deadline, "the proxy did not start");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let mut held = TcpStream::connect(("127.0.0.1", listen)).await.unwrap();
    held.write_all(b"before").await.unwrap();
    assert_eq!(
        read_within(&mut held, 6, Duration::from_secs(5))
            .await
            .as_deref(),
        Some(&b"before"[..])
    );

    let started = Instant::now();
    faults.inject("test-link", Action::Cut).await.unwrap();
    eprintln!("cut applied in {:?}", started.elapsed());
    held.write_all(b"during").await.unwrap();
    assert_eq!(
        read_within(&mut held, 6, Duration::from_secs(1)).await,
        None,
        "no byte crosses a cut link"
    );
    // A new connection during the cut: the kernel queues it, the proxy neither accepts nor
    // forwards it (a blackhole, not a refusal).
    let mut late = TcpStream::connect(("127.0.0.1", listen)).await.unwrap();
    late.write_all(b"late").await.unwrap();
    assert_eq!(
        read_within(&mut late, 4, Duration::from_millis(500)).await,
        None
    );

    let started = Instant::now();
    faults.inject("test-link", Action::Restore).await.unwrap();
    eprintln!("restore applied in {:?}", started.elapsed());
    // What was sent during the cut is delivered on restore, on both connections.
    assert_eq!(
        read_within(&mut held, 6, Duration::from_secs(5))
            .await
            .as_deref(),
        Some(&b"during"[..])
    );
    assert_eq!(
        read_within(&mut late, 4, Duration::from_secs(5))
            .await
            .as_deref(),
        Some(&b"late"[..])
    );
    // Cutting twice and restoring twice are harmless.
    faults.inject("test-link", Action::Cut).await.unwrap();
    faults.inject("test-link", Action::Cut).await.unwrap();
    faults.inject("test-link", Action::Restore).await.unwrap();
    faults.inject("test-link", Action::Restore).await.unwrap();
    held.write_all(b"after").await.unwrap();
    assert_eq!(
        read_within(&mut held, 5, Duration::from_secs(5))
            .await
            .as_deref(),
        Some(&b"after"[..])
    );
    let log = std::fs::read_to_string(dir.path().join("proxy.log")).unwrap();
    assert!(log.contains("CUT: forwarding nothing"), "{log}");
    assert!(log.contains("RESTORED"), "{log}");
}

// ---------------------------------------------------------------------------------------------
// The lab

struct Lab {
    profile: Profile,
    faults: FaultTargets,
    source: String,
    target: String,
    /// The lab's mirror, as `kscen run` finds it: names remote topics.
    mirror: RunMirror,
    http: reqwest::Client,
}

impl Lab {
    async fn remote_topic(&self, topic: &str) -> String {
        self.mirror
            .mirrored_topic(topic)
            .await
            .unwrap_or_else(|e| panic!("the lab's mirror names {topic} on the target: {e}"))
            .name
    }
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
    let path = PathBuf::from(path);
    let profile = Profile::load(&path.display().to_string())
        .unwrap_or_else(|e| panic!("loading the lab profile {}: {e:#}", path.display()));
    let faults = FaultTargets::try_from_profile(&profile).expect("valid fault actions");
    let bootstrap = |c: &str| {
        profile
            .cluster(c)
            .unwrap_or_else(|| panic!("cluster {c} in the profile"))
            .bootstrap_servers
            .clone()
    };
    Some(Lab {
        source: bootstrap("source"),
        target: bootstrap("target"),
        mirror: RunMirror::new(Some((&path.display().to_string(), &profile)), None),
        faults,
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()
            .unwrap(),
        profile,
    })
}

impl Lab {
    fn worker_url(&self, name: &str) -> String {
        self.profile.workers[name].url.clone().expect("worker url")
    }

    fn worker_pid(&self, name: &str) -> Option<u32> {
        live_pid(self.profile.workers[name].pid_file.as_deref()?)
    }

    async fn answers(&self, worker: &str) -> bool {
        self.http
            .get(format!("{}/", self.worker_url(worker)))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
    }

    /// Every worker answers and every task is RUNNING on a live worker.
    async fn wait_healthy(&self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            let live: HashSet<String> = self
                .profile
                .workers
                .iter()
                .filter(|(name, _)| self.worker_pid(name).is_some())
                .filter_map(|(_, w)| w.worker_id.clone())
                .collect();
            let mut healthy = live.len() == self.profile.workers.len();
            for name in self.profile.workers.keys() {
                healthy &= self.answers(name).await;
            }
            let first = self.profile.workers.keys().next().unwrap();
            let status: Option<serde_json::Value> = match self
                .http
                .get(format!(
                    "{}/connectors?expand=status",
                    self.worker_url(first)
                ))
                .send()
                .await
            {
                Ok(r) => r.json().await.ok(),
                Err(_) => None,
            };
            healthy &= status.as_ref().is_some_and(|v| {
                v.as_object().is_some_and(|m| {
                    // whatever the deployment named its connectors
                    !m.is_empty()
                        && m.values().all(|c| {
                            c["status"]["tasks"].as_array().is_some_and(|ts| {
                                ts.iter().all(|t| {
                                    t["state"] == "RUNNING"
                                        && t["worker_id"].as_str().is_some_and(|w| live.contains(w))
                                })
                            })
                        })
                })
            });
            if healthy {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the lab did not become healthy within {timeout:?}; last status {status:?}"
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}

/// Puts the lab back the way the tests found it, also when one fails: resumes paused workers,
/// restores cut links, restarts workers that are not running. Synchronous (it runs in `Drop`):
/// plain signals and the profile's start commands.
struct Repair<'a>(&'a Profile);

impl Drop for Repair<'_> {
    fn drop(&mut self) {
        for (name, link) in &self.0.links {
            let Some(pid_file) = link.pid_file.as_deref() else {
                continue;
            };
            // The proxy reports `cut <pid>` in `<pid file>.state` while cut.
            let state = std::fs::read_to_string(format!("{}.state", pid_file.display()));
            if let (Some(pid), true) = (
                live_pid(pid_file),
                state.is_ok_and(|s| s.starts_with("cut")),
            ) {
                let _ = send_signal(pid, libc::SIGUSR2);
                eprintln!("repair: restored the cut link {name}");
            }
        }
        for (name, worker) in &self.0.workers {
            match worker.pid_file.as_deref().and_then(live_pid) {
                Some(pid) => {
                    // Harmless when the worker is not paused.
                    let _ = send_signal(pid, libc::SIGCONT);
                }
                None => {
                    if let Some(FaultAction::Command { command }) = worker.actions.get("start") {
                        eprintln!("repair: restarting {name}");
                        let _ = std::process::Command::new(&command[0])
                            .args(&command[1..])
                            .status();
                    }
                }
            }
        }
    }
}

/// kscen's direct producer to the source cluster.
fn producer(bootstrap: &str) -> FutureProducer {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("acks", "all")
        .set("linger.ms", "5")
        .set("message.timeout.ms", "10000")
        .create()
        .expect("producer")
}

/// Test topics have as many partitions as the source connector has tasks (lab default 4), so records
/// written round-robin reach every task.
const PARTITIONS: i32 = 4;

/// Produces `<prefix>-<i>` for i in 0..n, round-robin over the partitions, and waits for every
/// delivery.
async fn produce(producer: &FutureProducer, topic: &str, prefix: &str, n: usize) -> Vec<String> {
    let values: Vec<String> = (0..n).map(|i| format!("{prefix}-{i}")).collect();
    for (i, value) in values.iter().enumerate() {
        let key = i.to_string();
        producer
            .send(
                FutureRecord::to(topic)
                    .key(&key)
                    .payload(value)
                    .partition(i as i32 % PARTITIONS),
                Duration::from_secs(10),
            )
            .await
            .unwrap_or_else(|(e, _)| panic!("producing {value} directly to the source: {e}"));
    }
    values
}

/// kscen's direct reader of `source.<topic>` on the target cluster.
struct Mirror {
    consumer: StreamConsumer,
    seen: HashSet<String>,
}

impl Mirror {
    /// Waits for MM2 to create the remote topic, then reads all its partitions from the start.
    async fn open(target: &str, remote: &str) -> Mirror {
        let meta: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", target)
            .create()
            .expect("consumer");
        let deadline = Instant::now() + Duration::from_secs(60);
        let partitions = loop {
            if let Ok(md) = meta.fetch_metadata(Some(remote), Duration::from_secs(2)) {
                if let Some(t) = md.topics().iter().find(|t| t.name() == remote) {
                    if t.error().is_none() && !t.partitions().is_empty() {
                        break t.partitions().len();
                    }
                }
            }
            assert!(
                Instant::now() < deadline,
                "MM2 did not create {remote} on the target within 60 s"
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        };
        let consumer: StreamConsumer = ClientConfig::new()
            .set("bootstrap.servers", target)
            .set("group.id", format!("kscen-faults-reader-{remote}"))
            .set("enable.auto.commit", "false")
            .set("fetch.wait.max.ms", "100")
            .create()
            .expect("consumer");
        let mut tpl = TopicPartitionList::new();
        for p in 0..partitions as i32 {
            tpl.add_partition_offset(remote, p, Offset::Beginning)
                .unwrap();
        }
        consumer.assign(&tpl).expect("assign");
        Mirror {
            consumer,
            seen: HashSet::new(),
        }
    }

    /// Reads for `window`, or until every value of `wanted` arrived.
    async fn read(&mut self, window: Duration, wanted: &[String]) {
        let deadline = Instant::now() + window;
        while Instant::now() < deadline && !wanted.iter().all(|v| self.seen.contains(v)) {
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left.min(Duration::from_millis(200)), self.consumer.recv())
                .await
            {
                Ok(Ok(m)) => {
                    let value = String::from_utf8_lossy(m.payload().unwrap_or_default());
                    self.seen.insert(value.into_owned());
                }
                Ok(Err(e)) => panic!("kscen's direct consumer on the target failed: {e}"),
                Err(_) => {}
            }
        }
    }

    fn arrived(&self, values: &[String]) -> usize {
        values.iter().filter(|v| self.seen.contains(*v)).count()
    }

    /// Until all of `values` arrived; returns how long that took.
    async fn wait_all(&mut self, values: &[String], timeout: Duration, what: &str) -> Duration {
        let started = Instant::now();
        self.read(timeout, values).await;
        assert_eq!(
            self.arrived(values),
            values.len(),
            "{what}: only {} of {} records reached the target within {timeout:?}",
            self.arrived(values),
            values.len()
        );
        started.elapsed()
    }
}

/// Cuts `link`, shows MM2 stops replicating while kscen's direct producer and consumer keep
/// working, restores, and shows replication resumes with nothing lost.
async fn cut_and_restore(lab: &Lab, link: &str, silence: Duration) {
    let topic = unique_topic("kscen-faults", link);
    create_topic(&lab.source, &topic, PARTITIONS).await;
    let producer = producer(&lab.source);
    let before = produce(&producer, &topic, "before", 20).await;
    let remote = lab.remote_topic(&topic).await;
    let mut mirror = Mirror::open(&lab.target, &remote).await;
    let took = mirror
        .wait_all(&before, Duration::from_secs(60), "before the cut")
        .await;
    eprintln!(
        "{link}: replication works ({} records in {took:.1?})",
        before.len()
    );

    let cut_at = Instant::now();
    lab.faults.inject(link, Action::Cut).await.unwrap();
    eprintln!("{link}: cut applied in {:.1?}", cut_at.elapsed());
    let produced_at = Instant::now();
    let during = produce(&producer, &topic, "during", 20).await;
    eprintln!(
        "{link}: kscen's direct producer delivered {} records to source in {:.1?} during the cut",
        during.len(),
        produced_at.elapsed()
    );
    mirror.read(silence, &during).await;
    let leaked = mirror.arrived(&during);
    eprintln!(
        "{link}: {leaked} of {} records reached the target during {silence:?} of cut",
        during.len()
    );

    let restore_at = Instant::now();
    lab.faults.inject(link, Action::Restore).await.unwrap();
    let applied = restore_at.elapsed();
    mirror
        .wait_all(&during, Duration::from_secs(60), "after the restore")
        .await;
    eprintln!(
        "{link}: restore applied in {applied:.1?}; all {} records replicated {:.1?} after the restore",
        during.len(),
        restore_at.elapsed()
    );
    assert_eq!(leaked, 0, "MM2 replicated through a cut link");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cutting_workers_to_source_stops_mm2_but_not_kscen() {
    let Some(lab) = lab() else { return };
    let _one_at_a_time = LAB.lock().await;
    let _repair = Repair(&lab.profile);
    cut_and_restore(&lab, "workers-to-source", Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cutting_workers_to_target_stops_mm2_but_not_kscen() {
    let Some(lab) = lab() else { return };
    let _one_at_a_time = LAB.lock().await;
    let _repair = Repair(&lab.profile);
    // Shorter than the workers' session timeout (10 s): the Connect group stays as it is.
    cut_and_restore(&lab, "workers-to-target", Duration::from_secs(4)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_worker_is_gone_when_kill_returns_and_start_brings_it_back() {
    let Some(lab) = lab() else { return };
    let _one_at_a_time = LAB.lock().await;
    let _repair = Repair(&lab.profile);
    let worker = "worker-3";
    let pid = lab.worker_pid(worker).expect("worker-3 runs");
    assert!(lab.answers(worker).await);

    let started = Instant::now();
    lab.faults.inject(worker, Action::Kill).await.unwrap();
    let killed_in = started.elapsed();
    assert!(
        proc_state(pid).is_none_or(|s| s == 'Z' || s == 'X'),
        "pid {pid} is gone when kill returns"
    );
    assert!(
        !lab.answers(worker).await,
        "a killed worker does not answer"
    );
    // Killing it again: it is not running, and the error says so.
    let again = lab.faults.inject(worker, Action::Kill).await.unwrap_err();
    assert!(
        matches!(&again, HostError::Fault(m) if m.contains("worker-3 is not running")),
        "{again}"
    );

    let started = Instant::now();
    lab.faults.inject(worker, Action::Start).await.unwrap();
    let start_returned = started.elapsed();
    let new_pid = lab
        .worker_pid(worker)
        .expect("a live pid once start returns");
    assert_ne!(new_pid, pid);
    // A JVM start on a loaded 2-core machine took over 60 s once; this checks that start brings
    // the worker back, not how fast.
    let deadline = Instant::now() + Duration::from_secs(120);
    while !lab.answers(worker).await {
        assert!(
            Instant::now() < deadline,
            "worker-3 REST did not answer within 120 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let answering = started.elapsed();
    eprintln!(
        "kill took effect in {killed_in:.1?}; start returned in {start_returned:.1?} (pid {new_pid}), \
         REST answered {answering:.1?} after start"
    );
    // The REST status cannot tell the restarted worker-3 from the killed one (same worker_id):
    // check the mirror end to end instead, on every partition, before handing the lab on.
    let topic = unique_topic("kscen-faults", "after-kill");
    create_topic(&lab.source, &topic, PARTITIONS).await;
    let records = produce(&producer(&lab.source), &topic, "after", 20).await;
    let remote = lab.remote_topic(&topic).await;
    let mut mirror = Mirror::open(&lab.target, &remote).await;
    mirror
        .wait_all(&records, Duration::from_secs(60), "after the restart")
        .await;
    eprintln!(
        "MM2 replicates a new topic on every partition again {:.1?} after start",
        started.elapsed()
    );
    lab.wait_healthy(Duration::from_secs(30)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_worker_stops_answering_until_resumed() {
    let Some(lab) = lab() else { return };
    let _one_at_a_time = LAB.lock().await;
    let _repair = Repair(&lab.profile);
    let worker = "worker-2";
    let pid = lab.worker_pid(worker).expect("worker-2 runs");
    let started = Instant::now();
    lab.faults.inject(worker, Action::Pause).await.unwrap();
    let paused_in = started.elapsed();
    assert_eq!(proc_state(pid), Some('T'));
    assert!(
        !lab.answers(worker).await,
        "a paused JVM does not answer its REST API"
    );
    let started = Instant::now();
    lab.faults.inject(worker, Action::Resume).await.unwrap();
    let resumed_in = started.elapsed();
    assert_ne!(proc_state(pid), Some('T'));
    let deadline = Instant::now() + Duration::from_secs(10);
    while !lab.answers(worker).await {
        assert!(
            Instant::now() < deadline,
            "worker-2 did not answer after resume"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!(
        "pause took effect in {paused_in:.1?}, resume in {resumed_in:.1?}; REST answered {:.1?} after resume",
        started.elapsed()
    );
}
