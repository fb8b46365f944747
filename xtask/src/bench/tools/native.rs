//! The bare rdkafka `BaseProducer` loop (`bench/native-producer`): what librdkafka does with the
//! same settings and nothing around it.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};
use serde_json::Value;

pub struct Native {
    producer: PathBuf,
}

/// The loop's JSON line.
#[derive(Debug, Clone, Copy)]
pub struct Report {
    pub acked: u64,
    pub failed: u64,
    pub bytes: u64,
    pub elapsed_s: f64,
}

impl Native {
    pub fn new(release_dir: &Path) -> Native {
        Native {
            producer: release_dir.join("native-producer"),
        }
    }

    pub fn command(
        &self,
        bootstrap: &str,
        topic: &str,
        records: u64,
        record_size: u32,
        librdkafka_properties: &[(String, String)],
    ) -> Command {
        let mut command = Command::new(&self.producer);
        command
            .args(["--bootstrap", bootstrap, "--topic", topic])
            .args(["--count", &records.to_string()])
            .args(["--record-size", &record_size.to_string()]);
        for (key, value) in librdkafka_properties {
            command.arg("-X").arg(format!("{key}={value}"));
        }
        command
    }
}

pub fn parse_report(stdout: &str) -> Result<Report> {
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .context("native-producer printed no JSON line")?;
    let json: Value = serde_json::from_str(line).context("native-producer's line is not JSON")?;
    let count = |field: &str| {
        json[field]
            .as_u64()
            .with_context(|| format!("native-producer's line has no {field}"))
    };
    Ok(Report {
        acked: count("acked")?,
        failed: count("failed")?,
        bytes: count("bytes")?,
        elapsed_s: json["elapsed_s"]
            .as_f64()
            .context("native-producer's line has no elapsed_s")?,
    })
}
