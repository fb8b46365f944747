//! Apache Kafka's `ProducerPerformance` and `ConsumerPerformance`, the classes behind the seeds'
//! `kafka-producer-perf-test` and `kafka-consumer-perf-test`, run from the lab's jars with the JVM
//! options their scripts use, and their final lines parsed.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use super::Latency;

/// The lab's Kafka version (`kscen lab up` resolves its jars, `kafka-tools` among them).
const KAFKA_VERSION: &str = "3.7.2";
const PRODUCER_CLASS: &str = "org.apache.kafka.tools.ProducerPerformance";
const CONSUMER_CLASS: &str = "org.apache.kafka.tools.ConsumerPerformance";
/// Both perf-test scripts set the heap; `kafka-run-class.sh` adds the rest.
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
    work: PathBuf,
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
            work: work.to_path_buf(),
        })
    }

    /// `java` with the scripts' options and the lab's jars, running `main_class`.
    fn java(&self, main_class: &str) -> Command {
        let mut command = Command::new("java");
        command
            .args(JVM_OPTIONS)
            .arg(format!(
                "-Dlog4j.configuration=file:{}",
                self.log4j.display()
            ))
            .arg("-cp")
            .arg(&self.classpath)
            .arg(main_class);
        command
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
        let mut command = self.java(PRODUCER_CLASS);
        command
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

    /// `ConsumerPerformance` reading `records` records of `topic` as `group`, with `properties`
    /// (Java names) in its `--consumer.config`. Two of them must also be given as flags, because
    /// the tool overrides the file with its own defaults for them: `--fetch-size`
    /// (max.partition.fetch.bytes) and `--socket-buffer-size` (receive.buffer.bytes).
    pub fn consumer_command(
        &self,
        bootstrap: &str,
        topic: &str,
        group: &str,
        records: u64,
        properties: &[(String, String)],
    ) -> Result<Command> {
        let config = self.work.join("perf-test-consumer.properties");
        let text: String = properties
            .iter()
            .map(|(k, v)| format!("{k}={v}\n"))
            .collect();
        std::fs::write(&config, text).with_context(|| format!("writing {}", config.display()))?;
        let property = |key: &str| {
            properties
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.as_str())
                .with_context(|| format!("the consumer settings have no {key}"))
        };
        let mut command = self.java(CONSUMER_CLASS);
        command
            .args(["--bootstrap-server", bootstrap])
            .args(["--topic", topic])
            .args(["--group", group])
            .args(["--messages", &records.to_string()])
            .args(["--fetch-size", property("max.partition.fetch.bytes")?])
            .args(["--socket-buffer-size", property("receive.buffer.bytes")?])
            // Between two records, as the native loop's: the first fetch waits for the join.
            .args(["--timeout", "60000"])
            .arg("--consumer.config")
            .arg(&config);
        Ok(command)
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

/// `ConsumerPerformance`'s result line (after its header `start.time, end.time,
/// data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms,
/// fetch.MB.sec, fetch.nMsg.sec`).
#[derive(Debug, Clone)]
pub struct ConsumerLine {
    pub records: u64,
    pub mb: f64,
    pub rebalance_ms: f64,
    pub fetch_ms: f64,
}

impl ConsumerLine {
    /// Value and key bytes read: the line gives MiB with four decimals.
    pub fn bytes(&self) -> u64 {
        (self.mb * 1024.0 * 1024.0).round() as u64
    }
}

pub fn parse_consumer_line(stdout: &str) -> Result<ConsumerLine> {
    if let Some(warning) = stdout
        .lines()
        .find(|l| l.starts_with("WARNING: Exiting before"))
    {
        bail!("consumer perf-test stopped early: {warning}");
    }
    let line = stdout
        .lines()
        .skip_while(|l| !l.starts_with("start.time, end.time"))
        .nth(1)
        .context("consumer perf-test printed no result line after its header")?;
    let fields: Vec<&str> = line.split(", ").map(str::trim).collect();
    if fields.len() != 10 {
        bail!(
            "consumer perf-test's result line has {} fields, not 10: {line}",
            fields.len()
        );
    }
    let number = |index: usize| -> Result<f64> {
        fields[index]
            .parse()
            .with_context(|| format!("field {} of {line:?} is not a number", index + 1))
    };
    Ok(ConsumerLine {
        mb: number(2)?,
        records: number(4)? as u64,
        rebalance_ms: number(6)?,
        fetch_ms: number(7)?,
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

    #[test]
    fn the_consumer_line_is_read_after_its_header() {
        let out = "start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec\n\
                   2026-12-02 14:05:43:123, 2026-12-02 14:05:47:623, 190.7349, 42.3855, 2000000, 444444.4444, 3012, 1488, 128.1821, 1344086.0215\n";
        let line = parse_consumer_line(out).unwrap();
        assert_eq!(line.records, 2_000_000);
        assert_eq!((line.rebalance_ms, line.fetch_ms), (3012.0, 1488.0));
        // Four decimals of MiB: within 53 bytes of the 200 000 000 read.
        assert_eq!(line.bytes(), 200_000_039);
        let short = "WARNING: Exiting before consuming the expected number of messages: timeout (60000 ms) exceeded. You can use the --timeout option to increase the timeout.\n";
        assert!(parse_consumer_line(short).is_err());
    }
}
