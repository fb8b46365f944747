//! What is out there: the deployment's MirrorMaker 2 mirrors, found through Connect (connectors
//! by class, whatever their names) or pinned by the profile's `[mm2]` section.
//!
//! Module map (one job each):
//! - `policy`: replication policies and remote topic names;
//! - `filter`: MM2's topic and group filters;
//! - `kafka_versions`: the Kafka version the brokers run, from their exporters;
//! - `mirrors`: connectors grouped into mirrors by alias pair (pure), and choosing one;
//! - `pinned`: mirrors from `[[mm2.mirrors]]`, checked against Connect;
//! - `problems`: what is wrong with a mirror;
//! - `render`: the `kscen describe-deployment` printout;
//! - `run_mirror`: the mirror a run measures, found on first use and chosen by the operator.

pub mod filter;
pub mod kafka_versions;
pub mod mirrors;
pub mod pinned;
pub mod policy;
pub mod problems;
pub mod render;
pub mod run_mirror;

#[cfg(test)]
mod fixtures;

use anyhow::{bail, Context, Result};

use self::mirrors::{Listed, Mirror};
use crate::config::profile::Profile;
use crate::connect::ConnectClient;
use crate::error::HostError;

/// The mirrors of the deployment `profile` (loaded from `profile_name`) describes: pinned by
/// `[mm2]`, else discovered through `[connect]`. A profile with neither, or whose Connect runs no
/// MM2 connector, is an error saying what to do.
pub async fn mirrors(profile_name: &str, profile: &Profile) -> Result<Vec<Mirror>> {
    let client = ConnectClient::from_profile(profile)
        .with_context(|| format!("profile {profile_name}: [connect]"))?;
    let listed = match &client {
        Some(client) => Some(list(client).await.with_context(|| {
            format!(
                "profile {profile_name}: cannot list the connectors of Connect at {}",
                urls(profile)
            )
        })?),
        None => None,
    };
    let mut mirrors = if let Some(mm2) = &profile.mm2 {
        pinned::pinned(&mm2.mirrors, listed.as_deref())
    } else {
        let Some(listed) = listed else {
            bail!(
                "profile {profile_name} has no [connect] section and no [mm2] pin, so kscen cannot \
                 tell which MirrorMaker 2 mirrors exist: add [connect] urls = [...] of the Connect \
                 cluster running MM2, or pin the mirrors with [[mm2.mirrors]]"
            );
        };
        discovered(profile_name, &urls(profile), listed)?
    };
    if let Some(client) = &client {
        // Recorded with each result; a Connect too old or too locked down to say is no error.
        let version = client.server_info().await.ok().map(|info| info.version);
        for mirror in &mut mirrors {
            mirror.connect_version = version.clone();
        }
    }
    Ok(mirrors)
}

/// The mirrors among what Connect at `urls` lists; none is an error.
fn discovered(profile_name: &str, urls: &str, listed: Vec<Listed>) -> Result<Vec<Mirror>> {
    let names: Vec<String> = listed.iter().map(|l| l.name.clone()).collect();
    let found = mirrors::discover(listed);
    if found.is_empty() {
        bail!(
            "profile {profile_name}: Connect at {urls} runs no MirrorMaker 2 connector \
             (MirrorSourceConnector, MirrorCheckpointConnector, MirrorHeartbeatConnector); it runs: \
             {}. Deploy the MM2 connectors there, point [connect] urls at the Connect cluster that \
             runs them, or pin the mirrors with [[mm2.mirrors]] when MM2 runs outside Connect",
            if names.is_empty() {
                "nothing".to_string()
            } else {
                names.join(", ")
            }
        );
    }
    Ok(found)
}

/// Every connector with its config and status (liveness applied), by name.
async fn list(client: &ConnectClient) -> Result<Vec<Listed>> {
    let statuses = client.status_all().await?;
    let mut listed = Vec::with_capacity(statuses.len());
    for status in statuses {
        let config = match client.config(&status.name).await {
            Ok(config) => config,
            // Deleted between the two calls: it is not part of the deployment any more.
            Err(HostError::NotFound(_)) => continue,
            Err(error) => {
                return Err(error).with_context(|| format!("reading connector {}", status.name))
            }
        };
        listed.push(Listed {
            name: status.name.clone(),
            config: config.into_iter().collect(),
            status: Some(status),
        });
    }
    Ok(listed)
}

fn urls(profile: &Profile) -> String {
    profile
        .connect
        .as_ref()
        .map(|c| c.urls.join(", "))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_connect_without_mm2_is_one_clear_error() {
        let listed = vec![fixtures::listed(
            "jdbc-sink",
            "io.confluent.connect.jdbc.JdbcSinkConnector",
            "a",
            "b",
            &[],
        )];
        let error = discovered("prod.toml", "https://connect-1:8083", listed)
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with(
                "profile prod.toml: Connect at https://connect-1:8083 runs no MirrorMaker 2 connector"
            ) && error.contains("it runs: jdbc-sink.")
                && error.contains("[[mm2.mirrors]]"),
            "{error}"
        );
        let error = discovered("lab", "http://w:1", Vec::new())
            .unwrap_err()
            .to_string();
        assert!(error.contains("it runs: nothing."), "{error}");
        let lab = discovered("lab", "http://w:1", fixtures::lab_listing()).unwrap();
        assert_eq!(lab.len(), 1);
    }
}
