//! The comparison section of `kscen report` given two results or more (not a campaign's, whose
//! section compares its matrices): the first run is the baseline, each other run a candidate
//! compared with it by [`compare`](super::compare), as `kscen compare` would.

use std::fmt::Write as _;

use anyhow::Result;

use super::{compare, Comparison, Shift};
use crate::result::LoadedResult;

pub struct RunsComparison<'a> {
    baseline: &'a LoadedResult,
    baseline_section: usize,
    /// each other run, its section number in the report, and how it compares with the baseline
    candidates: Vec<(&'a LoadedResult, usize, Result<Comparison>)>,
}

impl<'a> RunsComparison<'a> {
    /// None below two runs: nothing to compare. `section_of(index)` is the report's section
    /// number of the run at `index`.
    pub fn of(
        runs: &'a [LoadedResult],
        section_of: impl Fn(usize) -> usize,
    ) -> Option<RunsComparison<'a>> {
        let (baseline, others) = runs.split_first()?;
        if others.is_empty() {
            return None;
        }
        let candidates = others
            .iter()
            .enumerate()
            .map(|(index, run)| (run, section_of(index + 1), compare(&[baseline], &[run])))
            .collect();
        Some(RunsComparison {
            baseline,
            baseline_section: section_of(0),
            candidates,
        })
    }

    /// One line per candidate for the executive summary: what moved beyond noise.
    pub fn summary(&self, out: &mut String, number: usize) {
        let _ = writeln!(
            out,
            "- **Compared with the first run** (`{}`, section {number}):",
            self.baseline.path.display()
        );
        for (run, section, comparison) in &self.candidates {
            let outcome = match comparison {
                Ok(comparison) => {
                    let shifted = |shift| {
                        let metrics: Vec<&str> = comparison
                            .rows
                            .iter()
                            .filter(|row| row.shift() == Some(shift))
                            .map(|row| row.metric.as_str())
                            .collect();
                        match metrics.as_slice() {
                            [] => "none".to_string(),
                            _ => metrics.join(", "),
                        }
                    };
                    format!(
                        "better beyond noise: {}; worse beyond noise: {}",
                        shifted(Shift::Better),
                        shifted(Shift::Worse)
                    )
                }
                Err(e) => format!("not compared: {e:#}"),
            };
            let _ = writeln!(
                out,
                "  - `{}` (section {section}): {outcome}",
                run.path.display()
            );
        }
    }

    pub fn markdown(&self, out: &mut String, number: usize) {
        let baseline = self.baseline.path.display();
        let _ = writeln!(out, "## {number}. Comparison with the first run\n");
        let _ = writeln!(
            out,
            "The first result given, `{baseline}` (section {}), is the baseline; each other run \
             is compared with it as `kscen compare --baseline {baseline} --candidate RUN` does. \
             With one run on each side, a latency percentile's noise is read from the values the \
             runs' histograms recorded (sampling only); any other figure's noise is unknown until \
             the runs are repeated and compared with `kscen compare`. A figure a run did not \
             capture is *not measured*.\n",
            self.baseline_section
        );
        for (index, (run, section, comparison)) in self.candidates.iter().enumerate() {
            // Headings stay plain text (the scenario's name, as the run's section has it).
            let _ = writeln!(
                out,
                "### {number}.{} Section {section} ({}) against section {}\n\n\
                 `{}` against `{baseline}`.\n",
                index + 1,
                run.result.scenario.name,
                self.baseline_section,
                run.path.display()
            );
            match comparison {
                Ok(comparison) => out.push_str(&comparison.markdown_body()),
                Err(e) => {
                    let _ = writeln!(out, "Not compared: {e:#}");
                }
            }
            out.push('\n');
        }
    }
}
