//! Grants: what a plugin may touch. Deny by default; the effective grant is what the plugin
//! asked for in `describe` and the environment can provide. Pure, so it is tested without wasm.

use std::collections::BTreeSet;

use anyhow::{bail, Result};

use crate::error::{HostError, HostResult};

/// A capability as the plugin requests it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(tag = "kind", content = "name", rename_all = "kebab-case")]
pub enum Request {
    Cluster(String),
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Grants {
    clusters: BTreeSet<String>,
}

impl Grants {
    /// Grants each requested cluster that the environment has; a request for a cluster the
    /// environment lacks fails the run before it starts.
    pub fn compute<'a>(
        requests: &[Request],
        available_clusters: impl IntoIterator<Item = &'a str>,
    ) -> Result<Grants> {
        let available: BTreeSet<&str> = available_clusters.into_iter().collect();
        let mut grants = Grants::default();
        for request in requests {
            match request {
                Request::Cluster(name) if available.contains(name.as_str()) => {
                    grants.clusters.insert(name.clone());
                }
                Request::Cluster(name) => bail!(
                    "the plugin needs cluster {name:?}, which this environment does not have (it has: {}); \
                     run with a --profile that names it",
                    available.iter().copied().collect::<Vec<_>>().join(", ")
                ),
            }
        }
        Ok(grants)
    }

    pub fn check_cluster(&self, name: &str) -> HostResult<()> {
        if self.clusters.contains(name) {
            Ok(())
        } else {
            Err(HostError::Denied(format!(
                "cluster {name:?} was not requested by the plugin's describe(); add capability cluster({name:?})"
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plugin_gets_only_the_clusters_it_asked_for() {
        let grants =
            Grants::compute(&[Request::Cluster("source".into())], ["source", "target"]).unwrap();
        assert!(grants.check_cluster("source").is_ok());
        assert!(matches!(
            grants.check_cluster("target"),
            Err(HostError::Denied(_))
        ));
    }

    #[test]
    fn asking_for_a_missing_cluster_fails_before_the_run() {
        let error = Grants::compute(&[Request::Cluster("target".into())], ["source"]).unwrap_err();
        assert!(error.to_string().contains("cluster \"target\""), "{error}");
    }

    #[test]
    fn nothing_requested_means_nothing_granted() {
        let grants = Grants::compute(&[], ["source"]).unwrap();
        assert!(grants.check_cluster("source").is_err());
    }
}
