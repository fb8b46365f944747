//! `connect`: the Kafka Connect REST API, through the host's client (rebalance retries, worker
//! liveness), for plugins granted Connect access.

use crate::bindings::v0_1_0::kscen::scenario::connect::{
    ConnectorStatus as WitConnector, Host, State as WitState, TaskStatus as WitTask, Worker,
};
use crate::bindings::WitError;
use crate::caps::{Access, PluginState, RunContext};
use crate::connect::{ConnectClient, ConnectorStatus, State};
use crate::error::{HostError, HostResult};

fn to_wit_state(state: State) -> WitState {
    match state {
        State::Unassigned => WitState::Unassigned,
        State::Running => WitState::Running,
        State::Paused => WitState::Paused,
        State::Failed => WitState::Failed,
        State::Restarting => WitState::Restarting,
        State::Stopped => WitState::Stopped,
        State::Unknown => WitState::Unknown,
    }
}

fn to_wit_status(status: ConnectorStatus) -> WitConnector {
    WitConnector {
        name: status.name,
        state: to_wit_state(status.state),
        worker_id: status.worker_id,
        worker_alive: status.worker_alive,
        tasks: status
            .tasks
            .into_iter()
            .map(|task| WitTask {
                id: task.id,
                state: to_wit_state(task.state),
                worker_id: task.worker_id,
                worker_alive: task.worker_alive,
                trace: task.trace,
            })
            .collect(),
        trace: status.trace,
    }
}

impl RunContext {
    /// The Connect client for a plugin's call, once the grant is checked. A `change` (an action
    /// and the connector it acts on) goes to the run's events only when it is let through: the
    /// event log says what was done to Connect, a denial is logged by the gate as such.
    fn connect_for(&self, change: Option<(&str, &str)>) -> HostResult<&ConnectClient> {
        self.permit(Access::Connect)?;
        let client = self
            .connect
            .as_ref()
            .ok_or_else(|| HostError::NotFound("the profile has no [connect] section".into()))?;
        if let Some((action, connector)) = change {
            if let Err(denied) = self.first_shard_only("a Connect change") {
                self.metrics.events.push(
                    self.metrics.clock.now_ns(),
                    "connect-denied",
                    &format!("{action} {connector}: {denied}"),
                );
                return Err(denied);
            }
            let metrics = &self.metrics;
            metrics.events.push(
                metrics.clock.now_ns(),
                "connect",
                &format!("{action} {connector}"),
            );
        }
        Ok(client)
    }
}

/// Runs `call` on the granted client (logging `change`, if any), mapping errors for the plugin.
macro_rules! with_client {
    ($state:expr, $change:expr, |$client:ident| $call:expr) => {{
        let run = $state.run()?.clone();
        match run.connect_for($change) {
            Ok($client) => Ok($call.await.map_err(WitError::from)),
            Err(error) => Ok(Err(WitError::from(error))),
        }
    }};
}

impl Host for PluginState {
    async fn workers(&mut self) -> wasmtime::Result<Vec<Worker>> {
        let run = self.run()?.clone();
        let Ok(client) = run.connect_for(None) else {
            return Ok(Vec::new());
        };
        let workers = client.workers().await;
        Ok(workers
            .into_iter()
            .map(|w| Worker {
                name: w.name,
                worker_id: w.worker_id,
                alive: w.alive,
            })
            .collect())
    }

    async fn connectors(&mut self) -> wasmtime::Result<Result<Vec<String>, WitError>> {
        with_client!(self, None, |client| client.connectors())
    }

    async fn status(
        &mut self,
        connector: String,
    ) -> wasmtime::Result<Result<WitConnector, WitError>> {
        let status: wasmtime::Result<Result<ConnectorStatus, WitError>> =
            with_client!(self, None, |client| client.status(&connector));
        Ok(status?.map(to_wit_status))
    }

    async fn status_all(&mut self) -> wasmtime::Result<Result<Vec<WitConnector>, WitError>> {
        let all: wasmtime::Result<Result<Vec<ConnectorStatus>, WitError>> =
            with_client!(self, None, |client| client.status_all());
        Ok(all?.map(|list| list.into_iter().map(to_wit_status).collect()))
    }

    async fn pause(&mut self, connector: String) -> wasmtime::Result<Result<(), WitError>> {
        with_client!(self, Some(("pause", &connector)), |client| client
            .pause(&connector))
    }

    async fn resume(&mut self, connector: String) -> wasmtime::Result<Result<(), WitError>> {
        with_client!(self, Some(("resume", &connector)), |client| client
            .resume(&connector))
    }

    async fn stop(&mut self, connector: String) -> wasmtime::Result<Result<(), WitError>> {
        with_client!(self, Some(("stop", &connector)), |client| client
            .stop(&connector))
    }

    async fn restart(
        &mut self,
        connector: String,
        include_tasks: bool,
        only_failed: bool,
    ) -> wasmtime::Result<Result<(), WitError>> {
        with_client!(self, Some(("restart", &connector)), |client| client
            .restart(&connector, include_tasks, only_failed))
    }

    async fn restart_task(
        &mut self,
        connector: String,
        task: u32,
    ) -> wasmtime::Result<Result<(), WitError>> {
        let which = format!("{connector}/{task}");
        with_client!(self, Some(("restart-task", &which)), |client| client
            .restart_task(&connector, task))
    }

    async fn get_config(
        &mut self,
        connector: String,
    ) -> wasmtime::Result<Result<Vec<(String, String)>, WitError>> {
        with_client!(self, None, |client| client.config(&connector))
    }

    async fn put_config(
        &mut self,
        connector: String,
        config: Vec<(String, String)>,
    ) -> wasmtime::Result<Result<(), WitError>> {
        with_client!(self, Some(("put-config", &connector)), |client| client
            .put_config(&connector, &config))
    }

    async fn delete(&mut self, connector: String) -> wasmtime::Result<Result<(), WitError>> {
        with_client!(self, Some(("delete", &connector)), |client| client
            .delete(&connector))
    }

    async fn leader(&mut self) -> wasmtime::Result<Result<Option<String>, WitError>> {
        with_client!(self, None, |client| client.leader())
    }
}

#[cfg(test)]
mod tests {
    use crate::caps::testing::{context, events};
    use crate::error::HostError;
    use crate::policy::Request;

    #[test]
    fn a_change_is_logged_only_when_the_plugin_may_make_it() {
        let (run, _cancel) = context(&[Request::Connect], &[]);
        assert!(run.connect_for(Some(("pause", "mirror-source"))).is_ok());
        assert!(run.connect_for(None).is_ok());
        assert_eq!(events(&run, "connect"), ["pause mirror-source"]);

        let (denied, _cancel) = context(&[], &[]);
        let Err(refused) = denied.connect_for(Some(("pause", "mirror-source"))) else {
            panic!("a plugin that did not ask for connect is refused");
        };
        assert!(matches!(refused, HostError::Denied(_)), "{refused}");
        assert!(events(&denied, "connect").is_empty(), "nothing was paused");
        assert_eq!(events(&denied, "connect-denied").len(), 1);
    }

    #[test]
    fn a_connect_change_is_shard_0s_and_reading_is_every_shards() {
        let (mut run, _cancel) = context(&[Request::Connect], &[]);
        run.shard = crate::shard::Shard { index: 2, count: 3 };
        assert!(run.connect_for(None).is_ok(), "status reads go through");
        let Err(refused) = run.connect_for(Some(("restart", "mirror-source"))) else {
            panic!("shard 2 may not restart a connector");
        };
        assert!(matches!(refused, HostError::Denied(_)), "{refused}");
        assert!(events(&run, "connect").is_empty());
        assert_eq!(events(&run, "connect-denied").len(), 1);
    }

    #[test]
    fn a_profile_without_connect_is_not_found_not_denied() {
        let (mut run, _cancel) = context(&[Request::Connect], &[]);
        run.connect = None;
        let Err(missing) = run.connect_for(Some(("stop", "m"))) else {
            panic!("no client without [connect]");
        };
        assert_eq!(
            missing.to_string(),
            "not found: the profile has no [connect] section"
        );
        assert!(events(&run, "connect").is_empty());
    }
}
