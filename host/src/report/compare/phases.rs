//! Which phase of the baseline is put beside which phase of the candidate: the pairs chosen with
//! `--phase`, else the phases every run of both sides has, by name, else, when each side has a
//! single phase with records (an imported perf-test run beside a one-phase kscen run), those two.

use std::str::FromStr;

use anyhow::{bail, Result};

use crate::result::{LoadedResult, PhaseResult};

/// A baseline phase and the candidate phase compared with it: `NAME` (the same name on both
/// sides) or `BASE=CAND`.
#[derive(Debug, Clone, PartialEq)]
pub struct PhasePair {
    pub baseline: String,
    pub candidate: String,
}

impl FromStr for PhasePair {
    type Err = String;

    fn from_str(text: &str) -> Result<PhasePair, String> {
        let (baseline, candidate) = text.split_once('=').unwrap_or((text, text));
        let (baseline, candidate) = (baseline.trim(), candidate.trim());
        if baseline.is_empty() || candidate.is_empty() {
            return Err(format!(
                "`{text}`: give a phase name, or BASELINE_PHASE=CANDIDATE_PHASE"
            ));
        }
        Ok(PhasePair {
            baseline: baseline.into(),
            candidate: candidate.into(),
        })
    }
}

impl std::fmt::Display for PhasePair {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        if self.baseline == self.candidate {
            write!(f, "{}", self.baseline)
        } else {
            write!(f, "{}={}", self.baseline, self.candidate)
        }
    }
}

/// The phases put side by side, and why others were not.
pub struct Paired {
    pub pairs: Vec<PhasePair>,
    /// the phases left out and what to do about it
    pub left_out: Vec<String>,
}

/// The pairs `chosen` (every one in every run of its side), or, with none chosen, those matched
/// automatically.
pub fn pair(
    baseline: &[&LoadedResult],
    candidate: &[&LoadedResult],
    chosen: &[PhasePair],
) -> Result<Paired> {
    if chosen.is_empty() {
        return Ok(matched(baseline, candidate));
    }
    for pair in chosen {
        for (side, runs, name) in [
            ("baseline", baseline, &pair.baseline),
            ("candidate", candidate, &pair.candidate),
        ] {
            for run in runs {
                check_phase(run, side, name, pair)?;
            }
        }
    }
    Ok(Paired {
        pairs: chosen.to_vec(),
        left_out: Vec::new(),
    })
}

/// A chosen phase must be in the run, with final figures: refused otherwise, naming the run's
/// file and the phases it has.
fn check_phase(run: &LoadedResult, side: &str, name: &str, pair: &PhasePair) -> Result<()> {
    let problem = match phase_of(run, name) {
        None => "has no phase",
        Some(phase) if is_partial(phase) => {
            "has only a partial perf-test run (no final line, nothing to compare) in phase"
        }
        Some(_) => return Ok(()),
    };
    let phases: Vec<String> = run
        .result
        .phases
        .iter()
        .map(|p| format!("\"{}\"", p.name))
        .collect();
    bail!(
        "--phase {pair}: the {side} {} {problem} \"{name}\"; its phases: {}",
        run.path.display(),
        if phases.is_empty() {
            "none".into()
        } else {
            phases.join(", ")
        }
    )
}

/// Phases present in every run of both sides, by name; when the sides share none and each has a
/// single phase with records, those two. Partial imported runs are left out, and so, with the
/// way to pair them, are phases with records that match nothing.
fn matched(baseline: &[&LoadedResult], candidate: &[&LoadedResult]) -> Paired {
    let in_all = |runs: &[&LoadedResult]| -> Vec<String> {
        with_records(runs[0])
            .filter(|name| runs.iter().all(|r| phase_of(r, name).is_some()))
            .collect()
    };
    let (base, cand) = (in_all(baseline), in_all(candidate));
    let shared: Vec<PhasePair> = base
        .iter()
        .filter(|name| cand.contains(name))
        .map(|name| PhasePair {
            baseline: name.clone(),
            candidate: name.clone(),
        })
        .collect();
    let mut left_out: Vec<String> = [("baseline", baseline), ("candidate", candidate)]
        .into_iter()
        .flat_map(|(side, runs)| partial_runs(side, runs))
        .collect();
    let pairs = match (shared.is_empty(), base.as_slice(), cand.as_slice()) {
        (true, [b], [c]) => vec![PhasePair {
            baseline: b.clone(),
            candidate: c.clone(),
        }],
        (true, [_, ..], [_, ..]) => {
            let list = |names: &[String]| names.join(", ");
            left_out.push(format!(
                "every phase: no baseline phase ({}) has a candidate phase of its name ({}); \
                 choose the pairs with `kscen compare --phase BASELINE_PHASE=CANDIDATE_PHASE`",
                list(&base),
                list(&cand)
            ));
            Vec::new()
        }
        _ => shared,
    };
    Paired { pairs, left_out }
}

/// Imported runs whose final line is not in the log: shown as left out, never compared as zeros.
fn partial_runs(side: &str, runs: &[&LoadedResult]) -> Vec<String> {
    runs.iter()
        .flat_map(|run| {
            run.result
                .phases
                .iter()
                .filter(|p| is_partial(p))
                .map(move |p| {
                    format!(
                        "{side} {} [{}]: partial perf-test run (no final line), not compared",
                        run.path.display(),
                        p.name
                    )
                })
        })
        .collect()
}

fn is_partial(phase: &PhaseResult) -> bool {
    phase.imported.as_ref().is_some_and(|i| i.partial)
}

fn with_records(run: &LoadedResult) -> impl Iterator<Item = String> + '_ {
    run.result
        .phases
        .iter()
        .filter(|p| p.counts.sent.unwrap_or(0) > 0 || p.counts.acked.unwrap_or(0) > 0)
        .map(|p| p.name.clone())
}

pub fn phase_of<'a>(run: &'a LoadedResult, name: &str) -> Option<&'a PhaseResult> {
    run.result.phases.iter().find(|p| p.name == name)
}
