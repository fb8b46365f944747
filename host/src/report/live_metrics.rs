//! `kscen run --metrics-addr HOST:PORT`: live Prometheus text metrics while a run goes on —
//! counters straight from the load jobs, the last second's rates and corrected p99 from the
//! timeline, the current phase, backlog and replication lag. Loopback only: the endpoint has no
//! authentication.

use std::convert::Infallible;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use http_body_util::Full;
use hyper::body::Bytes;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

use crate::metrics::RunMetrics;

/// The server task; it stops when this is dropped.
pub struct MetricsServer {
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Resolves `HOST:PORT` and refuses anything but a loopback address.
pub async fn resolve(addr: &str) -> Result<SocketAddr> {
    let resolved: Vec<SocketAddr> = tokio::net::lookup_host(addr)
        .await
        .with_context(|| format!("--metrics-addr {addr:?}: expected HOST:PORT"))?
        .collect();
    let Some(first) = resolved.iter().find(|a| a.ip().is_loopback()) else {
        bail!(
            "--metrics-addr {addr:?}: the metrics endpoint has no authentication and serves on \
             loopback only (e.g. 127.0.0.1:9464)"
        );
    };
    Ok(*first)
}

pub async fn serve(
    addr: SocketAddr,
    metrics: Arc<RunMetrics>,
    scenario: String,
) -> Result<MetricsServer> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr} for --metrics-addr"))?;
    let addr = listener.local_addr()?;
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let metrics = metrics.clone();
            let scenario = scenario.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request: Request<_>| {
                    let response = respond(request.uri().path(), &metrics, &scenario);
                    async move { Ok::<_, Infallible>(response) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok(MetricsServer { addr, task })
}

fn respond(path: &str, metrics: &RunMetrics, scenario: &str) -> Response<Full<Bytes>> {
    let (status, content_type, body) = match path {
        "/metrics" | "/" => (
            200,
            "text/plain; version=0.0.4; charset=utf-8",
            exposition(metrics, scenario),
        ),
        _ => (
            404,
            "text/plain",
            "not found: scrape /metrics\n".to_string(),
        ),
    };
    Response::builder()
        .status(status)
        .header("content-type", content_type)
        .body(Full::new(Bytes::from(body)))
        .expect("a static response is valid")
}

fn label_value(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The Prometheus text exposition of the run now.
pub fn exposition(metrics: &RunMetrics, scenario: &str) -> String {
    let labels = format!("scenario=\"{}\"", label_value(scenario));
    let mut out = String::new();
    let mut metric = |name: &str, kind: &str, help: &str, value: f64| {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name}{{{labels}}} {value}"
        );
    };
    let (mut sent, mut acked, mut failed, mut bytes, mut backlog) = (0, 0, 0, 0, 0);
    let mut lag: Option<(u64, u64)> = None;
    for job in metrics.jobs() {
        let status = job.status();
        sent += status.sent;
        acked += status.acked;
        failed += status.failed;
        bytes += status.bytes;
        backlog += status.backlog;
        if let Some(replication) = status.replication {
            let (records, ms) = lag.get_or_insert((0, 0));
            *records += replication.status.lag_records;
            *ms = (*ms).max(replication.status.lag_ms);
        }
    }
    let elapsed = metrics.clock.now_ns() as f64 / 1e9;
    metric(
        "kscen_up",
        "gauge",
        "1 while a run is serving metrics.",
        1.0,
    );
    metric(
        "kscen_run_elapsed_seconds",
        "gauge",
        "Seconds since the run started.",
        elapsed,
    );
    metric(
        "kscen_records_sent_total",
        "counter",
        "Records handed to the producer.",
        sent as f64,
    );
    metric(
        "kscen_records_acked_total",
        "counter",
        "Records acknowledged by the cluster.",
        acked as f64,
    );
    metric(
        "kscen_records_failed_total",
        "counter",
        "Records whose delivery failed.",
        failed as f64,
    );
    metric(
        "kscen_bytes_acked_total",
        "counter",
        "Value bytes acknowledged.",
        bytes as f64,
    );
    metric(
        "kscen_backlog_records",
        "gauge",
        "Records due by the schedule and not acknowledged.",
        backlog as f64,
    );
    if let Some(point) = metrics.timeline().last() {
        metric(
            "kscen_acked_per_second",
            "gauge",
            "Records acknowledged over the last second.",
            point.acked_per_s,
        );
        metric(
            "kscen_mb_per_second",
            "gauge",
            "MiB acknowledged over the last second.",
            point.mb_per_s,
        );
        metric(
            "kscen_corrected_latency_p99_ms",
            "gauge",
            "Corrected latency p99 (intended send time to acknowledgement) over the last second, ms.",
            point.corrected_p99_ms,
        );
        metric(
            "kscen_service_latency_avg_ms",
            "gauge",
            "Service latency average (send to acknowledgement) over the last second, ms.",
            point.service_avg_ms,
        );
    }
    if let Some((records, ms)) = lag {
        metric(
            "kscen_replication_lag_records",
            "gauge",
            "Records acknowledged on the source and not yet seen on the target.",
            records as f64,
        );
        metric(
            "kscen_replication_lag_ms",
            "gauge",
            "Age of the oldest record not yet seen on the target, ms.",
            ms as f64,
        );
    }
    let phases = metrics.phases.snapshot();
    let current = phases.iter().rev().find(|p| p.end_ns.is_none());
    let _ = writeln!(
        out,
        "# HELP kscen_phase_info The phase the run is in (1), with its name and index.\n# TYPE kscen_phase_info gauge"
    );
    if let Some(phase) = current {
        let _ = writeln!(
            out,
            "kscen_phase_info{{{labels},phase=\"{}\",index=\"{}\"}} 1",
            label_value(&phase.name),
            phase.index
        );
    }
    let _ = writeln!(
        out,
        "# HELP kscen_phases_started_total Phases the plugin opened so far.\n# TYPE kscen_phases_started_total counter\nkscen_phases_started_total{{{labels}}} {}",
        phases.len()
    );
    out
}
