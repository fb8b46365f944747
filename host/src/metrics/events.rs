//! The run's event log: faults, state changes and decisions, on the run's clock.

use std::sync::Mutex;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Event {
    /// ms since the run started (monotonic)
    pub t_ms: f64,
    pub wall: chrono::DateTime<chrono::Utc>,
    pub kind: String,
    pub message: String,
}

#[derive(Debug, Default)]
pub struct EventLog {
    events: Mutex<Vec<Event>>,
}

impl EventLog {
    pub fn push(&self, t_ns: u64, kind: &str, message: &str) -> Event {
        let event = Event {
            t_ms: t_ns as f64 / 1e6,
            wall: chrono::Utc::now(),
            kind: kind.to_string(),
            message: message.to_string(),
        };
        self.events.lock().unwrap().push(event.clone());
        event
    }

    pub fn snapshot(&self) -> Vec<Event> {
        self.events.lock().unwrap().clone()
    }
}
