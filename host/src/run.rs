//! One run, end to end: load the plugin, resolve parameters and grants, run it with live output,
//! stop and flush its load jobs whatever happened, and write the result.

use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};

use crate::caps::RunContext;
use crate::cluster::Clusters;
use crate::config::client_props::{map_consumer_properties, map_producer_properties, Property};
use crate::config::params;
use crate::config::profile::Profile;
use crate::config::scenario::ScenarioFile;
use crate::connect::ConnectClient;
use crate::deployment::mirrors::Mirror;
use crate::deployment::run_mirror::RunMirror;
use crate::engine::{Host, PluginFailure};
use crate::faults::FaultTargets;
use crate::metrics::clock::RunClock;
use crate::metrics::RunMetrics;
use crate::plugin_path;
use crate::policy::{Grants, Offer};
use crate::probe::Probes;
use crate::report::console::{
    alert_lines, consumer_lines, custom_histogram_lines, figure_lines, group_lines,
    mm2_metrics_lines, perf_test_final_line, replication_lines, summary_table, threshold_lines,
    LiveOutput,
};
use crate::report::live_consumers::ConsumeSnapshot;
use crate::report::result::{
    self, Ending, Environment, Outcome, PluginMeta, RunResult, RunSetup, ScenarioMeta, Stage,
};
use crate::report::snapshot::Snapshots;
use crate::thresholds::abort::AbortOnFail;
use crate::watch::alerts::AlertWatcher;
use crate::watch::mm2_metrics::Mm2MetricsWatcher;

pub struct RunRequest {
    pub scenario: ScenarioFile,
    pub profile: Option<(String, Profile)>,
    pub overrides: Vec<(String, String)>,
    pub producer_properties: Vec<Property>,
    /// `--consumer.config`, `--consumer-props`: for every consume job of the run
    pub consumer_properties: Vec<Property>,
    /// fault targets granted on the command line (`--grant-fault`)
    pub granted_faults: Vec<String>,
    /// thresholds from the command line (`--threshold`), on top of the scenario file's
    pub thresholds: Vec<crate::thresholds::Threshold>,
    /// stop as soon as a threshold fails (`--abort-on-fail`, or the scenario file's)
    pub abort_on_fail: bool,
    pub json: Option<PathBuf>,
    /// `--metrics-addr`: serve live Prometheus metrics here during the run
    pub metrics_addr: Option<std::net::SocketAddr>,
    /// `--mirror`: the MirrorMaker 2 mirror to measure, over the scenario file's `mirror`
    pub mirror: Option<String>,
    /// the deployment's alerts to watch: `--alerts` over the scenario file's `[alerts]`
    pub alerts: Option<crate::watch::alerts::AlertWatch>,
    /// MirrorMaker 2's metrics to sample: `--mm2-metrics` over the scenario's `[mm2_metrics]`
    pub mm2_metrics: Option<crate::watch::mm2_metrics::Mm2MetricsWatch>,
}

/// How the run ended, for the exit code.
#[derive(Debug, Clone, PartialEq)]
pub enum RunEnd {
    Completed,
    PluginFailed(PluginFailure),
    /// `abort_on_fail`: a threshold failed while the run went on
    Aborted(String),
}

pub async fn run(host: &Host, request: RunRequest) -> Result<(RunEnd, RunResult)> {
    let scenario = &request.scenario;
    let scenario_dir = scenario.path.parent();
    let plugin_file = plugin_path::resolve(&scenario.plugin, scenario_dir)
        .with_context(|| format!("scenario {}", scenario.path.display()))?;
    let plugin = host.load(&plugin_file)?;
    let info = plugin.describe(host).await?;
    let params =
        params::resolve(&info.params, &scenario.params, &request.overrides).with_context(|| {
            format!(
                "scenario {} (plugin {})",
                scenario.path.display(),
                info.name
            )
        })?;

    let clusters = match &request.profile {
        Some((_, profile)) => Clusters::from_profile(profile),
        None => {
            let clusters = Clusters::embedded()?;
            eprintln!(
                "No --profile given: using librdkafka's embedded mock cluster as `source` ({}). Pass --profile for real clusters.",
                clusters.bootstrap_servers(crate::cluster::EMBEDDED_NAME).unwrap_or("?")
            );
            clusters
        }
    };
    let profile = request.profile.as_ref().map(|(_, profile)| profile);
    let connect = match profile {
        Some(profile) => ConnectClient::from_profile(profile)?,
        None => None,
    };
    let faults = match profile {
        Some(profile) => FaultTargets::try_from_profile(profile)?,
        None => FaultTargets::default(),
    };
    let probes = match profile {
        Some(profile) => Probes::load(profile)?,
        None => Probes::default(),
    };
    check_alert_thresholds(
        &request.alerts,
        scenario.thresholds.iter().chain(&request.thresholds),
    )?;
    // A misnamed or silent Prometheus is an error naming it, not a run whose alert criteria are
    // all "not measured".
    if let Some(watch) = &request.alerts {
        crate::watch::alerts::check(watch, &probes).await?;
    }
    if let Some(watch) = &request.mm2_metrics {
        crate::watch::mm2_metrics::check(watch, &probes).await?;
    }
    let fault_targets = faults.targets();
    let offer = Offer {
        clusters: clusters.names().collect(),
        connect: connect.is_some(),
        fault_targets: fault_targets.iter().map(|t| t.name.as_str()).collect(),
        probes: probes.names(),
        topics: profile
            .map(|p| {
                p.clusters
                    .iter()
                    .filter_map(|(name, c)| Some((name.clone(), c.topics.clone()?)))
                    .collect()
            })
            .unwrap_or_default(),
    };
    let operator_faults: Vec<String> = scenario
        .granted_faults
        .iter()
        .chain(&request.granted_faults)
        .cloned()
        .collect();
    let grants = Grants::compute(&info.requests, &info.optional, &offer, &operator_faults)
        .with_context(|| format!("plugin {} cannot run here", info.name))?;
    if !grants.unavailable().is_empty() {
        let unavailable: Vec<String> = grants
            .unavailable()
            .iter()
            .map(ToString::to_string)
            .collect();
        eprintln!(
            "note: the plugin uses {} when the environment has it; this one does not, so it runs without",
            unavailable.join(", ")
        );
    }
    for withheld in grants.withheld_faults() {
        eprintln!(
            "warning: the plugin asks for fault target {withheld:?}, which is not granted: its faults will be \
             denied (grant with --grant-fault {withheld})"
        );
    }
    if let Some((profile_name, _)) = &request.profile {
        check_clusters_answer(&clusters, grants.clusters(), profile_name).await?;
    }
    // The scenario file's settings first: the command line's win.
    let producer_properties: Vec<Property> = scenario
        .producer
        .iter()
        .chain(&request.producer_properties)
        .cloned()
        .collect();
    let producer_config = map_producer_properties(&producer_properties);
    for note in producer_config.not_applied() {
        eprintln!("warning: producer property {note}");
    }
    let consumer_config = map_consumer_properties(&request.consumer_properties);
    for note in consumer_config.not_applied() {
        eprintln!("warning: consumer property {note}");
    }

    let clock = RunClock::start();
    let started_at = chrono::Utc::now();
    let metrics = Arc::new(RunMetrics::new(clock));
    let (cancel, cancelled) = tokio::sync::watch::channel(false);
    let cancel = Arc::new(cancel);
    let environment = Environment {
        host: result::HostInfo::read(),
        embedded_cluster: clusters.is_embedded(),
        profile: request.profile.as_ref().map(|(name, _)| name.clone()),
        clusters: clusters
            .names()
            .map(|n| {
                (
                    n.to_string(),
                    clusters
                        .bootstrap_servers(n)
                        .unwrap_or_default()
                        .to_string(),
                )
            })
            .collect(),
        kafka_versions: match profile {
            Some(profile) => crate::deployment::kafka_versions::read(profile, &probes).await,
            None => Default::default(),
        },
    };
    let new_topics = clusters
        .names()
        .map(|name| {
            let profile_settings = profile
                .and_then(|p| p.cluster(name))
                .map(|c| c.new_topics.clone())
                .unwrap_or_default();
            (
                name.to_string(),
                scenario.new_topics.over(&profile_settings),
            )
        })
        .collect();
    let context = Arc::new(RunContext {
        clusters,
        connect,
        faults,
        probes,
        metrics: metrics.clone(),
        params: params.clone(),
        grants,
        producer_config: producer_config.clone(),
        consumer_config,
        next_job_id: AtomicU64::new(1),
        run_id: rand::random(),
        limits: scenario.limits,
        mirror: RunMirror::new(
            request.profile.as_ref().map(|(name, p)| (name.as_str(), p)),
            request.mirror.clone().or_else(|| scenario.mirror.clone()),
        ),
        single_record_producers: Default::default(),
        new_topics,
        created_topics: Default::default(),
        cancelled,
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
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("\nInterrupted: stopping the plugin, flushing load jobs, writing the partial result…");
            let _ = interrupt_cancel.send(true);
        }
    });
    let thresholds: Vec<_> = scenario
        .thresholds
        .iter()
        .chain(&request.thresholds)
        .cloned()
        .collect();
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
            file: scenario.path.display().to_string(),
            plugin: PluginMeta {
                name: info.name.clone(),
                path: plugin_file.display().to_string(),
                loaded: plugin.loaded.clone(),
            },
            params,
            limits: scenario.limits,
        },
        environment,
        started_at,
        producer_properties: producer_config.notes.clone(),
        producer_settings: producer_config.in_force(),
        consumer_properties: context.consumer_config.notes.clone(),
        consumer_settings: context.consumer_config.in_force(),
        thresholds,
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
    let run_result = RunResult::build(
        &setup,
        &metrics,
        context.mirror.used().map(Mirror::summary),
        Stage::Finished(Box::new(Ending {
            outcome: match &end {
                RunEnd::Completed => Outcome::Completed,
                RunEnd::Aborted(reason) => Outcome::Aborted {
                    reason: reason.clone(),
                },
                RunEnd::PluginFailed(failure) => Outcome::Failed {
                    failure: failure.clone(),
                },
            },
            alerts,
            mm2_metrics,
        })),
    );
    print!("\n{}", summary_table(&run_result.phases));
    print!("{}", replication_lines(&run_result.replication));
    print!(
        "{}",
        custom_histogram_lines(&run_result.custom_histograms, &run_result.phases)
    );
    print!("{}", figure_lines(&run_result.figures));
    print!("{}", threshold_lines(&run_result.thresholds));
    if let Some(line) = perf_test_final_line(&run_result.phases) {
        println!("{line}");
    }
    print!(
        "{}",
        consumer_lines(&run_result.consumers, setup.started_at)
    );
    print!("{}", group_lines(&run_result.groups));
    if let Some(alerts) = &run_result.alerts {
        print!("{}", alert_lines(alerts));
    }
    if let Some(mm2) = &run_result.mm2_metrics {
        print!("{}", mm2_metrics_lines(mm2));
    }
    if let Some(path) = &request.json {
        result::write_json(path, &run_result)?;
        eprintln!("Result written to {}", path.display());
    }
    Ok((end, run_result))
}

/// How often `abort_on_fail` re-evaluates the thresholds.
const ABORT_CHECK_EVERY: Duration = Duration::from_secs(2);

/// Re-checks the thresholds while the run goes on; the first failure cancels the run.
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

/// Parameters given as `--set key=value`.
pub fn parse_set(arg: &str) -> Result<(String, String)> {
    let (key, value) = arg
        .split_once('=')
        .with_context(|| format!("--set {arg:?}: write it as key=value"))?;
    Ok((key.trim().to_string(), value.trim().to_string()))
}

/// A threshold on alerts needs alerts to read: refused before the run rather than "not measured"
/// after it.
fn check_alert_thresholds<'a>(
    watch: &Option<crate::watch::alerts::AlertWatch>,
    mut thresholds: impl Iterator<Item = &'a crate::thresholds::Threshold>,
) -> Result<()> {
    if watch.is_none() {
        if let Some(threshold) = thresholds.find(|t| t.metric.reads_alerts()) {
            bail!(
                "the threshold {:?} reads alerts, and the run watches none: name the profile's \
                 Prometheus probe with --alerts PROBE or [alerts] probe = \"PROBE\" in the scenario file",
                threshold.text
            );
        }
    }
    Ok(())
}

/// Every cluster the plugin was granted answers before the plugin starts, so an unreachable or
/// misconfigured cluster is one clear error naming it rather than a timeout mid-scenario.
async fn check_clusters_answer<'a>(
    clusters: &Clusters,
    granted: impl Iterator<Item = &'a str>,
    profile: &str,
) -> Result<()> {
    for name in granted {
        if let Err(why) = clusters.check_reachable(name).await {
            bail!(
                "cluster {name:?} ({}) does not answer: {why}. Check clusters.{name} in the profile \
                 {profile} (bootstrap_servers; security.protocol, SASL and TLS properties for a \
                 secured cluster) and that its brokers run",
                clusters.bootstrap_servers(name).unwrap_or("?")
            );
        }
    }
    Ok(())
}
