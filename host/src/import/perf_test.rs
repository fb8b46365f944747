//! Reads what kafka-producer-perf-test prints: its periodic lines, its final line, the optional
//! `--print-metrics` block, the WARN/ERROR log lines, and, when the log holds it, the command
//! that was run. Figures are kept exactly as printed.

use std::collections::BTreeMap;

use anyhow::{bail, Context, Result};

/// One periodic line: `3095 records sent, 619.0 records/sec (30.22 MB/sec), 1058.6 ms avg
/// latency, 1216.0 ms max latency.`
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Interval {
    pub records: u64,
    pub records_per_s: f64,
    pub mb_per_s: f64,
    pub avg_ms: f64,
    pub max_ms: f64,
    /// the log elides lines just before this one (a `....` line)
    #[serde(default)]
    pub after_elision: bool,
}

/// The final line: the whole run as perf-test measured it (send() → callback).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FinalFigures {
    pub records: u64,
    pub records_per_s: f64,
    pub mb_per_s: f64,
    pub avg_ms: f64,
    pub max_ms: f64,
    pub p50_ms: u64,
    pub p95_ms: u64,
    pub p99_ms: u64,
    pub p999_ms: u64,
}

/// The perf-test arguments, when the log holds the command line.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Command {
    pub line: String,
    pub topic: Option<String>,
    pub num_records: Option<u64>,
    pub record_size: Option<u64>,
    /// as given: -1 means unthrottled
    pub throughput: Option<f64>,
    pub producer_config: Option<String>,
    pub producer_props: Vec<String>,
    pub print_metrics: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PerfTestOutput {
    pub command: Option<Command>,
    pub intervals: Vec<Interval>,
    pub final_line: String,
    pub figures: FinalFigures,
    /// `--print-metrics`: metric name (with its tags) → value as printed
    pub metrics: BTreeMap<String, String>,
    /// WARN / ERROR lines of the producer's log, verbatim
    pub warnings: Vec<String>,
}

pub fn parse(text: &str) -> Result<PerfTestOutput> {
    let mut command: Option<Command> = None;
    let mut intervals = Vec::new();
    let mut final_line: Option<(String, FinalFigures)> = None;
    let mut metrics = BTreeMap::new();
    let mut warnings = Vec::new();
    let mut in_metrics = false;
    let mut elided = false;
    let mut lines = text.lines().enumerate().peekable();
    while let Some((index, raw)) = lines.next() {
        let line = raw.trim();
        if line.is_empty() {
            continue;
        }
        let at = || format!("line {}", index + 1);
        if let Some(start) = line.find("kafka-producer-perf-test") {
            let mut full = line[start..].to_string();
            while full.ends_with('\\') {
                full.pop();
                let Some((_, next)) = lines.next() else { break };
                let next = next.trim();
                full.push(' ');
                full.push_str(next.strip_prefix('>').unwrap_or(next).trim());
            }
            command = Some(parse_command(&full));
            continue;
        }
        if line.chars().all(|c| c == '.') {
            elided = true;
            continue;
        }
        if line.starts_with("Metric Name") {
            in_metrics = true;
            continue;
        }
        if in_metrics {
            if let Some((name, value)) = metric_line(line) {
                metrics.insert(name, value);
                continue;
            }
            in_metrics = false;
        }
        if line.contains(" records sent, ") {
            if line.ends_with("99.9th.") {
                let figures = final_figures(line).with_context(at)?;
                final_line = Some((line.to_string(), figures));
            } else {
                let mut interval = periodic(line).with_context(at)?;
                interval.after_elision = std::mem::take(&mut elided);
                intervals.push(interval);
            }
            continue;
        }
        if line.contains("] WARN ") || line.contains("] ERROR ") {
            warnings.push(line.to_string());
        }
    }
    let Some((final_line, figures)) = final_line else {
        bail!(
            "no final line (`N records sent, … ms 99.9th.`): the run did not finish or this is not \
             kafka-producer-perf-test output"
        );
    };
    Ok(PerfTestOutput {
        command,
        intervals,
        final_line,
        figures,
        metrics,
        warnings,
    })
}

fn number<T: std::str::FromStr>(text: &str, what: &str) -> Result<T> {
    text.trim()
        .parse()
        .ok()
        .with_context(|| format!("{what}: {text:?} is not a number"))
}

/// `<value> <unit words>`: the value when the words match.
fn value_before<'a>(part: &'a str, words: &str) -> Result<&'a str> {
    part.trim()
        .strip_suffix(words)
        .map(str::trim)
        .with_context(|| format!("expected `… {words}`, found {part:?}"))
}

/// `622.255077 records/sec (30.38 MB/sec)`
fn rates(part: &str) -> Result<(f64, f64)> {
    let (rate, rest) = part
        .trim()
        .split_once(" records/sec (")
        .with_context(|| format!("expected `… records/sec (… MB/sec)`, found {part:?}"))?;
    let mb = value_before(rest.trim_end_matches(')'), "MB/sec")?;
    Ok((number(rate, "records/sec")?, number(mb, "MB/sec")?))
}

fn periodic(line: &str) -> Result<Interval> {
    let parts: Vec<&str> = line.trim_end_matches('.').split(", ").collect();
    let [records, rates_part, avg, max] = parts[..] else {
        bail!("a periodic line has 4 comma-separated figures: {line:?}");
    };
    let (records_per_s, mb_per_s) = rates(rates_part)?;
    Ok(Interval {
        records: number(value_before(records, "records sent")?, "records")?,
        records_per_s,
        mb_per_s,
        avg_ms: number(value_before(avg, "ms avg latency")?, "avg latency")?,
        max_ms: number(value_before(max, "ms max latency")?, "max latency")?,
        after_elision: false,
    })
}

fn final_figures(line: &str) -> Result<FinalFigures> {
    let body = line.strip_suffix('.').unwrap_or(line);
    let parts: Vec<&str> = body.split(", ").collect();
    let [records, rates_part, avg, max, p50, p95, p99, p999] = parts[..] else {
        bail!("the final line has 8 comma-separated figures: {line:?}");
    };
    let (records_per_s, mb_per_s) = rates(rates_part)?;
    Ok(FinalFigures {
        records: number(value_before(records, "records sent")?, "records")?,
        records_per_s,
        mb_per_s,
        avg_ms: number(value_before(avg, "ms avg latency")?, "avg latency")?,
        max_ms: number(value_before(max, "ms max latency")?, "max latency")?,
        p50_ms: number(value_before(p50, "ms 50th")?, "50th")?,
        p95_ms: number(value_before(p95, "ms 95th")?, "95th")?,
        p99_ms: number(value_before(p99, "ms 99th")?, "99th")?,
        p999_ms: number(value_before(p999, "ms 99.9th")?, "99.9th")?,
    })
}

/// `producer-metrics:record-error-total:{client-id=perf-producer-client}   : 0.000`
fn metric_line(line: &str) -> Option<(String, String)> {
    let (name, value) = line.rsplit_once(" : ").or_else(|| line.rsplit_once(':'))?;
    let name = name.trim();
    if !name.contains(":{") || !name.ends_with('}') {
        return None;
    }
    Some((name.to_string(), value.trim().to_string()))
}

/// The arguments perf-test was given; unknown flags are kept in `line` only.
fn parse_command(line: &str) -> Command {
    let words = shell_words(line);
    let mut command = Command {
        line: line.split_whitespace().collect::<Vec<_>>().join(" "),
        ..Command::default()
    };
    let mut i = 0;
    while i < words.len() {
        let value = words.get(i + 1).cloned();
        match words[i].as_str() {
            "--topic" => command.topic = value,
            "--num-records" => command.num_records = value.and_then(|v| v.parse().ok()),
            "--record-size" => command.record_size = value.and_then(|v| v.parse().ok()),
            "--throughput" => command.throughput = value.and_then(|v| v.parse().ok()),
            "--producer.config" => command.producer_config = value,
            "--print-metrics" => command.print_metrics = true,
            "--producer-props" => {
                while let Some(prop) = words.get(i + 1).filter(|w| !w.starts_with("--")) {
                    command.producer_props.push(prop.clone());
                    i += 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
    command
}

/// Splits on whitespace, honouring double and single quotes.
fn shell_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut quote: Option<char> = None;
    let mut in_word = false;
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => current.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut current));
                    in_word = false;
                }
            }
            (None, c) => {
                current.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(current);
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn final_line_figures_are_kept_as_printed() {
        let figures = final_figures("500000 records sent, 622.255077 records/sec (30.38 MB/sec), 1050.68 ms avg latency, 4277.00 ms max latency, 1039 ms 50th, 1173 ms 95th, 1235 ms 99th, 1478 ms 99.9th.").unwrap();
        assert_eq!(figures.records, 500000);
        assert_eq!(figures.records_per_s, 622.255077);
        assert_eq!(figures.mb_per_s, 30.38);
        assert_eq!(figures.avg_ms, 1050.68);
        assert_eq!(figures.max_ms, 4277.0);
        assert_eq!(
            (
                figures.p50_ms,
                figures.p95_ms,
                figures.p99_ms,
                figures.p999_ms
            ),
            (1039, 1173, 1235, 1478)
        );
    }

    #[test]
    fn command_with_continuations_and_props() {
        let log = "[root@host appuser]# kafka-producer-perf-test \\\n>   --topic \"t.json\" \\\n>   --num-records 1800000 \\\n>   --record-size 10240 --throughput -1 \\\n>   --producer-props linger.ms=5 acks=1 --print-metrics\n1 records sent, 1.0 records/sec (0.01 MB/sec), 1.00 ms avg latency, 1.00 ms max latency, 1 ms 50th, 1 ms 95th, 1 ms 99th, 1 ms 99.9th.\n";
        let output = parse(log).unwrap();
        let command = output.command.unwrap();
        assert_eq!(command.topic.as_deref(), Some("t.json"));
        assert_eq!(command.num_records, Some(1_800_000));
        assert_eq!(command.record_size, Some(10240));
        assert_eq!(command.throughput, Some(-1.0));
        assert_eq!(command.producer_props, ["linger.ms=5", "acks=1"]);
        assert!(command.print_metrics);
    }

    #[test]
    fn a_log_without_final_line_is_refused() {
        let error = parse("3095 records sent, 619.0 records/sec (30.22 MB/sec), 1058.6 ms avg latency, 1216.0 ms max latency.\n").unwrap_err();
        assert!(error.to_string().contains("no final line"), "{error}");
    }
}
