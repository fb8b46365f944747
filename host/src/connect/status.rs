//! Connect's status JSON (`GET /connectors/{c}/status`, `GET /connectors?expand=status`) into
//! `ConnectorStatus`. Liveness is filled in afterwards: Connect reads status from its status topic,
//! so a SIGKILLed worker's tasks stay RUNNING there until the group notices.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{ConnectorStatus, State, TaskStatus};

#[derive(Deserialize)]
pub struct RawStatus {
    name: String,
    connector: RawUnit,
    #[serde(default)]
    tasks: Vec<RawTask>,
}

#[derive(Deserialize)]
struct RawUnit {
    state: String,
    #[serde(default)]
    worker_id: String,
    trace: Option<String>,
}

#[derive(Deserialize)]
struct RawTask {
    id: u32,
    #[serde(flatten)]
    unit: RawUnit,
}

/// `GET /connectors?expand=status`: `{"<name>": {"status": {...}}}`.
#[derive(Deserialize)]
pub struct Expanded {
    status: RawStatus,
}

pub fn parse_state(state: &str) -> State {
    match state {
        "UNASSIGNED" => State::Unassigned,
        "RUNNING" => State::Running,
        "PAUSED" => State::Paused,
        "FAILED" => State::Failed,
        "RESTARTING" => State::Restarting,
        "STOPPED" => State::Stopped,
        _ => State::Unknown,
    }
}

impl RawStatus {
    /// The status with every `worker_alive` false until [`apply_liveness`] says otherwise.
    pub fn into_status(self) -> ConnectorStatus {
        ConnectorStatus {
            name: self.name,
            state: parse_state(&self.connector.state),
            worker_id: self.connector.worker_id,
            worker_alive: false,
            tasks: self
                .tasks
                .into_iter()
                .map(|task| TaskStatus {
                    id: task.id,
                    state: parse_state(&task.unit.state),
                    worker_id: task.unit.worker_id,
                    worker_alive: false,
                    trace: task.unit.trace,
                })
                .collect(),
            trace: self.connector.trace,
        }
    }
}

/// Statuses sorted by connector name (the expanded listing is a JSON object).
pub fn from_expanded(all: BTreeMap<String, Expanded>) -> Vec<ConnectorStatus> {
    all.into_values().map(|e| e.status.into_status()).collect()
}

/// Every worker_id the statuses mention (not empty ones: an unassigned task has none).
pub fn worker_ids(statuses: &[ConnectorStatus]) -> Vec<String> {
    let mut ids: Vec<String> = statuses
        .iter()
        .flat_map(|s| std::iter::once(&s.worker_id).chain(s.tasks.iter().map(|t| &t.worker_id)))
        .filter(|id| !id.is_empty())
        .cloned()
        .collect();
    ids.sort();
    ids.dedup();
    ids
}

/// Sets `worker_alive` from `alive(worker_id)`.
pub fn apply_liveness(statuses: &mut [ConnectorStatus], alive: impl Fn(&str) -> bool) {
    for status in statuses {
        status.worker_alive = !status.worker_id.is_empty() && alive(&status.worker_id);
        for task in &mut status.tasks {
            task.worker_alive = !task.worker_id.is_empty() && alive(&task.worker_id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATUS: &str = r#"{"name":"mirror-source","connector":{"state":"RUNNING","worker_id":"127.0.0.1:38083"},
        "tasks":[{"id":0,"state":"RUNNING","worker_id":"127.0.0.1:38084"},
                 {"id":1,"state":"FAILED","worker_id":"127.0.0.1:38083","trace":"org.apache.kafka.connect.errors.ConnectException: boom"},
                 {"id":2,"state":"UNASSIGNED","worker_id":""}],"type":"source"}"#;

    #[test]
    fn a_status_with_a_failed_task_and_liveness() {
        let raw: RawStatus = serde_json::from_str(STATUS).unwrap();
        let mut statuses = vec![raw.into_status()];
        assert_eq!(
            worker_ids(&statuses),
            ["127.0.0.1:38083", "127.0.0.1:38084"]
        );
        // 38084 was SIGKILLed: its task still reads RUNNING, but not on a live worker.
        apply_liveness(&mut statuses, |id| id == "127.0.0.1:38083");
        let status = &statuses[0];
        assert_eq!((status.state, status.worker_alive), (State::Running, true));
        assert_eq!(
            (status.tasks[0].state, status.tasks[0].worker_alive),
            (State::Running, false)
        );
        assert_eq!(status.tasks[1].state, State::Failed);
        assert!(status.tasks[1].trace.as_deref().unwrap().contains("boom"));
        assert!(!status.tasks[2].worker_alive);
    }

    #[test]
    fn the_expanded_listing_and_unknown_states() {
        let body = r#"{"b":{"status":{"name":"b","connector":{"state":"STOPPED","worker_id":"h:1"},"tasks":[],"type":"source"}},
                       "a":{"status":{"name":"a","connector":{"state":"SOMETHING_NEW","worker_id":"h:1"},"tasks":[]}}}"#;
        let all = from_expanded(serde_json::from_str(body).unwrap());
        assert_eq!(
            all.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
            ["a", "b"]
        );
        assert_eq!(all[0].state, State::Unknown);
        assert_eq!(all[1].state, State::Stopped);
    }
}
