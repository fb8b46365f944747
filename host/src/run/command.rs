//! `kscen run`: its arguments (also a campaign step's), and the exit code of the run they ask for.

use std::path::PathBuf;

use anyhow::{Context, Result};

use super::{RunEnd, RunRequest};
use crate::config::client_props::{parse_property_arg, read_properties_file, Client, Property};
use crate::config::profile::Profile;
use crate::engine::Host;
use crate::exit::{EXIT_INTERRUPTED, EXIT_OK, EXIT_PLUGIN_FAILED, EXIT_THRESHOLD_FAILED};
use crate::result::PluginFailure;

#[derive(Debug, Default, clap::Args)]
pub struct RunArgs {
    /// Scenario file (TOML): plugin, parameters, limits — a bundled scenario by name
    /// (`perf-02-ramp-up`, see `kscen list`) — PACK/SCENARIO of an installed pack, or
    /// REGISTRY/REPOSITORY@sha256:DIGEST/SCENARIO of a signed pack in an OCI registry (pulled once
    /// per digest, verified against the trust store).
    pub scenario: PathBuf,
    /// For a pack pulled from a registry.
    #[command(flatten)]
    pub registry: crate::pack::oci::RegistryArgs,
    /// Profile naming the clusters (a file, or `lab` for the local lab). Default: embedded mock cluster.
    #[arg(long)]
    pub profile: Option<String>,
    /// Override a parameter, in TOML value syntax: --set nominal_rate=2000 --set step_duration=\"30s\".
    /// Every scenario takes time_scale (e.g. 0.01 runs a one-hour plan in 36 s).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Write the versioned JSON result here (also on failure or interruption).
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Java producer properties file, as kafka-producer-perf-test takes it; mapped to librdkafka.
    #[arg(long = "producer.config", value_name = "FILE")]
    pub producer_config: Option<PathBuf>,
    /// Producer properties key=value (Java or librdkafka names), after --producer.config.
    #[arg(long = "producer-props", value_name = "KEY=VALUE", num_args = 1..)]
    pub producer_props: Vec<String>,
    /// Java consumer properties file, as kafka-consumer-perf-test takes it: applies to every
    /// consume job of the run (before the plugin's own consumer-config); mapped to librdkafka.
    #[arg(long = "consumer.config", value_name = "FILE")]
    pub consumer_config: Option<PathBuf>,
    /// Consumer properties key=value (Java or librdkafka names), after --consumer.config.
    #[arg(long = "consumer-props", value_name = "KEY=VALUE", num_args = 1..)]
    pub consumer_props: Vec<String>,
    /// Allow the plugin to act on this fault target of the profile (a worker, broker or link).
    /// Faults are never granted implicitly; `[grants] faults` in the scenario file grants too.
    #[arg(long = "grant-fault", value_name = "TARGET")]
    pub grant_fault: Vec<String>,
    /// A pass/fail criterion on top of the scenario file's, e.g. --threshold "corrected.p99 < 100ms",
    /// --threshold "replication.lost == 0", --threshold "rebalance_ms < 60s".
    #[arg(long = "threshold", value_name = "EXPR")]
    pub threshold: Vec<String>,
    /// Stop the run as soon as a threshold fails (checked every 2 s); the result is still written.
    #[arg(long = "abort-on-fail")]
    pub abort_on_fail: bool,
    /// Serve live Prometheus metrics on this loopback address during the run (GET /metrics).
    #[arg(long = "metrics-addr", value_name = "HOST:PORT")]
    pub metrics_addr: Option<String>,
    /// The MirrorMaker 2 mirror to measure when the deployment runs several (see
    /// `kscen describe-deployment`): one of its connectors' names, or its alias pair
    /// SOURCE->TARGET. Overrides the scenario file's `mirror`.
    #[arg(long, value_name = "NAME")]
    pub mirror: Option<String>,
    /// Watch the alerts of this Prometheus probe of the profile (`kind = "prometheus"`) during
    /// the run: each alert's pending, firing and resolved times go into the result, and
    /// thresholds read them: --threshold "alert(MM2TaskFailed).fired_within < 2m",
    /// --threshold "alerts.fired == 0". Overrides the scenario file's `[alerts] probe`.
    #[arg(long, value_name = "PROBE")]
    pub alerts: Option<String>,
    /// The phase whose start is the fault `alert(NAME).fired_within` counts from (default: the
    /// run's first fault action). Overrides the scenario file's `[alerts] fault_phase`.
    #[arg(long = "fault-phase", value_name = "PHASE", requires = "alerts")]
    pub fault_phase: Option<String>,
    /// Sample MirrorMaker 2's own metrics from this Prometheus probe of the profile during the
    /// run (replication latency, record age, rates, checkpoint latency, producer errors): `mm2_*`
    /// gauges in the timeline, `mm2_*` figures for thresholds, and MM2's replication latency
    /// beside kscen's in the result. Overrides the scenario file's `[mm2_metrics] probe`.
    #[arg(long = "mm2-metrics", value_name = "PROBE")]
    pub mm2_metrics: Option<String>,
    /// Run shard I of N (0-based) of the scenario: every load job sends its stripe of the one
    /// schedule (records I, I+N, ...: rates and counts divided so the N shards add up to the
    /// target), a tracked load on the partitions p with p mod N = I. Topics, Connect changes and
    /// faults are shard 0's; the other shards wait for its topics. `kscen merge` adds the N
    /// results into one. Needs --start-at.
    #[arg(long, value_name = "I/N", requires = "start_at", value_parser = parse_shard)]
    pub shard: Option<crate::shard::Shard>,
    /// The instant every shard starts at, the same for all N: RFC 3339 (2026-12-05T10:00:00Z) or
    /// a delay from now (+30s). A shard not ready by then fails rather than start late.
    #[arg(long = "start-at", value_name = "TIME", requires = "shard", value_parser = crate::shard::parse_start_at)]
    pub start_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Also print the result as one JSON line at the end of the output, prefixed
    /// `kscen-result: `: how `kscen k8s run` collects each shard's result from its pod's log.
    #[arg(long = "print-result")]
    pub print_result: bool,
    /// What a campaign step set on the deployment before this run, for its result: never given
    /// on the command line (a run by itself changes no connector or worker).
    #[arg(skip)]
    pub deployment_settings: crate::result::DeploymentSettings,
}

/// `--alerts` and `--fault-phase` over the scenario file's `[alerts]`.
fn alert_watch(
    scenario: &crate::config::scenario::ScenarioFile,
    probe: Option<String>,
    fault_phase: Option<String>,
) -> Option<crate::watch::alerts::AlertWatch> {
    let from_file = scenario.alerts.clone();
    let probe = probe.or_else(|| from_file.as_ref().map(|w| w.probe.clone()))?;
    Some(crate::watch::alerts::AlertWatch {
        probe,
        poll: from_file
            .as_ref()
            .map_or(crate::watch::DEFAULT_POLL, |w| w.poll),
        fault_phase: fault_phase.or_else(|| from_file.and_then(|w| w.fault_phase)),
    })
}

/// A client's properties from its `--*.config` file, then its `--*-props` items.
fn client_properties(
    client: Client,
    file: &Option<PathBuf>,
    items: &[String],
) -> Result<Vec<Property>> {
    let mut properties = match file {
        Some(path) => read_properties_file(client, path)?,
        None => Vec::new(),
    };
    for item in items {
        properties.push(parse_property_arg(client, item)?);
    }
    Ok(properties)
}

/// `kscen run`.
pub async fn run(args: RunArgs) -> Result<u8> {
    let host = Host::new()?;
    let print_result = args.print_result;
    let (end, result) = run_scenario(&host, args).await?;
    if print_result {
        println!(
            "{}{}",
            crate::k8s::manifests::RESULT_LINE_PREFIX,
            serde_json::to_string(&result)?
        );
    }
    Ok(exit_code(&end, &result))
}

/// One `kscen run`, from its arguments (the command line's, or a campaign step's).
pub async fn run_scenario(
    host: &Host,
    args: RunArgs,
) -> Result<(RunEnd, crate::result::RunResult)> {
    // A file path, `<pack>/<scenario>` of an installed pack (verified again here), or a pack
    // pinned in a registry.
    let scenario = crate::pack::pinned::resolve(&args.scenario, &args.registry).await?;
    let profile = match &args.profile {
        Some(name) => Some((name.clone(), Profile::load(name)?)),
        None => None,
    };
    let overrides = args
        .set
        .iter()
        .map(|s| parse_set(s))
        .collect::<Result<Vec<_>>>()?;
    let producer_properties = client_properties(
        Client::Producer,
        &args.producer_config,
        &args.producer_props,
    )?;
    let consumer_properties = client_properties(
        Client::Consumer,
        &args.consumer_config,
        &args.consumer_props,
    )?;
    let request = RunRequest {
        alerts: alert_watch(&scenario, args.alerts, args.fault_phase),
        mm2_metrics: match args.mm2_metrics {
            Some(probe) => Some(crate::watch::mm2_metrics::Mm2MetricsWatch {
                probe,
                poll: scenario
                    .mm2_metrics
                    .as_ref()
                    .map_or(crate::watch::DEFAULT_POLL, |w| w.poll),
            }),
            None => scenario.mm2_metrics.clone(),
        },
        scenario,
        profile,
        overrides,
        producer_properties,
        consumer_properties,
        granted_faults: args.grant_fault,
        thresholds: args
            .threshold
            .iter()
            .map(|t| crate::thresholds::parse(t))
            .collect::<Result<_>>()?,
        abort_on_fail: args.abort_on_fail,
        json: args.json,
        mirror: args.mirror,
        deployment_settings: args.deployment_settings,
        shard: args
            .shard
            .zip(args.start_at)
            .map(|(shard, start_at)| crate::shard::ShardPlan { shard, start_at }),
        metrics_addr: match &args.metrics_addr {
            Some(addr) => Some(crate::report::live_metrics::resolve(addr).await?),
            None => None,
        },
    };
    crate::run::run(host, request).await
}

/// The exit code of a run that ended so, saying why on stderr when it is not 0.
pub fn exit_code(end: &RunEnd, result: &crate::result::RunResult) -> u8 {
    match end {
        RunEnd::Completed if result.thresholds.iter().all(|t| t.passed()) => EXIT_OK,
        RunEnd::Completed => {
            eprintln!("error: thresholds failed (see above)");
            EXIT_THRESHOLD_FAILED
        }
        RunEnd::Aborted(reason) => {
            eprintln!("error: aborted: {reason}");
            EXIT_THRESHOLD_FAILED
        }
        RunEnd::PluginFailed(PluginFailure::Interrupted(_)) => EXIT_INTERRUPTED,
        RunEnd::PluginFailed(failure) => {
            eprintln!("error: {failure}");
            EXIT_PLUGIN_FAILED
        }
    }
}

fn parse_shard(text: &str) -> Result<crate::shard::Shard, String> {
    text.parse()
}

/// Parameters given as `--set key=value`.
pub fn parse_set(arg: &str) -> Result<(String, String)> {
    let (key, value) = arg
        .split_once('=')
        .with_context(|| format!("--set {arg:?}: write it as key=value"))?;
    Ok((key.trim().to_string(), value.trim().to_string()))
}
