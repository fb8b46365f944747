//! The deployment as the runs' results show it: what the report's diagrams may draw.

use std::collections::{BTreeMap, BTreeSet};

use crate::result::LoadedResult;

/// The deployment as the runs' results show it. The diagrams draw nothing else: a component no
/// result names (a Schema Registry, Grafana) would be an invented one.
pub(super) struct Seen {
    /// a `kscen run` result: the host produced, and may have consumed, tracked and polled
    pub(super) kscen: bool,
    /// an imported kafka-producer-perf-test result
    pub(super) perf_test: bool,
    embedded: bool,
    /// the cluster the loads produced to; none when no result names it (an imported log)
    producing: Option<String>,
    /// the clusters a mirror replicated to
    pub(super) targets: BTreeSet<String>,
    /// `source to target` for each mirror a run measured; empty when a run only saw its effect
    mirrors: BTreeSet<String>,
    /// a mirror took part: records tracked across it, its connectors found, or its metrics read
    pub(super) mirrored: bool,
    /// kscen read the remote topics record by record
    pub(super) tracked: bool,
    /// the clusters consume jobs read, with their groups
    pub(super) consumed: BTreeMap<String, BTreeSet<String>>,
    /// the Prometheus probes the runs polled (alerts, MM2's metrics)
    pub(super) prometheus: BTreeSet<String>,
    /// MM2's own metrics were read through Prometheus
    pub(super) mm2_metrics: bool,
}

impl Seen {
    pub(super) fn of(runs: &[LoadedResult]) -> Seen {
        let results = || runs.iter().map(|r| &r.result);
        let tracked = results().any(|r| !r.replication.is_empty());
        let mirrored = tracked
            || results().any(|r| {
                r.mirror.is_some()
                    || r.mm2_metrics.is_some()
                    || r.phases.iter().any(|p| p.replicated_us.is_some())
            });
        let environments = || results().filter_map(|r| r.environment.as_ref());
        let named: BTreeSet<&String> = environments().flat_map(|e| e.clusters.keys()).collect();
        // The loads' cluster is in no field of its own: a tracked load's, else the profile's
        // `source`, else its only cluster.
        let producing = results()
            .flat_map(|r| &r.replication)
            .map(|job| job.cluster.clone())
            .next()
            .or_else(|| {
                named
                    .iter()
                    .find(|name| name.as_str() == "source")
                    .map(|s| s.to_string())
            })
            .or_else(|| match named.iter().collect::<Vec<_>>()[..] {
                [only] => Some(only.to_string()),
                _ => None,
            });
        let mut targets: BTreeSet<String> = results()
            .flat_map(|r| &r.replication)
            .map(|job| job.target_cluster.clone())
            .collect();
        if mirrored && targets.is_empty() {
            targets.extend(
                named
                    .iter()
                    .filter(|name| Some(name.as_str()) != producing.as_deref())
                    .map(|name| name.to_string()),
            );
        }
        let mut consumed: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for job in results().flat_map(|r| &r.consumers) {
            consumed
                .entry(job.reading.cluster.clone())
                .or_default()
                .insert(job.reading.group.clone());
        }
        let alerts: Vec<&String> = results()
            .filter_map(|r| r.alerts.as_ref())
            .map(|a| &a.probe)
            .collect();
        let mm2: Vec<&String> = results()
            .filter_map(|r| r.mm2_metrics.as_ref())
            .map(|m| &m.probe)
            .collect();
        Seen {
            kscen: results().any(|r| !r.is_imported()),
            perf_test: results().any(|r| r.is_imported()),
            embedded: environments().any(|e| e.embedded_cluster),
            producing,
            targets,
            mirrors: results()
                .filter_map(|r| r.mirror.as_ref())
                .map(|m| format!("{} to {}", m.source_alias, m.target_alias))
                .collect(),
            mirrored,
            tracked,
            consumed,
            prometheus: alerts
                .iter()
                .chain(&mm2)
                .map(|probe| probe.to_string())
                .collect(),
            mm2_metrics: !mm2.is_empty(),
        }
    }

    /// Every cluster drawn, the producing one first; an unnamed one stands for the cluster an
    /// imported log produced to.
    pub(super) fn clusters(&self) -> Vec<Option<String>> {
        let mut clusters = vec![self.producing.clone()];
        for name in self.targets.iter().chain(self.consumed.keys()) {
            if !clusters.contains(&Some(name.clone())) {
                clusters.push(Some(name.clone()));
            }
        }
        clusters
    }

    pub(super) fn cluster_label(&self, name: &Option<String>) -> String {
        match (name, self.embedded) {
            (Some(name), true) => format!("Kafka {name} (embedded mock cluster)"),
            (Some(name), false) => format!("Kafka {name}"),
            (None, true) => "Kafka (embedded mock cluster)".into(),
            (None, false) => "Kafka cluster (not named in the results)".into(),
        }
    }

    pub(super) fn producer_label(&self) -> String {
        let mut producers = Vec::new();
        if self.kscen {
            producers.push("kscen load jobs");
        }
        if self.perf_test {
            producers.push("kafka-producer-perf-test");
        }
        format!("Producer ({})", producers.join(", "))
    }

    pub(super) fn mirror_label(&self) -> String {
        if self.mirrors.is_empty() {
            return "MirrorMaker 2".into();
        }
        format!("MirrorMaker 2 ({})", join(&self.mirrors))
    }

    pub(super) fn prometheus_label(&self) -> String {
        format!("Prometheus (probe {})", join(&self.prometheus))
    }
}

pub(super) fn join(names: &BTreeSet<String>) -> String {
    names.iter().cloned().collect::<Vec<_>>().join(", ")
}
