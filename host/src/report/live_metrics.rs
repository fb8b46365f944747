//! `kscen run --metrics-addr HOST:PORT`: live Prometheus text metrics while a run goes on —
//! counters straight from the load jobs, the last second's rates and corrected p99 from the
//! timeline, the current phase, backlog and replication lag. Loopback only: the endpoint has no
//! authentication.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Result;

use crate::metrics::RunMetrics;
use crate::metrics_http::{label_value, MetricsServer};

/// The flag that names the endpoint's address.
const FLAG: &str = "--metrics-addr";

/// Resolves `HOST:PORT` and refuses anything but a loopback address.
pub async fn resolve(addr: &str) -> Result<SocketAddr> {
    crate::metrics_http::resolve(addr, FLAG).await
}

pub async fn serve(
    addr: SocketAddr,
    metrics: Arc<RunMetrics>,
    scenario: String,
) -> Result<MetricsServer> {
    crate::metrics_http::serve(addr, FLAG, move || exposition(&metrics, &scenario)).await
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
