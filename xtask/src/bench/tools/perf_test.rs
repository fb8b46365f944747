//! Apache Kafka's `ProducerPerformance`, the class behind the seeds' `kafka-producer-perf-test`,
//! run from the lab's jars with the JVM options its script uses, and its final line parsed.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use super::Latency;

/// The lab's Kafka version (`kscen lab up` resolves its jars, `kafka-tools` among them).
const KAFKA_VERSION: &str = "3.7.2";
const MAIN_CLASS: &str = "org.apache.kafka.tools.ProducerPerformance";
/// `kafka-producer-perf-test.sh` sets the heap; `kafka-run-class.sh` adds the rest.
const JVM_OPTIONS: [&str; 8] = [
    "-Xmx512M",
    "-server",
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-XX:InitiatingHeapOccupancyPercent=35",
    "-XX:+ExplicitGCInvokesConcurrent",
    "-XX:MaxInlineLevel=15",
    "-Djava.awt.headless=true",
];

pub struct PerfTest {
    classpath: String,
    log4j: PathBuf,
}

/// perf-test's final line, as printed.
#[derive(Debug, Clone)]
pub struct FinalLine {
    pub line: String,
    pub records: u64,
    pub records_per_s: f64,
    pub latency: Latency,
}

impl PerfTest {
    /// Finds the jars; writes the WARN-level log4j configuration the tools script would use.
    pub fn new(work: &Path) -> Result<PerfTest> {
        let home = std::env::var_os("HOME").context("HOME is not set")?;
        let libs = PathBuf::from(home).join(format!(".cache/kscen/lab/kafka-{KAFKA_VERSION}/libs"));
        let tools_jar = libs.join(format!("kafka-tools-{KAFKA_VERSION}.jar"));
        if !tools_jar.is_file() {
            bail!(
                "{} not found: `kscen lab up` resolves the lab's jars",
                tools_jar.display()
            );
        }
        let log4j = work.join("tools-log4j.properties");
        std::fs::write(
            &log4j,
            "log4j.rootLogger=WARN, stderr\n\
             log4j.appender.stderr=org.apache.log4j.ConsoleAppender\n\
             log4j.appender.stderr.layout=org.apache.log4j.PatternLayout\n\
             log4j.appender.stderr.layout.ConversionPattern=[%d] %p %m (%c)%n\n\
             log4j.appender.stderr.Target=System.err\n",
        )
        .with_context(|| format!("writing {}", log4j.display()))?;
        Ok(PerfTest {
            classpath: format!("{}/*", libs.display()),
            log4j,
        })
    }

    /// `--throughput -1` when `rate` is `None` (unthrottled).
    pub fn command(
        &self,
        bootstrap: &str,
        topic: &str,
        records: u64,
        record_size: u32,
        rate: Option<u64>,
        properties: &[(String, String)],
    ) -> Command {
        let mut command = Command::new("java");
        command
            .args(JVM_OPTIONS)
            .arg(format!(
                "-Dlog4j.configuration=file:{}",
                self.log4j.display()
            ))
            .arg("-cp")
            .arg(&self.classpath)
            .arg(MAIN_CLASS)
            .args(["--topic", topic])
            .args(["--num-records", &records.to_string()])
            .args(["--record-size", &record_size.to_string()])
            .args([
                "--throughput",
                &rate.map_or("-1".to_string(), |r| r.to_string()),
            ])
            .arg("--producer-props")
            .arg(format!("bootstrap.servers={bootstrap}"))
            .args(properties.iter().map(|(k, v)| format!("{k}={v}")));
        command
    }
}

/// `N records sent, R records/sec (M MB/sec), A ms avg latency, X ms max latency, P50 ms 50th,
/// P95 ms 95th, P99 ms 99th, P999 ms 99.9th.`
pub fn parse_final_line(stdout: &str) -> Result<FinalLine> {
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.contains("records sent") && l.contains("99.9th"))
        .context("perf-test printed no final line")?;
    let parts: Vec<&str> = line.trim_end_matches('.').split(", ").collect();
    let number = |index: usize, unit: &str| -> Result<f64> {
        let part = parts
            .get(index)
            .with_context(|| format!("final line too short: {line}"))?;
        let text = part
            .split(unit)
            .next()
            .map(str::trim)
            .with_context(|| format!("no {unit:?} in {part:?}"))?;
        text.parse()
            .with_context(|| format!("{text:?} in {line:?} is not a number"))
    };
    Ok(FinalLine {
        line: line.to_string(),
        records: number(0, "records sent")? as u64,
        records_per_s: number(1, "records/sec")?,
        latency: Latency {
            p50_ms: number(4, "ms 50th")?,
            p99_ms: number(6, "ms 99th")?,
            p999_ms: number(7, "ms 99.9th")?,
            max_ms: number(3, "ms max latency")?,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_final_line_is_read_as_printed() {
        let out = "50000 records sent, 9998.0 records/sec (9.76 MB/sec), 3.1 ms avg latency, 212.0 ms max latency.\n\
                   150000 records sent, 9999.333378 records/sec (9.77 MB/sec), 21.39 ms avg latency, 2043.00 ms max latency, 2 ms 50th, 1589 ms 95th, 1935 ms 99th, 2031 ms 99.9th.\n";
        let last = parse_final_line(out).unwrap();
        assert_eq!(last.records, 150_000);
        assert!((last.records_per_s - 9999.333378).abs() < 1e-6);
        assert_eq!(
            (
                last.latency.p50_ms,
                last.latency.p99_ms,
                last.latency.p999_ms,
                last.latency.max_ms
            ),
            (2.0, 1935.0, 2031.0, 2043.0)
        );
    }
}
