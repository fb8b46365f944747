//! `kscen import`: kafka-producer-perf-test output into a `kscen.result/v1` file, so past
//! campaigns and kscen runs share one report.

pub mod perf_test;
pub mod result;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// Files holding kafka-producer-perf-test output: each run in them becomes one phase, in the
    /// order given, then in the order of the runs in a file.
    #[arg(required = true)]
    pub logs: Vec<PathBuf>,
    /// Write the result here.
    #[arg(long)]
    pub json: PathBuf,
    /// Name of the imported campaign (default: the first file's name).
    #[arg(long)]
    pub name: Option<String>,
}

/// Reads every log into one result: one phase per run.
pub fn import(logs: &[PathBuf], name: Option<String>) -> Result<crate::result::RunResult> {
    let mut phases = Vec::new();
    for log in logs {
        phases.extend(import_one(log)?);
    }
    let name = name.unwrap_or_else(|| {
        logs.first()
            .and_then(|p| p.file_stem())
            .map(|s| format!("imported {}", s.to_string_lossy()))
            .unwrap_or_else(|| "imported".into())
    });
    let files = logs.iter().map(|p| p.display().to_string()).collect();
    Ok(result::result(name, files, phases))
}

/// One phase per run of `log`, in the log's order.
fn import_one(log: &Path) -> Result<Vec<crate::result::PhaseResult>> {
    let bytes = std::fs::read(log).with_context(|| format!("cannot read {}", log.display()))?;
    let text = String::from_utf8_lossy(&bytes);
    let runs = perf_test::parse(&text).with_context(|| format!("{}", log.display()))?;
    let count = runs.len();
    Ok(runs
        .into_iter()
        .enumerate()
        .map(|(index, run)| result::phase(log, index + 1, count, run))
        .collect())
}

/// `file, run N, lines A–B: final line`, or how many intervals a partial run has.
fn run_line(imported: &crate::result::ImportedFigures) -> String {
    let end = match &imported.final_line {
        Some(line) => line.clone(),
        None => format!(
            "partial: {} intervals, no final line",
            imported.intervals.len()
        ),
    };
    let run = imported
        .run
        .map(|n| format!(", run {n}"))
        .unwrap_or_default();
    let lines = imported
        .lines
        .map(|l| format!(", lines {}–{}", l.first, l.last))
        .unwrap_or_default();
    format!("{}{run}{lines}: {end}", imported.file)
}

pub fn run(args: ImportArgs) -> Result<()> {
    let imported = import(&args.logs, args.name)?;
    crate::result::write_json(&args.json, &imported)?;
    for imported in imported.phases.iter().filter_map(|p| p.imported.as_ref()) {
        eprintln!("{}", run_line(imported));
    }
    eprintln!(
        "Imported {} run(s) from {} file(s) into {}",
        imported.phases.len(),
        args.logs.len(),
        args.json.display()
    );
    Ok(())
}
