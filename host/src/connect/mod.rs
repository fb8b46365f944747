//! Kafka Connect REST client. SKELETON: the interface the capability uses; the implementation is
//! being written (helper task). Every method must be implemented before this lands.

use crate::config::profile::Profile;
use crate::error::{HostError, HostResult};

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum State {
    Unassigned,
    Running,
    Paused,
    Failed,
    Restarting,
    Stopped,
    Unknown,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TaskStatus {
    pub id: u32,
    pub state: State,
    pub worker_id: String,
    /// Whether that worker answers now: a task RUNNING on a dead worker is not running.
    pub worker_alive: bool,
    pub trace: Option<String>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ConnectorStatus {
    pub name: String,
    pub state: State,
    pub worker_id: String,
    pub worker_alive: bool,
    pub tasks: Vec<TaskStatus>,
    pub trace: Option<String>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct WorkerView {
    /// logical name from the profile
    pub name: String,
    pub worker_id: String,
    pub alive: bool,
}

pub struct ConnectClient {}

fn pending() -> HostError {
    HostError::Unsupported("the Connect client is not implemented yet".into())
}

impl ConnectClient {
    /// `None` when the profile has no `[connect]` section.
    pub fn from_profile(profile: &Profile) -> anyhow::Result<Option<ConnectClient>> {
        Ok(profile.connect.as_ref().map(|_| ConnectClient {}))
    }

    pub async fn workers(&self) -> Vec<WorkerView> {
        Vec::new()
    }

    pub async fn connectors(&self) -> HostResult<Vec<String>> {
        Err(pending())
    }

    pub async fn status(&self, _connector: &str) -> HostResult<ConnectorStatus> {
        Err(pending())
    }

    pub async fn status_all(&self) -> HostResult<Vec<ConnectorStatus>> {
        Err(pending())
    }

    pub async fn pause(&self, _connector: &str) -> HostResult<()> {
        Err(pending())
    }

    pub async fn resume(&self, _connector: &str) -> HostResult<()> {
        Err(pending())
    }

    pub async fn stop(&self, _connector: &str) -> HostResult<()> {
        Err(pending())
    }

    pub async fn restart(
        &self,
        _connector: &str,
        _include_tasks: bool,
        _only_failed: bool,
    ) -> HostResult<()> {
        Err(pending())
    }

    pub async fn restart_task(&self, _connector: &str, _task: u32) -> HostResult<()> {
        Err(pending())
    }

    pub async fn config(&self, _connector: &str) -> HostResult<Vec<(String, String)>> {
        Err(pending())
    }

    pub async fn put_config(
        &self,
        _connector: &str,
        _config: &[(String, String)],
    ) -> HostResult<()> {
        Err(pending())
    }

    pub async fn delete(&self, _connector: &str) -> HostResult<()> {
        Err(pending())
    }

    /// The worker leading the Connect group, by logical name, when it can be told.
    pub async fn leader(&self) -> HostResult<Option<String>> {
        Err(pending())
    }
}
