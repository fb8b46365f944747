//! What a plugin instance may consume (a scenario's `[limits]`), which the engine enforces, and
//! how the scenario file's values are read.

use std::time::Duration;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::config::units::{parse_duration, parse_size};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLimits {
    memory: Option<toml::Value>,
    cpu: Option<String>,
    host_call_timeout: Option<String>,
    max_record_size: Option<toml::Value>,
    max_load_jobs: Option<u32>,
    max_consumers: Option<u32>,
}

/// What a plugin instance may consume. Load jobs run natively and are not counted here.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Limits {
    /// Linear memory plus tables, bytes.
    pub memory_bytes: u64,
    /// Total time the plugin's own code may execute (time in host calls does not count).
    #[serde(rename = "cpu_ms", with = "duration_ms")]
    pub cpu: Duration,
    /// Longest a single blocking host call (sleep, wait, produce, end offsets) may take; none =
    /// unbounded (a scenario legitimately sleeps for its whole plan).
    #[serde(rename = "host_call_timeout_ms", with = "optional_duration_ms")]
    pub host_call_timeout: Option<Duration>,
    /// Largest record a load may send, bytes.
    pub max_record_size: u32,
    /// Load jobs the plugin may have started in all.
    pub max_load_jobs: u32,
    /// Consumers the plugin may hold open at once (each is a native client with its own
    /// threads and connections).
    pub max_consumers: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_bytes: 64 * 1024 * 1024,
            cpu: Duration::from_secs(10),
            host_call_timeout: None,
            max_record_size: crate::load::MAX_RECORD_BYTES,
            max_load_jobs: 256,
            max_consumers: 16,
        }
    }
}

mod optional_duration_ms {
    pub fn serialize<S: serde::Serializer>(
        d: &Option<std::time::Duration>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_some(&(d.as_millis() as u64)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(
        d: D,
    ) -> Result<Option<std::time::Duration>, D::Error> {
        let ms: Option<u64> = serde::Deserialize::deserialize(d)?;
        Ok(ms.map(std::time::Duration::from_millis))
    }
}

mod duration_ms {
    pub fn serialize<S: serde::Serializer>(
        d: &std::time::Duration,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_millis() as u64)
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(
        d: D,
    ) -> Result<std::time::Duration, D::Error> {
        let ms: u64 = serde::Deserialize::deserialize(d)?;
        Ok(std::time::Duration::from_millis(ms))
    }
}

impl RawLimits {
    pub fn resolve(self) -> Result<Limits> {
        let mut limits = Limits::default();
        if let Some(memory) = self.memory {
            limits.memory_bytes = size_value("memory", &memory)?;
        }
        if let Some(cpu) = self.cpu {
            limits.cpu = parse_duration(&cpu).context("cpu")?;
        }
        if let Some(timeout) = self.host_call_timeout {
            limits.host_call_timeout = Some(parse_duration(&timeout).context("host_call_timeout")?);
        }
        if let Some(size) = self.max_record_size {
            let bytes = size_value("max_record_size", &size)?;
            limits.max_record_size = u32::try_from(bytes)
                .ok()
                .filter(|b| *b <= crate::load::MAX_RECORD_BYTES)
                .with_context(|| {
                    format!(
                        "max_record_size: at most {} bytes",
                        crate::load::MAX_RECORD_BYTES
                    )
                })?;
        }
        if let Some(jobs) = self.max_load_jobs {
            limits.max_load_jobs = jobs;
        }
        if let Some(consumers) = self.max_consumers {
            limits.max_consumers = consumers;
        }
        Ok(limits)
    }
}

fn size_value(key: &str, value: &toml::Value) -> Result<u64> {
    match value {
        toml::Value::Integer(bytes) if *bytes > 0 => Ok(*bytes as u64),
        toml::Value::String(text) => parse_size(text).with_context(|| key.to_string()),
        other => anyhow::bail!("{key}: expected a size such as \"64MiB\", got {other}"),
    }
}
