//! The typed errors host calls return to plugins (mirrors WIT `types.error`).

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum HostError {
    #[error("denied: {0}")]
    Denied(String),
    #[error("not found: {0}")]
    NotFound(String),
    #[error("invalid: {0}")]
    Invalid(String),
    #[error("kafka: {0}")]
    Kafka(String),
    #[error("timeout: {0}")]
    Timeout(String),
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// Connect's REST API answered an error; status 0 when no worker answered.
    #[error("connect: HTTP {status}: {message}")]
    Connect { status: u16, message: String },
    #[error("fault: {0}")]
    Fault(String),
    #[error("probe: {0}")]
    Probe(String),
}

impl From<rdkafka::error::KafkaError> for HostError {
    fn from(error: rdkafka::error::KafkaError) -> Self {
        HostError::Kafka(error.to_string())
    }
}

pub type HostResult<T> = Result<T, HostError>;
