use std::fmt;

use crate::types::Error as HostError;

/// Why a scenario failed: a host call's error, or the scenario's own verdict.
#[derive(Debug)]
pub enum ScenarioError {
    Host(HostError),
    Failed(String),
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScenarioError::Failed(message) => f.write_str(message),
            ScenarioError::Host(error) => match error {
                HostError::Denied(m) => write!(f, "denied: {m}"),
                HostError::NotFound(m) => write!(f, "not found: {m}"),
                HostError::Invalid(m) => write!(f, "invalid: {m}"),
                HostError::Kafka(m) => write!(f, "kafka: {m}"),
                HostError::Timeout(m) => write!(f, "timeout: {m}"),
                HostError::Unsupported(m) => write!(f, "unsupported: {m}"),
                HostError::Connect(e) => write!(f, "connect: HTTP {}: {}", e.status, e.message),
                HostError::Fault(m) => write!(f, "fault: {m}"),
                HostError::Probe(m) => write!(f, "probe: {m}"),
            },
        }
    }
}

impl std::error::Error for ScenarioError {}

impl From<HostError> for ScenarioError {
    fn from(error: HostError) -> Self {
        ScenarioError::Host(error)
    }
}

impl From<String> for ScenarioError {
    fn from(message: String) -> Self {
        ScenarioError::Failed(message)
    }
}

impl From<&str> for ScenarioError {
    fn from(message: &str) -> Self {
        ScenarioError::Failed(message.to_string())
    }
}
