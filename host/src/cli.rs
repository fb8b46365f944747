//! The command line: `kscen list`, `describe`, `describe-deployment`, `new`, and the commands
//! whose modules own their arguments (`run`, `lab`, `report`, `compare`, `merge`, `import`, `campaign`,
//! `pack`, `exporter`).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

use crate::config::profile::Profile;
use crate::config::scenario::ScenarioFile;
use crate::engine::Host;
use crate::exit::{EXIT_OK, EXIT_THRESHOLD_FAILED};
use crate::plugin_path;
use crate::policy::Request;
use crate::run::command::RunArgs;

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
kscen run scenarios/perf-01-nominal.toml --profile lab --json result.json\n  kscen run perf-02-ramp-up --set time_scale=0.01   (a bundled scenario, by name)\n  \
kscen describe ramp-up\n  kscen new my-scenario   (a plugin project of your own)"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a scenario file.
    Run(Box<RunArgs>),
    /// List the scenarios and plugins kscen finds, and the folders it found them in.
    List {
        /// Folder of scenario files. Default: `scenarios/` here, then those installed with kscen.
        #[arg(long)]
        scenarios: Option<PathBuf>,
    },
    /// Show a plugin's parameters (types, defaults, help) and the capabilities it needs.
    Describe {
        /// Plugin name (looked up in the plugin path) or a .wasm file (relative to this folder).
        plugin: String,
    },
    /// Create a scenario plugin project that builds and runs as it is.
    #[command(
        after_help = "Then:\n  cd NAME\n  cargo build --release --target wasm32-wasip2\n  kscen run scenario.toml"
    )]
    New(NewArgs),
    /// The local lab: two Kafka clusters, a 3-worker Connect cluster and MirrorMaker 2.
    Lab {
        #[command(subcommand)]
        command: crate::lab::LabCommand,
    },
    /// Render result files as a Markdown report, a self-contained HTML page and CSV files.
    Report(crate::report::command::ReportArgs),
    /// Put a baseline and a candidate (each one or more repetitions of a run) side by side:
    /// throughput, latency percentiles and figures, the change, and whether it exceeds the noise.
    #[command(
        after_help = "Example, three runs before and after a linger.ms change:\n  kscen compare --baseline a1.json a2.json a3.json --candidate b1.json b2.json b3.json\n\nPhases are matched by name (or, with one phase with records on each side, those two).\nChoose them with --phase, repeated for each pair: a past perf-test run (run 2 of an\nappended log) against the first step of a ramp-up:\n  kscen compare --baseline past.json --candidate ramp.json --phase 'perf #2=step-1 1x'\nor a phase of the same name on both sides: --phase nominal\n\nA change is beyond noise when its 95 % bootstrap interval excludes zero and it is 1 % or\nmore: with repetitions on both sides, from the runs' spread; with one run, for a latency\npercentile only, from the values its histogram recorded; other figures say the noise is\nunknown."
    )]
    Compare(crate::report::compare::CompareArgs),
    /// Sharded runs on Kubernetes: N pods of an Indexed Job, merged into one result.
    K8s {
        #[command(subcommand)]
        command: crate::k8s::K8sCommand,
    },
    /// Merge the results of the shards of one run (`kscen run --shard I/N`) into one result.
    Merge(crate::shard::command::MergeArgs),
    /// Show the deployment's MirrorMaker 2 mirrors (found through Connect, or pinned by the
    /// profile's [mm2]) and what is wrong with them. Exits 2 when a problem is listed.
    DescribeDeployment(DescribeDeploymentArgs),
    /// Serve the deployment's replication lag and consumer-group lag as Prometheus metrics, under
    /// the names the seeds' alert rules read (mm2_replication_lag, kafka_consumer_group_lag).
    Exporter(crate::exporter::ExporterArgs),
    /// Read kafka-producer-perf-test output into a result file.
    Import(crate::import::ImportArgs),
    /// A whole test plan from one file: steps (scenarios with overrides) run in order, waits
    /// between them, results kept per step, resumed after an interruption.
    Campaign {
        #[command(subcommand)]
        command: crate::campaign::CampaignCommand,
    },
    /// Signed plugin packs: build, inspect, verify, install, list, keygen, sign, trust.
    Pack {
        #[command(subcommand)]
        command: crate::pack::PackCommand,
    },
}

#[derive(Debug, clap::Args)]
pub struct NewArgs {
    /// The plugin's name: a crate name (lowercase letters, digits, '-', '_'); the project folder.
    pub name: String,
    /// Folder to create the project in.
    #[arg(long, default_value = ".")]
    pub dir: PathBuf,
    /// Take kscen-sdk from this crate folder (e.g. a kscen checkout's `sdk/`). Default: the SDK
    /// installed with kscen.
    #[arg(long, value_name = "DIR", conflicts_with = "sdk_git")]
    pub sdk_path: Option<PathBuf>,
    /// Take kscen-sdk from this git repository of kscen (Rust only).
    #[arg(long, value_name = "URL")]
    pub sdk_git: Option<String>,
    /// The language to write the scenario in: a Rust crate, or a scenario.py / scenario.js with
    /// a build.sh (the SDK folder's python/ or js/).
    #[arg(long, value_enum, default_value_t)]
    pub lang: crate::template::Language,
}

#[derive(Debug, clap::Args)]
pub struct DescribeDeploymentArgs {
    /// Profile of the deployment (a file, or `lab` for the local lab).
    #[arg(long)]
    pub profile: String,
    /// A source topic: print its remote name and check each mirror's filter lets it through.
    #[arg(long)]
    pub topic: Option<String>,
    /// Only this mirror: one of its connectors' names, or its alias pair SOURCE->TARGET.
    #[arg(long)]
    pub mirror: Option<String>,
}

pub async fn execute(cli: Cli) -> Result<u8> {
    match cli.command {
        Command::Run(args) => crate::run::command::run(*args).await,
        Command::List { scenarios } => list(scenarios).await.map(|()| EXIT_OK),
        Command::Describe { plugin } => describe(&plugin).await.map(|()| EXIT_OK),
        Command::New(args) => new_project(args).map(|()| EXIT_OK),
        Command::Lab { command } => crate::lab::run(command).await.map(|()| EXIT_OK),
        Command::Report(args) => crate::report::command::run(args).map(|()| EXIT_OK),
        Command::Compare(args) => crate::report::compare::run(args).map(|()| EXIT_OK),
        Command::Merge(args) => crate::shard::command::run(args),
        Command::K8s { command } => crate::k8s::run(command).await,
        Command::DescribeDeployment(args) => describe_deployment(args).await,
        Command::Exporter(args) => crate::exporter::run(args).await,
        Command::Import(args) => crate::import::run(args).map(|()| EXIT_OK),
        Command::Campaign { command } => crate::campaign::run(command).await,
        Command::Pack { command } => crate::pack::run(command).await.map(|()| EXIT_OK),
    }
}

async fn describe_deployment(args: DescribeDeploymentArgs) -> Result<u8> {
    use crate::deployment::{mirrors, render};
    let profile = Profile::load(&args.profile)?;
    let mut found = crate::deployment::mirrors(&args.profile, &profile).await?;
    if let Some(choice) = &args.mirror {
        found = vec![mirrors::choose(&found, choice)?.clone()];
    }
    let description = render::describe(&args.profile, &found, args.topic.as_deref());
    print!("{}", description.text);
    Ok(match description.problems {
        0 => EXIT_OK,
        _ => EXIT_THRESHOLD_FAILED,
    })
}

async fn list(scenarios_dir: Option<PathBuf>) -> Result<()> {
    let host = Host::new()?;
    let dirs = match scenarios_dir {
        Some(dir) => vec![dir],
        None => crate::bundle::scenario_dirs(),
    };
    if dirs.is_empty() {
        println!(
            "Scenarios: no scenarios/ folder here and none installed with this kscen \
             (`cargo xtask install` installs the bundled ones)"
        );
    }
    for dir in &dirs {
        list_scenarios(dir)?;
    }
    for dir in crate::bundle::campaign_dirs() {
        list_campaigns(&dir)?;
    }
    let plugins = plugin_path::available(dirs.first().map(PathBuf::as_path));
    println!("\nPlugins:");
    let mut folder = None;
    for (name, path) in plugins {
        if folder.as_deref() != path.parent() {
            folder = path.parent().map(Path::to_path_buf);
            let dir = path.parent().unwrap_or(Path::new("."));
            let shown = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
            println!("  in {}:", shown.display());
        }
        let summary = match host.load(&path) {
            Ok(plugin) => plugin.describe(&host).await.map(|info| info.summary),
            Err(error) => Err(error),
        };
        match summary {
            Ok(summary) => println!("    {name:<18} {summary}"),
            Err(error) => println!("    {name:<18} unusable: {error:#}"),
        }
    }
    if folder.is_none() {
        let looked: Vec<String> = plugin_path::search_path(dirs.first().map(PathBuf::as_path))
            .iter()
            .map(|dir| dir.display().to_string())
            .collect();
        println!("  none found (looked in: {})", looked.join(", "));
    }
    Ok(())
}

/// The TOML files of `dir`, sorted.
fn toml_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot list {}", dir.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    Ok(files)
}

fn list_campaigns(dir: &Path) -> Result<()> {
    let shown = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    println!(
        "\nCampaigns in {} (kscen campaign run NAME):",
        shown.display()
    );
    for file in toml_files(dir)? {
        let name = file.file_stem().unwrap_or_default().to_string_lossy();
        let overrides = crate::campaign::plan::Overrides::default();
        match crate::campaign::plan::Campaign::load(&file, &overrides) {
            Ok(campaign) => println!(
                "  {name:<36} {:>3} steps  {}",
                campaign.steps.len(),
                campaign.description.as_deref().unwrap_or("")
            ),
            Err(error) => println!("  {name:<36} invalid: {error:#}"),
        }
    }
    Ok(())
}

fn list_scenarios(dir: &Path) -> Result<()> {
    let files = toml_files(dir)?;
    let shown = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    println!("Scenarios in {}:", shown.display());
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
    Ok(())
}

fn new_project(args: NewArgs) -> Result<()> {
    use crate::template::SdkSource;
    let sdk = match (args.sdk_path, args.sdk_git) {
        (Some(path), _) => SdkSource::Path(
            path.canonicalize()
                .with_context(|| format!("--sdk-path {}", path.display()))?,
        ),
        (None, Some(url)) => SdkSource::Git(url),
        (None, None) => crate::template::default_sdk()?,
    };
    let project = crate::template::create(&args.dir, &args.name, args.lang, &sdk)?;
    println!("created {}", project.display());
    println!("\n  cd {}", project.display());
    match args.lang {
        crate::template::Language::Rust => {
            println!("  cargo build --release --target wasm32-wasip2")
        }
        _ => println!("  ./build.sh                 # see README.md for what it needs"),
    }
    println!("  kscen run scenario.toml");
    Ok(())
}

/// What a capability line adds to explain itself.
fn capability_note(request: &Request) -> String {
    match request {
        Request::Connect => " (the Kafka Connect REST API)".into(),
        Request::Fault(name) => format!(" (needs --grant-fault {name})"),
        _ => String::new(),
    }
}

async fn describe(plugin: &str) -> Result<()> {
    let host = Host::new()?;
    // A path on the command line is relative to the current folder.
    let path = plugin_path::resolve(plugin, None)?;
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
        println!("  {request}{}", capability_note(request));
    }
    if !info.optional.is_empty() {
        println!("\nOptional capabilities (used when the environment has them):");
        for request in &info.optional {
            println!("  {request}{}", capability_note(request));
        }
    }
    let size = std::fs::metadata(&path)
        .with_context(|| format!("reading the size of {}", path.display()))?
        .len();
    println!(
        "\nFile: {} ({}, sha256 {}, built for {})",
        path.display(),
        bytesize::ByteSize(size).display().si(),
        loaded.loaded.sha256,
        loaded.wit_version()
    );
    // Interpreted languages ship their runtime in the component: its compile time is the
    // first run's start-up cost, paid once per kscen version.
    let load = std::time::Duration::from_secs_f64(loaded.loaded.load_ms / 1000.0);
    if loaded.loaded.from_cache {
        println!("Loaded from the compile cache in {load:.1?}");
    } else {
        println!("Compiled in {load:.1?} (cached: later runs load it at once)");
    }
    Ok(())
}
