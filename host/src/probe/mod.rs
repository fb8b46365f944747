//! Probes: Prometheus text endpoints and Prometheus servers named in the profile. SKELETON: the
//! interface the capability uses; the implementation is being written (helper task).

use crate::config::profile::Profile;
use crate::error::{HostError, HostResult};

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Sample {
    pub name: String,
    pub labels: Vec<(String, String)>,
    pub value: f64,
}

#[derive(Debug, Default)]
pub struct Probes {
    names: Vec<String>,
}

impl Probes {
    pub fn from_profile(profile: &Profile) -> Probes {
        Probes {
            names: profile.probes.keys().cloned().collect(),
        }
    }

    pub fn names(&self) -> Vec<&str> {
        self.names.iter().map(String::as_str).collect()
    }

    pub async fn scrape(&self, _probe: &str, _prefix: &str) -> HostResult<Vec<Sample>> {
        Err(HostError::Unsupported(
            "probes are not implemented yet".into(),
        ))
    }

    pub async fn query(&self, _probe: &str, _promql: &str) -> HostResult<Vec<Sample>> {
        Err(HostError::Unsupported(
            "probes are not implemented yet".into(),
        ))
    }
}
