//! Reads what kafka-producer-perf-test prints: its periodic lines, its final line, the optional
//! `--print-metrics` block, the WARN/ERROR log lines, and, when the log holds it, the command
//! that was run. Figures are kept exactly as printed. A log may hold several runs (operators
//! append to one file): each is returned on its own, never mixed with another.

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
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
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

/// The lines of the log a run was read from, 1-based and inclusive.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Lines {
    pub first: usize,
    pub last: usize,
}

impl Lines {
    /// Widens the range to `line`; 0 is never a line number, so `first == 0` means empty.
    fn take(&mut self, line: usize) {
        if self.first == 0 {
            self.first = line;
        }
        self.last = self.last.max(line);
    }
}

/// The final line, verbatim, and its figures.
#[derive(Debug, Clone, PartialEq)]
pub struct FinalLine {
    pub line: String,
    pub figures: FinalFigures,
}

/// One perf-test run of a log: what it printed, and nothing of the runs before or after it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PerfTestRun {
    pub lines: Lines,
    pub command: Option<Command>,
    pub intervals: Vec<Interval>,
    /// None: a partial run, its final line is not in the log (interrupted, or the log was cut)
    pub end: Option<FinalLine>,
    /// `--print-metrics`: metric name (with its tags) → value as printed
    pub metrics: BTreeMap<String, String>,
    /// WARN / ERROR lines of the producer's log, verbatim
    pub warnings: Vec<String>,
}

impl PerfTestRun {
    /// A run has started once its command or its first periodic line is seen; warnings alone
    /// may still be the previous run's producer closing.
    fn started(&self) -> bool {
        self.command.is_some() || !self.intervals.is_empty()
    }

    pub fn is_partial(&self) -> bool {
        self.end.is_none()
    }
}

/// Splits a log into its runs, in order. A final line ends a run; a `kafka-producer-perf-test`
/// command line starts one (a run still in progress then ends partial); the `--print-metrics`
/// block after a final line is that run's; WARN/ERROR lines are the run's in progress, which
/// after a final line is the next run (its start-up) unless a command line comes first or
/// nothing follows: then the ended run's producer was closing.
pub fn parse(text: &str) -> Result<Vec<PerfTestRun>> {
    let mut runs: Vec<PerfTestRun> = Vec::new();
    let mut current = PerfTestRun::default();
    let mut in_metrics = false;
    let mut elided = false;
    let mut lines = text.lines().enumerate();
    while let Some((index, raw)) = lines.next() {
        let line = raw.trim();
        let number = index + 1;
        if line.is_empty() {
            continue;
        }
        if let Some(start) = line.find("kafka-producer-perf-test") {
            end_without_final_line(&mut runs, &mut current);
            (in_metrics, elided) = (false, false);
            let mut full = line[start..].to_string();
            current.lines.take(number);
            while full.ends_with('\\') {
                full.pop();
                let Some((index, next)) = lines.next() else {
                    break;
                };
                current.lines.take(index + 1);
                let next = next.trim();
                full.push(' ');
                full.push_str(next.strip_prefix('>').unwrap_or(next).trim());
            }
            current.command = Some(parse_command(&full));
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
                // Printed right after the final line: the run that just ended, unless the next
                // one has begun.
                let owner = match runs.last_mut() {
                    Some(ended) if !current.started() => ended,
                    _ => &mut current,
                };
                owner.lines.take(number);
                owner.metrics.insert(name, value);
                continue;
            }
            in_metrics = false;
        }
        let at = || format!("line {number}");
        if line.contains(" records sent, ") {
            current.lines.take(number);
            if line.ends_with("99.9th.") {
                let figures = final_figures(line).with_context(at)?;
                current.end = Some(FinalLine {
                    line: line.to_string(),
                    figures,
                });
                runs.push(std::mem::take(&mut current));
            } else {
                let mut interval = periodic(line).with_context(at)?;
                interval.after_elision = std::mem::take(&mut elided);
                current.intervals.push(interval);
            }
            continue;
        }
        if line.contains("] WARN ") || line.contains("] ERROR ") {
            current.lines.take(number);
            current.warnings.push(line.to_string());
        }
    }
    end_without_final_line(&mut runs, &mut current);
    if runs.is_empty() {
        bail!(
            "no kafka-producer-perf-test run: expected periodic lines (`N records sent, … ms max \
             latency.`) or a final line (`N records sent, … ms 99.9th.`); is this perf-test output?"
        );
    }
    Ok(runs)
}

/// The run in progress ends before its final line: kept as a partial run once it has started;
/// warnings alone, printed after a final line, are the ended run's (its producer closing).
fn end_without_final_line(runs: &mut Vec<PerfTestRun>, current: &mut PerfTestRun) {
    if current.started() {
        runs.push(std::mem::take(current));
    } else if let Some(ended) = runs.last_mut() {
        let between = std::mem::take(current);
        if !between.warnings.is_empty() {
            ended.lines.take(between.lines.last);
            ended.warnings.extend(between.warnings);
        }
    }
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
        let mut runs = parse(log).unwrap();
        assert_eq!(runs.len(), 1);
        assert_eq!(
            runs[0].lines,
            Lines { first: 1, last: 6 },
            "continuations included"
        );
        let command = runs.remove(0).command.unwrap();
        assert_eq!(command.topic.as_deref(), Some("t.json"));
        assert_eq!(command.num_records, Some(1_800_000));
        assert_eq!(command.record_size, Some(10240));
        assert_eq!(command.throughput, Some(-1.0));
        assert_eq!(command.producer_props, ["linger.ms=5", "acks=1"]);
        assert!(command.print_metrics);
    }

    const INTERVAL: &str = "3095 records sent, 619.0 records/sec (30.22 MB/sec), 1058.6 ms avg latency, 1216.0 ms max latency.";
    const FINAL: &str = "18000 records sent, 999.3 records/sec (0.98 MB/sec), 74.29 ms avg latency, 1254.00 ms max latency, 43 ms 50th, 334 ms 95th, 885 ms 99th, 1237 ms 99.9th.";
    const WARN: &str = "[2025-12-18 14:59:12,833] WARN [Producer clientId=perf-producer-client] Error while fetching metadata (org.apache.kafka.clients.NetworkClient)";
    const METRICS: &str = "Metric Name   Value\nproducer-metrics:record-error-total:{client-id=perf-producer-client}   : 0.000";

    #[test]
    fn a_log_with_periodic_lines_only_is_one_partial_run() {
        let runs = parse(&format!("{INTERVAL}\n{INTERVAL}\n")).unwrap();
        assert_eq!(runs.len(), 1);
        assert!(runs[0].is_partial());
        assert_eq!(runs[0].intervals.len(), 2);
        assert_eq!(runs[0].lines, Lines { first: 1, last: 2 });
    }

    #[test]
    fn a_log_without_any_run_is_refused() {
        let error = parse("Picked up JAVA_TOOL_OPTIONS: -Dx=y\n").unwrap_err();
        assert!(
            error
                .to_string()
                .contains("no kafka-producer-perf-test run"),
            "{error}"
        );
    }

    #[test]
    fn metrics_after_a_final_line_are_that_runs_and_warnings_the_run_in_progress() {
        let log = format!("{INTERVAL}\n{FINAL}\n{METRICS}\n{WARN}\n{INTERVAL}\n{FINAL}\n");
        let runs = parse(&log).unwrap();
        assert_eq!(runs.len(), 2);
        assert_eq!(runs[0].metrics.len(), 1);
        assert!(runs[0].warnings.is_empty());
        assert_eq!(runs[0].lines, Lines { first: 1, last: 4 });
        // No command line: the next run's output begins after the metrics (its startup WARN).
        assert!(runs[1].metrics.is_empty());
        assert_eq!(runs[1].warnings, [WARN]);
        assert_eq!(runs[1].lines, Lines { first: 5, last: 7 });
    }

    #[test]
    fn a_command_line_ends_the_run_before_it() {
        let command = "$ kafka-producer-perf-test --topic t --num-records 18000";
        let log = format!(
            "{command}\n{INTERVAL}\n{command}\n{INTERVAL}\n{FINAL}\n{WARN}\n{command}\n{INTERVAL}\n"
        );
        let runs = parse(&log).unwrap();
        let shape: Vec<(bool, usize, usize, Lines)> = runs
            .iter()
            .map(|r| (r.is_partial(), r.intervals.len(), r.warnings.len(), r.lines))
            .collect();
        assert_eq!(
            shape,
            [
                // interrupted: the next command starts before its final line
                (true, 1, 0, Lines { first: 1, last: 2 }),
                // the WARN after its final line, before the next command, is its producer's
                (false, 1, 1, Lines { first: 3, last: 6 }),
                (true, 1, 0, Lines { first: 7, last: 8 }),
            ]
        );
        assert!(runs.iter().all(|r| r.command.is_some()));
    }
}
