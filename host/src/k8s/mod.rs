//! `kscen k8s run`: a sharded run as a Kubernetes Indexed Job. Pod I runs `kscen run --shard I/N`
//! from the kscen image; every pod starts at one instant, each prints its result to its log, and
//! the results are merged as `kscen merge` does, into one verdict and one exit code. Whatever
//! happens, the run's Job, pods, ConfigMap and Secret are deleted before the command returns.

mod cluster;
pub mod manifests;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context, Result};

use crate::pack::oci::{RegistryArgs, PASSWORD_VAR, USERNAME_VAR};
use crate::pack::pinned::{load_trusted, PinnedScenario};
use manifests::{referenced_variables, ShardScenario, ShardedJob};

#[derive(Debug, clap::Subcommand)]
pub enum K8sCommand {
    /// Run a scenario as N shards of a Kubernetes Indexed Job and merge their results.
    #[command(
        after_help = "Example, four shards against the lab from a local Kubernetes:\n  kscen k8s run perf-01-nominal --profile lab --shards 4 --set count=100000 --host-network --json merged.json\n\nThe image holds kscen and its bundled plugins (`cargo xtask k8s-image`); the scenario and\nprofile go to the pods in a ConfigMap, what the profile references as ${env:NAME} in a Secret.\nA signed pack pinned in a registry runs without a new image:\n  kscen k8s run registry.example/acme/perf@sha256:<digest>/ramp --profile prod.toml --shards 8\n(the digest `kscen pack push` printed): each pod pulls it and checks its signature against\nthis machine's trusted keys, which go to the pods in the ConfigMap.\nEvery pod must be running before the start instant (--start-delay after the Job is created);\na shard that fails, is late or prints no result fails the run and is named. Exit codes as for\n`kscen run`; the Job, its pods, the ConfigMap and the Secret are deleted at the end."
    )]
    Run(K8sRunArgs),
}

#[derive(Debug, clap::Args)]
pub struct K8sRunArgs {
    /// Scenario file, or a bundled scenario by name, whose plugin is in the image; or
    /// REGISTRY/REPOSITORY@sha256:DIGEST/SCENARIO of a signed pack in an OCI registry, which every
    /// pod pulls by that digest and checks against this machine's trusted keys before the start.
    pub scenario: PathBuf,
    /// For a pack pulled from a registry (credentials: KSCEN_REGISTRY_USERNAME and
    /// KSCEN_REGISTRY_PASSWORD, passed to the pods in the run's Secret).
    #[command(flatten)]
    pub registry: RegistryArgs,
    /// Profile naming the clusters (a file, or `lab`), as the pods will reach them.
    #[arg(long)]
    pub profile: Option<String>,
    /// How many shards (pods) run the scenario.
    #[arg(long, default_value_t = 2)]
    pub shards: u32,
    /// Parameters, as for `kscen run`.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Thresholds on top of the scenario file's, judged once on the merged result.
    #[arg(long = "threshold", value_name = "EXPR")]
    pub threshold: Vec<String>,
    /// Write the merged result here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Kubernetes namespace of the Job (it must exist).
    #[arg(long, default_value = "default")]
    pub namespace: String,
    /// The kscen image (`cargo xtask k8s-image` builds it, kscen and its bundled plugins).
    #[arg(long, default_value = concat!("localhost/kscen/kscen:", env!("CARGO_PKG_VERSION")))]
    pub image: String,
    /// The image pull policy: Never for an image imported into the nodes, IfNotPresent or Always
    /// from a registry.
    #[arg(long = "pull-policy", default_value = "IfNotPresent")]
    pub pull_policy: String,
    /// CPU request and limit of each shard (e.g. 1, 500m).
    #[arg(long)]
    pub cpu: Option<String>,
    /// Memory request and limit of each shard (e.g. 512Mi).
    #[arg(long)]
    pub memory: Option<String>,
    /// Run the shards on nodes with this label, KEY=VALUE (repeat for several).
    #[arg(long = "node-selector", value_name = "KEY=VALUE")]
    pub node_selector: Vec<String>,
    /// Spread the shards over this topology key, one per domain at most skew 1 (e.g.
    /// topology.kubernetes.io/zone).
    #[arg(long = "spread-over", value_name = "TOPOLOGY_KEY")]
    pub spread_over: Option<String>,
    /// The pods use their node's network (a lab listening on the node's loopback).
    #[arg(long = "host-network")]
    pub host_network: bool,
    /// How long after the Job is created every shard starts: time for the pods to be scheduled,
    /// pull the image and load the plugin.
    #[arg(long = "start-delay", default_value = "30s", value_parser = humantime::parse_duration)]
    pub start_delay: Duration,
    /// Longest the run may take from its start instant before it is failed and cleaned up.
    #[arg(long, default_value = "2h", value_parser = humantime::parse_duration)]
    pub timeout: Duration,
    /// Kubeconfig file. Default: $KUBECONFIG, ~/.kube/config, or the in-cluster service account.
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,
}

pub async fn run(command: K8sCommand) -> Result<u8> {
    match command {
        K8sCommand::Run(args) => run_sharded(args).await,
    }
}

async fn run_sharded(args: K8sRunArgs) -> Result<u8> {
    if args.shards == 0 {
        bail!("--shards must be at least 1");
    }
    let job = sharded_job(&args).await?;
    let client = cluster::client(args.kubeconfig.as_deref()).await?;
    let created = cluster::JobRun::create(client, &job).await?;
    eprintln!(
        "Job {}/{}: {} shard(s) of {}, starting at {}",
        job.namespace,
        job.name,
        job.shards,
        args.scenario.display(),
        job.start_at
    );
    let outcome = created.follow(args.timeout).await;
    created.delete().await;
    let results = outcome?;
    crate::shard::command::conclude(results, args.json.as_deref())
}

/// The Job for `args`: the scenario and profile read (a pinned pack pulled and checked here first,
/// so a wrong digest or key fails before any pod starts), the secrets the profile references
/// taken from this environment, the start instant set.
async fn sharded_job(args: &K8sRunArgs) -> Result<ShardedJob> {
    let mut secrets = BTreeMap::new();
    let (scenario, source) = match PinnedScenario::of(&args.scenario) {
        Some(pinned) => {
            let (scenario, trust) = load_trusted(&pinned, &args.registry).await?;
            for name in [USERNAME_VAR, PASSWORD_VAR] {
                if let Ok(value) = std::env::var(name) {
                    secrets.insert(name.to_string(), value);
                }
            }
            let source = ShardScenario::Pinned {
                reference: pinned.to_string(),
                trusted_keys: trust.key_files(),
                plain_http: args.registry.plain_http,
            };
            (scenario, source)
        }
        None => {
            let scenario = crate::pack::load_scenario(&args.scenario)?;
            let text = std::fs::read_to_string(&scenario.path)
                .with_context(|| format!("reading {}", scenario.path.display()))?;
            (scenario, ShardScenario::File(text))
        }
    };
    let profile_text = match &args.profile {
        Some(name) => {
            let path = crate::config::profile::resolve_path(name)?;
            Some(
                std::fs::read_to_string(&path)
                    .with_context(|| format!("reading profile {}", path.display()))?,
            )
        }
        None => None,
    };
    if let Some(profile) = &profile_text {
        for name in referenced_variables(profile).map_err(anyhow::Error::msg)? {
            let value = std::env::var(&name).with_context(|| {
                format!("the profile references ${{env:{name}}}: set {name} here, it goes into the run's Secret")
            })?;
            secrets.insert(name, value);
        }
    }
    let mut run_args = Vec::new();
    for set in &args.set {
        crate::run::command::parse_set(set)?;
        run_args.extend(["--set".to_string(), set.clone()]);
    }
    for threshold in &args.threshold {
        crate::thresholds::parse(threshold)?;
        run_args.extend(["--threshold".to_string(), threshold.clone()]);
    }
    let node_selector = args
        .node_selector
        .iter()
        .map(|item| {
            item.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .with_context(|| format!("--node-selector {item:?}: write it as KEY=VALUE"))
        })
        .collect::<Result<_>>()?;
    let start_at = chrono::Utc::now() + args.start_delay;
    Ok(ShardedJob {
        name: job_name(&scenario.name, start_at),
        namespace: args.namespace.clone(),
        shards: args.shards,
        image: args.image.clone(),
        pull_policy: args.pull_policy.clone(),
        scenario: source,
        profile_text,
        secrets,
        run_args,
        start_at: start_at.to_rfc3339(),
        cpu: args.cpu.clone(),
        memory: args.memory.clone(),
        node_selector,
        spread_over: args.spread_over.clone(),
        host_network: args.host_network,
    })
}

/// `kscen-<scenario>-<start, unix s>`: a DNS label short enough for the pods' names (the Job adds
/// the index and a suffix).
fn job_name(scenario: &str, start_at: chrono::DateTime<chrono::Utc>) -> String {
    let words: Vec<String> = scenario
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_ascii_lowercase)
        .collect();
    let slug: String = words.join("-").chars().take(24).collect();
    format!(
        "kscen-{}-{}",
        slug.trim_end_matches('-'),
        start_at.timestamp()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_is_named_after_its_scenario_as_a_dns_label() {
        let at = chrono::DateTime::parse_from_rfc3339("2026-12-05T10:00:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        assert_eq!(
            job_name("PERF-01 nominal: 1000 msg/s of 1 KiB", at),
            "kscen-perf-01-nominal-1000-msg-1796464800"
        );
        assert!(job_name(&"x".repeat(100), at).len() <= 47);
    }
}
