//! The lab's fixed shape: which processes exist, their ports, and where their files live.
//!
//! Ports: the lab fits in one block of 1000 loopback ports from `BASE_PORT` (20000), away from
//! Kafka's usual 9092/8083/7072 and below Linux's range for outgoing connections' local ports
//! (`ip_local_port_range`, 32768–60999 by default). A port in that range can be handed by the
//! kernel to any outgoing connection — the readiness probe's own connection to a broker that is
//! not listening yet included — and is then taken when the broker binds it. `--port-offset` in
//! steps of 1000 (the tests use 1000, 4000 and 8000, the bench 3000) puts a second lab in a block
//! of its own, still below the range up to an offset of 11000.
//!
//! Each cluster has `--brokers N` KRaft nodes (`<cluster>-1..N`), each both broker and controller:
//! the controller quorum is every node of the cluster. Replication follows N: default and
//! internal topics' replication factor min(3, N), `min.insync.replicas` min(2, N).
//!
//! Each cluster is reached two ways: kscen and the tests use the brokers' `PLAINTEXT` listeners
//! directly; the Connect workers (and so MirrorMaker 2) go through a fault-injecting proxy, the
//! link `workers-to-<cluster>`: one process with one port per broker, each forwarding to that
//! broker's second listener `PROXIED`. That listener advertises the link's port for its broker, so
//! every connection the workers' clients open to the cluster (bootstrap, then each broker from
//! the metadata) goes through the link, and cutting it cuts the workers off the whole cluster
//! while kscen keeps its own connections.
//!
//! A secure lab (`up --secure`, recorded in the state folder) has the same shape: its Kafka
//! listeners speak SASL_SSL and its workers serve HTTPS (see `security`).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use super::security::{self, Security};

pub const SOURCE_ALIAS: &str = "source";
pub const TARGET_ALIAS: &str = "target";
pub const CONNECT_GROUP: &str = "kscen-lab-connect";
/// The Prometheus server's process name, state subfolder and profile probe name.
pub const PROMETHEUS: &str = "prometheus";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// KRaft broker+controller `node_id` of `cluster`; `port` is its direct listener.
    Broker {
        cluster: &'static str,
        node_id: u16,
        controller_port: u16,
        /// The `PROXIED` listener, reached only through the link proxy, which it advertises.
        proxied_port: u16,
    },
    /// Connect worker; `port` is its REST port.
    Worker,
    /// The link proxy between the workers and `cluster` (`kscen lab proxy`), one route per broker;
    /// `port` is the first route's port.
    Proxy {
        cluster: &'static str,
        routes: Vec<Route>,
    },
    /// The Prometheus server (`/usr/bin/prometheus`) scraping every JMX exporter of the lab;
    /// `port` is its HTTP API. Optional: absent when not installed or with `--no-prometheus`.
    Prometheus,
}

/// A port of a link proxy and the broker `PROXIED` listener it forwards to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    pub listen: u16,
    pub upstream: u16,
}

#[derive(Debug, Clone)]
pub struct Process {
    pub name: String,
    pub kind: Kind,
    /// Kafka listener port (broker), REST port (worker) or listening port (proxy).
    pub port: u16,
    /// Prometheus JMX exporter port (JVMs only).
    pub jmx_port: Option<u16>,
    pub dir: PathBuf,
    /// Serves its HTTP API over TLS (the workers of a secure lab).
    pub tls: bool,
}

impl Process {
    pub fn pid_file(&self) -> PathBuf {
        self.dir.join("pid")
    }
    pub fn log_file(&self) -> PathBuf {
        self.dir.join(match self.kind {
            Kind::Broker { .. } => "broker.log",
            Kind::Worker => "worker.log",
            Kind::Proxy { .. } => "proxy.log",
            Kind::Prometheus => "prometheus.log",
        })
    }
    /// A Connect worker's properties file (its one argument).
    pub fn worker_properties(&self) -> PathBuf {
        self.dir.join("worker.properties")
    }
    /// A word of the process's command line that names it, so a PID found in a pid file or in
    /// /proc is known to be this lab process and not a recycled PID (also grepped by start.sh).
    pub fn marker(&self) -> String {
        match self.kind {
            Kind::Broker { .. } | Kind::Worker => format!("-Dkscen.lab.process={}", self.name),
            Kind::Proxy { .. } => format!("--link={}", self.name),
            // Prometheus takes no free-form flag: its config file names it (and the lab).
            Kind::Prometheus => format!("--config.file={}", self.prometheus_config().display()),
        }
    }
    /// Prometheus only: the generated scrape configuration.
    pub fn prometheus_config(&self) -> PathBuf {
        self.dir.join("prometheus.yml")
    }
    pub fn start_script(&self) -> PathBuf {
        self.dir.join("start.sh")
    }
    /// Every TCP port the process listens on, with what it is for.
    pub fn ports(&self) -> Vec<(u16, &'static str)> {
        let mut v = match &self.kind {
            Kind::Broker {
                controller_port,
                proxied_port,
                ..
            } => vec![
                (self.port, "Kafka listener"),
                (*proxied_port, "Kafka listener behind the link proxy"),
                (*controller_port, "KRaft controller"),
            ],
            Kind::Worker => vec![(self.port, "Connect REST")],
            Kind::Proxy { routes, .. } => routes.iter().map(|r| (r.listen, "link proxy")).collect(),
            Kind::Prometheus => vec![(self.port, "Prometheus HTTP API")],
        };
        v.extend(self.jmx_port.map(|port| (port, "JMX exporter")));
        v
    }
    /// `http`, or `https` for a process that serves TLS.
    pub fn scheme(&self) -> &'static str {
        if self.tls {
            "https"
        } else {
            "http"
        }
    }
    pub fn url(&self) -> String {
        format!("{}://127.0.0.1:{}", self.scheme(), self.port)
    }
    /// Connect's REST `worker_id` (`rest.advertised.host.name:port`).
    pub fn worker_id(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
    pub fn metrics_url(&self) -> Option<String> {
        Some(format!("http://127.0.0.1:{}/metrics", self.jmx_port?))
    }
    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

#[derive(Debug, Clone)]
pub struct Topology {
    pub state: PathBuf,
    /// KRaft nodes per cluster (`--brokers`).
    pub brokers_per_cluster: u16,
    pub processes: Vec<Process>,
    /// The TLS material and passwords of a secure lab; `None`: plaintext, no authentication.
    pub security: Option<Security>,
}

impl Topology {
    /// The lab of `state`, with the port offset and broker count `up` recorded there (0 and 1 if
    /// none), secure if `up --secure` made it, and without Prometheus if `up` recorded that the
    /// lab runs without it.
    pub fn load(state: &Path) -> Result<Self> {
        let mut topo = Self::new(
            state,
            Recorded::PortOffset.read(state)?.unwrap_or(0),
            Recorded::Brokers.read(state)?.unwrap_or(1),
        )?;
        if security::recorded(state) {
            topo = topo.secured();
        }
        Ok(if prometheus_off(state).is_some() {
            topo.without_prometheus()
        } else {
            topo
        })
    }

    /// The secure lab: SASL_SSL Kafka listeners, Connect REST over HTTPS with Basic auth.
    pub fn secured(mut self) -> Self {
        self.security = Some(Security::new(&self.state));
        for p in &mut self.processes {
            p.tls = p.kind == Kind::Worker;
        }
        self
    }

    /// The lab without its Prometheus server.
    pub fn without_prometheus(mut self) -> Self {
        self.processes.retain(|p| p.kind != Kind::Prometheus);
        self
    }

    /// `port_offset` shifts every port, so a second lab (e.g. the test suite's) can run beside
    /// the default one; `brokers` KRaft nodes per cluster (1 to `MAX_BROKERS`). Includes
    /// Prometheus (see `without_prometheus`).
    pub fn new(state: &Path, port_offset: u16, brokers: u16) -> Result<Self> {
        let brokers = check_brokers(brokers)?;
        let broker = |cluster: &'static str, node_id: u16| {
            let base = broker_base_port(cluster, node_id);
            Process {
                name: format!("{cluster}-{node_id}"),
                kind: Kind::Broker {
                    cluster,
                    node_id,
                    controller_port: base + 3,
                    proxied_port: base + 4,
                },
                port: base + 2,
                jmx_port: Some(base + 6),
                dir: state.join(format!("{cluster}-{node_id}")),
                tls: false,
            }
        };
        let proxy = |cluster: &'static str| {
            let name = link_name(cluster);
            let routes: Vec<Route> = (1..=brokers)
                .map(|node_id| {
                    let base = broker_base_port(cluster, node_id);
                    Route {
                        listen: base + 5,
                        upstream: base + 4,
                    }
                })
                .collect();
            Process {
                port: routes[0].listen,
                kind: Kind::Proxy { cluster, routes },
                jmx_port: None,
                dir: state.join(&name),
                tls: false,
                name,
            }
        };
        let worker = |i: u16| Process {
            name: format!("worker-{i}"),
            kind: Kind::Worker,
            port: BASE_PORT + 82 + i,
            jmx_port: Some(BASE_PORT + 403 + i),
            dir: state.join(format!("worker-{i}")),
            tls: false,
        };
        let mut processes: Vec<Process> = [SOURCE_ALIAS, TARGET_ALIAS]
            .into_iter()
            .flat_map(|cluster| (1..=brokers).map(move |id| (cluster, id)))
            .map(|(cluster, id)| broker(cluster, id))
            .collect();
        processes.extend([
            proxy(SOURCE_ALIAS),
            proxy(TARGET_ALIAS),
            worker(1),
            worker(2),
            worker(3),
            Process {
                name: PROMETHEUS.into(),
                kind: Kind::Prometheus,
                port: BASE_PORT + 90,
                jmx_port: None,
                dir: state.join(PROMETHEUS),
                tls: false,
            },
        ]);
        for p in &mut processes {
            p.port += port_offset;
            if let Some(jmx) = &mut p.jmx_port {
                *jmx += port_offset;
            }
            match &mut p.kind {
                Kind::Broker {
                    controller_port,
                    proxied_port,
                    ..
                } => {
                    *controller_port += port_offset;
                    *proxied_port += port_offset;
                }
                Kind::Proxy { routes, .. } => {
                    for route in routes {
                        route.listen += port_offset;
                        route.upstream += port_offset;
                    }
                }
                Kind::Worker | Kind::Prometheus => {}
            }
        }
        Ok(Topology {
            state: state.to_path_buf(),
            brokers_per_cluster: brokers,
            processes,
            security: None,
        })
    }

    /// The replication factor of the clusters' default and internal topics: min(3, brokers).
    pub fn replication_factor(&self) -> u16 {
        self.brokers_per_cluster.min(3)
    }

    /// The clusters' `min.insync.replicas`: min(2, brokers).
    pub fn min_insync_replicas(&self) -> u16 {
        self.brokers_per_cluster.min(2)
    }

    /// The brokers of `cluster`.
    pub fn cluster_brokers<'a>(&'a self, cluster: &'a str) -> impl Iterator<Item = &'a Process> {
        self.brokers()
            .filter(move |p| matches!(p.kind, Kind::Broker { cluster: c, .. } if c == cluster))
    }

    /// `controller.quorum.voters` of `cluster`: every node of it, `id@127.0.0.1:port`.
    pub fn quorum_voters(&self, cluster: &str) -> String {
        self.cluster_brokers(cluster)
            .filter_map(|p| match p.kind {
                Kind::Broker {
                    node_id,
                    controller_port,
                    ..
                } => Some(format!("{node_id}@127.0.0.1:{controller_port}")),
                _ => None,
            })
            .collect::<Vec<_>>()
            .join(",")
    }

    pub fn process(&self, name: &str) -> Result<&Process> {
        match self.processes.iter().find(|p| p.name == name) {
            Some(p) => Ok(p),
            None => bail!(
                "unknown lab process {name:?}; the lab has {}",
                self.processes
                    .iter()
                    .map(|p| p.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }

    pub fn brokers(&self) -> impl Iterator<Item = &Process> {
        self.processes
            .iter()
            .filter(|p| matches!(p.kind, Kind::Broker { .. }))
    }

    pub fn workers(&self) -> impl Iterator<Item = &Process> {
        self.processes.iter().filter(|p| p.kind == Kind::Worker)
    }

    pub fn prometheus(&self) -> Option<&Process> {
        self.processes.iter().find(|p| p.kind == Kind::Prometheus)
    }

    /// Where the lab's Prometheus scrapes `kscen exporter` (job `mm2-metrics`) when one runs:
    /// the port after Prometheus's own. The lab does not start it; `None` without Prometheus.
    pub fn kscen_exporter_addr(&self) -> Option<String> {
        self.prometheus()
            .map(|p| format!("127.0.0.1:{}", p.port + 1))
    }

    /// The processes with a JMX exporter: what Prometheus scrapes and the `scrape` probes read.
    pub fn exporters(&self) -> impl Iterator<Item = &Process> {
        self.processes.iter().filter(|p| p.jmx_port.is_some())
    }

    pub fn proxies(&self) -> impl Iterator<Item = &Process> {
        self.processes
            .iter()
            .filter(|p| matches!(p.kind, Kind::Proxy { .. }))
    }

    /// The direct bootstrap of `cluster`, every broker: what kscen, the profile and the tests use.
    pub fn bootstrap(&self, cluster: &str) -> String {
        self.cluster_brokers(cluster)
            .map(Process::bootstrap)
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The bootstrap of `cluster` through its link proxy, every broker's route: what the workers
    /// and MM2 use.
    pub fn workers_bootstrap(&self, cluster: &str) -> String {
        self.proxies()
            .filter_map(|p| match &p.kind {
                Kind::Proxy { cluster: c, routes } if *c == cluster => Some(routes),
                _ => None,
            })
            .flatten()
            .map(|r| format!("127.0.0.1:{}", r.listen))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The link port that forwards to the `PROXIED` listener on `proxied_port`: what that
    /// listener advertises.
    pub fn route_to(&self, proxied_port: u16) -> Option<u16> {
        self.proxies()
            .filter_map(|p| match &p.kind {
                Kind::Proxy { routes, .. } => Some(routes),
                _ => None,
            })
            .flatten()
            .find(|r| r.upstream == proxied_port)
            .map(|r| r.listen)
    }

    /// The lab's ports that lie in `low..=high` (the machine's ephemeral port range), each as
    /// `port (what of process)`.
    pub fn ports_within(&self, low: u16, high: u16) -> Vec<String> {
        self.processes
            .iter()
            .flat_map(|p| {
                p.ports()
                    .into_iter()
                    .filter(|(port, _)| (low..=high).contains(port))
                    .map(|(port, what)| format!("{port} ({what} of {})", p.name))
            })
            .collect()
    }

    pub fn profile_path(&self) -> PathBuf {
        self.state.join("profile.toml")
    }
}

/// The first port of the lab's block, before `--port-offset`.
pub const BASE_PORT: u16 = 20000;
/// Brokers per cluster at most: each has ten ports of its cluster's hundred (see below).
pub const MAX_BROKERS: u16 = 9;

/// `brokers` if the lab can run that many per cluster.
pub fn check_brokers(brokers: u16) -> Result<u16> {
    if !(1..=MAX_BROKERS).contains(&brokers) {
        bail!("--brokers {brokers}: the lab runs 1 to {MAX_BROKERS} brokers per cluster");
    }
    Ok(brokers)
}

/// The ten ports of broker `index` (from 1) of `cluster`, before the offset: `+2` its direct Kafka
/// listener, `+3` its KRaft controller, `+4` its `PROXIED` listener, `+5` the link proxy's port
/// that forwards to it, `+6` its JMX exporter. Source brokers are 20112.., target brokers
/// 20212..; the Connect workers' REST ports are 20083–20085, their exporters 20404–20406,
/// Prometheus listens on 20090 and scrapes `kscen exporter` on 20091.
fn broker_base_port(cluster: &str, index: u16) -> u16 {
    let cluster_base = if cluster == SOURCE_ALIAS { 100 } else { 200 };
    BASE_PORT + cluster_base + 10 * index
}

/// The link (and proxy process) between the workers and `cluster`: `workers-to-source`.
pub fn link_name(cluster: &str) -> String {
    format!("workers-to-{cluster}")
}

/// A choice of `up` recorded in the state folder, a file each, so that later commands (`status`,
/// `down`, another `up`) keep it.
#[derive(Debug, Clone, Copy)]
pub enum Recorded {
    PortOffset,
    Brokers,
    KafkaVersion,
}

impl Recorded {
    fn file(self, state: &Path) -> PathBuf {
        state.join(match self {
            Recorded::PortOffset => "port-offset",
            Recorded::Brokers => "brokers",
            Recorded::KafkaVersion => "kafka-version",
        })
    }

    fn what(self) -> &'static str {
        match self {
            Recorded::PortOffset => "a port offset",
            Recorded::Brokers => "the number of brokers per cluster",
            Recorded::KafkaVersion => "a Kafka version",
        }
    }

    /// The recorded value; `None` if `up` recorded none.
    pub fn read<T>(self, state: &Path) -> Result<Option<T>>
    where
        T: std::str::FromStr,
        T::Err: std::error::Error + Send + Sync + 'static,
    {
        let file = self.file(state);
        match std::fs::read_to_string(&file) {
            Ok(text) => text.trim().parse().map(Some).with_context(|| {
                format!(
                    "{} should hold {}; delete it or `kscen lab down --purge`",
                    file.display(),
                    self.what()
                )
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("reading {}", file.display())),
        }
    }

    pub fn write(self, state: &Path, value: impl std::fmt::Display) -> Result<()> {
        std::fs::create_dir_all(state)
            .with_context(|| format!("creating the state folder {}", state.display()))?;
        let file = self.file(state);
        std::fs::write(&file, format!("{value}\n"))
            .with_context(|| format!("writing {}", file.display()))
    }
}

fn prometheus_off_file(state: &Path) -> PathBuf {
    state.join("prometheus-off")
}

/// Why the lab runs without Prometheus, if `up` recorded that it does.
pub fn prometheus_off(state: &Path) -> Option<String> {
    std::fs::read_to_string(prometheus_off_file(state))
        .ok()
        .map(|why| why.trim().to_string())
}

/// Records whether the lab of `state` runs Prometheus (`None`) or not (`Some(reason)`).
pub fn store_prometheus_off(state: &Path, off: Option<&str>) -> Result<()> {
    let file = prometheus_off_file(state);
    match off {
        Some(why) => std::fs::write(&file, format!("{why}\n"))
            .with_context(|| format!("writing {}", file.display())),
        None => match std::fs::remove_file(&file) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(e).with_context(|| format!("removing {}", file.display()))
            }
            _ => Ok(()),
        },
    }
}

/// `--state-dir`, else `$KSCEN_LAB_STATE` (clap fills it), else `~/.cache/kscen/lab/state`.
/// Made absolute: the path is written into start.sh, the profile and the JVM command lines.
pub fn state_dir(arg: Option<PathBuf>) -> Result<PathBuf> {
    let dir = match arg {
        Some(d) => d,
        None => cache_root()?.join("state"),
    };
    if dir.is_absolute() {
        Ok(dir)
    } else {
        Ok(std::env::current_dir()
            .context("reading the current directory")?
            .join(dir))
    }
}

/// `~/.cache/kscen/lab` (or the platform's cache folder).
pub fn cache_root() -> Result<PathBuf> {
    let base =
        directories::BaseDirs::new().context("cannot find the home directory (is $HOME set?)")?;
    Ok(base.cache_dir().join("kscen").join("lab"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The port offsets the repository's own labs use: the default lab, `cargo xtask test`'s plain
    /// (1000), secure (4000) and MirrorMaker 2 (8000) labs (xtask/src/lab.rs), lab/README.md's
    /// example of a second lab (2000) and the bench's lab (3000, xtask/src/bench/lab.rs).
    const REPOSITORY_OFFSETS: [u16; 6] = [0, 1000, 2000, 3000, 4000, 8000];

    #[test]
    fn default_ports_lie_outside_the_ephemeral_port_range() {
        let (low, high) = crate::lab::process::ephemeral_port_range()
            .expect("reading /proc/sys/net/ipv4/ip_local_port_range");
        let labs = REPOSITORY_OFFSETS
            .into_iter()
            .flat_map(|offset| [(offset, 1), (offset, 3), (offset, MAX_BROKERS)]);
        for (offset, brokers) in labs {
            let topo = Topology::new(Path::new("/s"), offset, brokers).unwrap();
            let ports: Vec<(u16, &str, &str)> = topo
                .processes
                .iter()
                .flat_map(|p| {
                    p.ports()
                        .into_iter()
                        .map(|(port, what)| (port, what, p.name.as_str()))
                })
                .collect();
            assert!(ports.len() >= 17, "{ports:?}");
            for (port, what, name) in ports {
                assert!(
                    !(low..=high).contains(&port),
                    "offset {offset}: port {port} ({what} of {name}) lies in the ephemeral range \
                     {low}-{high}"
                );
            }
            assert!(topo.ports_within(low, high).is_empty());
        }
    }

    #[test]
    fn one_lab_fits_in_its_block_of_1000_ports() {
        for brokers in 1..=MAX_BROKERS {
            let topo = Topology::new(Path::new("/s"), 0, brokers).unwrap();
            let mut ports: Vec<u16> = topo
                .processes
                .iter()
                .flat_map(|p| p.ports().into_iter().map(|(port, _)| port))
                .collect();
            let count = ports.len();
            // per broker 4 ports and a link route; 3 workers with 2 each; Prometheus
            assert_eq!(count, 2 * 5 * usize::from(brokers) + 7);
            ports.sort_unstable();
            ports.dedup();
            assert_eq!(
                ports.len(),
                count,
                "{brokers} brokers: no port is used twice"
            );
            assert!(
                ports
                    .iter()
                    .all(|p| (BASE_PORT..BASE_PORT + 1000).contains(p)),
                "{ports:?}"
            );
        }
        assert!(Topology::new(Path::new("/s"), 0, MAX_BROKERS + 1).is_err());
        let topo = Topology::new(Path::new("/s"), 0, 1).unwrap();
        let source = topo.process("source-1").unwrap();
        assert_eq!(source.port, 20112);
        assert_eq!(topo.workers_bootstrap(SOURCE_ALIAS), "127.0.0.1:20115");
        assert_eq!(topo.process("worker-1").unwrap().port, 20083);
    }

    #[test]
    fn ports_in_the_ephemeral_range_are_named() {
        let topo = Topology::new(Path::new("/s"), 13_000, 1).unwrap();
        let inside = topo.ports_within(32768, 60999);
        assert!(
            inside
                .iter()
                .any(|line| line.starts_with("33112 (Kafka listener of source-1)")),
            "{inside:?}"
        );
        assert!(Topology::new(Path::new("/s"), 0, 1)
            .unwrap()
            .ports_within(32768, 60999)
            .is_empty());
    }
}
