//! `[[compare]]`: a baseline and a candidate the campaign file names, each one step or several
//! (repetitions of one setup), compared at the end of the campaign and in its report as
//! `kscen compare` compares them. Checked with the plan, so a misspelt step is found before
//! anything runs; kept in the ledger, so `kscen report` compares them from the results folder.

use std::path::Path;

use anyhow::{bail, ensure, Context, Result};
use serde::{Deserialize, Serialize};

use super::ledger::Ledger;
use super::plan::PlannedStep;
use crate::report::compare::{compare, Comparison, Noise, Row, Shift};
use crate::result::LoadedResult;

/// A comparison as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawComparison {
    name: Option<String>,
    baseline: StepNames,
    candidate: StepNames,
}

/// `"PERF-01"` or `["PERF-01", "PERF-01 again"]`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum StepNames {
    One(String),
    Several(Vec<String>),
}

impl StepNames {
    fn as_written(&self) -> Vec<&str> {
        match self {
            StepNames::One(name) => vec![name.as_str()],
            StepNames::Several(names) => names.iter().map(String::as_str).collect(),
        }
    }
}

/// A comparison the campaign declares, each side the names of the steps whose runs it holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeclaredComparison {
    pub name: String,
    pub baseline: Vec<String>,
    pub candidate: Vec<String>,
}

impl RawComparison {
    /// The comparison over the planned `steps`: each name a step's, or a written step's whose
    /// repetitions it stands for; no step on both sides.
    pub fn resolve(&self, steps: &[PlannedStep]) -> Result<DeclaredComparison> {
        let side = |names: &StepNames, which: &str| -> Result<Vec<String>> {
            let written = names.as_written();
            ensure!(
                !written.is_empty(),
                "{which}: name at least one step of the campaign"
            );
            let mut resolved: Vec<String> = Vec::new();
            for name in written {
                for step in steps_named(name, steps).with_context(|| which.to_string())? {
                    if !resolved.contains(&step) {
                        resolved.push(step);
                    }
                }
            }
            Ok(resolved)
        };
        let baseline = side(&self.baseline, "baseline")?;
        let candidate = side(&self.candidate, "candidate")?;
        if let Some(both) = baseline.iter().find(|name| candidate.contains(name)) {
            bail!(
                "step {both:?} is on both sides: the baseline and the candidate are different runs"
            );
        }
        let label = |names: &StepNames| names.as_written().join(", ");
        Ok(DeclaredComparison {
            name: self.name.clone().unwrap_or_else(|| {
                format!("{} vs {}", label(&self.candidate), label(&self.baseline))
            }),
            baseline,
            candidate,
        })
    }
}

/// The step named `name`, or the cells of the written step of that name when they are
/// repetitions of one setup (a matrix's cells differ in their settings: name the cell).
fn steps_named(name: &str, steps: &[PlannedStep]) -> Result<Vec<String>> {
    if steps.iter().any(|step| step.step.name == name) {
        return Ok(vec![name.to_string()]);
    }
    let cells: Vec<&PlannedStep> = steps
        .iter()
        .filter(|step| step.cell.as_ref().is_some_and(|cell| cell.step == name))
        .collect();
    let Some(first) = cells.first() else {
        let known: Vec<String> = steps
            .iter()
            .map(|step| format!("{:?}", step.step.name))
            .collect();
        bail!(
            "no step is named {name:?}; the campaign's steps are {}",
            known.join(", ")
        );
    };
    let settings = |step: &PlannedStep| step.cell.as_ref().map(|cell| cell.settings.clone());
    if cells.iter().any(|cell| settings(cell) != settings(first)) {
        let names: Vec<String> = cells
            .iter()
            .map(|cell| format!("{:?}", cell.step.name))
            .collect();
        bail!(
            "step {name:?} is a matrix of {} cells with different settings: name the cells to \
             compare ({})",
            cells.len(),
            names.join(", ")
        );
    }
    Ok(cells.iter().map(|cell| cell.step.name.clone()).collect())
}

impl DeclaredComparison {
    /// The comparison `kscen compare` makes of the sides' finished runs among `runs`, loaded from
    /// the campaign's results folder `folder`; why there is none, when a side has no such run.
    pub fn compare(
        &self,
        folder: &Path,
        ledger: &Ledger,
        runs: &[LoadedResult],
    ) -> std::result::Result<Comparison, String> {
        let side = |names: &[String], which: &str| {
            let found: Vec<&LoadedResult> = names
                .iter()
                .filter_map(|name| ledger.steps.iter().find(|record| &record.name == name))
                .filter_map(|record| {
                    let file = folder.join(&record.result);
                    runs.iter().find(|run| run.path == file)
                })
                // A snapshot of a killed run covers part of it: no evidence.
                .filter(|run| run.result.incomplete.is_none())
                .collect();
            if found.is_empty() {
                return Err(format!(
                    "the {which} ({}) has no finished run yet",
                    names.join(", ")
                ));
            }
            Ok(found)
        };
        let (baseline, candidate) = (
            side(&self.baseline, "baseline")?,
            side(&self.candidate, "candidate")?,
        );
        compare(&baseline, &candidate).map_err(|error| format!("{error:#}"))
    }
}

/// `2 figure(s) better beyond noise, 1 worse, 9 within noise`: the comparison in a line.
pub fn tally(comparison: &Comparison) -> String {
    let rows = &comparison.rows;
    let count = |keep: fn(&Row) -> bool| rows.iter().filter(|row| keep(row)).count();
    let better = count(|row| row.shift() == Some(Shift::Better));
    let worse = count(|row| row.shift() == Some(Shift::Worse));
    let undirected = count(|row| matches!(row.noise, Noise::Beyond(_)) && row.shift().is_none());
    let within = count(|row| matches!(row.noise, Noise::Within(_)));
    let unknown = count(|row| row.noise == Noise::Unknown);
    let mut line =
        format!("{better} figure(s) better beyond noise, {worse} worse, {within} within noise");
    if undirected > 0 {
        line.push_str(&format!(
            ", {undirected} beyond noise with no better direction known"
        ));
    }
    if unknown > 0 {
        line.push_str(&format!(
            ", {unknown} with the noise unknown (one run a side: repeat the steps)"
        ));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::campaign::plan::{Campaign, Overrides};

    /// The comparisons of a campaign of steps `a`, `b`, `r` (repeated twice) and `m` (a matrix
    /// of two cells), with `compare` added.
    fn declared(compare: &str) -> Result<Vec<DeclaredComparison>> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("s.toml"), "plugin = \"steady\"\n").unwrap();
        let text = format!(
            "name = \"c\"\n\
             [[step]]\nname = \"a\"\nscenario = \"s.toml\"\n\
             [[step]]\nname = \"b\"\nscenario = \"s.toml\"\n\
             [[step]]\nname = \"r\"\nscenario = \"s.toml\"\nrepeat = 2\n\
             [[step]]\nname = \"m\"\nscenario = \"s.toml\"\nmatrix = {{ \"set.rate\" = [1, 2] }}\n\
             {compare}"
        );
        Campaign::parse(&dir.path().join("plan.toml"), &text, &Overrides::default())
            .map(|campaign| campaign.comparisons)
    }

    #[test]
    fn a_side_is_a_step_a_list_of_steps_or_a_repeated_steps_repetitions() {
        let comparisons = declared(
            "[[compare]]\nbaseline = \"a\"\ncandidate = \"b\"\n\
             [[compare]]\nname = \"again\"\nbaseline = [\"a\", \"b\"]\ncandidate = \"r\"\n\
             [[compare]]\nbaseline = \"m [set.rate=1]\"\ncandidate = [\"m [set.rate=2]\"]\n",
        )
        .unwrap();
        assert_eq!(
            comparisons[0],
            DeclaredComparison {
                name: "b vs a".into(),
                baseline: vec!["a".into()],
                candidate: vec!["b".into()],
            }
        );
        assert_eq!(comparisons[1].name, "again");
        assert_eq!(comparisons[1].baseline, ["a", "b"]);
        assert_eq!(comparisons[1].candidate, ["r #1", "r #2"]);
        assert_eq!(comparisons[2].candidate, ["m [set.rate=2]"]);
    }

    #[test]
    fn unknown_steps_a_step_on_both_sides_and_a_whole_matrix_are_refused() {
        let error = |compare: &str| format!("{:#}", declared(compare).unwrap_err());
        let text = error("[[compare]]\nbaseline = \"a\"\ncandidate = \"c\"\n");
        assert!(
            text.contains("[[compare]] 1")
                && text.contains("candidate: no step is named \"c\"")
                && text.contains("\"a\", \"b\", \"r #1\""),
            "{text}"
        );
        let text = error("[[compare]]\nbaseline = [\"a\", \"r\"]\ncandidate = \"r #2\"\n");
        assert!(text.contains("step \"r #2\" is on both sides"), "{text}");
        let text = error("[[compare]]\nbaseline = \"a\"\ncandidate = \"m\"\n");
        assert!(
            text.contains("matrix of 2 cells") && text.contains("\"m [set.rate=2]\""),
            "{text}"
        );
        let text = error("[[compare]]\nbaseline = []\ncandidate = \"a\"\n");
        assert!(text.contains("baseline: name at least one step"), "{text}");
        let text = error("[[compare]]\nbaseline = \"a\"\n");
        assert!(text.contains("candidate"), "{text}");
    }
}
