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
}

impl From<rdkafka::error::KafkaError> for HostError {
    fn from(error: rdkafka::error::KafkaError) -> Self {
        HostError::Kafka(error.to_string())
    }
}

pub type HostResult<T> = Result<T, HostError>;
