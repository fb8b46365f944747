//! `kscen lab status`: processes (PID, liveness, readiness, ports, RSS), the state of the links
//! (open or cut), the targets Prometheus reaches, and the connectors and tasks as the Connect REST API reports them, with the log
//! tail of any process that died.

use std::collections::BTreeMap;

use anyhow::Result;

use super::connectors::{self, Connector, ConnectorStatus};
use super::process;
use super::readiness;
use super::security::{self, Security};
use super::topology::{self, Kind, Topology};
use crate::faults::link_state::LinkState;

pub struct ProcessRow {
    pub name: String,
    pub pid: Option<u32>,
    /// A PID file exists but its process is gone: it crashed or was killed.
    pub died: bool,
    pub ready: bool,
    pub ports: String,
    pub rss: Option<u64>,
    /// Links: `open`, `CUT`, or why the proxy does not forward; Prometheus: its targets up.
    pub link: Option<String>,
    pub log_tail: Option<String>,
}

pub struct Report {
    pub processes: Vec<ProcessRow>,
    /// Worker that answered, and the connectors it reported.
    pub connectors: Option<(String, BTreeMap<String, ConnectorStatus>)>,
    pub problems: Vec<String>,
    /// Why the lab runs without Prometheus, when it does.
    pub prometheus_off: Option<String>,
    /// Where a secure lab keeps its secrets and CA.
    security: Option<Security>,
    worker_names: BTreeMap<String, String>,
}

impl Report {
    pub fn fully_up(&self) -> bool {
        self.processes.iter().all(|p| p.pid.is_some() && p.ready) && self.problems.is_empty()
    }
    pub fn total_rss(&self) -> u64 {
        self.processes.iter().filter_map(|p| p.rss).sum()
    }
}

/// The lab's processes, and how Connect runs the connectors the lab deploys (`wanted`). Fails only when a secure
/// lab's credentials cannot be read.
pub async fn collect(topo: &Topology, wanted: &[Connector]) -> Result<Report> {
    let client = connectors::http();
    let rest = connectors::rest_client(topo)?;
    let kafka = security::kscen_client_properties(topo)?;
    let mut rows = Vec::new();
    for p in &topo.processes {
        let pid = process::running_pid(p);
        let died = pid.is_none() && p.pid_file().is_file();
        let mut link = None;
        let ready = match (pid, &p.kind) {
            (None, _) => false,
            (Some(_), Kind::Proxy { .. }) => {
                let forwards = readiness::proxy_forwards(p, &kafka).await;
                link = Some(match (readiness::link_state(p), &forwards) {
                    (Some(LinkState::Cut), _) => "CUT (`kscen lab up` restores it)".to_string(),
                    (_, Ok(())) => "open".to_string(),
                    (_, Err(why)) => why.clone(),
                });
                forwards.is_ok()
            }
            (Some(_), Kind::Broker { .. }) => readiness::broker_metadata(p.bootstrap(), &kafka)
                .await
                .is_ok(),
            (Some(_), Kind::Worker) => rest
                .get(format!("{}/", p.url()))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success()),
            // Ready = answers /-/ready; how many exporters it reaches is shown beside.
            (Some(_), Kind::Prometheus) => {
                match readiness::prometheus_targets(&client, topo, p).await {
                    Ok(t) => {
                        link = Some(if t.not_up.is_empty() {
                            format!("{}/{} targets up", t.up, t.expected)
                        } else {
                            format!(
                                "{}/{} targets up: {}",
                                t.up,
                                t.expected,
                                t.not_up.join(", ")
                            )
                        });
                        true
                    }
                    Err(why) => {
                        link = Some(why);
                        false
                    }
                }
            }
        };
        rows.push(ProcessRow {
            name: p.name.clone(),
            pid,
            died,
            ready,
            ports: match &p.kind {
                Kind::Proxy { routes, .. } => routes
                    .iter()
                    .map(|r| format!("{}->{}", r.listen, r.upstream))
                    .collect::<Vec<_>>()
                    .join(","),
                _ => p
                    .ports()
                    .iter()
                    .map(|(port, _)| port.to_string())
                    .collect::<Vec<_>>()
                    .join(","),
            },
            rss: pid.and_then(process::rss_bytes),
            link,
            log_tail: died.then(|| process::tail(&p.log_file(), 15).unwrap_or_default()),
        });
    }
    let connectors = if rows.iter().any(|r| r.pid.is_some()) {
        connectors::statuses(&rest, topo).await
    } else {
        None
    };
    let problems = match &connectors {
        Some((_, map)) => {
            readiness::connector_problems(map, &readiness::live_worker_ids(topo), wanted)
        }
        None => vec!["no Connect worker answers the REST API".to_string()],
    };
    Ok(Report {
        processes: rows,
        connectors,
        problems,
        prometheus_off: topo
            .prometheus()
            .is_none()
            .then(|| topology::prometheus_off(&topo.state).unwrap_or_default()),
        security: topo.security.clone(),
        worker_names: topo
            .workers()
            .map(|w| (w.worker_id(), w.name.clone()))
            .collect(),
    })
}

fn mib(b: u64) -> String {
    format!("{} MiB", b / (1024 * 1024))
}

pub fn print(r: &Report) {
    println!(
        "{:<17} {:>8}  {:<6} {:<6} {:<28} {:>9}  LINK / TARGETS",
        "PROCESS", "PID", "ALIVE", "READY", "PORTS", "RSS"
    );
    for p in &r.processes {
        println!(
            "{:<17} {:>8}  {:<6} {:<6} {:<28} {:>9}  {}",
            p.name,
            p.pid.map(|x| x.to_string()).unwrap_or_else(|| "-".into()),
            if p.pid.is_some() {
                "yes"
            } else if p.died {
                "EXITED"
            } else {
                "no"
            },
            if p.ready { "yes" } else { "no" },
            p.ports,
            p.rss.map(mib).unwrap_or_else(|| "-".into()),
            p.link.as_deref().unwrap_or(""),
        );
    }
    println!(
        "ports: broker = direct, proxied, controller, metrics; worker = REST, metrics; \
         link = listen->broker's proxied listener; prometheus = HTTP API"
    );
    println!("total RSS of the lab: {}", mib(r.total_rss()));
    if let Some(why) = &r.prometheus_off {
        println!("no Prometheus in this lab: {why}");
    }
    if let Some(security) = &r.security {
        println!(
            "secure lab: Kafka listeners SASL_SSL (SCRAM-SHA-512), Connect REST over HTTPS with \
             Basic auth; CA {}, passwords in {}",
            security.ca_pem().display(),
            security.secrets_dir().display()
        );
    }
    let worker = |id: &str| {
        r.worker_names
            .get(id)
            .map(|n| format!("{id} ({n})"))
            .unwrap_or_else(|| id.to_string())
    };
    match &r.connectors {
        None => println!("\nconnectors: no worker answers the REST API"),
        Some((via, map)) => {
            // Users' connector names run long (`nemo-to-applicatif-checkpoint`).
            let width = map.keys().map(String::len).max().unwrap_or(0).max(22);
            println!(
                "\n{:<width$} {:<12} WORKER   (REST via {via})",
                "CONNECTOR/TASK", "STATE"
            );
            for (name, s) in map {
                println!(
                    "{:<width$} {:<12} {}",
                    name,
                    s.connector.state,
                    worker(&s.connector.worker_id)
                );
                if let Some(t) = &s.connector.trace {
                    println!("    {}", t.lines().next().unwrap_or_default());
                }
                for t in &s.tasks {
                    println!(
                        "{:<width$} {:<12} {}",
                        format!("  task {}", t.id),
                        t.state,
                        worker(&t.worker_id)
                    );
                    if let Some(tr) = &t.trace {
                        println!("    {}", tr.lines().next().unwrap_or_default());
                    }
                }
            }
        }
    }
    for p in r.processes.iter().filter(|p| p.died) {
        println!("\n{} is not running; last lines of its log:", p.name);
        print!("{}", p.log_tail.as_deref().unwrap_or("(no log)\n"));
    }
    if r.problems.is_empty() {
        println!("\nall connectors and tasks RUNNING on live workers");
    } else {
        println!("\nnot ready: {}", r.problems.join("; "));
    }
}
