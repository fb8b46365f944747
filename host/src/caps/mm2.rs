//! `mm2`: the MirrorMaker 2 mirror the run measures, as the host found it (connectors by class,
//! aliases, replication policy). Open to every plugin: it tells names, never addresses or
//! credentials, and acting on the connectors still needs the `connect` grant.

use crate::bindings::v0_3_0::kscen::scenario0_3_0::mm2::{
    ConnectorRole, Host, Mirror as WitMirror, MirrorConnector, ReplicationPolicy as WitPolicy,
};
use crate::bindings::WitError;
use crate::caps::{unless_cancelled, PluginState, RunContext};
use crate::deployment::mirrors::{Mirror, Role};
use crate::deployment::policy::ReplicationPolicy;
use crate::error::HostResult;

fn to_wit_role(role: Role) -> ConnectorRole {
    match role {
        Role::Source => ConnectorRole::Source,
        Role::Checkpoint => ConnectorRole::Checkpoint,
        Role::Heartbeat => ConnectorRole::Heartbeat,
    }
}

fn to_wit_policy(policy: &ReplicationPolicy) -> WitPolicy {
    match policy {
        ReplicationPolicy::Default { separator, .. } => WitPolicy::Default(separator.clone()),
        ReplicationPolicy::Identity { .. } => WitPolicy::Identity,
        ReplicationPolicy::Unknown { class } => WitPolicy::Unknown(class.clone()),
    }
}

/// The plugin's view is the result's (`Mirror::summary`), with the policy as a variant.
fn to_wit_mirror(mirror: &Mirror) -> WitMirror {
    let summary = mirror.summary();
    WitMirror {
        label: summary.label,
        source_alias: summary.source_alias,
        target_alias: summary.target_alias,
        connectors: summary
            .connectors
            .into_iter()
            .map(|connector| MirrorConnector {
                name: connector.name,
                role: to_wit_role(connector.role),
                tasks_max: connector.tasks_max,
            })
            .collect(),
        policy: to_wit_policy(&mirror.policy),
        pinned: summary.pinned,
    }
}

/// Runs `call` unless the run is cancelled first; errors mapped for the plugin.
async fn answer<T>(
    run: &RunContext,
    call: impl std::future::Future<Output = HostResult<T>>,
) -> wasmtime::Result<Result<T, WitError>> {
    let found = unless_cancelled(run, call).await?;
    Ok(found.map_err(WitError::from))
}

impl Host for PluginState {
    async fn run_mirror(&mut self) -> wasmtime::Result<Result<WitMirror, WitError>> {
        let run = self.run()?.clone();
        answer(&run, async {
            Ok(to_wit_mirror(run.mirror.chosen().await?))
        })
        .await
    }

    async fn all_mirrors(&mut self) -> wasmtime::Result<Result<Vec<WitMirror>, WitError>> {
        let run = self.run()?.clone();
        answer(&run, async {
            Ok(run.mirror.all().await?.iter().map(to_wit_mirror).collect())
        })
        .await
    }

    async fn remote_topic(&mut self, topic: String) -> wasmtime::Result<Result<String, WitError>> {
        let run = self.run()?.clone();
        answer(&run, async {
            Ok(run.mirror.mirrored_topic(&topic).await?.name)
        })
        .await
    }
}
