//! Where it ran: the clusters, the profile, the Kafka versions, the machine, and the MirrorMaker 2
//! connector and Connect worker settings a campaign step put in force for it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::config::client_props::shown;
use crate::deployment::kafka_versions::KafkaVersions;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Environment {
    /// true when the run used librdkafka's in-process mock cluster
    pub embedded_cluster: bool,
    #[serde(default)]
    pub profile: Option<String>,
    /// logical name → bootstrap servers (never credentials)
    #[serde(default)]
    pub clusters: BTreeMap<String, String>,
    /// logical name → the Kafka versions its brokers' exporters said at the start; empty where
    /// no broker has one
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub kafka_versions: KafkaVersions,
    /// absent in results written before kscen recorded it
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<HostInfo>,
    /// `connector_settings` and `worker_settings`: absent when the run changed neither
    #[serde(flatten)]
    pub deployment_settings: DeploymentSettings,
}

/// What a campaign step set on the deployment before its run (`connector.source = {...}`,
/// `worker = {...}`, or a matrix over them), secrets shown as `(redacted)` as in
/// `producer_settings`. Only the keys the step set: the rest of a connector's configuration is in
/// `mirror.connectors[].config`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DeploymentSettings {
    /// connector name → the settings put over its configuration through Connect's REST API
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub connector_settings: BTreeMap<String, BTreeMap<String, String>>,
    /// the settings written into every Connect worker's properties file, rolled out before the run
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub worker_settings: BTreeMap<String, String>,
}

impl DeploymentSettings {
    /// Each connector's settings and the workers', secrets redacted.
    pub fn new<'a>(
        connectors: impl IntoIterator<Item = (&'a str, &'a [(String, String)])>,
        workers: &[(String, String)],
    ) -> DeploymentSettings {
        DeploymentSettings {
            connector_settings: connectors
                .into_iter()
                .filter(|(_, settings)| !settings.is_empty())
                .map(|(name, settings)| (name.to_string(), shown(settings)))
                .collect(),
            worker_settings: shown(workers),
        }
    }
}

/// The machine kscen ran on, which bounds what a load generator can show.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostInfo {
    /// the cores kscen may run on (its CPU affinity and cgroup quota)
    pub cores: usize,
    /// `MemTotal` of /proc/meminfo; none where it cannot be read
    pub memory_mib: Option<u64>,
    /// `linux x86_64`, and the kernel release where /proc tells it
    pub os: String,
}

impl HostInfo {
    pub fn read() -> HostInfo {
        let memory_mib = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|text| mem_total_mib(&text));
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").ok();
        let mut os = format!("{} {}", std::env::consts::OS, std::env::consts::ARCH);
        if let Some(kernel) = kernel {
            os = format!("{os} {}", kernel.trim());
        }
        HostInfo {
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            memory_mib,
            os,
        }
    }

    /// `2 cores, 23.4 GiB, linux x86_64 6.1.0`
    pub fn label(&self) -> String {
        let memory = self.memory_mib.map_or("memory not measured".into(), |mib| {
            format!("{:.1} GiB", mib as f64 / 1024.0)
        });
        format!("{} cores, {memory}, {}", self.cores, self.os)
    }
}

/// `MemTotal:       24591612 kB` → MiB
fn mem_total_mib(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_host_is_described_from_proc() {
        assert_eq!(
            mem_total_mib("MemFree: 1 kB\nMemTotal:       24591612 kB\n"),
            Some(24015)
        );
        assert_eq!(mem_total_mib("nothing"), None);
        let host = HostInfo::read();
        assert!(host.cores >= 1);
        assert!(host.label().starts_with(&format!("{} cores, ", host.cores)));
    }
}
