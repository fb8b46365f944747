//! MirrorMaker 2 connector settings a campaign step changes (`connector.source = { "tasks.max" =
//! 4 }`, or a matrix over them): each connector's whole configuration is saved in the ledger
//! before the change and put back after the step, also by the next run when kscen died between.

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::connect::ConnectClient;
use crate::deployment::mirrors::{Mirror, Role};

/// Settings to put over connectors' configurations, by the role of the connector in the mirror.
pub type ConnectorChanges = [(Role, Vec<(String, String)>)];

/// A connector's configuration as it was before a step changed it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Saved {
    pub connector: String,
    pub config: Vec<(String, String)>,
}

/// The configurations `changes` will touch, as they are now.
pub async fn save(
    client: &ConnectClient,
    mirror: &Mirror,
    changes: &ConnectorChanges,
) -> Result<Vec<Saved>> {
    let mut saved = Vec::new();
    for (role, _) in changes {
        let connector = connector_of(mirror, *role)?;
        let config = client
            .config(connector)
            .await
            .with_context(|| format!("configuration of connector {connector}"))?;
        saved.push(Saved {
            connector: connector.to_string(),
            config,
        });
    }
    Ok(saved)
}

/// Puts each saved configuration with its role's changes over it; what changed, for the
/// progress view.
pub async fn apply(
    client: &ConnectClient,
    saved: &[Saved],
    changes: &ConnectorChanges,
) -> Result<Vec<String>> {
    let mut said = Vec::new();
    for (before, (_, settings)) in saved.iter().zip(changes) {
        let (config, changed) = changed_config(&before.config, settings);
        client
            .put_config(&before.connector, &config)
            .await
            .with_context(|| format!("cannot change connector {}", before.connector))?;
        said.push(format!("{}: {}", before.connector, changed.join(", ")));
    }
    Ok(said)
}

/// Puts every saved configuration back as it was.
pub async fn restore(client: &ConnectClient, saved: &[Saved]) -> Result<()> {
    for before in saved {
        client
            .put_config(&before.connector, &before.config)
            .await
            .with_context(|| {
                format!(
                    "cannot restore connector {}'s configuration (kept in the campaign ledger; \
                     run the campaign again to retry)",
                    before.connector
                )
            })?;
    }
    Ok(())
}

fn connector_of(mirror: &Mirror, role: Role) -> Result<&str> {
    mirror
        .connector(role)
        .map(|c| c.name.as_str())
        .with_context(|| format!("mirror {} has no {role} connector", mirror.label()))
}

/// `config` with `settings` over it, and each change as `key old → new`.
fn changed_config(
    config: &[(String, String)],
    settings: &[(String, String)],
) -> (Vec<(String, String)>, Vec<String>) {
    let mut config = config.to_vec();
    let mut changed = Vec::new();
    for (key, value) in settings {
        match config.iter_mut().find(|(k, _)| k == key) {
            Some((_, old)) => {
                changed.push(format!("{key} {old} → {value}"));
                *old = value.clone();
            }
            None => {
                changed.push(format!("{key} (unset) → {value}"));
                config.push((key.clone(), value.clone()));
            }
        }
    }
    (config, changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_go_over_the_saved_configuration_and_say_what_they_changed() {
        let saved = vec![
            (
                "connector.class".to_string(),
                "MirrorSourceConnector".to_string(),
            ),
            ("tasks.max".to_string(), "1".to_string()),
        ];
        let (config, changed) = changed_config(
            &saved,
            &[
                ("tasks.max".into(), "4".into()),
                ("producer.override.linger.ms".into(), "5".into()),
            ],
        );
        assert_eq!(config[0], saved[0]);
        assert_eq!(config[1], ("tasks.max".into(), "4".into()));
        assert_eq!(
            config[2],
            ("producer.override.linger.ms".into(), "5".into())
        );
        assert_eq!(
            changed,
            ["tasks.max 1 → 4", "producer.override.linger.ms (unset) → 5"]
        );
    }
}
