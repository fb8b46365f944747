//! The command line: `kscen run`, `list`, `describe`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

use crate::config::producer_props::{parse_property_arg, read_properties_file};
use crate::config::profile::Profile;
use crate::config::scenario::ScenarioFile;
use crate::engine::{Host, PluginFailure};
use crate::plugin_path;
use crate::policy::Request;
use crate::run::{parse_set, RunEnd, RunRequest};

/// The run completed (and, once thresholds exist, passed them).
pub const EXIT_OK: u8 = 0;
/// Bad input or an environment problem; nothing or little ran.
pub const EXIT_ERROR: u8 = 1;
/// The run completed but a threshold failed or could not be measured.
pub const EXIT_THRESHOLD_FAILED: u8 = 2;
/// The plugin failed: returned an error, trapped, or hit a limit. The partial result is written.
pub const EXIT_PLUGIN_FAILED: u8 = 3;
/// The operator interrupted the run (Ctrl-C). The partial result is written.
pub const EXIT_INTERRUPTED: u8 = 130;

#[derive(Debug, Parser)]
#[command(
    name = "kscen",
    version,
    about = "Kafka and MirrorMaker 2 load and resilience scenarios, as sandboxed WebAssembly plugins",
    long_about = "kscen runs load and resilience scenarios against Kafka clusters. Each scenario is a \
WebAssembly component (a plugin) that orchestrates phases; the host runs the load natively with an \
open-loop schedule and measures schedule lag, service latency and corrected (coordinated-omission-free) \
latency.\n\nWithout --profile, scenarios run against librdkafka's embedded mock cluster: nothing to set up.",
    after_help = "Exit codes: 0 completed (every threshold passed), 1 error, 2 a threshold failed or was not \
measured, 3 plugin failed or hit a limit (partial result written), 130 interrupted (partial result written).\n\nExamples:\n  kscen run scenarios/perf-02-ramp-up.toml --set time_scale=0.01\n  \
kscen run scenarios/perf-01-nominal.toml --profile lab --json result.json\n  kscen describe ramp-up"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a scenario file.
    Run(RunArgs),
    /// List the bundled scenarios and the plugins found in the plugin path.
    List {
        /// Folder of scenario files.
        #[arg(long, default_value = "scenarios")]
        scenarios: PathBuf,
    },
    /// Show a plugin's parameters (types, defaults, help) and the capabilities it needs.
    Describe {
        /// Plugin name (looked up in the plugin path) or a .wasm file.
        plugin: String,
    },
    /// The local lab: two Kafka clusters, a 3-worker Connect cluster and MirrorMaker 2.
    Lab {
        #[command(subcommand)]
        command: crate::lab::LabCommand,
    },
    /// Render result files as a Markdown report, a self-contained HTML page and CSV files.
    Report(crate::report::command::ReportArgs),
    /// Read kafka-producer-perf-test output into a result file.
    Import(crate::import::ImportArgs),
    /// Signed plugin packs: build, inspect, verify, install, list, keygen, sign, trust.
    Pack {
        #[command(subcommand)]
        command: crate::pack::PackCommand,
    },
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Scenario file (TOML): plugin, parameters, limits — or PACK/SCENARIO of an installed pack.
    pub scenario: PathBuf,
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
}

pub async fn execute(cli: Cli) -> Result<u8> {
    match cli.command {
        Command::Run(args) => run(args).await,
        Command::List { scenarios } => list(&scenarios).await.map(|()| EXIT_OK),
        Command::Describe { plugin } => describe(&plugin).await.map(|()| EXIT_OK),
        Command::Lab { command } => crate::lab::run(command).await.map(|()| EXIT_OK),
        Command::Report(args) => crate::report::command::run(args).map(|()| EXIT_OK),
        Command::Import(args) => crate::import::run(args).map(|()| EXIT_OK),
        Command::Pack { command } => crate::pack::run(command).await.map(|()| EXIT_OK),
    }
}

async fn run(args: RunArgs) -> Result<u8> {
    // A file path, or `<pack>/<scenario>` of an installed pack (verified again here).
    let scenario = crate::pack::load_scenario(&args.scenario)?;
    let profile = match &args.profile {
        Some(name) => Some((name.clone(), Profile::load(name)?)),
        None => None,
    };
    let overrides = args
        .set
        .iter()
        .map(|s| parse_set(s))
        .collect::<Result<Vec<_>>>()?;
    let mut producer_properties = match &args.producer_config {
        Some(path) => read_properties_file(path)?,
        None => Vec::new(),
    };
    for prop in &args.producer_props {
        producer_properties.push(parse_property_arg(prop)?);
    }
    let host = Host::new()?;
    let request = RunRequest {
        scenario,
        profile,
        overrides,
        producer_properties,
        granted_faults: args.grant_fault,
        thresholds: args
            .threshold
            .iter()
            .map(|t| crate::thresholds::parse(t))
            .collect::<Result<_>>()?,
        abort_on_fail: args.abort_on_fail,
        json: args.json,
        metrics_addr: match &args.metrics_addr {
            Some(addr) => Some(crate::report::live_metrics::resolve(addr).await?),
            None => None,
        },
    };
    let (end, result) = crate::run::run(&host, request).await?;
    Ok(match end {
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
    })
}

async fn list(scenarios_dir: &Path) -> Result<()> {
    let host = Host::new()?;
    let mut files: Vec<PathBuf> = std::fs::read_dir(scenarios_dir)
        .with_context(|| format!("cannot list scenarios in {}", scenarios_dir.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    println!("Scenarios ({}):", scenarios_dir.display());
    for file in &files {
        match ScenarioFile::load(file) {
            Ok(scenario) => println!(
                "  {:<36} {:<18} {}",
                scenario.name,
                scenario.plugin,
                scenario
                    .description
                    .as_deref()
                    .unwrap_or("")
                    .lines()
                    .next()
                    .unwrap_or("")
            ),
            Err(error) => println!("  {:<28} invalid: {error:#}", file.display()),
        }
    }
    println!("\nPlugins:");
    for (name, path) in plugin_path::available(Some(scenarios_dir)) {
        let summary = match host.load(&path) {
            Ok(plugin) => plugin.describe(&host).await.map(|info| info.summary),
            Err(error) => Err(error),
        };
        match summary {
            Ok(summary) => println!("  {name:<18} {summary}"),
            Err(error) => println!("  {name:<18} unusable: {error:#}"),
        }
    }
    Ok(())
}

async fn describe(plugin: &str) -> Result<()> {
    let host = Host::new()?;
    let path = plugin_path::resolve(plugin, Some(Path::new("scenarios")))?;
    let loaded = host.load(&path)?;
    let info = loaded.describe(&host).await?;
    println!("{} — {}\n", info.name, info.summary);
    if !info.description.is_empty() {
        println!("{}\n", info.description);
    }
    println!("Parameters:");
    for param in &info.params {
        let default = param
            .default
            .as_deref()
            .map_or("required".to_string(), |d| format!("default {d}"));
        println!(
            "  {:<20} {:<11} {:<22} {}",
            param.name,
            param.kind.label(),
            default,
            param.help
        );
    }
    println!(
        "  {:<20} {:<11} {:<22} multiplies every duration parameter (0.01 runs a one-hour plan in 36 s)",
        crate::config::params::TIME_SCALE,
        "float",
        "default 1.0",
    );
    println!("\nCapabilities:");
    for request in &info.requests {
        match request {
            Request::Cluster(name) => println!("  cluster {name}"),
            Request::Connect => println!("  connect (the Kafka Connect REST API)"),
            Request::Fault(name) => println!("  fault {name} (needs --grant-fault {name})"),
            Request::Probe(name) => println!("  probe {name}"),
            Request::Topic { cluster, pattern } => println!("  topic {pattern} on {cluster}"),
        }
    }
    println!(
        "\nFile: {} (sha256 {}, built for {})",
        path.display(),
        loaded.loaded.sha256,
        loaded.wit_version()
    );
    Ok(())
}
