//! Stage 2 of a run: the clock starts, the plugin runs with its watchers, live output and result
//! snapshots around it, and whatever happened every load and consume job is stopped and flushed
//! before the stage hands its figures on.

use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;

use super::abort_on_fail::AbortOnFail;
use super::collect::RunSetup;
use super::prepare::Prepared;
use super::snapshots::Snapshots;
use super::{RunEnd, RunRequest};
use crate::caps::kafka::KafkaState;
use crate::caps::RunContext;
use crate::deployment::mirrors::{Mirror, MirrorSummary};
use crate::deployment::run_mirror::RunMirror;
use crate::engine::Host;
use crate::metrics::clock::RunClock;
use crate::metrics::RunMetrics;
use crate::report::console::LiveOutput;
use crate::report::live_consumers::ConsumeSnapshot;
use crate::result::{PluginMeta, ScenarioMeta};
use crate::shard::{Shard, ShardPlan};
use crate::watch::alerts::{AlertWatcher, AlertsResult};
use crate::watch::mm2_metrics::{Mm2MetricsResult, Mm2MetricsWatcher};

/// A run that is over: its jobs flushed, its watchers stopped, its figures final.
pub struct Executed {
    pub setup: Arc<RunSetup>,
    pub metrics: Arc<RunMetrics>,
    pub end: RunEnd,
    /// the MirrorMaker 2 mirror the run measured, if it used one
    pub mirror: Option<MirrorSummary>,
    pub alerts: Option<AlertsResult>,
    pub mm2_metrics: Option<Mm2MetricsResult>,
}

pub async fn execute(host: &Host, prepared: Prepared, request: &RunRequest) -> Result<Executed> {
    let scenario = &request.scenario;
    let Prepared {
        plugin,
        plugin_file,
        info,
        params,
        environment,
        thresholds,
        capabilities,
    } = prepared;
    if let Some(plan) = &request.shard {
        wait_for_start(plan).await?;
    }
    let clock = RunClock::start();
    // The shards' clocks all count from the one instant they started at.
    let started_at = request
        .shard
        .map_or_else(chrono::Utc::now, |plan| plan.start_at);
    let metrics = Arc::new(RunMetrics::new(clock));
    let (cancel, cancelled) = tokio::sync::watch::channel(false);
    let cancel = Arc::new(cancel);
    let context = Arc::new(RunContext {
        connect: capabilities.connect,
        faults: capabilities.faults,
        probes: capabilities.probes,
        mirror: RunMirror::new(
            request.profile.as_ref().map(|(name, p)| (name.as_str(), p)),
            request.mirror.clone().or_else(|| scenario.mirror.clone()),
        ),
        metrics: metrics.clone(),
        params: params.clone(),
        grants: capabilities.grants,
        limits: scenario.limits,
        cancelled,
        shard: request.shard.map_or(Shard::WHOLE, |plan| plan.shard),
        kafka: KafkaState {
            producer_config: capabilities.producer_config,
            consumer_config: capabilities.consumer_config,
            new_topics: capabilities.new_topics,
            created_topics: Default::default(),
            single_record_producers: Default::default(),
            next_job_id: AtomicU64::new(1),
            run_id: request
                .shard
                .map_or_else(rand::random, |plan| plan.run_id()),
            clusters: capabilities.clusters,
        },
    });

    eprintln!(
        "Running {} (plugin {}, {}{})",
        scenario.name,
        info.name,
        plugin_file.display(),
        if params.time_scale != 1.0 {
            format!(", time_scale {}", params.time_scale)
        } else {
            String::new()
        }
    );
    let interrupt_cancel = cancel.clone();
    let interrupt = tokio::spawn(async move {
        crate::interrupt::interrupted().await;
        eprintln!(
            "\nInterrupted: stopping the plugin, flushing load jobs, writing the partial result…"
        );
        let _ = interrupt_cancel.send(true);
    });
    let abort = (request.abort_on_fail || scenario.abort_on_fail)
        .then(|| Arc::new(AbortOnFail::new(thresholds.clone())));
    let abort_watch = abort
        .clone()
        .map(|abort| spawn_abort_watch(abort, metrics.clone(), cancel.clone()));
    let _metrics_server = match request.metrics_addr {
        Some(addr) => {
            let server =
                crate::report::live_metrics::serve(addr, metrics.clone(), scenario.name.clone())
                    .await?;
            eprintln!("Live metrics: http://{}/metrics", server.addr);
            Some(server)
        }
        None => None,
    };
    let alert_watcher = match request.alerts.clone() {
        Some(watch) => {
            Some(AlertWatcher::start(watch, context.probes.clone(), metrics.clone()).await?)
        }
        None => None,
    };
    let mm2_watcher = request.mm2_metrics.clone().map(|watch| {
        let run = context.clone();
        Mm2MetricsWatcher::start(watch, context.probes.clone(), metrics.clone(), move || {
            Some(run.mirror.used()?.source.as_ref()?.name.clone())
        })
    });
    let (stop_ticker, ticker_stopped) = tokio::sync::oneshot::channel();
    let ticker = spawn_timeline(metrics.clone(), scenario.name.clone(), ticker_stopped);
    let setup = Arc::new(RunSetup {
        scenario: ScenarioMeta {
            name: scenario.name.clone(),
            file: Some(scenario.path.display().to_string()),
            plugin: Some(PluginMeta {
                name: info.name.clone(),
                path: Some(plugin_file.display().to_string()),
                loaded: Some(plugin.loaded.clone()),
            }),
            params: Some((&params).into()),
            limits: Some(scenario.limits),
        },
        environment,
        started_at,
        producer_properties: context.kafka.producer_config.notes.clone(),
        producer_settings: context.kafka.producer_config.in_force(),
        consumer_properties: context.kafka.consumer_config.notes.clone(),
        consumer_settings: context.kafka.consumer_config.in_force(),
        thresholds,
        shard: request.shard,
    });
    // Written by kscen itself while the run goes on: what is left if it is killed outright.
    let snapshots = request
        .json
        .clone()
        .map(|path| Snapshots::start(setup.clone(), context.clone(), path));

    let outcome = plugin.run(host, context.clone(), scenario.limits).await;

    // Whatever happened, every load job is stopped and flushed before figures are taken.
    for job in metrics.jobs() {
        job.request_stop();
    }
    for job in metrics.consume_jobs() {
        job.request_stop();
    }
    for job in metrics.jobs() {
        job.wait_done().await;
    }
    for job in metrics.consume_jobs() {
        job.wait_done().await;
    }
    metrics.phases.end(metrics.clock.now_ns());
    interrupt.abort();
    if let Some(watch) = abort_watch {
        watch.abort();
    }
    let _ = stop_ticker.send(());
    if let Ok(live) = ticker.await {
        live.finish();
    }
    metrics.tick(1.0);
    let alerts = match alert_watcher {
        Some(watcher) => Some(watcher.finish(|| metrics.events.snapshot()).await),
        None => None,
    };
    let mm2_metrics = match mm2_watcher {
        Some(watcher) => Some(watcher.finish(&metrics).await),
        None => None,
    };

    let aborted = abort.as_ref().and_then(|a| a.reason());
    let end = match outcome {
        _ if aborted.is_some() => RunEnd::Aborted(aborted.unwrap_or_default()),
        Ok(()) => RunEnd::Completed,
        Err(failure) => {
            metrics
                .events
                .push(metrics.clock.now_ns(), "plugin", &failure.to_string());
            RunEnd::PluginFailed(failure)
        }
    };
    if let Some(snapshots) = snapshots {
        snapshots.stop().await;
    }
    Ok(Executed {
        setup,
        mirror: context.mirror.used().map(Mirror::summary),
        metrics,
        end,
        alerts,
        mm2_metrics,
    })
}

/// How often `abort_on_fail` re-evaluates the thresholds.
const ABORT_CHECK_EVERY: Duration = Duration::from_secs(2);

/// Re-checks the thresholds while the run goes on; the first failure cancels the run.
/// Waits for the instant every shard starts at; refuses one already well past (a shard that was
/// not ready in time would start late and skew the merged timeline).
async fn wait_for_start(plan: &ShardPlan) -> Result<()> {
    let wait = plan.start_at - chrono::Utc::now();
    if wait < -LATE_START_TOLERANCE {
        anyhow::bail!(
            "shard {}: the start instant {} passed {:.1} s ago: every shard must be ready before \
             it; give a later --start-at (e.g. +30s)",
            plan.shard,
            plan.start_at.to_rfc3339(),
            -wait.as_seconds_f64()
        );
    }
    let Ok(wait) = wait.to_std() else {
        return Ok(());
    };
    eprintln!(
        "Shard {}: ready, starting at {} (in {:.1} s)",
        plan.shard,
        plan.start_at.to_rfc3339(),
        wait.as_secs_f64()
    );
    tokio::select! {
        () = tokio::time::sleep(wait) => Ok(()),
        () = crate::interrupt::interrupted() => {
            anyhow::bail!("shard {}: interrupted before its start instant", plan.shard)
        }
    }
}

/// How late a shard may still start: scheduling jitter, not a shard that missed its start.
const LATE_START_TOLERANCE: chrono::TimeDelta = chrono::TimeDelta::seconds(2);

fn spawn_abort_watch(
    abort: Arc<AbortOnFail>,
    metrics: Arc<RunMetrics>,
    cancel: Arc<tokio::sync::watch::Sender<bool>>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(ABORT_CHECK_EVERY);
        interval.tick().await;
        loop {
            interval.tick().await;
            if let Some(reason) = abort.check(&metrics) {
                eprintln!("\nAborting (abort_on_fail): {reason}");
                metrics
                    .events
                    .push(metrics.clock.now_ns(), "abort", &reason);
                let _ = cancel.send(true);
                return;
            }
        }
    })
}

/// Samples the timeline every second and drives the live output until told to stop.
fn spawn_timeline(
    metrics: Arc<RunMetrics>,
    label: String,
    mut stop: tokio::sync::oneshot::Receiver<()>,
) -> tokio::task::JoinHandle<LiveOutput> {
    tokio::spawn(async move {
        let mut live = LiveOutput::new(&label);
        let mut interval = tokio::time::interval(Duration::from_secs(1));
        interval.tick().await;
        loop {
            tokio::select! {
                _ = interval.tick() => {
                    let consumers: Vec<_> = metrics
                        .consume_jobs()
                        .iter()
                        .map(|job| (job.id, ConsumeSnapshot::of(&job.status())))
                        .collect();
                    live.tick(metrics.tick(1.0), &consumers);
                }
                _ = &mut stop => return live,
            }
        }
    })
}
