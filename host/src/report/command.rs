//! `kscen report`: renders result files into Markdown, HTML and CSV.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::campaign::CampaignReport;
use super::{csv, html, markdown};
use crate::campaign::ledger::{Ledger, FILE};

#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// Result files (`kscen run --json` or `kscen import`); one report with a section per run.
    /// Given two or more, the first is the baseline: the report compares each other run with it
    /// as `kscen compare` does (put the baseline first). A campaign's results folder (or its
    /// campaign.json) stands for its steps' results, in order, compared within its matrices.
    #[arg(required = true)]
    pub results: Vec<PathBuf>,
    /// Write the Markdown report here.
    #[arg(long)]
    pub markdown: Option<PathBuf>,
    /// Write the self-contained HTML page here.
    #[arg(long)]
    pub html: Option<PathBuf>,
    /// Write the CSV files into this folder.
    #[arg(long)]
    pub csv: Option<PathBuf>,
    /// Folder for every output not given explicitly (default: next to the first result; when
    /// none of --markdown/--html/--csv is given, all three are written).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// Where each output goes; None = not asked for.
#[derive(Debug, PartialEq)]
pub struct Outputs {
    pub markdown: Option<PathBuf>,
    pub html: Option<PathBuf>,
    pub csv: Option<PathBuf>,
}

impl ReportArgs {
    pub fn outputs(&self) -> Outputs {
        let first = &self.results[0];
        let stem = first
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "result".into());
        let dir = self.out.clone().unwrap_or_else(|| {
            first
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
        });
        let all = self.markdown.is_none() && self.html.is_none() && self.csv.is_none();
        let default = |given: &Option<PathBuf>, name: String| {
            given
                .clone()
                .or_else(|| (all || self.out.is_some()).then(|| dir.join(name)))
        };
        Outputs {
            markdown: default(&self.markdown, format!("{stem}-report.md")),
            html: default(&self.html, format!("{stem}-report.html")),
            csv: default(&self.csv, format!("{stem}-csv")),
        }
    }
}

fn write(path: &Path, text: &str) -> Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

/// What the paths given to `kscen report` stand for.
struct Given {
    /// each result file once: a campaign's folder or ledger stands for its steps' results in step
    /// order (those it wrote), anything else for itself
    files: Vec<PathBuf>,
    /// the campaigns among them, with their results folder: their matrices are compared
    campaigns: Vec<(PathBuf, Ledger)>,
}

fn given(paths: &[PathBuf]) -> Result<Given> {
    let mut files = Vec::new();
    let mut campaigns = Vec::new();
    for path in paths {
        let folder = if path.is_dir() {
            Some(path.clone())
        } else if path.file_name().is_some_and(|name| name == FILE) {
            path.parent().map(Path::to_path_buf)
        } else {
            None
        };
        match folder {
            Some(folder) => {
                let ledger = Ledger::read(&folder)?.with_context(|| {
                    format!(
                        "{} holds no {FILE}: give result files, or a campaign's results folder",
                        folder.display()
                    )
                })?;
                files.extend(
                    ledger
                        .steps
                        .iter()
                        .map(|step| folder.join(&step.result))
                        .filter(|file| file.is_file()),
                );
                campaigns.push((folder, ledger));
            }
            None => files.push(path.clone()),
        }
    }
    // `results/*.json` names the ledger and its results: each run once.
    let mut seen = std::collections::HashSet::new();
    files.retain(|file| seen.insert(file.clone()));
    Ok(Given { files, campaigns })
}

pub fn run(args: ReportArgs) -> Result<()> {
    let given = given(&args.results)?;
    let runs = given
        .files
        .iter()
        .map(|path| crate::result::load(path))
        .collect::<Result<Vec<_>>>()?;
    for run in &runs {
        if let Some(label) = run.result.incomplete_label() {
            eprintln!("{}: {label}", run.path.display());
        }
    }
    let outputs = args.outputs();
    let campaigns: Vec<CampaignReport> = given
        .campaigns
        .into_iter()
        .map(|(folder, ledger)| CampaignReport::new(folder, ledger, &runs))
        .collect();
    if let Some(path) = &outputs.markdown {
        write(path, &markdown::render(&runs, &campaigns))?;
        eprintln!("Markdown report: {}", path.display());
    }
    if let Some(path) = &outputs.html {
        write(path, &html::render(&runs, &campaigns))?;
        eprintln!("HTML report: {}", path.display());
    }
    if let Some(dir) = &outputs.csv {
        for file in csv::write(dir, &runs)? {
            eprintln!("CSV: {}", file.display());
        }
    }
    Ok(())
}
