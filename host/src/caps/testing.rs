//! A run's context for capability tests: built from a profile and the plugin's requests as
//! `prepare` grants them, without wasm and without contacting a cluster.

use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use super::kafka::KafkaState;
use super::RunContext;
use crate::cluster::Clusters;
use crate::config::params::ResolvedParams;
use crate::config::profile::Profile;
use crate::connect::ConnectClient;
use crate::deployment::run_mirror::RunMirror;
use crate::faults::FaultTargets;
use crate::metrics::clock::RunClock;
use crate::metrics::RunMetrics;
use crate::policy::{Grants, Offer, Request};
use crate::probe::Probes;

/// Two clusters, `source` restricted to `orders*` by the operator, a Connect cluster, one
/// worker as fault target and a Prometheus probe. Nothing is contacted unless a test calls it;
/// nothing listens at these addresses.
pub const PROFILE: &str = r#"
    [connect]
    urls = ["http://127.0.0.1:3"]
    [clusters.source]
    bootstrap_servers = "127.0.0.1:1"
    topics = ["orders*"]
    [clusters.target]
    bootstrap_servers = "127.0.0.1:2"
    [workers.worker-1]
    pid_file = "/nonexistent/worker-1.pid"
    [probes.prometheus]
    kind = "prometheus"
    url = "http://127.0.0.1:4"
"#;

/// A run's context as `prepare` grants it for `requests`, with `operator_faults` granted,
/// and the sender that would cancel it.
pub fn context(
    requests: &[Request],
    operator_faults: &[&str],
) -> (RunContext, tokio::sync::watch::Sender<bool>) {
    let profile: Profile = toml::from_str(PROFILE).unwrap();
    let clusters = Clusters::from_profile(&profile);
    let faults = FaultTargets::from_profile(&profile);
    let fault_names: Vec<String> = faults.targets().into_iter().map(|t| t.name).collect();
    let offer = Offer {
        clusters: clusters.names().collect(),
        connect: true,
        fault_targets: fault_names.iter().map(String::as_str).collect(),
        probes: profile.probes.keys().map(String::as_str).collect(),
        topics: [("source".to_string(), vec!["orders*".to_string()])].into(),
    };
    let operator_faults: Vec<String> = operator_faults.iter().map(|f| f.to_string()).collect();
    let grants = Grants::compute(requests, &[], &offer, &operator_faults).unwrap();
    let (cancel, cancelled) = tokio::sync::watch::channel(false);
    let run = RunContext {
        connect: ConnectClient::from_profile(&profile).unwrap(),
        faults,
        probes: Probes::load(&profile).unwrap(),
        mirror: RunMirror::new(None, None),
        metrics: Arc::new(RunMetrics::new(RunClock::start())),
        params: ResolvedParams {
            time_scale: 1.0,
            values: Default::default(),
        },
        grants,
        limits: Default::default(),
        cancelled,
        shard: crate::shard::Shard::WHOLE,
        kafka: KafkaState {
            producer_config: Default::default(),
            consumer_config: Default::default(),
            new_topics: Default::default(),
            created_topics: Default::default(),
            single_record_producers: Default::default(),
            next_job_id: AtomicU64::new(1),
            run_id: 1,
            clusters,
        },
    };
    (run, cancel)
}

pub fn cluster(name: &str) -> Request {
    Request::Cluster(name.into())
}

/// The run's events of `kind`, as the result lists them.
pub fn events(run: &RunContext, kind: &str) -> Vec<String> {
    run.metrics
        .events
        .snapshot()
        .into_iter()
        .filter(|e| e.kind == kind)
        .map(|e| e.message)
        .collect()
}
