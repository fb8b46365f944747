//! What one bench run found: the JSON document, the printed table and the targets of issue 7 (and
//! issue 15's consumer targets), every figure taken from this run's measurements.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result};
use serde_json::{json, Map, Value};

use super::options::Options;
use super::sections::consume::{self, Consume};
use super::sections::median;
use super::sections::memory::{Memory, MemoryRun};
use super::sections::micro::{Microbenchmark, VERIFIER_CHECKS};
use super::sections::plugin::LanguageCost;
use super::sections::rate::RatePoint;
use super::sections::shards::{self, LoadRun, Shards};
use super::sections::stall::Stall;
use super::sections::throughput::{Case, Throughput};
use super::settings::{self, Acks, Workload, PARTITIONS};
use super::tools::{ConsumerRun, Latency, ProducerRun, Tool};

/// What was measured, and on what.
pub struct Measured {
    pub date: String,
    pub commit: String,
    /// The work tree differed from `commit` (tracked files only).
    pub uncommitted_changes: bool,
    pub cpus: usize,
    pub cpu_model: String,
    pub load_average: String,
}

impl Measured {
    pub fn describe(root: &Path) -> Result<Measured> {
        let output = |program: &str, args: &[&str]| -> Result<String> {
            let out = Command::new(program)
                .args(args)
                .current_dir(root)
                .output()
                .with_context(|| format!("cannot run {program}"))?;
            anyhow::ensure!(out.status.success(), "{program} {args:?} failed");
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
        };
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        Ok(Measured {
            date: output("date", &["-u", "+%Y-%m-%d"])?,
            commit: output("git", &["rev-parse", "--short", "HEAD"])?,
            uncommitted_changes: !output(
                "git",
                &["status", "--porcelain", "--untracked-files=no"],
            )?
            .is_empty(),
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            cpu_model: cpuinfo
                .lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|l| l.trim_start_matches([' ', '\t', ':']).to_string())
                .unwrap_or_default(),
            load_average: std::fs::read_to_string("/proc/loadavg")
                .unwrap_or_default()
                .split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" "),
        })
    }

    pub fn file_name(&self) -> String {
        format!("{}-{}.json", self.date, self.commit)
    }
}

/// Every section's findings; a section that did not run stays `None`.
#[derive(Default)]
pub struct Findings {
    pub throughput: Option<Throughput>,
    pub rate: Option<Vec<RatePoint>>,
    pub stall: Option<Stall>,
    pub memory: Option<Memory>,
    /// per language, Rust first
    pub plugin: Option<Vec<LanguageCost>>,
    /// (from the compile cache?, load ms) of every kscen run
    pub plugin_loads: Vec<(bool, f64)>,
    pub micro: Option<Vec<Microbenchmark>>,
    pub consume: Option<Consume>,
    pub shards: Option<Shards>,
}

impl Findings {
    /// The Rust plugin's costs, which the targets are set for.
    fn rust_plugin(&self) -> Option<&LanguageCost> {
        self.plugin.as_ref()?.iter().find(|p| p.language == "Rust")
    }

    fn cached_load_ms(&self) -> Vec<f64> {
        self.plugin_loads
            .iter()
            .filter(|(cached, _)| *cached)
            .map(|(_, ms)| *ms)
            .collect()
    }

    /// kscen's CPU per record in the 100 B, acks=1 throughput case: the native load job's cost.
    fn load_job_cpu_us_per_record(&self) -> Option<f64> {
        let case = self
            .throughput
            .as_ref()?
            .cases
            .iter()
            .find(|c| c.record_size == 100 && c.acks == Acks::Leader)?;
        Some(case.median(Tool::Kscen, ProducerRun::cpu_s_per_million))
    }

    /// (what, records/s per core) of each per-record verifier check the microbenchmarks measured.
    fn verifier_ceiling(&self) -> Vec<(&'static str, f64)> {
        let Some(micro) = &self.micro else {
            return Vec::new();
        };
        VERIFIER_CHECKS
            .iter()
            .filter_map(|(id, what)| {
                let bench = micro.iter().find(|m| m.id == *id)?;
                Some((*what, bench.per_core_per_s()))
            })
            .collect()
    }
}

/// One of issue 7's targets, checked against this run.
pub struct Target {
    pub what: &'static str,
    pub limit: String,
    /// `None`: the section that measures it did not run.
    pub measured: Option<f64>,
    pub holds: Option<bool>,
}

fn target(
    what: &'static str,
    limit: String,
    measured: Option<f64>,
    holds: impl Fn(f64) -> bool,
) -> Target {
    Target {
        what,
        limit,
        measured,
        holds: measured.map(holds),
    }
}

pub fn targets(findings: &Findings, workload: &Workload) -> Vec<Target> {
    let lowest_ratio = |other: Tool| {
        findings.throughput.as_ref().map(|t| {
            t.cases
                .iter()
                .map(|c| c.ratio_vs(other))
                .fold(f64::INFINITY, f64::min)
        })
    };
    let lowest_consume_ratio = |other: Tool| {
        findings.consume.as_ref().map(|c| {
            c.cases
                .iter()
                .map(|c| c.ratio_vs(other))
                .fold(f64::INFINITY, f64::min)
        })
    };
    let stall_ms = workload.stall_for.as_secs_f64() * 1000.0;
    let cached = findings.cached_load_ms();
    vec![
        target(
            "kscen / perf-test records/s, lowest case",
            "≥ 1.0× (aim 1.2×)".into(),
            lowest_ratio(Tool::PerfTest),
            |r| r >= 1.0,
        ),
        target(
            "kscen / native records/s, lowest case",
            "≥ 0.9×".into(),
            lowest_ratio(Tool::Native),
            |r| r >= 0.9,
        ),
        target(
            "rate error, largest |%| over the targets",
            "≤ 0.1 %".into(),
            findings.rate.as_ref().map(|points| {
                points
                    .iter()
                    .map(|p| p.error_percent().abs())
                    .fold(0.0, f64::max)
            }),
            |e| e <= 0.1,
        ),
        target(
            "schedule lag p99 at 10 000 msg/s, ms",
            "≤ 2 ms".into(),
            findings.rate.as_ref().and_then(|points| {
                points
                    .iter()
                    .find(|p| p.target == 10_000.0)
                    .map(|p| p.lag_p99_us / 1000.0)
            }),
            |ms| ms <= 2.0,
        ),
        target(
            "stall in kscen's corrected max, ms",
            format!("≥ {stall_ms:.0} ms (the stall)"),
            findings.stall.as_ref().map(|s| s.kscen_corrected.max_ms),
            |ms| ms >= stall_ms,
        ),
        target(
            "settled RSS, long run / short run",
            "within 10 %".into(),
            findings.memory.as_ref().map(Memory::ratio),
            |r| (r - 1.0).abs() <= 0.10,
        ),
        target(
            "component load from the compile cache, median ms",
            "≤ 50 ms".into(),
            (!cached.is_empty()).then(|| median(cached.clone())),
            |ms| ms <= 50.0,
        ),
        target(
            "single-record produce host call overhead, µs",
            "≤ 2 µs".into(),
            findings.rust_plugin().map(|p| p.call.overhead_us),
            |us| us <= 2.0,
        ),
        target(
            "consume: kscen / perf-test fetch records/s, lowest",
            "≥ 1.2×".into(),
            lowest_consume_ratio(Tool::PerfTest),
            |r| r >= 1.2,
        ),
        target(
            "consume: kscen / native fetch records/s, lowest",
            "≥ 0.9×".into(),
            lowest_consume_ratio(Tool::Native),
            |r| r >= 0.9,
        ),
    ]
}

// ---------------------------------------------------------------------------------------------
// JSON

pub fn document(
    measured: &Measured,
    options: &Options,
    workload: &Workload,
    findings: &Findings,
) -> Value {
    let properties = |list: Vec<(String, String)>| -> Value {
        Value::Object(
            list.into_iter()
                .map(|(k, v)| (k, Value::String(v)))
                .collect::<Map<_, _>>(),
        )
    };
    json!({
        "schema": "kscen.bench/v1",
        "date": measured.date,
        "commit": measured.commit,
        "uncommitted_changes": measured.uncommitted_changes,
        "machine": {
            "cpus": measured.cpus,
            "cpu_model": measured.cpu_model,
            "load_average_at_start": measured.load_average,
        },
        "options": {
            "quick": options.quick,
            "repeat": options.repeat,
            "sections": options.sections.iter().map(|s| s.name()).collect::<Vec<_>>(),
        },
        "settings": {
            "partitions": PARTITIONS,
            "producer_properties_java": properties(settings::java_properties(Acks::Leader)),
            "producer_properties_librdkafka": properties(settings::librdkafka_properties(Acks::Leader)),
            "acks": ["1", "all"],
        },
        "throughput": findings.throughput.as_ref().map(|t| t.cases.iter().map(case_json).collect::<Vec<_>>()),
        "rate_accuracy": findings.rate.as_ref().map(|points| points.iter().map(|p| json!({
            "target_per_s": p.target,
            "achieved_per_s": p.achieved,
            "error_percent": p.error_percent(),
            "sent": p.sent,
            "duration_s": workload.rate_duration.as_secs_f64(),
            "record_size": workload.rate_record_size,
            "schedule_lag_p50_us": p.lag_p50_us,
            "schedule_lag_p99_us": p.lag_p99_us,
        })).collect::<Vec<_>>()),
        "coordinated_omission": findings.stall.as_ref().map(|s| json!({
            "rate_per_s": s.rate,
            "records": s.records,
            "record_size": s.record_size,
            "stall_ms": workload.stall_for.as_secs_f64() * 1000.0,
            "kscen": {
                "stopped_at_s": s.kscen_stall_s.0,
                "resumed_at_s": s.kscen_stall_s.1,
                "corrected": s.kscen_corrected.to_json(),
                "service": s.kscen_service.to_json(),
            },
            "perf_test": {
                "stopped_at_s": s.perf_test_stall_s.0,
                "resumed_at_s": s.perf_test_stall_s.1,
                "latency": s.perf_test.to_json(),
                "final_line": s.perf_test_line,
            },
        })),
        "memory": findings.memory.as_ref().map(|m| json!({
            "rate_per_s": m.rate,
            "record_size": m.record_size,
            "short": memory_run_json(&m.short),
            "long": memory_run_json(&m.long),
            "settled_rss_ratio_long_vs_short": m.ratio(),
        })),
        "plugin_overhead": {
            "component_load_from_cache_ms": {
                "runs": findings.cached_load_ms().len(),
                "median": median(findings.cached_load_ms()),
                "max": findings.cached_load_ms().into_iter().fold(f64::NAN, f64::max),
            },
            "component_compiled_ms": findings.plugin_loads.iter().filter(|(c, _)| !c).map(|(_, ms)| *ms).collect::<Vec<_>>(),
            "languages": findings.plugin.as_ref().map(|costs| costs.iter().map(|p| json!({
                "language": p.language,
                "plugin": p.plugin,
                "component_bytes": p.component_bytes,
                "compiled_ms": p.compiled_ms,
                "cached_load_ms": p.cached_load_ms,
                "runs_from_cache": p.runs,
                "produce_host_call": {
                    "cluster": "embedded mock cluster",
                    "calls": p.call.calls,
                    "record_size": p.call.record_size,
                    "call_us": p.call.call_us,
                    "ack_wait_us": p.call.ack_wait_us,
                    "clock_call_us": p.call.clock_call_us,
                    "overhead_us": p.call.overhead_us,
                    "overhead_p50_us": p.call.overhead_p50_us,
                },
            })).collect::<Vec<_>>()),
            "load_job_cpu_us_per_record": findings.load_job_cpu_us_per_record(),
        },
        "microbenchmarks": findings.micro.as_ref().map(|list| list.iter().map(|m| json!({
            "id": m.id,
            "mean_ns": m.mean_ns,
            "median_ns": m.median_ns,
            "per_core_per_s": m.per_core_per_s(),
        })).collect::<Vec<_>>()),
        "verifier_ceiling_records_per_s_per_core": findings.micro.as_ref().map(|_| {
            findings.verifier_ceiling().into_iter().map(|(what, per_s)| (what.to_string(), json!(per_s))).collect::<Map<_, _>>()
        }),
        "consume": findings.consume.as_ref().map(|c| json!({
            "members": consume::MEMBERS,
            "consumer_properties_java": properties(settings::consumer_java_properties()),
            "consumer_properties_librdkafka": properties(settings::consumer_librdkafka_properties()),
            "cases": c.cases.iter().map(consume_case_json).collect::<Vec<_>>(),
        })),
        "shards": findings.shards.as_ref().map(shards_json),
        "targets": targets(findings, workload).iter().map(|t| json!({
            "target": t.what,
            "limit": t.limit,
            "measured": t.measured,
            "holds": t.holds,
        })).collect::<Vec<_>>(),
    })
}

fn case_json(case: &Case) -> Value {
    let mut object = json!({
        "record_size": case.record_size,
        "acks": case.acks.value(),
        "records": case.records,
        "ratio_vs_perf_test": case.ratio_vs(Tool::PerfTest),
        "ratio_vs_native": case.ratio_vs(Tool::Native),
    });
    for tool in Tool::ALL {
        object[tool.key()] = json!({
            "records_per_s": case.records_per_s(tool),
            "mb_per_s": case.median(tool, ProducerRun::mb_per_s),
            "cpu_s_per_million": case.median(tool, ProducerRun::cpu_s_per_million),
            "peak_rss_kib": case.median(tool, |r| r.peak_rss_kib as f64),
            "runs": case.runs.iter().filter(|r| r.tool == tool).map(ProducerRun::to_json).collect::<Vec<_>>(),
        });
    }
    object
}

fn consume_case_json(case: &consume::Case) -> Value {
    let mut object = json!({
        "record_size": case.record_size,
        "records": case.records,
        "ratio_vs_perf_test": case.ratio_vs(Tool::PerfTest),
        "ratio_vs_native": case.ratio_vs(Tool::Native),
        "wall_ratio_vs_perf_test": case.wall_ratio_vs(Tool::PerfTest),
        "wall_ratio_vs_native": case.wall_ratio_vs(Tool::Native),
    });
    for tool in Tool::ALL {
        object[tool.key()] = json!({
            "records_per_s": case.records_per_s(tool),
            "mb_per_s": case.median(tool, ConsumerRun::mb_per_s),
            "join_ms": case.median(tool, |r| r.join_ms),
            "wall_s": case.median(tool, |r| r.wall_s),
            "wall_records_per_s": case.median(tool, ConsumerRun::wall_records_per_s),
            "cpu_s_per_million": case.median(tool, ConsumerRun::cpu_s_per_million),
            "peak_rss_kib": case.median(tool, |r| r.peak_rss_kib as f64),
            "runs": case.runs.iter().filter(|r| r.tool == tool).map(ConsumerRun::to_json).collect::<Vec<_>>(),
        });
    }
    object
}

fn shards_json(shards: &Shards) -> Value {
    let side = |runs: &[LoadRun]| {
        json!({
            "records_per_s": Shards::median(runs, LoadRun::records_per_s),
            "cpu_s": Shards::median(runs, LoadRun::cpu_s),
            "peak_rss_kib": Shards::median(runs, |r| r.peak_rss_kib() as f64),
            "runs": runs.iter().map(LoadRun::to_json).collect::<Vec<_>>(),
        })
    };
    json!({
        "shards": shards::SHARDS,
        "records": shards.records,
        "record_size": shards.record_size,
        "acks": Acks::Leader.value(),
        "start_ahead_s": shards::START_AHEAD.as_secs_f64(),
        "one_process": side(&shards.single),
        "sharded": side(&shards.sharded),
        "merge_s": Shards::median(&shards.sharded, |r| r.merge_s.unwrap_or(f64::NAN)),
        "ratio_records_per_s": shards.ratio(LoadRun::records_per_s),
        "ratio_cpu_s": shards.ratio(LoadRun::cpu_s),
        "ratio_peak_rss": shards.ratio(|r| r.peak_rss_kib() as f64),
    })
}

fn memory_run_json(run: &MemoryRun) -> Value {
    json!({
        "records": run.records,
        "wall_s": run.wall_s,
        "end_rss_kib": run.end_rss_kib,
        "settled_rss_kib": run.settled_rss_kib,
        "peak_rss_kib": run.peak_rss_kib,
        "rss_kib_per_second": run.rss_per_second.iter().map(|(t, kib)| json!([(*t * 10.0).round() / 10.0, kib])).collect::<Vec<_>>(),
    })
}

// ---------------------------------------------------------------------------------------------
// Table

pub fn table(
    measured: &Measured,
    options: &Options,
    workload: &Workload,
    findings: &Findings,
) -> String {
    let mut out = String::new();
    let changes = if measured.uncommitted_changes {
        " + uncommitted changes"
    } else {
        ""
    };
    let _ = writeln!(
        out,
        "kscen bench {} · commit {}{changes} · {} CPUs ({}) · load average at start {}{}",
        measured.date,
        measured.commit,
        measured.cpus,
        measured.cpu_model,
        measured.load_average,
        if options.quick {
            " · QUICK (not comparable)"
        } else {
            ""
        },
    );
    if let Some(throughput) = &findings.throughput {
        throughput_table(&mut out, throughput, options.repeat);
    }
    if let Some(points) = &findings.rate {
        rate_table(&mut out, points, workload);
    }
    if let Some(stall) = &findings.stall {
        stall_table(&mut out, stall, workload);
    }
    if let Some(memory) = &findings.memory {
        memory_table(&mut out, memory);
    }
    plugin_table(&mut out, findings);
    if let Some(micro) = &findings.micro {
        micro_table(&mut out, micro, findings);
    }
    if let Some(consume) = &findings.consume {
        consume_table(&mut out, consume, options.repeat);
    }
    if let Some(shards) = &findings.shards {
        shards_table(&mut out, shards, measured.cpus, options.repeat);
    }
    let _ = writeln!(out, "\nTargets");
    for t in targets(findings, workload) {
        let verdict = match t.holds {
            Some(true) => "holds",
            Some(false) => "MISSED",
            None => "not measured",
        };
        let measured = t.measured.map_or("-".to_string(), |v| format!("{v:.3}"));
        let _ = writeln!(
            out,
            "  {:<50} {:>10}  {:<22} {verdict}",
            t.what, measured, t.limit
        );
    }
    out
}

fn size_label(bytes: u32) -> String {
    if bytes >= 1024 && bytes.is_multiple_of(1024) {
        format!("{} KiB", bytes / 1024)
    } else {
        format!("{bytes} B")
    }
}

fn throughput_table(out: &mut String, throughput: &Throughput, repeat: usize) {
    let _ = writeln!(
        out,
        "\n1. Throughput, unthrottled ({PARTITIONS} partitions; {}; median of {repeat})",
        settings::java_properties(Acks::Leader)
            .iter()
            .skip(1)
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    let _ = writeln!(
        out,
        "{:<8} {:<5} {:<10} {:>12} {:>9} {:>13} {:>11} {:>10}",
        "size", "acks", "tool", "records/s", "MB/s", "CPU s/M rec", "vs perf-test", "vs native"
    );
    for case in &throughput.cases {
        for tool in Tool::ALL {
            let first = tool == Tool::Kscen;
            let (ratio_perf, ratio_native) = if first {
                (
                    format!("{:.2}×", case.ratio_vs(Tool::PerfTest)),
                    format!("{:.2}×", case.ratio_vs(Tool::Native)),
                )
            } else {
                (String::new(), String::new())
            };
            let _ = writeln!(
                out,
                "{:<8} {:<5} {:<10} {:>12.0} {:>9.1} {:>13.2} {:>11} {:>10}",
                if first {
                    size_label(case.record_size)
                } else {
                    String::new()
                },
                if first { case.acks.value() } else { "" },
                tool.label(),
                case.records_per_s(tool),
                case.median(tool, ProducerRun::mb_per_s),
                case.median(tool, ProducerRun::cpu_s_per_million),
                ratio_perf,
                ratio_native,
            );
        }
    }
}

fn micro_table(out: &mut String, micro: &[Microbenchmark], findings: &Findings) {
    let _ = writeln!(
        out,
        "\n6. Microbenchmarks (criterion, host/benches/load_hot_paths.rs; one iteration = one record)"
    );
    let _ = writeln!(
        out,
        "{:<52} {:>10} {:>10} {:>14}",
        "benchmark", "mean ns", "median ns", "M/s per core"
    );
    for m in micro {
        let _ = writeln!(
            out,
            "{:<52} {:>10.1} {:>10.1} {:>14.1}",
            m.id,
            m.mean_ns,
            m.median_ns,
            m.per_core_per_s() / 1e6
        );
    }
    let ceiling = findings.verifier_ceiling();
    if !ceiling.is_empty() {
        let list: Vec<String> = ceiling
            .iter()
            .map(|(what, per_s)| format!("{what} {:.1} M records/s", per_s / 1e6))
            .collect();
        let _ = writeln!(
            out,
            "  verifier ceiling, in-order records on one core: {}",
            list.join(", ")
        );
    }
}

fn consume_table(out: &mut String, consume: &Consume, repeat: usize) {
    let _ = writeln!(
        out,
        "\n7. Consumer throughput (runs read the first two thirds of an evenly filled {PARTITIONS}-partition topic; {} consumer per tool, a fresh group per run; {}; kscen's default and the native loop's {}; median of {repeat})",
        consume::MEMBERS,
        settings::consumer_java_properties()
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" "),
        settings::KSCEN_CONSUMER_DEFAULTS
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" "),
    );
    let _ = writeln!(
        out,
        "{:<8} {:<10} {:>12} {:>9} {:>9} {:>8} {:>13} {:>11} {:>10}",
        "size",
        "tool",
        "fetch rec/s",
        "MB/s",
        "join ms",
        "wall s",
        "CPU s/M rec",
        "vs perf-test",
        "vs native"
    );
    for case in &consume.cases {
        for tool in Tool::ALL {
            let first = tool == Tool::Kscen;
            let ratio = |other| {
                if first {
                    format!("{:.2}×", case.ratio_vs(other))
                } else {
                    String::new()
                }
            };
            let _ = writeln!(
                out,
                "{:<8} {:<10} {:>12.0} {:>9.1} {:>9.0} {:>8.2} {:>13.2} {:>11} {:>10}",
                if first {
                    size_label(case.record_size)
                } else {
                    String::new()
                },
                tool.label(),
                case.records_per_s(tool),
                case.median(tool, ConsumerRun::mb_per_s),
                case.median(tool, |r| r.join_ms),
                case.median(tool, |r| r.wall_s),
                case.median(tool, ConsumerRun::cpu_s_per_million),
                ratio(Tool::PerfTest),
                ratio(Tool::Native),
            );
        }
        let _ = writeln!(
            out,
            "{:<8} kscen over wall time ({} records ÷ process wall time): {:.2}× perf-test, {:.2}× native",
            "",
            case.records,
            case.wall_ratio_vs(Tool::PerfTest),
            case.wall_ratio_vs(Tool::Native),
        );
    }
}

fn shards_table(out: &mut String, shards: &Shards, cpus: usize, repeat: usize) {
    let _ = writeln!(
        out,
        "\n8. Sharded runs on one machine (steady, {} records of {}, unthrottled, acks=1, {PARTITIONS} partitions; one kscen process, then {} shards launched together and merged; median of {repeat})",
        shards.records,
        size_label(shards.record_size),
        shards::SHARDS,
    );
    let _ = writeln!(
        out,
        "{:<12} {:>12} {:>10} {:>16} {:>9}",
        "run", "records/s", "CPU s", "peak RSS MiB", "merge s"
    );
    let mib = |kib: f64| kib / 1024.0;
    for (label, runs) in [
        ("1 process".to_string(), &shards.single),
        (format!("{} shards", shards::SHARDS), &shards.sharded),
    ] {
        let merge_s = Shards::median(runs, |r| r.merge_s.unwrap_or(f64::NAN));
        let _ = writeln!(
            out,
            "{label:<12} {:>12.0} {:>10.2} {:>16.1} {:>9}",
            Shards::median(runs, LoadRun::records_per_s),
            Shards::median(runs, LoadRun::cpu_s),
            mib(Shards::median(runs, |r| r.peak_rss_kib() as f64)),
            if merge_s.is_nan() {
                "-".to_string()
            } else {
                format!("{merge_s:.2}")
            },
        );
    }
    let _ = writeln!(
        out,
        "  shards / 1 process: {:.2}× records/s, {:.2}× CPU s (summed), {:.2}× peak RSS (summed)",
        shards.ratio(LoadRun::records_per_s),
        shards.ratio(LoadRun::cpu_s),
        shards.ratio(|r| r.peak_rss_kib() as f64),
    );
    let _ = writeln!(
        out,
        "  On this {cpus}-core machine the {} shards share the same {cpus} cores and the broker, so these figures show the overhead of sharding (process starts, plugin loads, the merge), not scaling: scaling needs shards on separate machines (`kscen k8s run`, to come).",
        shards::SHARDS,
    );
}

fn rate_table(out: &mut String, points: &[RatePoint], workload: &Workload) {
    let _ = writeln!(
        out,
        "\n2. Rate accuracy (kscen, {} records, {} s per target; achieved = sent ÷ scheduled window)",
        size_label(workload.rate_record_size),
        workload.rate_duration.as_secs_f64()
    );
    let _ = writeln!(
        out,
        "{:>10} {:>14} {:>10} {:>10} {:>12} {:>12}",
        "target/s", "achieved/s", "error %", "sent", "lag p50 µs", "lag p99 µs"
    );
    for p in points {
        let _ = writeln!(
            out,
            "{:>10} {:>14.3} {:>10.4} {:>10} {:>12.0} {:>12.0}",
            p.target,
            p.achieved,
            p.error_percent(),
            p.sent,
            p.lag_p50_us,
            p.lag_p99_us
        );
    }
}

fn stall_table(out: &mut String, stall: &Stall, workload: &Workload) {
    let _ = writeln!(
        out,
        "\n3. Coordinated omission: source broker SIGSTOPped {:.0} ms, {:.0} s after launch ({} msg/s, {}, {} records)",
        workload.stall_for.as_secs_f64() * 1000.0,
        workload.stall_at.as_secs_f64(),
        stall.rate,
        size_label(stall.record_size),
        stall.records
    );
    let _ = writeln!(
        out,
        "{:<34} {:>9} {:>9} {:>9} {:>9}",
        "latency", "p50 ms", "p99 ms", "p99.9 ms", "max ms"
    );
    let row = |out: &mut String, label: &str, l: &Latency| {
        let _ = writeln!(
            out,
            "{label:<34} {:>9.1} {:>9.1} {:>9.1} {:>9.1}",
            l.p50_ms, l.p99_ms, l.p999_ms, l.max_ms
        );
    };
    row(
        out,
        "kscen corrected (from intended)",
        &stall.kscen_corrected,
    );
    row(out, "kscen service (from send call)", &stall.kscen_service);
    row(out, "perf-test (as printed)", &stall.perf_test);
}

fn memory_table(out: &mut String, memory: &Memory) {
    let _ = writeln!(
        out,
        "\n4. Memory (kscen steady, {} msg/s, {} records)",
        memory.rate,
        size_label(memory.record_size)
    );
    let mib = |kib: u64| kib as f64 / 1024.0;
    for run in [&memory.short, &memory.long] {
        let rss: Vec<u64> = run.rss_per_second.iter().map(|(_, kib)| *kib).collect();
        let _ = writeln!(
            out,
            "  {:>11} records in {:>6.1} s: RSS settled {:>6.1} MiB, at the end {:>6.1} MiB, peak {:>6.1} MiB; per second min {:.1} / max {:.1} MiB ({} samples)",
            run.records,
            run.wall_s,
            mib(run.settled_rss_kib),
            mib(run.end_rss_kib),
            mib(run.peak_rss_kib),
            mib(rss.iter().min().copied().unwrap_or(0)),
            mib(rss.iter().max().copied().unwrap_or(0)),
            rss.len()
        );
    }
    let _ = writeln!(
        out,
        "  RSS settled (median of each run's second half), long / short: {:.3}",
        memory.ratio()
    );
}

fn plugin_table(out: &mut String, findings: &Findings) {
    let cached = findings.cached_load_ms();
    if cached.is_empty() && findings.plugin.is_none() {
        return;
    }
    let _ = writeln!(out, "\n5. Plugin overhead");
    if !cached.is_empty() {
        let _ = writeln!(
            out,
            "  component load from the compile cache: median {:.1} ms, max {:.1} ms over {} runs",
            median(cached.clone()),
            cached.iter().copied().fold(f64::NAN, f64::max),
            cached.len()
        );
    }
    if let Some(costs) = &findings.plugin {
        if let Some(p) = costs.first() {
            let _ = writeln!(
                out,
                "  per language: component, first compile, load from the compile cache, and the produce host call ({} B, embedded mock cluster, {} calls; median of {} runs): wall time = send → ack (host-measured) + clock call + overhead",
                p.call.record_size, p.call.calls, p.runs
            );
        }
        for p in costs {
            let _ = writeln!(
                out,
                "  {:<10} {:>6.1} MB, compiled in {:>7.1} ms, cached load {:>5.1} ms; call {:>7.2} µs = {:>7.2} + {:.2} + {:>5.2} µs overhead (median {:.2})",
                p.language,
                p.component_bytes as f64 / 1e6,
                p.compiled_ms,
                p.cached_load_ms,
                p.call.call_us,
                p.call.ack_wait_us,
                p.call.clock_call_us,
                p.call.overhead_us,
                p.call.overhead_p50_us
            );
        }
    }
    if let Some(cpu_us) = findings.load_job_cpu_us_per_record() {
        let _ = writeln!(
            out,
            "  native load job, for comparison: {cpu_us:.2} µs CPU per record (whole kscen process, 100 B, acks=1, section 1)"
        );
    }
}
