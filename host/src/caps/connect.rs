//! `connect`: the Kafka Connect REST API, through the host's client (rebalance retries, worker
//! liveness), for plugins granted Connect access.

use crate::bindings::v0_1_0::kscen::scenario::connect::{
    ConnectorStatus as WitConnector, Host, State as WitState, TaskStatus as WitTask, Worker,
};
use crate::bindings::WitError;
use crate::caps::{Access, PluginState};
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

impl PluginState {
    /// The Connect client, once the grant is checked.
    fn connect_client(
        &self,
    ) -> wasmtime::Result<HostResult<std::sync::Arc<crate::caps::RunContext>>> {
        let run = self.run()?.clone();
        Ok(match run.permit(Access::Connect) {
            Ok(()) if run.connect.is_some() => Ok(run),
            Ok(()) => Err(HostError::NotFound(
                "the profile has no [connect] section".into(),
            )),
            Err(denied) => Err(denied),
        })
    }
}

/// Runs `call` on the granted client, mapping errors for the plugin.
macro_rules! with_client {
    ($state:expr, |$client:ident| $call:expr) => {{
        match $state.connect_client()? {
            Ok(run) => {
                let $client: &ConnectClient = run.connect.as_ref().expect("checked");
                Ok($call.await.map_err(WitError::from))
            }
            Err(error) => Ok(Err(WitError::from(error))),
        }
    }};
}

impl Host for PluginState {
    async fn workers(&mut self) -> wasmtime::Result<Vec<Worker>> {
        let run = match self.connect_client()? {
            Ok(run) => run,
            Err(_) => return Ok(Vec::new()),
        };
        let workers = run.connect.as_ref().expect("checked").workers().await;
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
        with_client!(self, |client| client.connectors())
    }

    async fn status(
        &mut self,
        connector: String,
    ) -> wasmtime::Result<Result<WitConnector, WitError>> {
        let status: wasmtime::Result<Result<ConnectorStatus, WitError>> =
            with_client!(self, |client| client.status(&connector));
        Ok(status?.map(to_wit_status))
    }

    async fn status_all(&mut self) -> wasmtime::Result<Result<Vec<WitConnector>, WitError>> {
        let all: wasmtime::Result<Result<Vec<ConnectorStatus>, WitError>> =
            with_client!(self, |client| client.status_all());
        Ok(all?.map(|list| list.into_iter().map(to_wit_status).collect()))
    }

    async fn pause(&mut self, connector: String) -> wasmtime::Result<Result<(), WitError>> {
        self.connect_event("pause", &connector);
        with_client!(self, |client| client.pause(&connector))
    }

    async fn resume(&mut self, connector: String) -> wasmtime::Result<Result<(), WitError>> {
        self.connect_event("resume", &connector);
        with_client!(self, |client| client.resume(&connector))
    }

    async fn stop(&mut self, connector: String) -> wasmtime::Result<Result<(), WitError>> {
        self.connect_event("stop", &connector);
        with_client!(self, |client| client.stop(&connector))
    }

    async fn restart(
        &mut self,
        connector: String,
        include_tasks: bool,
        only_failed: bool,
    ) -> wasmtime::Result<Result<(), WitError>> {
        self.connect_event("restart", &connector);
        with_client!(self, |client| client.restart(
            &connector,
            include_tasks,
            only_failed
        ))
    }

    async fn restart_task(
        &mut self,
        connector: String,
        task: u32,
    ) -> wasmtime::Result<Result<(), WitError>> {
        self.connect_event("restart-task", &format!("{connector}/{task}"));
        with_client!(self, |client| client.restart_task(&connector, task))
    }

    async fn get_config(
        &mut self,
        connector: String,
    ) -> wasmtime::Result<Result<Vec<(String, String)>, WitError>> {
        with_client!(self, |client| client.config(&connector))
    }

    async fn put_config(
        &mut self,
        connector: String,
        config: Vec<(String, String)>,
    ) -> wasmtime::Result<Result<(), WitError>> {
        self.connect_event("put-config", &connector);
        with_client!(self, |client| client.put_config(&connector, &config))
    }

    async fn delete(&mut self, connector: String) -> wasmtime::Result<Result<(), WitError>> {
        self.connect_event("delete", &connector);
        with_client!(self, |client| client.delete(&connector))
    }

    async fn leader(&mut self) -> wasmtime::Result<Result<Option<String>, WitError>> {
        with_client!(self, |client| client.leader())
    }
}

impl PluginState {
    /// Every change a plugin makes to Connect goes to the event log, on the run clock.
    fn connect_event(&self, action: &str, connector: &str) {
        if let Some(run) = &self.run {
            let metrics = &run.metrics;
            metrics.events.push(
                metrics.clock.now_ns(),
                "connect",
                &format!("{action} {connector}"),
            );
        }
    }
}
