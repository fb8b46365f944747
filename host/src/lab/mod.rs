//! `kscen lab`: a local lab of real Apache Kafka processes launched from Maven Central jars — two
//! KRaft clusters (`source`, `target`) of `--brokers N` nodes each, a distributed Kafka Connect cluster of three
//! workers running the three MirrorMaker 2 connectors, the Prometheus JMX exporter on every JVM,
//! two link proxies (`workers-to-source`, `workers-to-target`) through which the workers reach
//! the clusters, so a network cut between the workers and one cluster is a real one, and —
//! when `/usr/bin/prometheus` (or `prometheus` on PATH) is installed — a Prometheus server
//! scraping every exporter, for the profile's `kind = "prometheus"` probe. `up --secure` makes
//! the same lab with SASL_SSL (SCRAM-SHA-512) Kafka listeners and HTTPS + Basic auth on the
//! Connect REST API.
//!
//! Module map (one job each):
//! - `jars`: find Java / Maven / `lab/pom.xml`, resolve the jars into the cache folder;
//! - `topology`: process names and ports, state-dir layout;
//! - `config`: generated server/worker properties, log4j, JMX exporter rules, `prometheus.yml`,
//!   `start.sh`;
//! - `process`: launch, PID files, liveness, stop, sweep, port holders;
//! - `proxy`: `kscen lab proxy`, the link proxy that can be cut (SIGUSR1) and restored (SIGUSR2);
//! - `readiness`: wait for brokers, link proxies, workers, connectors and Prometheus, with
//!   progress lines;
//! - `connectors`: the lab's own MM2 connector configs and the Connect REST calls;
//! - `mm2_config`: a user's MM2 connector configs (`--mm2-config`), adapted to the lab;
//! - `profile`: the `profile.toml` that `kscen run --profile` reads;
//! - `security`: the secure lab's TLS material, passwords and security settings;
//! - `status`: the status table;
//! - `upgrade`: `kscen lab upgrade`, another Kafka version staged for one cluster's brokers.

mod config;
mod connectors;
mod jars;
mod mm2_config;
mod process;
mod profile;
mod proxy;
mod readiness;
mod security;
mod status;
mod topology;
mod upgrade;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use self::topology::{Kind, Process, Recorded, Topology};
use crate::faults::link_state::LinkState;

/// Default Kafka version: Confluent Platform 7.7.3 (the seeds' platform) ships Apache Kafka 3.7.
pub const DEFAULT_KAFKA_VERSION: &str = "3.7.2";

#[derive(clap::Subcommand, Debug)]
pub enum LabCommand {
    /// Start (or complete) the lab: 2 KRaft clusters of N nodes, 3 Connect workers, MM2 (the
    /// lab's three connectors, or those of --mm2-config).
    Up(UpArgs),
    /// Stop every lab process (SIGTERM, then SIGKILL after a timeout) and remove the profile.
    Down(DownArgs),
    /// Show processes, ports, connectors and tasks; exits non-zero unless the lab is fully up.
    Status(StateArgs),
    /// Print the tail of one process's log (source-1, target-1, worker-1..3, prometheus, ...).
    Logs(LogsArgs),
    /// Relaunch one stopped process through its start.sh.
    Start(ProcessArgs),
    /// Stop one process (SIGTERM, or SIGKILL with --kill).
    Stop(StopArgs),
    /// Stage another Kafka version for one cluster's brokers: each runs it from its next start,
    /// so a rolling restart (`scenarios/rolling-upgrade.toml`) upgrades the cluster under load.
    Upgrade(upgrade::UpgradeArgs),
    /// Internal: a link proxy (started by `up` through its start.sh; SIGUSR1 cuts, SIGUSR2
    /// restores).
    #[command(hide = true)]
    Proxy(proxy::ProxyArgs),
}

#[derive(clap::Args, Debug, Clone)]
pub struct StateArgs {
    /// Lab state folder (configs, data, logs, PID files, profile.toml).
    /// Default: $KSCEN_LAB_STATE, else ~/.cache/kscen/lab/state.
    #[arg(long, env = "KSCEN_LAB_STATE")]
    pub state_dir: Option<PathBuf>,
}

#[derive(clap::Args, Debug)]
pub struct UpArgs {
    #[command(flatten)]
    pub state: StateArgs,
    /// Apache Kafka version resolved from Maven Central (3.7.x = Confluent Platform 7.7; tested:
    /// 3.7.2, 3.9.1, 4.1.2, 4.3.1). Recorded in the state folder; default: the recorded one, else
    /// 3.7.2. Another version needs `down --purge` first.
    #[arg(long)]
    pub kafka_version: Option<String>,
    /// The Connect workers' rebalance timers: `lab` (session.timeout.ms 10000,
    /// heartbeat.interval.ms 3000, scheduled.rebalance.max.delay.ms 10000: a worker-kill scenario
    /// stays quick to test while still showing the delay) or `seeds` (30000 / 10000 / 60000, seed
    /// 003 §2.1). The three flags below override one each.
    #[arg(long, value_enum, default_value_t = Timers::Lab)]
    pub timers: Timers,
    /// Connect worker `session.timeout.ms`.
    #[arg(long)]
    pub session_timeout_ms: Option<u64>,
    /// Connect worker `heartbeat.interval.ms`.
    #[arg(long)]
    pub heartbeat_interval_ms: Option<u64>,
    /// Connect worker `scheduled.rebalance.max.delay.ms`: how long the tasks of a cleanly stopped
    /// worker wait before moving (Kafka's default is 300000).
    #[arg(long)]
    pub scheduled_rebalance_max_delay_ms: Option<u64>,
    /// The MirrorMaker 2 connectors to deploy instead of the lab's own three: a JSON file of the
    /// configs you send to your Connect (one `{"name": ..., "config": {...}}`, an array of them,
    /// or an object of name -> config), or a preset (`seed-003`: seed 003's recommended
    /// configuration and names). Names, aliases, policy, filters and overrides are kept; the
    /// bootstrap servers, security settings and replication factors above the broker count are
    /// rewritten for the lab, and printed. Recorded in the state folder; `default` goes back to
    /// the lab's own connectors.
    #[arg(long, value_name = "FILE|PRESET")]
    pub mm2_config: Option<String>,
    /// `tasks.max` of the lab's own mirror-source connector (default 4; with --mm2-config, the
    /// file says).
    #[arg(long)]
    pub source_tasks: Option<u32>,
    /// Added to every lab port (20000-20999), to run a second lab beside the default one, in
    /// steps of 1000 (the test suite uses 1000 and 4000). Up to 11000 the ports stay below Linux's
    /// default ephemeral port range. Recorded in the state folder; default: the recorded one, else 0.
    #[arg(long)]
    pub port_offset: Option<u16>,
    /// KRaft nodes per cluster, each broker and controller (the controller quorum is all of them).
    /// Default and internal topics get replication factor min(3, N), the clusters
    /// `min.insync.replicas` min(2, N). Recorded in the state folder; default: the recorded
    /// number, else 1. Another number needs `down --purge` first.
    #[arg(long)]
    pub brokers: Option<u16>,
    /// Seconds to wait for the whole lab to be ready.
    #[arg(long, default_value_t = 240)]
    pub timeout_secs: u64,
    /// Run the lab without its Prometheus server (stops one left running), even if installed.
    #[arg(long)]
    pub no_prometheus: bool,
    /// A secure lab: SASL_SSL with SCRAM-SHA-512 users (`kscen`, `connect`, and `broker` for
    /// inter-broker) on the brokers' client and proxied listeners, Connect REST over HTTPS with
    /// Basic auth. Certificates (made with keytool) in <state>/tls, passwords in <state>/secrets.
    /// Recorded in the state folder: later commands keep it; the state folder of a plain lab needs
    /// `down --purge` first.
    #[arg(long)]
    pub secure: bool,
}

/// Named sets of the Connect workers' rebalance timers (`up --timers`).
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timers {
    /// 10000 / 3000 / 10000 ms.
    Lab,
    /// Seed 003 §2.1: 30000 / 10000 / 60000 ms.
    Seeds,
}

impl UpArgs {
    /// The workers' timers: the `--timers` set, with the single flags given over it.
    fn worker_timers(&self) -> config::WorkerTimers {
        let preset = match self.timers {
            Timers::Lab => config::WorkerTimers::LAB,
            Timers::Seeds => config::WorkerTimers::SEEDS,
        };
        config::WorkerTimers {
            session_timeout_ms: self.session_timeout_ms.unwrap_or(preset.session_timeout_ms),
            heartbeat_interval_ms: self
                .heartbeat_interval_ms
                .unwrap_or(preset.heartbeat_interval_ms),
            scheduled_rebalance_max_delay_ms: self
                .scheduled_rebalance_max_delay_ms
                .unwrap_or(preset.scheduled_rebalance_max_delay_ms),
        }
    }
}

#[derive(clap::Args, Debug)]
pub struct DownArgs {
    #[command(flatten)]
    pub state: StateArgs,
    /// Also delete the state folder (Kafka data, logs, configs).
    #[arg(long)]
    pub purge: bool,
    /// Seconds to wait after SIGTERM before SIGKILL.
    #[arg(long, default_value_t = 30)]
    pub grace_secs: u64,
}

#[derive(clap::Args, Debug)]
pub struct LogsArgs {
    #[command(flatten)]
    pub state: StateArgs,
    /// Process name: source-1, target-1, worker-1..3, workers-to-source, workers-to-target,
    /// prometheus.
    pub process: String,
    /// Number of lines from the end.
    #[arg(short = 'n', long, default_value_t = 100)]
    pub lines: usize,
}

#[derive(clap::Args, Debug)]
pub struct ProcessArgs {
    #[command(flatten)]
    pub state: StateArgs,
    /// Process name: source-1, target-1, worker-1..3, workers-to-source, workers-to-target,
    /// prometheus.
    pub process: String,
}

#[derive(clap::Args, Debug)]
pub struct StopArgs {
    #[command(flatten)]
    pub state: StateArgs,
    /// Process name: source-1, target-1, worker-1..3, workers-to-source, workers-to-target,
    /// prometheus.
    pub process: String,
    /// SIGKILL instead of SIGTERM (an unclean failure).
    #[arg(long)]
    pub kill: bool,
}

/// A MirrorMaker 2 connector a lab deploys, as the tests that know the lab see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeployedConnector {
    pub name: String,
    pub source_alias: String,
    pub target_alias: String,
}

/// The MM2 connectors the lab of `state` deploys: those of its `--mm2-config`, else its own three.
pub fn deployed_connectors(state: &std::path::Path) -> Result<Vec<DeployedConnector>> {
    let topo = Topology::load(state)?;
    let (connectors, _) = mm2_config::lab_connectors(&topo, connectors::DEFAULT_SOURCE_TASKS)?;
    Ok(connectors
        .iter()
        .map(|c| {
            let (source_alias, target_alias) = mm2_config::aliases(c);
            DeployedConnector {
                name: c.name.clone(),
                source_alias,
                target_alias,
            }
        })
        .collect())
}

/// Where the lab of `state`'s Prometheus scrapes `kscen exporter`; `None` without Prometheus.
pub fn kscen_exporter_addr(state: &std::path::Path) -> Result<Option<String>> {
    Ok(Topology::load(state)?.kscen_exporter_addr())
}

pub async fn run(cmd: LabCommand) -> Result<()> {
    match cmd {
        LabCommand::Up(args) => up(args).await,
        LabCommand::Down(args) => down(args).await,
        LabCommand::Status(args) => {
            let topo = Topology::load(&topology::state_dir(args.state_dir)?)?;
            let (connectors, _) =
                mm2_config::lab_connectors(&topo, connectors::DEFAULT_SOURCE_TASKS)?;
            let report = status::collect(&topo, &connectors).await?;
            status::print(&report);
            if !report.fully_up() {
                bail!("the lab is not fully up (see above); `kscen lab up` starts or repairs it");
            }
            Ok(())
        }
        LabCommand::Logs(args) => {
            let topo = Topology::load(&topology::state_dir(args.state.state_dir)?)?;
            let p = topo.process(&args.process)?;
            let text = process::tail(&p.log_file(), args.lines)
                .with_context(|| format!("reading the log of {}", p.name))?;
            print!("{text}");
            Ok(())
        }
        LabCommand::Start(args) => {
            let topo = Topology::load(&topology::state_dir(args.state.state_dir)?)?;
            let p = topo.process(&args.process)?;
            if let Some(pid) = process::running_pid(p) {
                println!("{} is already running (pid {pid})", p.name);
                return Ok(());
            }
            let pid = process::launch(p).await?;
            println!("{} started (pid {pid})", p.name);
            Ok(())
        }
        LabCommand::Proxy(args) => proxy::run(args).await,
        LabCommand::Upgrade(args) => upgrade::upgrade(args).await,
        LabCommand::Stop(args) => {
            let topo = Topology::load(&topology::state_dir(args.state.state_dir)?)?;
            let p = topo.process(&args.process)?;
            let signal = if args.kill {
                libc::SIGKILL
            } else {
                libc::SIGTERM
            };
            match process::running_pid(p) {
                None => println!("{} is not running", p.name),
                Some(pid) => {
                    process::signal(pid, signal)?;
                    println!(
                        "sent {} to {} (pid {pid})",
                        process::signal_name(signal),
                        p.name
                    );
                }
            }
            Ok(())
        }
    }
}

async fn up(args: UpArgs) -> Result<()> {
    let started = Instant::now();
    let timers = args.worker_timers();
    // Kafka's own rule for group members; checked before anything starts.
    if timers.heartbeat_interval_ms * 3 > timers.session_timeout_ms {
        bail!(
            "heartbeat.interval.ms {} must be at most a third of session.timeout.ms {} \
             (--heartbeat-interval-ms, --session-timeout-ms, --timers)",
            timers.heartbeat_interval_ms,
            timers.session_timeout_ms
        );
    }
    let state = topology::state_dir(args.state.state_dir.clone())?;
    let secure = secure_choice(&state, args.secure)?;
    let offset = port_offset(&state, args.port_offset)?;
    let brokers = args.brokers.map(topology::check_brokers).transpose()?;
    let brokers = data_bound_choice(&state, Recorded::Brokers, "--brokers", brokers, 1)?;
    let kafka_version = data_bound_choice(
        &state,
        Recorded::KafkaVersion,
        "--kafka-version",
        args.kafka_version.clone(),
        DEFAULT_KAFKA_VERSION.to_string(),
    )?;
    let mut full = Topology::new(&state, offset, brokers)?;
    if secure {
        full = full.secured();
    }
    warn_ephemeral_ports(&full);
    // Before anything starts: a config the lab cannot deploy stops here.
    let users_mm2 = mm2_config::choose(&state, args.mm2_config.as_deref())?;
    if users_mm2 && args.source_tasks.is_some() {
        bail!(
            "--source-tasks sets the lab's own mirror-source; with --mm2-config, tasks.max comes \
             from the MM2 config"
        );
    }
    let source_tasks = args
        .source_tasks
        .unwrap_or(connectors::DEFAULT_SOURCE_TASKS);
    let (mm2, rewrites) = mm2_config::lab_connectors(&full, source_tasks)?;
    if users_mm2 {
        let names: Vec<&str> = mm2.iter().map(|c| c.name.as_str()).collect();
        println!(
            "MM2 connectors of --mm2-config (recorded in {}): {}",
            mm2_config::record_file(&state).display(),
            names.join(", ")
        );
        println!("rewritten for the lab:");
        for rewrite in &rewrites {
            println!("  {rewrite}");
        }
    }
    let deadline = started + Duration::from_secs(args.timeout_secs);
    let prometheus = match find_prometheus() {
        _ if args.no_prometheus => Err("--no-prometheus".to_string()),
        Some(binary) => Ok(binary),
        None => Err(format!(
            "{PROMETHEUS_BINARY} not installed (nor `prometheus` on PATH)"
        )),
    };
    let topo = match &prometheus {
        Ok(_) => {
            topology::store_prometheus_off(&state, None)?;
            full.clone()
        }
        Err(why) => {
            println!(
                "no Prometheus ({why}): the lab goes on without it and the profile has no \
                 prometheus probe"
            );
            topology::store_prometheus_off(&state, Some(why))?;
            // One left by an earlier `up` would otherwise outlive the lab's knowledge of it.
            if let Some(p) = full.prometheus() {
                process::stop_all(&[p], Duration::from_secs(10)).await?;
            }
            full.clone().without_prometheus()
        }
    };
    restore_cut_links(&topo).await?;
    // Before anything connects: the lab's clients need the CA and the passwords.
    if let Some(security) = &topo.security {
        let keytool = jars::keytool(&jars::check_java()?)?;
        let formatted = topo.brokers().any(config::storage_formatted);
        security.prepare(&keytool, formatted).await?;
    }

    // A running Prometheus keeps its TSDB; a scrape config from another kscen is reloaded.
    let mut reloaded = false;
    if let Some(p) = topo.prometheus() {
        if let Some(pid) = process::running_pid(p) {
            if config::refresh_prometheus_config(&topo, p)? {
                process::signal(pid, libc::SIGHUP)?;
                reloaded = true;
                println!(
                    "{:<17} scrape config updated: reloaded (SIGHUP, pid {pid})",
                    p.name
                );
            }
        }
    }

    // Idempotence: a fully healthy lab is reported, not started twice.
    let before = status::collect(&topo, &mm2).await?;
    if before.fully_up() {
        let before = if reloaded {
            readiness::wait_prometheus(&topo, deadline).await?;
            status::collect(&topo, &mm2).await?
        } else {
            before
        };
        profile::write(&topo)?;
        println!("the lab is already up ({})", state.display());
        for note in config::settings_drift(&topo, &timers) {
            println!("note: {note}; `kscen lab down` then `kscen lab up` to apply");
        }
        status::print(&before);
        println!("profile: {}", topo.profile_path().display());
        print_exporter_hint(&topo);
        return Ok(());
    }

    let running: Vec<&Process> = topo
        .processes
        .iter()
        .filter(|p| process::running_pid(p).is_some())
        .collect();
    let outdated = config::outdated_layout(&topo, &running);
    if !outdated.is_empty() {
        bail!(
            "{} run(s) with the configs of an older lab (other ports, or no link proxies); \
             `kscen lab down` then `kscen lab up` to recreate them",
            outdated.join(", ")
        );
    }

    let java = jars::check_java()?;
    let libs = jars::ensure_jars(&kafka_version).await?;
    let settings = config::Settings {
        kafka_version: kafka_version.clone(),
        java,
        libs,
        kscen: std::env::current_exe().context("finding the kscen binary for the link proxies")?,
        timers,
        prometheus: prometheus.ok(),
    };

    // Processes that already run are kept; the others get fresh configs and are launched.
    let mut to_start = Vec::new();
    for p in &topo.processes {
        match process::running_pid(p) {
            Some(pid) => println!("{:<17} already running (pid {pid})", p.name),
            None => to_start.push(p),
        }
    }
    for p in &to_start {
        process::check_ports_free(p)?;
    }
    for p in &to_start {
        config::write_process_files(&topo, p, &settings)?;
    }

    // Brokers first: the workers keep their internal topics on `target`.
    let brokers: Vec<_> = to_start
        .iter()
        .copied()
        .filter(|p| matches!(p.kind, Kind::Broker { .. }))
        .collect();
    config::format_storage(&topo, &brokers, &settings).await?;
    launch_all(&brokers).await?;
    // Prometheus needs nothing else: it starts now and scrapes the exporters as they come up.
    let prometheus: Vec<_> = to_start
        .iter()
        .copied()
        .filter(|p| p.kind == Kind::Prometheus)
        .collect();
    launch_all(&prometheus).await?;
    readiness::wait_brokers(&topo, deadline).await?;
    // The links next: the workers reach both clusters only through them.
    let proxies: Vec<_> = to_start
        .iter()
        .copied()
        .filter(|p| matches!(p.kind, Kind::Proxy { .. }))
        .collect();
    launch_all(&proxies).await?;
    readiness::wait_proxies(&topo, deadline).await?;
    connectors::create_seed_topic(&topo).await?;

    let workers: Vec<_> = to_start
        .iter()
        .copied()
        .filter(|p| matches!(p.kind, Kind::Worker))
        .collect();
    launch_all(&workers).await?;
    readiness::wait_workers(&topo, deadline).await?;
    // Every exporter is up once the workers answer; the connectors, checked last, are what the
    // final status table is most likely to catch mid-rebalance.
    readiness::wait_prometheus(&topo, deadline).await?;
    connectors::deploy_all(&topo, &mm2, deadline).await?;
    readiness::wait_connectors(&topo, &mm2, deadline).await?;

    profile::write(&topo)?;
    let report = status::collect(&topo, &mm2).await?;
    status::print(&report);
    println!("profile: {}", topo.profile_path().display());
    print_exporter_hint(&topo);
    println!(
        "lab up in {:.1}s (Kafka {}{}, state {})",
        started.elapsed().as_secs_f64(),
        settings.kafka_version,
        if secure { ", secure" } else { "" },
        state.display()
    );
    Ok(())
}

/// Says which ports lie in the kernel's range for outgoing connections' local ports (only a
/// large `--port-offset` puts them there): any client connection may be given one of them, and
/// the lab process that should listen on it then cannot.
fn warn_ephemeral_ports(topo: &Topology) {
    let Ok((low, high)) = process::ephemeral_port_range() else {
        return;
    };
    let inside = topo.ports_within(low, high);
    if let Some(first) = inside.first() {
        println!(
            "warning: {} of the lab's ports lie in net.ipv4.ip_local_port_range ({low}-{high}),              which the kernel hands out to outgoing connections, e.g. {first}; a smaller              --port-offset keeps the lab below {low}",
            inside.len()
        );
    }
}

/// Whether `up` makes a secure lab: asked with `--secure`, or recorded by an earlier `up
/// --secure`. A plain lab cannot become secure in place (its brokers were formatted without
/// SCRAM users, its clients speak PLAINTEXT), so that is refused while its folders exist.
fn secure_choice(state: &std::path::Path, asked: bool) -> Result<bool> {
    let recorded = security::recorded(state);
    if asked && !recorded {
        let plain = Topology::new(state, 0, topology::MAX_BROKERS)?;
        if let Some(p) = plain.processes.iter().find(|p| p.dir.exists()) {
            bail!(
                "the state folder {} holds a plain lab ({} exists); `kscen lab down --purge` \
                 first (it deletes the lab's data), or `--state-dir` another folder for the \
                 secure lab",
                state.display(),
                p.dir.display()
            );
        }
        security::record(state)?;
    }
    if recorded && !asked {
        println!(
            "the lab in {} is secure (made by `up --secure`); `kscen lab down --purge` to drop it",
            state.display()
        );
    }
    Ok(asked || recorded)
}

/// Where Debian's package `prometheus` puts the server.
const PROMETHEUS_BINARY: &str = "/usr/bin/prometheus";

/// `/usr/bin/prometheus`, else the first executable `prometheus` on PATH.
fn find_prometheus() -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt as _;
    let executable = |p: &std::path::Path| {
        p.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::iter::once(PathBuf::from(PROMETHEUS_BINARY))
        .chain(std::env::split_paths(&path).map(|dir| dir.join("prometheus")))
        .find(|p| executable(p))
}

/// Seed 004's lag rules read series the lab does not make: `kscen exporter` does, where the lab's
/// Prometheus scrapes it.
fn print_exporter_hint(topo: &Topology) {
    if let Some(addr) = topo.kscen_exporter_addr() {
        println!(
            "lag metrics for the seeds' rules: kscen exporter --profile {} --listen {addr}",
            topo.profile_path().display()
        );
    }
}

async fn launch_all(procs: &[&Process]) -> Result<()> {
    for p in procs {
        let pid = process::launch(p).await?;
        println!(
            "{:<17} launched (pid {pid}), log {}",
            p.name,
            p.log_file().display()
        );
    }
    Ok(())
}

/// A link left cut (by a scenario that failed before restoring it) is part of what `up` repairs.
async fn restore_cut_links(topo: &Topology) -> Result<()> {
    for p in topo.proxies() {
        if readiness::link_state(p) != Some(LinkState::Cut) {
            continue;
        }
        if let Some(pid) = process::running_pid(p) {
            process::signal(pid, libc::SIGUSR2)
                .with_context(|| format!("restoring the cut link {}", p.name))?;
            println!("{:<17} was cut: restored (SIGUSR2, pid {pid})", p.name);
        }
    }
    // The proxy applies it within milliseconds; readiness checks the outcome.
    tokio::time::sleep(Duration::from_millis(100)).await;
    Ok(())
}

/// The port offset for `up`: the one asked for, else the one the state folder recorded, else 0.
/// Changing it while processes of the old layout run would orphan them, so that is refused.
fn port_offset(state: &std::path::Path, asked: Option<u16>) -> Result<u16> {
    let stored = Recorded::PortOffset.read(state)?;
    let offset = asked.or(stored).unwrap_or(0);
    if let Some(old) = stored.filter(|&o| o != offset) {
        let brokers = Recorded::Brokers.read(state)?.unwrap_or(1);
        let old_topo = Topology::new(state, old, brokers)?;
        if old_topo
            .processes
            .iter()
            .any(|p| process::running_pid(p).is_some())
        {
            bail!(
                "the lab in {} runs with --port-offset {old}; `kscen lab down` before changing it",
                state.display()
            );
        }
    }
    Recorded::PortOffset.write(state, offset)?;
    Ok(offset)
}

/// A choice of `up` that the brokers' data depends on (`--brokers`: a node's data holds its
/// controller quorum; `--kafka-version`: the data's format): the value asked for, else the one
/// recorded in the state folder, else `default` (also what a lab from before the record used).
/// Another value than that over formatted brokers is refused.
fn data_bound_choice<T>(
    state: &std::path::Path,
    record: Recorded,
    flag: &str,
    asked: Option<T>,
    default: T,
) -> Result<T>
where
    T: Clone + PartialEq + std::fmt::Display + std::str::FromStr,
    T::Err: std::error::Error + Send + Sync + 'static,
{
    let before = record.read(state)?.unwrap_or(default);
    let value = asked.unwrap_or_else(|| before.clone());
    if value != before {
        let all = Topology::new(state, 0, topology::MAX_BROKERS)?;
        let formatted = all.brokers().find(|p| config::storage_formatted(p));
        if let Some(p) = formatted {
            bail!(
                "the lab in {} was made with {flag} {before} ({} holds a broker's data); \
                 `kscen lab down --purge` first (it deletes the lab's data), or `--state-dir` \
                 another folder",
                state.display(),
                p.dir.display()
            );
        }
    }
    record.write(state, &value)?;
    Ok(value)
}

async fn down(args: DownArgs) -> Result<()> {
    let state = topology::state_dir(args.state.state_dir)?;
    let topo = Topology::load(&state)?;
    let grace = Duration::from_secs(args.grace_secs);
    // Prometheus first (it only reads the others), whether or not the lab records one: a
    // `--no-prometheus` up does not forget one that runs.
    let offset = Recorded::PortOffset.read(&state)?.unwrap_or(0);
    let prometheus = Topology::new(&state, offset, topo.brokers_per_cluster)?;
    let mut stopped = process::stop_all(
        &prometheus.prometheus().into_iter().collect::<Vec<_>>(),
        grace,
    )
    .await?;
    // Workers first so they leave the group cleanly while their Kafka cluster is still there,
    // which needs the links open; then the links, then the brokers.
    restore_cut_links(&topo).await?;
    let workers: Vec<_> = topo.workers().collect();
    let proxies: Vec<_> = topo.proxies().collect();
    let brokers: Vec<_> = topo.brokers().collect();
    stopped += process::stop_all(&workers, grace).await?;
    stopped += process::stop_all(&proxies, grace).await?;
    stopped += process::stop_all(&brokers, grace).await?;
    // Anything else whose command line names this state folder (e.g. launched by hand).
    let swept = process::sweep(&state, grace).await?;
    let left = process::lab_pids(&state);
    if !left.is_empty() {
        bail!(
            "lab processes still alive after SIGKILL: {left:?}; check `ps -fp {}`",
            left.iter()
                .map(|p| p.to_string())
                .collect::<Vec<_>>()
                .join(",")
        );
    }
    let profile = topo.profile_path();
    if profile.exists() {
        std::fs::remove_file(&profile)
            .with_context(|| format!("removing {}", profile.display()))?;
    }
    if args.purge && state.exists() {
        std::fs::remove_dir_all(&state)
            .with_context(|| format!("removing the state folder {}", state.display()))?;
    }
    println!(
        "lab down: {} process(es) stopped{}, no lab process left{}",
        stopped + swept,
        if swept > 0 {
            format!(" ({swept} found by command line)")
        } else {
            String::new()
        },
        if args.purge { ", state purged" } else { "" }
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timers_come_as_a_set_and_single_flags_override_it() {
        #[derive(clap::Parser)]
        struct Up {
            #[command(flatten)]
            args: UpArgs,
        }
        let timers = |flags: &[&str]| {
            <Up as clap::Parser>::try_parse_from(std::iter::once("up").chain(flags.iter().copied()))
                .unwrap()
                .args
                .worker_timers()
        };
        let timers_of = |session, heartbeat, delay| config::WorkerTimers {
            session_timeout_ms: session,
            heartbeat_interval_ms: heartbeat,
            scheduled_rebalance_max_delay_ms: delay,
        };
        assert_eq!(timers(&[]), timers_of(10_000, 3_000, 10_000));
        assert_eq!(
            timers(&["--timers", "lab"]),
            timers_of(10_000, 3_000, 10_000)
        );
        assert_eq!(
            timers(&["--timers", "seeds"]),
            timers_of(30_000, 10_000, 60_000),
            "seed 003 section 2.1"
        );
        assert_eq!(
            timers(&[
                "--timers",
                "seeds",
                "--scheduled-rebalance-max-delay-ms",
                "20000"
            ]),
            timers_of(30_000, 10_000, 20_000)
        );
    }

    #[test]
    fn a_plain_lab_is_not_made_secure_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path();
        std::fs::create_dir_all(state.join("source-1")).unwrap();
        let error = format!("{:#}", secure_choice(state, true).unwrap_err());
        assert!(error.contains("kscen lab down --purge"), "{error}");
        assert!(!security::recorded(state));
        assert!(!secure_choice(state, false).unwrap(), "stays plain");
    }

    #[test]
    fn brokers_and_version_change_only_over_unformatted_brokers() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path();
        let brokers = |asked| data_bound_choice(state, Recorded::Brokers, "--brokers", asked, 1);
        assert_eq!(brokers(None).unwrap(), 1);
        assert_eq!(brokers(Some(3)).unwrap(), 3, "nothing formatted yet");
        assert_eq!(brokers(None).unwrap(), 3, "recorded");
        std::fs::create_dir_all(state.join("target-2/data")).unwrap();
        std::fs::write(state.join("target-2/data/meta.properties"), "").unwrap();
        let error = format!("{:#}", brokers(Some(1)).unwrap_err());
        assert!(error.contains("made with --brokers 3"), "{error}");
        assert!(error.contains("target-2"), "{error}");
        assert_eq!(brokers(Some(3)).unwrap(), 3);
        assert_eq!(Recorded::Brokers.read::<u16>(state).unwrap(), Some(3));

        let version = |asked: Option<&str>| {
            data_bound_choice(
                state,
                Recorded::KafkaVersion,
                "--kafka-version",
                asked.map(String::from),
                DEFAULT_KAFKA_VERSION.to_string(),
            )
        };
        assert_eq!(
            version(None).unwrap(),
            DEFAULT_KAFKA_VERSION,
            "a lab from before"
        );
        let error = format!("{:#}", version(Some("4.3.1")).unwrap_err());
        assert!(error.contains("made with --kafka-version 3.7.2"), "{error}");
    }

    #[test]
    fn a_secure_lab_stays_secure() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path();
        assert!(secure_choice(state, true).unwrap());
        assert!(security::recorded(state));
        std::fs::create_dir_all(state.join("source-1")).unwrap();
        assert!(secure_choice(state, true).unwrap());
        assert!(
            secure_choice(state, false).unwrap(),
            "recorded: kept without --secure"
        );
    }
}
