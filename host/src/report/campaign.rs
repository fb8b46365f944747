//! A campaign's part of the day's report (seed 002): its steps and verdicts, the configuration
//! changes it made, its matrices and before/after steps compared, the comparisons its file
//! declares, and what its results leave to validate — all read from its ledger and the results it
//! wrote.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use super::compare::Comparison;
use super::matrix::{Matrix, Recommendation};
use crate::campaign::comparisons::{tally, DeclaredComparison};
use crate::campaign::ledger::{Ledger, StepVerdict};
use crate::result::LoadedResult;

pub struct CampaignReport<'a> {
    pub folder: PathBuf,
    pub ledger: Ledger,
    pub matrices: Vec<Matrix<'a>>,
    /// the file's `[[compare]]`, each compared, or why not
    pub comparisons: Vec<(DeclaredComparison, Result<Comparison, String>)>,
    /// every run ran on the embedded mock cluster
    embedded_only: bool,
}

impl<'a> CampaignReport<'a> {
    /// The campaign whose results folder is `folder`, over the runs the report loaded.
    pub fn new(folder: PathBuf, ledger: Ledger, runs: &'a [LoadedResult]) -> CampaignReport<'a> {
        let matrices = Matrix::all(&folder, &ledger, runs);
        let comparisons = ledger
            .comparisons
            .iter()
            .map(|declared| (declared.clone(), declared.compare(&folder, &ledger, runs)))
            .collect();
        let ours: Vec<&LoadedResult> = runs
            .iter()
            .filter(|run| run.path.starts_with(&folder))
            .collect();
        let embedded_only = !ours.is_empty()
            && ours.iter().all(|run| {
                run.result
                    .environment
                    .as_ref()
                    .is_some_and(|e| e.embedded_cluster)
            });
        CampaignReport {
            folder,
            ledger,
            matrices,
            comparisons,
            embedded_only,
        }
    }

    pub fn markdown(&self, out: &mut String, number: usize) {
        let ledger = &self.ledger;
        let _ = writeln!(out, "## {number}. Campaign {}\n", ledger.campaign);
        let _ = writeln!(
            out,
            "Plan `{}`, results in `{}`: {} step(s) recorded, {}.\n",
            ledger.file,
            self.folder.display(),
            ledger.steps.len(),
            StepVerdict::tally(ledger.steps.iter().map(|s| s.verdict))
        );
        let _ = writeln!(out, "### {number}.1 Steps\n");
        let _ = writeln!(
            out,
            "| # | step | verdict | time (s) | settings it changed | result |"
        );
        let _ = writeln!(out, "|---|---|---|---|---|---|");
        for step in &ledger.steps {
            let settings: Vec<String> = step
                .settings
                .iter()
                .map(|(key, value)| format!("`{key}={value}`"))
                .collect();
            let result = match (&step.note, step.verdict) {
                (Some(note), StepVerdict::Error) => format!("none: {}", note.replace('|', "\\|")),
                _ => format!("`{}`", step.result),
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {:.1} | {} | {result} |",
                step.number,
                step.name,
                step.verdict.label(),
                step.duration_s,
                if settings.is_empty() {
                    "none".into()
                } else {
                    settings.join(" ")
                }
            );
        }
        let _ = writeln!(out, "\n### {number}.2 Configuration changes made\n");
        self.changes(out);
        let mut next = 3;
        if !self.matrices.is_empty() {
            let _ = writeln!(out, "### {number}.{next} Settings compared\n");
            for (index, matrix) in self.matrices.iter().enumerate() {
                matrix.markdown(out, &format!("{number}.{next}.{}", index + 1));
            }
            next += 1;
        }
        if !self.comparisons.is_empty() {
            let _ = writeln!(out, "### {number}.{next} Comparisons declared\n");
            self.declared(out, &format!("{number}.{next}"));
            next += 1;
        }
        let _ = writeln!(out, "### {number}.{next} To validate\n");
        let items = self.to_validate();
        if items.is_empty() {
            let _ = writeln!(
                out,
                "Nothing from these results: every step ran to its end and every matrix's \
                 evidence is conclusive.\n"
            );
        }
        for item in items {
            let _ = writeln!(out, "- {item}");
        }
        out.push('\n');
    }

    /// The campaign's lines of the executive summary: its steps' verdicts and what each
    /// comparison concluded, pointing to its section `number`.
    pub fn summary(&self, out: &mut String, number: usize) {
        let ledger = &self.ledger;
        let _ = writeln!(
            out,
            "- **Campaign {}** (section {number}): {} step(s) recorded, {}.",
            ledger.campaign,
            ledger.steps.len(),
            StepVerdict::tally(ledger.steps.iter().map(|s| s.verdict))
        );
        if self.matrices.is_empty() {
            let _ = writeln!(
                out,
                "  - No setting compared: no step ran one load with two settings or more."
            );
        }
        for matrix in &self.matrices {
            for (baseline, recommendation) in &matrix.recommendations {
                let baseline = matrix.cells[*baseline].label();
                let outcome = match recommendation {
                    Recommendation::Cell { index, evidence } => format!(
                        "recommended `{}` over `{baseline}` ({} figure(s) better beyond noise, \
                         none worse){}",
                        matrix.cells[*index].label(),
                        evidence.len(),
                        if self.embedded_only {
                            ", on the embedded mock cluster only: a hypothesis for the real \
                             clusters"
                        } else {
                            ""
                        }
                    ),
                    Recommendation::KeepBaseline { why } => {
                        format!("keep the baseline `{baseline}`: {why}")
                    }
                    Recommendation::Undecided { why } => {
                        format!("undecided against `{baseline}`: {why}")
                    }
                };
                let _ = writeln!(out, "  - {}: {outcome}.", matrix.step);
            }
        }
        for (declared, compared) in &self.comparisons {
            let outcome = match compared {
                Ok(comparison) => tally(comparison),
                Err(why) => format!("not compared: {why}"),
            };
            let _ = writeln!(out, "  - {}: {outcome}.", declared.name);
        }
    }

    /// Each declared comparison: its sides' steps and verdicts, then every metric's change and
    /// where it stands against the noise, as `kscen compare` has it.
    fn declared(&self, out: &mut String, heading: &str) {
        let _ = writeln!(
            out,
            "Each comparison the campaign file declares (`[[compare]]`), as `kscen compare` makes \
             it: each side's median over its runs; *beyond noise* means the change's 95 % \
             bootstrap interval excludes zero and the change is 1 % or more.\n"
        );
        let steps = |names: &[String]| -> String {
            let listed: Vec<String> = names
                .iter()
                .map(|name| {
                    let verdict = self
                        .ledger
                        .steps
                        .iter()
                        .find(|record| &record.name == name)
                        .map_or("not run", |record| record.verdict.label());
                    format!("`{name}` ({verdict})")
                })
                .collect();
            listed.join(", ")
        };
        for (index, (declared, compared)) in self.comparisons.iter().enumerate() {
            let _ = writeln!(out, "#### {heading}.{} {}\n", index + 1, declared.name);
            let _ = writeln!(
                out,
                "Baseline: {}. Candidate: {}.\n",
                steps(&declared.baseline),
                steps(&declared.candidate)
            );
            match compared {
                Ok(comparison) => {
                    let _ = writeln!(
                        out,
                        "**{}** ({} against {}).\n",
                        tally(comparison),
                        comparison.candidate,
                        comparison.baseline
                    );
                    for row in &comparison.rows {
                        let _ = writeln!(out, "- {}", row.evidence());
                    }
                    for note in &comparison.left_out {
                        let _ = writeln!(out, "- left out: {note}");
                    }
                }
                Err(why) => {
                    let _ = writeln!(out, "Not compared: {why}.");
                }
            }
            out.push('\n');
        }
    }

    /// Each setting the campaign changed, with its values and the steps that ran with each.
    fn changes(&self, out: &mut String) {
        let mut changes: BTreeMap<&str, Vec<(&str, Vec<usize>)>> = BTreeMap::new();
        for step in &self.ledger.steps {
            for (key, value) in &step.settings {
                let values = changes.entry(key).or_default();
                match values.iter_mut().find(|(v, _)| *v == value) {
                    Some((_, steps)) => steps.push(step.number),
                    None => values.push((value, vec![step.number])),
                }
            }
        }
        if changes.is_empty() {
            let _ = writeln!(
                out,
                "None: every step ran its scenario as written (each test's parameters list every \
                 setting in force).\n"
            );
            return;
        }
        for (key, values) in &changes {
            let values: Vec<String> = values
                .iter()
                .map(|(value, steps)| format!("`{value}` in step(s) {}", numbers(steps)))
                .collect();
            let how = if key.starts_with("connector.") {
                " (through Connect's REST API, restored after each step)"
            } else if key.starts_with("set.") {
                " (a scenario parameter: the load, not the setup)"
            } else {
                ""
            };
            let _ = writeln!(out, "- `{key}`{how}: {}", values.join("; "));
        }
        let _ = writeln!(
            out,
            "\nEvery other setting in force is in each test's parameters.\n"
        );
    }

    /// What the results do not settle: steps that did not finish, inconclusive matrices, and a
    /// recommendation measured away from the real clusters. Also the campaign's next steps.
    pub fn to_validate(&self) -> Vec<String> {
        let mut items = Vec::new();
        for step in &self.ledger.steps {
            if !step.verdict.finished() {
                items.push(format!(
                    "Step {} ({}) did not run to its end ({}): not measured; run the campaign \
                     again to resume it.",
                    step.number,
                    step.name,
                    step.verdict.label()
                ));
            }
        }
        for matrix in &self.matrices {
            for (baseline, recommendation) in &matrix.recommendations {
                let baseline = matrix.cells[*baseline].label();
                match recommendation {
                    Recommendation::Cell { index, .. } if self.embedded_only => {
                        items.push(format!(
                            "Matrix {}: `{}` over `{baseline}` was measured on the embedded mock \
                         cluster only: a hypothesis until a run on the real clusters confirms it.",
                            matrix.step,
                            matrix.cells[*index].label()
                        ))
                    }
                    Recommendation::Cell { .. } | Recommendation::KeepBaseline { .. } => {}
                    Recommendation::Undecided { why } => items.push(format!(
                        "Matrix {} (against `{baseline}`): undecided: {why}.",
                        matrix.step
                    )),
                }
            }
        }
        for (declared, compared) in &self.comparisons {
            match compared {
                Err(why) => items.push(format!(
                    "Comparison {}: not compared: {why}.",
                    declared.name
                )),
                Ok(comparison) if !comparison.rows.iter().any(|row| row.noise.is_known()) => items
                    .push(format!(
                        "Comparison {}: the noise is unknown: repeat its steps (three runs a \
                         side or more) to tell a change from noise.",
                        declared.name
                    )),
                Ok(_) => {}
            }
        }
        items
    }
}

/// `1–3, 5`
fn numbers(steps: &[usize]) -> String {
    let mut ranges: Vec<(usize, usize)> = Vec::new();
    for &step in steps {
        match ranges.last_mut() {
            Some((_, end)) if *end + 1 == step => *end = step,
            _ => ranges.push((step, step)),
        }
    }
    let ranges: Vec<String> = ranges
        .iter()
        .map(|&(start, end)| {
            if start == end {
                start.to_string()
            } else {
                format!("{start}–{end}")
            }
        })
        .collect();
    ranges.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_numbers_read_as_ranges() {
        assert_eq!(numbers(&[1, 2, 3, 5, 7, 8]), "1–3, 5, 7–8");
        assert_eq!(numbers(&[4]), "4");
    }
}
