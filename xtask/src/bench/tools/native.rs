//! The bare rdkafka loops: `bench/native-producer` (a `BaseProducer` loop) and
//! `bench/native-consumer` (a `BaseConsumer` loop), what librdkafka does with the same settings and
//! nothing around it. Each prints one JSON line.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};
use serde_json::Value;

pub struct Native {
    producer: PathBuf,
    consumer: PathBuf,
}

/// The producer loop's JSON line.
#[derive(Debug, Clone, Copy)]
pub struct Report {
    pub acked: u64,
    pub failed: u64,
    pub bytes: u64,
    pub elapsed_s: f64,
}

/// The consumer loop's JSON line.
#[derive(Debug, Clone, Copy)]
pub struct ConsumerReport {
    pub records: u64,
    pub bytes: u64,
    pub join_s: f64,
    pub fetch_s: f64,
}

impl Native {
    pub fn new(release_dir: &Path) -> Native {
        Native {
            producer: release_dir.join("native-producer"),
            consumer: release_dir.join("native-consumer"),
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
        with_properties(command, librdkafka_properties)
    }

    /// Reads `records` records of `topic` from the beginning as `group`.
    pub fn consumer_command(
        &self,
        bootstrap: &str,
        topic: &str,
        group: &str,
        records: u64,
        librdkafka_properties: &[(String, String)],
    ) -> Command {
        let mut command = Command::new(&self.consumer);
        command
            .args(["--bootstrap", bootstrap, "--topic", topic, "--group", group])
            .args(["--count", &records.to_string()]);
        with_properties(command, librdkafka_properties)
    }
}

fn with_properties(mut command: Command, librdkafka_properties: &[(String, String)]) -> Command {
    for (key, value) in librdkafka_properties {
        command.arg("-X").arg(format!("{key}={value}"));
    }
    command
}

/// The last JSON line `tool` printed, and a reader of its fields.
struct Line {
    json: Value,
    tool: &'static str,
}

impl Line {
    fn last(stdout: &str, tool: &'static str) -> Result<Line> {
        let line = stdout
            .lines()
            .rev()
            .find(|l| l.starts_with('{'))
            .with_context(|| format!("{tool} printed no JSON line"))?;
        let json =
            serde_json::from_str(line).with_context(|| format!("{tool}'s line is not JSON"))?;
        Ok(Line { json, tool })
    }

    fn count(&self, field: &str) -> Result<u64> {
        self.json[field]
            .as_u64()
            .with_context(|| format!("{}'s line has no count {field}", self.tool))
    }

    fn seconds(&self, field: &str) -> Result<f64> {
        self.json[field]
            .as_f64()
            .with_context(|| format!("{}'s line has no {field}", self.tool))
    }
}

pub fn parse_report(stdout: &str) -> Result<Report> {
    let line = Line::last(stdout, "native-producer")?;
    Ok(Report {
        acked: line.count("acked")?,
        failed: line.count("failed")?,
        bytes: line.count("bytes")?,
        elapsed_s: line.seconds("elapsed_s")?,
    })
}

pub fn parse_consumer_report(stdout: &str) -> Result<ConsumerReport> {
    let line = Line::last(stdout, "native-consumer")?;
    Ok(ConsumerReport {
        records: line.count("records")?,
        bytes: line.count("bytes")?,
        join_s: line.seconds("join_s")?,
        fetch_s: line.seconds("fetch_s")?,
    })
}
