//! `kscen lab upgrade`: stages other Kafka binaries for one cluster's brokers, as an operator
//! installs a new version before a rolling upgrade (004 §11.1.3). Running brokers keep their
//! version; each runs the staged one from its next start (the profile's `start` action), so a
//! `rolling-restart` scenario performs the upgrade under load. The cluster's `metadata.version`
//! stays as it is, as Kafka's upgrade notes keep it until the operator finalises the upgrade
//! (`kafka-features upgrade`).

use anyhow::{bail, Context, Result};

use super::topology::{self, Kind, Process, Topology};
use super::{config, jars, StateArgs};

#[derive(clap::Args, Debug)]
pub struct UpgradeArgs {
    #[command(flatten)]
    pub state: StateArgs,
    /// The Kafka version to stage, resolved from Maven Central like `up --kafka-version`
    /// (a KRaft cluster upgrades to 4.x from 3.3.x or later).
    #[arg(long)]
    pub kafka_version: String,
    /// The cluster whose brokers get it: `source` or `target`.
    #[arg(long)]
    pub cluster: String,
}

pub async fn upgrade(args: UpgradeArgs) -> Result<()> {
    let state = topology::state_dir(args.state.state_dir)?;
    let topo = Topology::load(&state)?;
    let brokers: Vec<&Process> = topo
        .brokers()
        .filter(|p| matches!(p.kind, Kind::Broker { cluster, .. } if cluster == args.cluster))
        .collect();
    if brokers.is_empty() {
        bail!(
            "the lab in {} has no cluster {:?}: its clusters are source and target",
            state.display(),
            args.cluster
        );
    }
    let settings = config::Settings {
        kafka_version: args.kafka_version.clone(),
        java: jars::check_java()?,
        libs: jars::ensure_jars(&args.kafka_version).await?,
        kscen: std::env::current_exe().context("finding the kscen binary")?,
        // Only the workers' files read the timers, and no worker's is written here.
        timers: config::WorkerTimers::LAB,
        prometheus: None,
    };
    for broker in &brokers {
        config::write_process_files(&topo, broker, &settings)?;
    }
    let names: Vec<&str> = brokers.iter().map(|p| p.name.as_str()).collect();
    println!(
        "staged Kafka {} for {}: each broker runs it from its next start. Roll them under load:\n  \
         kscen run scenarios/rolling-upgrade.toml --profile {} --set expect_version='\"{}\"'",
        args.kafka_version,
        names.join(", "),
        topo.profile_path().display(),
        args.kafka_version
    );
    Ok(())
}
