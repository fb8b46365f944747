//! CSV files: the seeds' column layouts (`perf-02-rampup` for ramp-up runs, `perf-05-sizes` for
//! size sweeps) and a generic per-phase file for every run. A figure that was not measured is an
//! empty cell.
//!
//! The seed layouts' latency columns hold *service* latency — what kafka-producer-perf-test
//! measured when the seed scripts wrote these files — so old and new CSVs compare; corrected
//! latency is in the per-phase file.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::rows::{rows, PhaseRow};
use crate::result::{LoadedResult, RunResult};

pub const RAMP_UP_HEADER: &str =
    "palier,throughput_target,throughput_actual,latency_avg,latency_p99,records_sent";
pub const SIZES_HEADER: &str =
    "size_bytes,target_msg_sec,actual_msg_sec,actual_mbps,latency_avg_ms,latency_p99_ms";
pub const PHASES_HEADER: &str = "run,phase,start_s,end_s,target_rate,achieved_rate,mb_per_s,sent,acked,failed,record_size_bytes,latency,avg_ms,max_ms,p50_ms,p95_ms,p99_ms,p999_ms,service_avg_ms,service_p99_ms";

/// Which seed layout a run's phases fit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Layout {
    RampUp,
    Sizes,
}

impl Layout {
    pub fn of(result: &RunResult) -> Option<Layout> {
        match result.plugin_name()? {
            "ramp-up" => Some(Layout::RampUp),
            "size-sweep" => Some(Layout::Sizes),
            _ => None,
        }
    }

    fn file_prefix(self) -> &'static str {
        match self {
            Layout::RampUp => "perf-02-rampup",
            Layout::Sizes => "perf-05-sizes",
        }
    }
}

fn field(text: &str) -> String {
    if text.contains([',', '"', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

/// A figure as written: exactly when it has at most 6 decimals (perf-test's own figures),
/// else to 3 decimals (kscen's computed rates and latencies).
fn number(value: Option<f64>) -> String {
    value.map_or(String::new(), |v| {
        let exact = v.to_string();
        let decimals = exact.split_once('.').map_or(0, |(_, d)| d.len());
        if decimals <= 6 {
            exact
        } else {
            let text = format!("{v:.3}");
            text.trim_end_matches('0').trim_end_matches('.').to_string()
        }
    })
}

/// Phases that carried load (the seed scripts write one line per step that ran).
fn loaded_rows(result: &RunResult) -> Vec<PhaseRow> {
    rows(result)
        .into_iter()
        .filter(|r| r.phase != "(no phase)" && r.numbers.records.unwrap_or(0) > 0)
        .collect()
}

pub fn ramp_up(result: &RunResult) -> String {
    let mut out = format!("{RAMP_UP_HEADER}\n");
    for (index, row) in loaded_rows(result).iter().enumerate() {
        let n = &row.numbers;
        let target = match n.target_rate {
            Some(Some(rate)) => number(Some(rate)),
            Some(None) => "-1".into(),
            None => String::new(),
        };
        out.push_str(&format!(
            "{},{target},{},{},{},{}\n",
            index + 1,
            number(n.achieved_rate),
            number(n.service_avg_ms),
            number(n.service_p99_ms),
            n.records.map_or(String::new(), |r| r.to_string()),
        ));
    }
    out
}

pub fn sizes(result: &RunResult) -> String {
    let mut out = format!("{SIZES_HEADER}\n");
    for row in loaded_rows(result) {
        let n = &row.numbers;
        let target = match n.target_rate {
            Some(Some(rate)) => number(Some(rate)),
            Some(None) => "-1".into(),
            None => String::new(),
        };
        out.push_str(&format!(
            "{},{target},{},{},{},{}\n",
            number(n.record_size),
            number(n.achieved_rate),
            number(n.mb_per_s),
            number(n.service_avg_ms),
            number(n.service_p99_ms),
        ));
    }
    out
}

pub fn phases(runs: &[LoadedResult]) -> String {
    let mut out = format!("{PHASES_HEADER}\n");
    for run in runs {
        let result = &run.result;
        for (phase, row) in result.phases.iter().zip(rows(result)) {
            let n = &row.numbers;
            let target = match n.target_rate {
                Some(Some(rate)) => number(Some(rate)),
                Some(None) => "-1".into(),
                None => String::new(),
            };
            let count = |v: Option<u64>| v.map_or(String::new(), |v| v.to_string());
            let cells = [
                field(&result.scenario.name),
                field(&row.phase),
                number(phase.start_s),
                number(phase.end_s),
                target,
                number(n.achieved_rate),
                number(n.mb_per_s),
                count(phase.counts.sent),
                count(phase.counts.acked),
                count(phase.counts.failed),
                number(n.record_size),
                field(row.latency.label()),
                field(row.avg_ms.plain()),
                field(row.max_ms.plain()),
                field(row.p50_ms.plain()),
                field(row.p95_ms.plain()),
                field(row.p99_ms.plain()),
                field(row.p999_ms.plain()),
                number(n.service_avg_ms),
                number(n.service_p99_ms),
            ];
            out.push_str(&cells.join(","));
            out.push('\n');
        }
    }
    out
}

fn slug(name: &str) -> String {
    let slug: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    slug.trim_matches('-').to_string()
}

/// Writes `phases.csv` and, per run that fits one, its seed-layout file. Returns the files.
pub fn write(dir: &Path, runs: &[LoadedResult]) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut written = Vec::new();
    let mut save = |path: PathBuf, text: String| -> Result<()> {
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
        written.push(path);
        Ok(())
    };
    save(dir.join("phases.csv"), phases(runs))?;
    for (index, run) in runs.iter().enumerate() {
        let result = &run.result;
        let Some(layout) = Layout::of(result) else {
            continue;
        };
        let text = match layout {
            Layout::RampUp => ramp_up(result),
            Layout::Sizes => sizes(result),
        };
        let name = format!(
            "{}-{}-{}.csv",
            layout.file_prefix(),
            index + 1,
            slug(&result.scenario.name)
        );
        save(dir.join(name), text)?;
    }
    Ok(written)
}
