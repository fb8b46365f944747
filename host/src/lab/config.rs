//! Generated files of each lab process: server/worker properties, log4j, JMX exporter rules, and
//! `start.sh`, the detached launcher that `up`, `kscen lab start` and the profile's `start` action
//! all use — so a process is always relaunched exactly as `up` launched it. A link proxy only has
//! its `start.sh` (it runs `kscen lab proxy`). A secure lab's properties end with the settings of
//! `security` (SASL_SSL, HTTPS, Basic auth).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use super::jars::{Libs, Logging};
use super::security::{self, Security};
use super::topology::{Kind, Process, Route, Topology, CONNECT_GROUP, TARGET_ALIAS};
use crate::faults::link_state;

const LOG4J: &str = include_str!("../../../lab/templates/log4j.properties");
const LOG4J2: &str = include_str!("../../../lab/templates/log4j2.properties");
const JMX_BROKER: &str = include_str!("../../../lab/templates/jmx-broker.yml");
const JMX_CONNECT: &str = include_str!("../../../lab/templates/jmx-connect.yml");
const RULES: &str = include_str!("../../../lab/templates/prometheus-rules.yml");
/// Beside `prometheus.yml`, which names it relative to itself.
const RULES_FILE: &str = "rules.yml";

const BYTE_ARRAY_CONVERTER: &str = "org.apache.kafka.connect.converters.ByteArrayConverter";

#[derive(Debug, Clone)]
pub struct Settings {
    pub kafka_version: String,
    pub java: PathBuf,
    pub libs: Libs,
    /// This kscen binary: the link proxies run `<kscen> lab proxy`.
    pub kscen: PathBuf,
    pub timers: WorkerTimers,
    /// The Prometheus binary, when the lab runs one.
    pub prometheus: Option<PathBuf>,
}

/// The Connect workers' group timers: they decide what a worker-kill scenario measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkerTimers {
    pub session_timeout_ms: u64,
    pub heartbeat_interval_ms: u64,
    pub scheduled_rebalance_max_delay_ms: u64,
}

impl WorkerTimers {
    /// A worker-kill scenario stays quick to test while still showing the delay.
    pub const LAB: WorkerTimers = WorkerTimers {
        session_timeout_ms: 10_000,
        heartbeat_interval_ms: 3_000,
        scheduled_rebalance_max_delay_ms: 10_000,
    };
    /// Seed 003 §2.1.
    pub const SEEDS: WorkerTimers = WorkerTimers {
        session_timeout_ms: 30_000,
        heartbeat_interval_ms: 10_000,
        scheduled_rebalance_max_delay_ms: 60_000,
    };
}

/// Writes every file the process needs to start (configs, log4j, JMX rules, start.sh).
pub fn write_process_files(topo: &Topology, p: &Process, s: &Settings) -> Result<()> {
    std::fs::create_dir_all(&p.dir)
        .with_context(|| format!("creating the state folder {}", p.dir.display()))?;
    let (config_name, config, jmx) = match &p.kind {
        Kind::Broker {
            cluster,
            node_id,
            controller_port,
            proxied_port,
        } => (
            "server.properties",
            server_properties(topo, p, cluster, *node_id, *controller_port, *proxied_port),
            JMX_BROKER,
        ),
        Kind::Worker => (
            "worker.properties",
            worker_properties(topo, p, s),
            JMX_CONNECT,
        ),
        Kind::Proxy { routes, .. } => {
            let command = proxy_command(p, routes, s);
            return write(&p.start_script(), &start_script(p, s, command));
        }
        Kind::Prometheus => {
            let Some(binary) = &s.prometheus else {
                bail!(
                    "{} needs the prometheus binary, which was not found",
                    p.name
                );
            };
            write(&p.prometheus_config(), &prometheus_yml(topo))?;
            write(&p.dir.join(RULES_FILE), RULES)?;
            let command = prometheus_command(p, binary);
            return write(&p.start_script(), &start_script(p, s, command));
        }
    };
    write(&p.dir.join(config_name), &config)?;
    let logging = match s.libs.logging {
        Logging::Reload4j => LOG4J,
        Logging::Log4j2 => LOG4J2,
    };
    write(&p.dir.join(s.libs.logging.config_file()), logging)?;
    write(&p.dir.join("jmx-exporter.yml"), jmx)?;
    let command = java_command(p, s, config_name, topo.security.as_ref());
    write(&p.start_script(), &start_script(p, s, command))?;
    Ok(())
}

/// `kscen lab proxy`: forwards each of the link's ports to its broker's `PROXIED` listener.
fn proxy_command(p: &Process, routes: &[Route], s: &Settings) -> Vec<String> {
    let mut command = vec![
        s.kscen.display().to_string(),
        "lab".into(),
        "proxy".into(),
        p.marker(),
    ];
    for r in routes {
        command.push("--route".into());
        command.push(format!("127.0.0.1:{}=127.0.0.1:{}", r.listen, r.upstream));
    }
    command.push("--state-file".into());
    command.push(link_state::state_file(&p.pid_file()).display().to_string());
    command
}

/// Scrape interval (and timeout) of the lab's Prometheus for the Connect workers (`mm2-connect`):
/// 1 s, so a fault's effect on MM2's lag or latency shows within a second or two. A worker's
/// exporter renders ~1000 series in 0.1-0.4 s, which costs the worker ~7% of a core at 1 s.
pub const SCRAPE_INTERVAL_SECS: u64 = 1;
/// The brokers' exporters render ~4000 series (one set per partition) in 0.4-1.1 s on a loaded
/// 2-core machine: at 1 s they timed out 75% of the time and cost each broker a third of a core
/// (measured), so the broker jobs scrape every 5 s (the seeds' broker queries use `rate(..[1m])`).
pub const BROKER_SCRAPE_INTERVAL_SECS: u64 = 5;
/// The TSDB keeps two hours: a lab run is minutes long and the disk is a developer's.
const RETENTION: &str = "2h";

/// The job of an exporter, named as in the seeds' queries (`kafka-source`, `kafka-target`,
/// `mm2-connect`).
pub fn prometheus_job(p: &Process) -> Option<String> {
    match &p.kind {
        Kind::Broker { cluster, .. } => Some(format!("kafka-{cluster}")),
        Kind::Worker => Some("mm2-connect".to_string()),
        Kind::Proxy { .. } | Kind::Prometheus => None,
    }
}

/// `prometheus.yml`: one job per role, one static target per exporter, labelled with the lab
/// process (`process="worker-2"`) since `instance` is only `127.0.0.1:<port>`.
fn prometheus_yml(topo: &Topology) -> String {
    let mut jobs: Vec<(String, Vec<&Process>)> = Vec::new();
    for p in topo.exporters() {
        let Some(job) = prometheus_job(p) else {
            continue;
        };
        match jobs.iter_mut().find(|(j, _)| *j == job) {
            Some((_, procs)) => procs.push(p),
            None => jobs.push((job, vec![p])),
        }
    }
    let mut out = format!(
        "# generated by `kscen lab up`: the lab's Prometheus scrapes every JMX exporter\n\
         global:\n\
         \x20 scrape_interval: {SCRAPE_INTERVAL_SECS}s\n\
         \x20 scrape_timeout: {SCRAPE_INTERVAL_SECS}s\n\
         \x20 evaluation_interval: {SCRAPE_INTERVAL_SECS}s\n\
         rule_files:\n\
         \x20 - {RULES_FILE}\n\
         scrape_configs:\n"
    );
    for (job, procs) in jobs {
        let _ = writeln!(out, "  - job_name: {job}");
        if procs.iter().any(|p| matches!(p.kind, Kind::Broker { .. })) {
            let _ = write!(
                out,
                "    scrape_interval: {BROKER_SCRAPE_INTERVAL_SECS}s\n    \
                 scrape_timeout: {BROKER_SCRAPE_INTERVAL_SECS}s\n"
            );
        }
        out.push_str("    static_configs:\n");
        for p in procs {
            let _ = write!(
                out,
                "      - targets: ['127.0.0.1:{}']\n        labels: {{process: {}}}\n",
                p.jmx_port.unwrap_or_default(),
                p.name
            );
        }
    }
    // The seeds' lag monitor (seed 004's rules read its series), answered by `kscen exporter`
    // when someone runs it; down otherwise, which the lab's readiness does not wait for.
    if let Some(addr) = topo.kscen_exporter_addr() {
        let _ = write!(
            out,
            "  - job_name: {KSCEN_EXPORTER_JOB}\n    static_configs:\n      - targets: ['{addr}']\n"
        );
    }
    out
}

/// The Prometheus job of `kscen exporter`, as seed 004's lag monitor is reached (`mm2-metrics`).
pub const KSCEN_EXPORTER_JOB: &str = "mm2-metrics";

/// Rewrites `prometheus.yml` and its rules if they differ from what this lab generates; true if it did (the
/// running server then needs a SIGHUP to reload it).
pub fn refresh_prometheus_config(topo: &Topology, p: &Process) -> Result<bool> {
    let mut changed = false;
    for (path, wanted) in [
        (p.prometheus_config(), prometheus_yml(topo)),
        (p.dir.join(RULES_FILE), RULES.to_string()),
    ] {
        if std::fs::read_to_string(&path).is_ok_and(|current| current == wanted) {
            continue;
        }
        write(&path, &wanted)?;
        changed = true;
    }
    Ok(changed)
}

/// `prometheus` with its TSDB in the process folder, listening on loopback only.
fn prometheus_command(p: &Process, binary: &Path) -> Vec<String> {
    let dir = p.dir.display();
    vec![
        binary.display().to_string(),
        p.marker(),
        format!("--storage.tsdb.path={dir}/data"),
        format!("--storage.tsdb.retention.time={RETENTION}"),
        format!("--web.listen-address=127.0.0.1:{}", p.port),
        "--log.level=info".into(),
    ]
}

fn write(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

/// The `PROXIED` listener advertises the link proxy's port for this broker: a client that came
/// in through the proxy is sent back to the proxy for every broker, so it never bypasses the link.
fn server_properties(
    topo: &Topology,
    p: &Process,
    cluster: &str,
    node_id: u16,
    controller_port: u16,
    proxied_port: u16,
) -> String {
    let data = p.dir.join("data");
    let proxy_port = topo.route_to(proxied_port).unwrap_or(proxied_port);
    let (direct, comment, protocol_map) = match topo.security {
        None => (
            "PLAINTEXT",
            "# PLAINTEXT: direct (kscen, tests); PROXIED: the Connect workers, through the link proxy\n",
            "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,PROXIED:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL",
        ),
        Some(_) => (
            security::DIRECT_LISTENER,
            "# SASL_SSL: direct (kscen, tests, inter-broker); PROXIED: the Connect workers, through the\n\
             # link proxy, also SASL_SSL; only the controller listener stays PLAINTEXT\n",
            "CONTROLLER:PLAINTEXT,SASL_SSL:SASL_SSL,PROXIED:SASL_SSL",
        ),
    };
    let security = topo.security.as_ref().map(Security::broker_settings);
    format!(
        "# generated by `kscen lab up`: KRaft node {node_id} (broker + controller) of `{cluster}`, \
         `{name}`;\n\
         # the controller quorum is every node of the cluster\n\
         process.roles=broker,controller\n\
         node.id={node_id}\n\
         controller.quorum.voters={voters}\n\
         {comment}\
         listeners={direct}://127.0.0.1:{port},PROXIED://127.0.0.1:{proxied_port},CONTROLLER://127.0.0.1:{controller_port}\n\
         advertised.listeners={direct}://127.0.0.1:{port},PROXIED://127.0.0.1:{proxy_port}\n\
         inter.broker.listener.name={direct}\n\
         controller.listener.names=CONTROLLER\n\
         listener.security.protocol.map={protocol_map}\n\
         log.dirs={data}\n\
         num.partitions=4\n\
         # {brokers} broker(s): replication factor min(3, brokers), min.insync.replicas min(2, brokers)\n\
         default.replication.factor={rf}\n\
         min.insync.replicas={min_isr}\n\
         offsets.topic.replication.factor={rf}\n\
         offsets.topic.num.partitions=10\n\
         transaction.state.log.replication.factor={rf}\n\
         transaction.state.log.min.isr={min_isr}\n\
         transaction.state.log.num.partitions=10\n\
         group.initial.rebalance.delay.ms=0\n\
         auto.create.topics.enable=false\n\
         # small segments, short retention, deleted topics' files gone within a second: the lab\n\
         # lives on a developer's disk, and a bench run writes gigabytes into topics it deletes\n\
         log.segment.bytes=67108864\n\
         log.segment.delete.delay.ms=1000\n\
         log.retention.hours=6\n\
         {security}",
        name = p.name,
        voters = topo.quorum_voters(cluster),
        port = p.port,
        data = data.display(),
        brokers = topo.brokers_per_cluster,
        rf = topo.replication_factor(),
        min_isr = topo.min_insync_replicas(),
        security = security.unwrap_or_default(),
    )
}

fn worker_properties(topo: &Topology, p: &Process, s: &Settings) -> String {
    let security = topo.security.as_ref().map(Security::worker_settings);
    format!(
        "# generated by `kscen lab up`: distributed Connect worker `{name}`, MM2 runs here\n\
         # MM2 writes with the worker's producer and the internal topics live there: the target,\n\
         # through the link proxy workers-to-target (a cut there cuts the worker off its group).\n\
         bootstrap.servers={target}\n\
         group.id={CONNECT_GROUP}\n\
         config.storage.topic=connect-configs\n\
         offset.storage.topic=connect-offsets\n\
         status.storage.topic=connect-status\n\
         config.storage.replication.factor={rf}\n\
         offset.storage.replication.factor={rf}\n\
         status.storage.replication.factor={rf}\n\
         offset.storage.partitions=5\n\
         status.storage.partitions=3\n\
         # records stay byte-identical across the mirror\n\
         key.converter={BYTE_ARRAY_CONVERTER}\n\
         value.converter={BYTE_ARRAY_CONVERTER}\n\
         header.converter={BYTE_ARRAY_CONVERTER}\n\
         # REST worker_id is then exactly 127.0.0.1:{port}\n\
         listeners={url}\n\
         rest.advertised.host.name=127.0.0.1\n\
         rest.advertised.port={port}\n\
         rest.advertised.listener={scheme}\n\
         # rebalance settings decide what the worker-kill scenario measures (seeds: 30000/10000/60000)\n\
         session.timeout.ms={session}\n\
         heartbeat.interval.ms={heartbeat}\n\
         rebalance.timeout.ms=60000\n\
         scheduled.rebalance.max.delay.ms={delay}\n\
         # short, so a clean stop loses little and at-least-once duplicates stay few\n\
         offset.flush.interval.ms=5000\n\
         offset.flush.timeout.ms=5000\n\
         connector.client.config.override.policy=All\n\
         {security}",
        name = p.name,
        target = topo.workers_bootstrap(TARGET_ALIAS),
        url = p.url(),
        port = p.port,
        scheme = p.scheme(),
        security = security.unwrap_or_default(),
        rf = topo.replication_factor(),
        session = s.timers.session_timeout_ms,
        heartbeat = s.timers.heartbeat_interval_ms,
        delay = s.timers.scheduled_rebalance_max_delay_ms,
    )
}

/// Differences between what `up` was asked for and what the running workers were started with
/// (an `up` on a running lab starts nothing, so new settings would silently not apply). The Kafka
/// version and broker count are not among them: `up` refuses to change those over a lab's data.
pub fn settings_drift(topo: &Topology, timers: &WorkerTimers) -> Vec<String> {
    let wanted = [
        ("session.timeout.ms", timers.session_timeout_ms.to_string()),
        (
            "heartbeat.interval.ms",
            timers.heartbeat_interval_ms.to_string(),
        ),
        (
            "scheduled.rebalance.max.delay.ms",
            timers.scheduled_rebalance_max_delay_ms.to_string(),
        ),
    ];
    // (key, running value, wanted value) -> workers
    let mut drift: std::collections::BTreeMap<(&str, String, &str), Vec<&str>> = Default::default();
    for w in topo.workers() {
        let Ok(text) = std::fs::read_to_string(w.worker_properties()) else {
            continue;
        };
        for (key, value) in &wanted {
            let current = text
                .lines()
                .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
                .map(str::trim);
            if let Some(current) = current.filter(|c| c != value) {
                drift
                    .entry((key, current.to_string(), value.as_str()))
                    .or_default()
                    .push(&w.name);
            }
        }
    }
    drift
        .into_iter()
        .map(|((key, current, value), names)| {
            format!(
                "{} run(s) with {key}={current}, not {value}",
                names.join(", ")
            )
        })
        .collect()
}

/// Running brokers and workers whose configs predate this lab's layout: no `PROXIED` listener on
/// this lab's port (a lab from before the link proxies, or before the ports moved below the
/// ephemeral range), or a worker bootstrap that is not this lab's link proxy. Keeping them would
/// leave the workers outside the links' reach, or the proxies forwarding to a port nobody
/// listens on.
pub fn outdated_layout(topo: &Topology, running: &[&Process]) -> Vec<String> {
    let mut outdated = Vec::new();
    for p in running {
        let (file, needle) = match p.kind {
            Kind::Broker { proxied_port, .. } => (
                "server.properties",
                format!("PROXIED://127.0.0.1:{proxied_port},"),
            ),
            Kind::Worker => (
                "worker.properties",
                format!(
                    "bootstrap.servers={}\n",
                    topo.workers_bootstrap(TARGET_ALIAS)
                ),
            ),
            Kind::Proxy { .. } | Kind::Prometheus => continue,
        };
        let current = std::fs::read_to_string(p.dir.join(file)).unwrap_or_default();
        if !current.contains(&needle) {
            outdated.push(p.name.clone());
        }
    }
    outdated
}

/// Single-quotes a word for /bin/sh.
fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The JVM command line, as the `bin/` scripts build it (heap, G1, log4j, logs dir); in a secure
/// lab, a worker also gets the JAAS file of its REST Basic auth.
fn java_command(
    p: &Process,
    s: &Settings,
    config_name: &str,
    security: Option<&Security>,
) -> Vec<String> {
    let (heap, main) = match p.kind {
        Kind::Broker { .. } => ("384m", "kafka.Kafka"),
        _ => ("512m", "org.apache.kafka.connect.cli.ConnectDistributed"),
    };
    let rest_jaas = security
        .filter(|_| p.kind == Kind::Worker)
        .map(Security::rest_jaas_option);
    let dir = p.dir.display();
    let mut command = vec![
        s.java.display().to_string(),
        "-Xms128m".into(),
        format!("-Xmx{heap}"),
        "-server".into(),
        "-XX:+UseG1GC".into(),
        "-XX:MaxGCPauseMillis=20".into(),
        "-XX:InitiatingHeapOccupancyPercent=35".into(),
        "-XX:+ExplicitGCInvokesConcurrent".into(),
        "-XX:MaxInlineLevel=15".into(),
        "-Djava.awt.headless=true".into(),
        // names the process in `ps` and lets `down` find strays by command line
        format!("-Dkscen.lab.process={}", p.name),
        format!("-Dkafka.logs.dir={dir}/logs"),
        s.libs
            .logging
            .jvm_option(&p.dir.join(s.libs.logging.config_file())),
        format!(
            "-javaagent:{}=127.0.0.1:{}:{dir}/jmx-exporter.yml",
            s.libs.agent_jar.display(),
            p.jmx_port.unwrap_or_default()
        ),
    ];
    command.extend(rest_jaas);
    command.extend([
        "-cp".into(),
        // the JVM expands `*` itself; start.sh quotes it so the shell does not
        format!("{}/*", s.libs.libs.display()),
        main.into(),
        format!("{dir}/{config_name}"),
    ]);
    command
}

fn start_script(p: &Process, s: &Settings, command: Vec<String>) -> String {
    let cmd = command
        .iter()
        .map(|w| sh_quote(w))
        .collect::<Vec<_>>()
        .join(" \\\n    ");
    let mut out = String::new();
    let _ = write!(
        out,
        "#!/bin/sh\n\
         # generated by `kscen lab up` (Kafka {version}): relaunches `{name}` detached and returns\n\
         # at once. Output is appended to the log; the process's PID is written to the pid file.\n\
         PID_FILE={pid}\n\
         LOG_FILE={log}\n\
         cd {dir} || exit 1\n\
         # Already running (our process under that PID)? Then a second one would only fail on its\n\
         # ports and take the PID file away from the running one.\n\
         OLD=$(cat \"$PID_FILE\" 2>/dev/null)\n\
         if [ -n \"$OLD\" ] && grep -qaF -e {marker} \"/proc/$OLD/cmdline\" 2>/dev/null; then\n\
         \x20   echo \"{name} is already running (pid $OLD)\" >&2; echo \"$OLD\"; exit 0\n\
         fi\n\
         rm -f \"$PID_FILE\"\n\
         echo \"=== kscen lab: starting {name} at $(date -u +%Y-%m-%dT%H:%M:%SZ) ===\" >> \"$LOG_FILE\"\n\
         # setsid: own session, so the process outlives this shell and its terminal; the inner sh\n\
         # records its own PID, then exec's the command, so the PID is the process's.\n\
         setsid /bin/sh -c 'echo $$ > \"$0\"; exec \"$@\"' \"$PID_FILE\" \\\n    {cmd} \\\n    >> \"$LOG_FILE\" 2>&1 < /dev/null &\n\
         i=0\n\
         while [ ! -s \"$PID_FILE\" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done\n\
         if [ ! -s \"$PID_FILE\" ]; then echo \"{name}: no PID after 5s, see $LOG_FILE\" >&2; exit 1; fi\n\
         cat \"$PID_FILE\"\n",
        version = s.kafka_version,
        name = p.name,
        marker = sh_quote(&p.marker()),
        pid = sh_quote(&p.pid_file().display().to_string()),
        log = sh_quote(&p.log_file().display().to_string()),
        dir = sh_quote(&p.dir.display().to_string()),
    );
    out
}

/// Whether the broker's KRaft storage is formatted (and so, in a secure lab, holds its SCRAM users).
pub fn storage_formatted(broker: &Process) -> bool {
    broker.dir.join("data/meta.properties").is_file()
}

/// Formats the KRaft storage of brokers not yet formatted with their cluster's id (one per
/// cluster, kept in each of its brokers' `<dir>/cluster.id`), and in a secure lab with its SCRAM
/// users. Formats run in parallel: each is a JVM start of a few seconds.
pub async fn format_storage(topo: &Topology, brokers: &[&Process], s: &Settings) -> Result<()> {
    // The passwords pass on the format command line only, which start.sh and the logs never show.
    let scram = match &topo.security {
        Some(security) => security.scram_arguments()?,
        None => Vec::new(),
    };
    let mut jobs = Vec::new();
    for p in brokers {
        if storage_formatted(p) {
            continue;
        }
        let Kind::Broker { cluster, .. } = p.kind else {
            bail!("{} is not a broker: it has no KRaft storage", p.name);
        };
        let id = cluster_id(topo, cluster)?;
        write(&p.dir.join("cluster.id"), &id)?;
        let users = if scram.is_empty() {
            String::new()
        } else {
            format!(", SCRAM users {}", security::SCRAM_USERS.join(", "))
        };
        println!(
            "{:<9} formatting KRaft storage (cluster id {id}{users})",
            p.name
        );
        let cmd = tokio::process::Command::new(&s.java)
            .arg("-Xmx256m")
            .arg(
                s.libs
                    .logging
                    .jvm_option(&p.dir.join(s.libs.logging.config_file())),
            )
            .arg("-cp")
            .arg(format!("{}/*", s.libs.libs.display()))
            .arg("kafka.tools.StorageTool")
            .arg("format")
            .arg("-t")
            .arg(&id)
            .arg("-c")
            .arg(p.dir.join("server.properties"))
            .arg("--ignore-formatted")
            .args(&scram)
            .output();
        jobs.push((p.name.clone(), tokio::spawn(cmd)));
    }
    for (name, job) in jobs {
        let out = job
            .await
            .context("format task panicked")?
            .with_context(|| format!("running kafka.tools.StorageTool for {name}"))?;
        if !out.status.success() {
            let output = String::from_utf8_lossy(&out.stdout).to_string()
                + &String::from_utf8_lossy(&out.stderr);
            bail!(
                "formatting the KRaft storage of {name} failed:\n{}",
                without_scram_passwords(&output, &scram)
            );
        }
    }
    Ok(())
}

/// The id of `cluster`: the one its brokers keep in `cluster.id`, else a new one.
fn cluster_id(topo: &Topology, cluster: &str) -> Result<String> {
    let kept = topo.cluster_brokers(cluster).find_map(|b| {
        let id = std::fs::read_to_string(b.dir.join("cluster.id")).ok()?;
        Some(id.trim().to_string()).filter(|id| !id.is_empty())
    });
    match kept {
        Some(id) => Ok(id),
        None => random_cluster_id(),
    }
}

/// `text` without the passwords of the `--add-scram` arguments (an error may echo them).
fn without_scram_passwords(text: &str, scram: &[String]) -> String {
    scram
        .iter()
        .filter_map(|arg| arg.split_once("password=")?.1.strip_suffix(']'))
        .fold(text.to_string(), |text, password| {
            text.replace(password, "<password>")
        })
}

/// A Kafka cluster id: 16 random bytes, URL-safe base64 without padding (what
/// `kafka-storage random-uuid` prints); Kafka rejects ids starting with '-'.
fn random_cluster_id() -> Result<String> {
    use base64::Engine as _;
    use std::io::Read as _;
    let mut f = std::fs::File::open("/dev/urandom").context("opening /dev/urandom")?;
    loop {
        let mut b = [0u8; 16];
        f.read_exact(&mut b).context("reading /dev/urandom")?;
        let id = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
        if !id.starts_with('-') && b != [0u8; 16] {
            return Ok(id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_ids_are_kafka_uuids() {
        let id = random_cluster_id().unwrap();
        assert_eq!(id.len(), 22);
        assert!(!id.starts_with('-'));
    }

    #[test]
    fn configs_from_before_the_links_are_outdated() {
        let dir = tempfile::tempdir().unwrap();
        let topo = Topology::new(dir.path(), 0, 1).unwrap();
        let broker = topo.process("source-1").unwrap();
        let worker = topo.process("worker-1").unwrap();
        for p in [broker, worker] {
            std::fs::create_dir_all(&p.dir).unwrap();
        }
        let old_broker = "listeners=PLAINTEXT://127.0.0.1:20112,CONTROLLER://127.0.0.1:20113\n";
        write(&broker.dir.join("server.properties"), old_broker).unwrap();
        let old_worker = "bootstrap.servers=127.0.0.1:20212\n";
        write(&worker.dir.join("worker.properties"), old_worker).unwrap();
        assert_eq!(
            outdated_layout(&topo, &[broker, worker]),
            ["source-1", "worker-1"]
        );

        let current = broker_config(&topo, "source-1");
        assert!(current.contains("PROXIED://127.0.0.1:20114,"), "{current}");
        assert!(
            current.contains("PROXIED://127.0.0.1:20115\n"),
            "advertises the proxy"
        );
        write(&broker.dir.join("server.properties"), &current).unwrap();
        let new_worker = "bootstrap.servers=127.0.0.1:20215\n";
        write(&worker.dir.join("worker.properties"), new_worker).unwrap();
        assert!(outdated_layout(&topo, &[broker, worker]).is_empty());
    }

    /// Prometheus refuses to start on a rules file it cannot load: `promtool` checks ours (CI
    /// installs it with Prometheus).
    #[test]
    fn the_rules_file_is_one_prometheus_loads() {
        let dir = tempfile::tempdir().unwrap();
        let rules = dir.path().join(RULES_FILE);
        write(&rules, RULES).unwrap();
        let checked = match std::process::Command::new("promtool")
            .arg("check")
            .arg("rules")
            .arg(&rules)
            .output()
        {
            Ok(output) => output,
            Err(_) if std::env::var("CI").as_deref() != Ok("true") => {
                eprintln!("skipped: no promtool (apt-get install prometheus)");
                return;
            }
            Err(e) => panic!("CI=true and promtool cannot run: {e}"),
        };
        let said = String::from_utf8_lossy(&checked.stdout);
        assert!(
            checked.status.success(),
            "{said}{}",
            String::from_utf8_lossy(&checked.stderr)
        );
        // Seed 003's seven alerts, seed 004's six alerts and four recording rules, and six names
        // of the seeds' older exporters.
        assert!(said.contains("SUCCESS: 23 rules found"), "{said}");
    }

    #[test]
    fn prometheus_scrapes_every_exporter_under_the_seeds_job_names() {
        let topo = Topology::new(Path::new("/tmp/s"), 3000, 1).unwrap();
        let yml = prometheus_yml(&topo);
        assert!(yml.starts_with("# generated"), "{yml}");
        assert!(yml.contains("\nglobal:\n  scrape_interval: 1s\n"), "{yml}");
        assert!(yml.contains("\nrule_files:\n  - rules.yml\n"), "{yml}");
        for (job, target, process) in [
            ("kafka-source", "23116", "source-1"),
            ("kafka-target", "23216", "target-1"),
            ("mm2-connect", "23404", "worker-1"),
            ("mm2-connect", "23406", "worker-3"),
        ] {
            assert!(yml.contains(&format!("  - job_name: {job}\n")), "{yml}");
            assert!(
                yml.contains(&format!(
                    "      - targets: ['127.0.0.1:{target}']\n        labels: {{process: {process}}}\n"
                )),
                "{yml}"
            );
        }
        assert!(
            yml.ends_with("  - job_name: mm2-metrics\n    static_configs:\n      - targets: ['127.0.0.1:23091']\n"),
            "kscen exporter, after Prometheus's own port: {yml}"
        );
        assert_eq!(yml.matches("job_name").count(), 4);
        assert_eq!(yml.matches("    scrape_interval: 5s\n").count(), 2, "{yml}");
        assert_eq!(yml.matches("targets:").count(), 6);
    }

    fn settings() -> Settings {
        Settings {
            kafka_version: "3.7.2".into(),
            java: "/usr/bin/java".into(),
            libs: Libs {
                libs: "/cache/libs".into(),
                agent_jar: "/cache/agent.jar".into(),
                logging: Logging::Reload4j,
            },
            kscen: "/usr/bin/kscen".into(),
            timers: WorkerTimers {
                session_timeout_ms: 10_000,
                heartbeat_interval_ms: 3_000,
                scheduled_rebalance_max_delay_ms: 10_000,
            },
            prometheus: Some("/usr/bin/prometheus".into()),
        }
    }

    fn broker_config(topo: &Topology, name: &str) -> String {
        let broker = topo.process(name).unwrap();
        let Kind::Broker {
            cluster,
            node_id,
            controller_port,
            proxied_port,
        } = broker.kind
        else {
            unreachable!()
        };
        server_properties(
            topo,
            broker,
            cluster,
            node_id,
            controller_port,
            proxied_port,
        )
    }

    #[test]
    fn three_brokers_form_a_quorum_each_behind_its_route_of_the_link() {
        let topo = Topology::new(Path::new("/s"), 1000, 3).unwrap();
        let server = broker_config(&topo, "target-2");
        for line in [
            "node.id=2",
            "controller.quorum.voters=1@127.0.0.1:21213,2@127.0.0.1:21223,3@127.0.0.1:21233",
            "listeners=PLAINTEXT://127.0.0.1:21222,PROXIED://127.0.0.1:21224,CONTROLLER://127.0.0.1:21223",
            "advertised.listeners=PLAINTEXT://127.0.0.1:21222,PROXIED://127.0.0.1:21225",
            "default.replication.factor=3",
            "min.insync.replicas=2",
            "offsets.topic.replication.factor=3",
            "transaction.state.log.replication.factor=3",
            "transaction.state.log.min.isr=2",
            "log.dirs=/s/target-2/data",
        ] {
            assert!(server.contains(&format!("\n{line}\n")), "{line}\n{server}");
        }
        let worker = worker_properties(&topo, topo.process("worker-1").unwrap(), &settings());
        for line in [
            "bootstrap.servers=127.0.0.1:21215,127.0.0.1:21225,127.0.0.1:21235",
            "config.storage.replication.factor=3",
            "offset.storage.replication.factor=3",
            "status.storage.replication.factor=3",
        ] {
            assert!(worker.contains(&format!("\n{line}\n")), "{line}\n{worker}");
        }
        let link = topo.process("workers-to-source").unwrap();
        let Kind::Proxy { routes, .. } = &link.kind else {
            unreachable!()
        };
        let command = proxy_command(link, routes, &settings());
        let routes: Vec<&str> = command
            .windows(2)
            .filter(|w| w[0] == "--route")
            .map(|w| w[1].as_str())
            .collect();
        assert_eq!(
            routes,
            [
                "127.0.0.1:21115=127.0.0.1:21114",
                "127.0.0.1:21125=127.0.0.1:21124",
                "127.0.0.1:21135=127.0.0.1:21134"
            ]
        );
        let two = Topology::new(Path::new("/s"), 0, 2).unwrap();
        let server = broker_config(&two, "source-1");
        assert!(server.contains("\ndefault.replication.factor=2\nmin.insync.replicas=2\n"));
    }

    #[test]
    fn the_brokers_of_a_cluster_share_its_id() {
        let dir = tempfile::tempdir().unwrap();
        let topo = Topology::new(dir.path(), 0, 3).unwrap();
        let first = cluster_id(&topo, "source").unwrap();
        let second = topo.process("source-2").unwrap();
        std::fs::create_dir_all(&second.dir).unwrap();
        write(&second.dir.join("cluster.id"), &first).unwrap();
        assert_eq!(cluster_id(&topo, "source").unwrap(), first);
        assert_ne!(
            cluster_id(&topo, "target").unwrap(),
            first,
            "a cluster of its own"
        );
    }

    #[test]
    fn plain_labs_have_no_security_settings() {
        let topo = Topology::new(Path::new("/tmp/s"), 0, 1).unwrap();
        let server = broker_config(&topo, "source-1");
        assert!(
            server.contains("\nlisteners=PLAINTEXT://127.0.0.1:20112,"),
            "{server}"
        );
        assert!(server.ends_with("log.retention.hours=6\n"), "{server}");
        for line in [
            "node.id=1",
            "controller.quorum.voters=1@127.0.0.1:20113",
            "default.replication.factor=1",
            "min.insync.replicas=1",
            "offsets.topic.replication.factor=1",
        ] {
            assert!(server.contains(&format!("\n{line}\n")), "{line}\n{server}");
        }
        assert!(
            server.contains("\nlog.segment.delete.delay.ms=1000\n"),
            "{server}"
        );
        let worker = worker_properties(&topo, topo.process("worker-1").unwrap(), &settings());
        assert!(
            worker.contains("\nlisteners=http://127.0.0.1:20083\n"),
            "{worker}"
        );
        assert!(
            worker.contains("\nrest.advertised.listener=http\n"),
            "{worker}"
        );
        assert!(worker.ends_with("connector.client.config.override.policy=All\n"));
        let command = java_command(topo.process("worker-1").unwrap(), &settings(), "w", None);
        assert!(!command.iter().any(|w| w.contains("java.security.auth")));
    }

    #[test]
    fn secure_brokers_listen_sasl_ssl_with_scram() {
        let topo = Topology::new(Path::new("/s"), 2000, 1).unwrap().secured();
        let server = broker_config(&topo, "target-1");
        for line in [
            "listeners=SASL_SSL://127.0.0.1:22212,PROXIED://127.0.0.1:22214,CONTROLLER://127.0.0.1:22213",
            // PROXIED still advertises the link proxy
            "advertised.listeners=SASL_SSL://127.0.0.1:22212,PROXIED://127.0.0.1:22215",
            "inter.broker.listener.name=SASL_SSL",
            "listener.security.protocol.map=CONTROLLER:PLAINTEXT,SASL_SSL:SASL_SSL,PROXIED:SASL_SSL",
            "config.providers.file.class=org.apache.kafka.common.config.provider.FileConfigProvider",
            "sasl.enabled.mechanisms=SCRAM-SHA-512",
            "sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512",
            "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule \
             required username=\"broker\" password=\"${file:/s/secrets/kafka.properties:broker.password}\";",
            "listener.name.proxied.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;",
            "ssl.keystore.location=/s/tls/server.p12",
            "ssl.keystore.password=${file:/s/secrets/kafka.properties:keystore.password}",
            "ssl.truststore.location=/s/tls/truststore.p12",
            "ssl.truststore.password=${file:/s/secrets/kafka.properties:truststore.password}",
        ] {
            assert!(server.contains(&format!("\n{line}\n")), "{line}\n{server}");
        }
        assert!(!server.contains("PLAINTEXT://"), "{server}");
    }

    #[test]
    fn secure_workers_use_sasl_ssl_and_serve_https_with_basic_auth() {
        let topo = Topology::new(Path::new("/s"), 2000, 1).unwrap().secured();
        let worker = topo.process("worker-2").unwrap();
        let text = worker_properties(&topo, worker, &settings());
        assert!(
            text.contains("\nbootstrap.servers=127.0.0.1:22215\n"),
            "through the link"
        );
        let mut lines = vec![
            "listeners=https://127.0.0.1:22084".to_string(),
            "rest.advertised.listener=https".to_string(),
            "config.providers=file".to_string(),
            "listeners.https.ssl.keystore.location=/s/tls/server.p12".to_string(),
            "listeners.https.ssl.keystore.password=${file:/s/secrets/kafka.properties:keystore.password}"
                .to_string(),
            "listeners.https.ssl.truststore.location=/s/tls/truststore.p12".to_string(),
            "rest.extension.classes=org.apache.kafka.connect.rest.basic.auth.extension.BasicAuthSecurityRestExtension"
                .to_string(),
        ];
        for prefix in ["", "producer.", "consumer.", "admin."] {
            lines.push(format!("{prefix}security.protocol=SASL_SSL"));
            lines.push(format!("{prefix}sasl.mechanism=SCRAM-SHA-512"));
            lines.push(format!(
                "{prefix}sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule \
                 required username=\"connect\" password=\"${{file:/s/secrets/kafka.properties:connect.password}}\";"
            ));
            lines.push(format!("{prefix}ssl.truststore.type=PKCS12"));
        }
        for line in lines {
            assert!(text.contains(&format!("\n{line}\n")), "{line}\n{text}");
        }
        let command = java_command(
            worker,
            &settings(),
            "worker.properties",
            topo.security.as_ref(),
        );
        let jaas = command
            .iter()
            .position(|w| w == "-Djava.security.auth.login.config=/s/secrets/connect-rest.jaas");
        let classpath = command.iter().position(|w| w == "-cp");
        assert!(jaas.is_some() && jaas < classpath, "{command:?}");
        let broker = java_command(
            topo.process("source-1").unwrap(),
            &settings(),
            "s",
            topo.security.as_ref(),
        );
        assert!(!broker.iter().any(|w| w.contains("java.security.auth")));
    }

    /// Every file `up --secure` writes outside `secrets/` and `tls/`, and the connector configs
    /// the REST API returns, name the secrets' files but never hold a password.
    #[test]
    fn no_generated_file_holds_a_password() {
        let dir = tempfile::tempdir().unwrap();
        let topo = Topology::new(dir.path(), 2000, 1).unwrap().secured();
        let security = topo.security.clone().unwrap();
        let passwords = super::super::security::write_test_secrets(&security);
        assert_eq!(passwords.len(), 6);
        for p in &topo.processes {
            write_process_files(&topo, p, &settings()).unwrap();
        }
        super::super::profile::write(&topo).unwrap();
        let connectors: Vec<_> = super::super::connectors::defaults(&topo, 4)
            .into_iter()
            .map(|c| c.config)
            .collect();
        let connectors = serde_json::to_string(&connectors).unwrap();
        let mut texts = vec![("connector configs".to_string(), connectors)];
        for p in &topo.processes {
            for entry in std::fs::read_dir(&p.dir).unwrap() {
                let path = entry.unwrap().path();
                texts.push((
                    path.display().to_string(),
                    std::fs::read_to_string(&path).unwrap(),
                ));
            }
        }
        let profile = topo.profile_path();
        texts.push((
            profile.display().to_string(),
            std::fs::read_to_string(&profile).unwrap(),
        ));
        assert!(texts.len() > 20, "{}", texts.len());
        for (name, text) in &texts {
            for password in &passwords {
                assert!(!text.contains(password.as_str()), "{name} holds a password");
            }
        }
    }

    #[test]
    fn format_errors_do_not_show_scram_passwords() {
        let scram = [
            "--add-scram".to_string(),
            "SCRAM-SHA-512=[name=kscen,password=abc123]".to_string(),
        ];
        assert_eq!(
            without_scram_passwords("bad: [name=kscen,password=abc123]", &scram),
            "bad: [name=kscen,password=<password>]"
        );
    }

    #[test]
    fn quoting() {
        assert_eq!(sh_quote("a b"), "'a b'");
        assert_eq!(sh_quote("it's"), r"'it'\''s'");
    }
}
