//! A campaign matrix's cells side by side: every cell's runs compared, as `kscen compare` does,
//! with its baseline (the first cell that ran the same load: the same scenario parameters, as a
//! matrix on `set.rate` changes the load and not the setup), and, per load, the setting the
//! evidence recommends, if any: better beyond noise on some figure, worse beyond noise on none,
//! every run passing its thresholds.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use super::compare::{compare, Comparison, Row, Shift};
use crate::campaign::ledger::{Ledger, StepVerdict};
use crate::result::LoadedResult;

/// One combination of settings and its runs.
pub struct Cell<'a> {
    pub settings: BTreeMap<String, String>,
    /// the runs that finished (a snapshot of a killed run is left out)
    pub runs: Vec<&'a LoadedResult>,
    pub verdicts: Vec<StepVerdict>,
    /// the index of its baseline among the matrix's cells; none for a baseline
    pub baseline: Option<usize>,
    /// against its baseline; none for a baseline, or when a side has no finished run
    pub against_baseline: Option<Comparison>,
}

impl Cell<'_> {
    /// The scenario parameters it ran with: the load, which cells are compared within.
    fn load(&self) -> BTreeMap<&String, &String> {
        self.settings
            .iter()
            .filter(|(key, _)| key.starts_with("set."))
            .collect()
    }

    pub fn label(&self) -> String {
        if self.settings.is_empty() {
            return "as written".into();
        }
        crate::campaign::matrix::settings_label(&self.settings)
    }

    fn rows_shifted(&self, shift: Shift) -> Vec<&Row> {
        self.against_baseline
            .iter()
            .flat_map(|c| &c.rows)
            .filter(|row| row.shift() == Some(shift))
            .collect()
    }
}

/// What the cells' evidence supports.
#[derive(Debug, PartialEq)]
pub enum Recommendation {
    /// the cell at `index`, with the figures it improves beyond noise
    Cell { index: usize, evidence: Vec<String> },
    /// the evidence shows no setting better: the other cells are worse, equal within noise, or
    /// failed
    KeepBaseline { why: String },
    /// the evidence cannot tell: a trade-off, or noise unknown
    Undecided { why: String },
}

/// One written step whose matrix ran two cells or more, or the plain steps that ran one scenario
/// with two settings or more.
pub struct Matrix<'a> {
    pub step: String,
    /// in the order they ran, each load's baseline first among its cells
    pub cells: Vec<Cell<'a>>,
    /// per load: its baseline's index, and what the evidence supports
    pub recommendations: Vec<(usize, Recommendation)>,
}

impl<'a> Matrix<'a> {
    /// The matrices of a campaign's ledger, from the runs already loaded from its results folder
    /// `folder`; a step's cells in the order they ran. Then its before/after comparisons: the
    /// plain steps (no matrix) that ran one scenario with different settings, each setting a
    /// cell, e.g. PERF-01 as written and again with `producer.linger.ms = 5`.
    pub fn all(folder: &Path, ledger: &Ledger, runs: &'a [LoadedResult]) -> Vec<Matrix<'a>> {
        let mut steps: Vec<(String, Vec<Cell<'a>>)> = Vec::new();
        let mut scenarios: Vec<(String, Vec<Cell<'a>>)> = Vec::new();
        // Per scenario, the parameters its first plain step ran with.
        let mut first_params: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        for record in &ledger.steps {
            let file = folder.join(&record.result);
            let run = runs.iter().find(|run| run.path == file);
            let (group, settings) = match (&record.cell, run) {
                (Some(of), _) => (group(&mut steps, &of.step), of.settings.clone()),
                (None, Some(run)) => {
                    let name = format!("{}, step by step", run.result.scenario.name);
                    // A plain step's own `set` is not in its settings: its parameters that differ
                    // from the first step's are, so steps of different loads are never one cell.
                    let params = params_of(run);
                    let first = first_params.entry(name.clone()).or_insert(params.clone());
                    let mut settings = record.settings.clone();
                    for (key, value) in &params {
                        if first.get(key) != Some(value) {
                            settings.insert(format!("set.{key}"), value.clone());
                        }
                    }
                    (group(&mut scenarios, &name), settings)
                }
                (None, None) => continue,
            };
            let cell = match group.iter().position(|c| c.settings == settings) {
                Some(index) => &mut group[index],
                None => {
                    group.push(Cell {
                        settings,
                        runs: Vec::new(),
                        verdicts: Vec::new(),
                        baseline: None,
                        against_baseline: None,
                    });
                    group.last_mut().expect("just pushed")
                }
            };
            cell.verdicts.push(record.verdict);
            cell.runs
                .extend(run.filter(|run| run.result.incomplete.is_none()));
        }
        let matrices = steps
            .into_iter()
            .filter(|(_, cells)| cells.len() >= 2)
            .map(|(step, cells)| Matrix::compared(step, cells));
        // Plain steps that each ran a different load compare nothing: left out.
        let before_after = scenarios
            .into_iter()
            .filter(|(_, cells)| cells.len() >= 2)
            .map(|(name, cells)| Matrix::compared(name, cells))
            .filter(|compared| !compared.recommendations.is_empty());
        matrices.chain(before_after).collect()
    }

    fn compared(step: String, mut cells: Vec<Cell<'a>>) -> Matrix<'a> {
        let mut baselines = Vec::new();
        for index in 0..cells.len() {
            let Some(baseline) = (0..index).find(|&b| cells[b].load() == cells[index].load())
            else {
                baselines.push(index);
                continue;
            };
            let base_runs = cells[baseline].runs.clone();
            let cell = &mut cells[index];
            cell.baseline = Some(baseline);
            if !base_runs.is_empty() && !cell.runs.is_empty() {
                cell.against_baseline = compare(&base_runs, &cell.runs).ok();
            }
        }
        let recommendations = baselines
            .into_iter()
            .filter(|&b| cells.iter().any(|c| c.baseline == Some(b)))
            .map(|b| (b, recommend(&cells, b)))
            .collect();
        Matrix {
            step,
            cells,
            recommendations,
        }
    }

    fn runs(&self) -> usize {
        self.cells.iter().map(|c| c.verdicts.len()).sum()
    }

    fn recommendation_line(&self, baseline: usize, recommendation: &Recommendation) -> String {
        match recommendation {
            Recommendation::Cell { index, evidence } => format!(
                "recommended: {} ({} figure(s) better beyond noise than {}, none worse)",
                self.cells[*index].label(),
                evidence.len(),
                self.cells[baseline].label()
            ),
            Recommendation::KeepBaseline { why } => {
                format!("keep the baseline {}: {why}", self.cells[baseline].label())
            }
            Recommendation::Undecided { why } => {
                format!("undecided against {}: {why}", self.cells[baseline].label())
            }
        }
    }

    /// A few lines for the end of `kscen campaign run`.
    pub fn console(&self) -> String {
        let mut out = format!(
            "Matrix {:?}: {} cells, {} runs\n",
            self.step,
            self.cells.len(),
            self.runs()
        );
        for cell in &self.cells {
            let _ = writeln!(out, "  {:<48} {}", cell.label(), self.against(cell));
        }
        for (baseline, recommendation) in &self.recommendations {
            let _ = writeln!(
                out,
                "  → {}",
                self.recommendation_line(*baseline, recommendation)
            );
        }
        out
    }

    /// `baseline`, or how the cell stands against its baseline.
    fn against(&self, cell: &Cell) -> String {
        let Some(baseline) = cell.baseline else {
            return "baseline".into();
        };
        if cell.against_baseline.is_none() {
            return "not compared: a side has no finished run".into();
        }
        let shifted = |shift| cell.rows_shifted(shift).len();
        let of = if self.recommendations.len() > 1 {
            format!(" than {}", self.cells[baseline].label())
        } else {
            String::new()
        };
        format!(
            "{} better, {} worse beyond noise{of}",
            shifted(Shift::Better),
            shifted(Shift::Worse)
        )
    }

    /// The matrix's part of a campaign's report section: a table of the cells, the recommendation and its
    /// evidence, and each cell's figures that moved beyond noise.
    pub fn markdown(&self, out: &mut String, heading: &str) {
        let _ = writeln!(
            out,
            "#### {heading} {} ({} cells, {} runs)\n",
            self.step,
            self.cells.len(),
            self.runs()
        );
        let _ = writeln!(
            out,
            "Each cell is compared with its baseline, the first cell that ran the same load (the \
             same scenario parameters), on every figure both have (medians over each cell's \
             runs); *beyond noise* means the change's 95 % bootstrap interval excludes zero \
             and the change is 1 % or more: over the cells' runs with repetitions, over a \
             percentile's recorded values (sampling only) with one run.\n"
        );
        let _ = writeln!(
            out,
            "| cell | runs | verdicts | records/s | corrected p99 (ms) | against the baseline |"
        );
        let _ = writeln!(out, "|---|---|---|---|---|---|");
        for (index, cell) in self.cells.iter().enumerate() {
            let (rate, p99) = key_figures(self, index);
            let _ = writeln!(
                out,
                "| `{}` | {} | {} | {rate} | {p99} | {} |",
                cell.label(),
                cell.verdicts.len(),
                StepVerdict::tally(cell.verdicts.iter().copied()),
                self.against(cell)
            );
        }
        for (baseline, recommendation) in &self.recommendations {
            match recommendation {
                Recommendation::Cell { index, evidence } => {
                    let _ = writeln!(
                        out,
                        "\n**Recommended: `{}`** over `{}`, on this evidence:\n",
                        self.cells[*index].label(),
                        self.cells[*baseline].label()
                    );
                    for line in evidence {
                        let _ = writeln!(out, "- {line}");
                    }
                }
                Recommendation::KeepBaseline { why } => {
                    let _ = writeln!(
                        out,
                        "\n**Keep the baseline** `{}`: {why}",
                        self.cells[*baseline].label()
                    );
                }
                Recommendation::Undecided { why } => {
                    let _ = writeln!(
                        out,
                        "\n**Undecided** against `{}`: {why}",
                        self.cells[*baseline].label()
                    );
                }
            }
        }
        for cell in &self.cells {
            let moved: Vec<&Row> = [Shift::Better, Shift::Worse]
                .into_iter()
                .flat_map(|shift| cell.rows_shifted(shift))
                .collect();
            if moved.is_empty() {
                continue;
            }
            let _ = writeln!(out, "\n`{}`, beyond noise:\n", cell.label());
            for row in moved {
                let word = match row.shift() {
                    Some(Shift::Better) => "better",
                    _ => "worse",
                };
                let _ = writeln!(out, "- {word}: {}", row.evidence());
            }
        }
        let _ = writeln!(out);
    }
}

/// A run's scenario parameters as a campaign writes settings: `300`, not `300.0`.
fn params_of(run: &LoadedResult) -> BTreeMap<String, String> {
    let Some(params) = &run.result.scenario.params else {
        return BTreeMap::new();
    };
    let text = |value: &serde_json::Value| match value {
        serde_json::Value::String(text) => text.clone(),
        serde_json::Value::Number(number) => match number.as_f64() {
            Some(float) if float.fract() == 0.0 && float.abs() < 1e15 => (float as i64).to_string(),
            _ => number.to_string(),
        },
        other => other.to_string(),
    };
    let mut values: BTreeMap<String, String> = params
        .values
        .iter()
        .map(|(key, value)| (key.clone(), text(value)))
        .collect();
    values.insert("time_scale".into(), params.time_scale.to_string());
    values
}

/// The cells of the group named `name`, a new group at the end if there is none yet.
fn group<'g, 'a>(
    groups: &'g mut Vec<(String, Vec<Cell<'a>>)>,
    name: &str,
) -> &'g mut Vec<Cell<'a>> {
    match groups.iter().position(|(group, _)| group == name) {
        Some(index) => &mut groups[index].1,
        None => {
            groups.push((name.to_string(), Vec::new()));
            &mut groups.last_mut().expect("just pushed").1
        }
    }
}

/// The cell's median achieved rate and corrected p99 in the first phase it shares with its
/// baseline, read from its comparison (a baseline's from a comparison with it).
fn key_figures(matrix: &Matrix, index: usize) -> (String, String) {
    let read = |suffix: &str| -> String {
        let found = if matrix.cells[index].baseline.is_none() {
            matrix
                .cells
                .iter()
                .filter(|c| c.baseline == Some(index))
                .filter_map(|c| c.against_baseline.as_ref())
                .find_map(|c| first_row(c, suffix).and_then(|row| row.baseline))
        } else {
            matrix.cells[index]
                .against_baseline
                .as_ref()
                .and_then(|c| first_row(c, suffix).and_then(|row| row.candidate))
        };
        found.map_or("not measured".into(), |value| format!("{value:.2}"))
    };
    (read(" achieved_rate"), read(" corrected.p99"))
}

fn first_row<'c>(comparison: &'c Comparison, suffix: &str) -> Option<&'c Row> {
    comparison
        .rows
        .iter()
        .find(|row| row.metric.ends_with(suffix))
}

/// Among the cells compared with the baseline at `baseline`: the one better beyond noise on the
/// most figures and worse beyond noise on none, every run of it passing; else the baseline,
/// saying why.
fn recommend(cells: &[Cell], baseline: usize) -> Recommendation {
    if cells[baseline].runs.is_empty() {
        return Recommendation::KeepBaseline {
            why: "the baseline has no finished run to compare with".into(),
        };
    }
    let mut best: Option<(usize, Vec<&Row>)> = None;
    let mut trade_offs = Vec::new();
    let compared = || cells.iter().filter(|c| c.baseline == Some(baseline));
    for (index, cell) in cells.iter().enumerate() {
        if cell.baseline != Some(baseline) {
            continue;
        }
        let (better, worse) = (
            cell.rows_shifted(Shift::Better),
            cell.rows_shifted(Shift::Worse),
        );
        let passed = cell.verdicts.iter().all(|v| *v == StepVerdict::Passed);
        if !better.is_empty() && !worse.is_empty() {
            trade_offs.push(cell.label());
        }
        if !passed || better.is_empty() || !worse.is_empty() {
            continue;
        }
        if best
            .as_ref()
            .is_none_or(|(_, most)| better.len() > most.len())
        {
            best = Some((index, better));
        }
    }
    if let Some((index, better)) = best {
        return Recommendation::Cell {
            index,
            evidence: better.iter().map(|row| row.evidence()).collect(),
        };
    }
    let known = compared()
        .filter_map(|c| c.against_baseline.as_ref())
        .any(|c| c.rows.iter().any(|row| row.noise.is_known()));
    if !known {
        return Recommendation::Undecided {
            why: "the noise is unknown (one run per cell and no percentile to bound): run the \
                  step with repeat = 3 or more"
                .into(),
        };
    }
    if !trade_offs.is_empty() {
        return Recommendation::Undecided {
            why: format!(
                "no cell improves a figure beyond noise without worsening another beyond noise; \
                 trade-offs: {}",
                trade_offs.join("; ")
            ),
        };
    }
    Recommendation::KeepBaseline {
        why: "no cell that passed its thresholds improves a figure beyond noise".into(),
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::super::compare::tests::run;
    use super::*;
    use crate::campaign::ledger::{CellOf, StepRecord};
    use StepVerdict::{Passed, ThresholdsFailed};

    /// The campaign `name` whose matrix `linger` ran `cells` (their settings, `key=value, ...`),
    /// each with its runs' (corrected p99 ms, verdict), in the folder `results`; and the runs.
    /// Each step is named after its cell's values (`linger 0`).
    pub fn campaign(
        name: &str,
        cells: &[(&str, &[(u64, StepVerdict)])],
    ) -> (Ledger, Vec<LoadedResult>) {
        let mut ledger = Ledger::new(name, Path::new(&format!("{name}.toml")));
        let mut runs = Vec::new();
        for (settings, cell_runs) in cells {
            let settings: BTreeMap<String, String> = settings
                .split(", ")
                .map(|pair| pair.split_once('=').unwrap())
                .map(|(key, value)| (key.to_string(), value.to_string()))
                .collect();
            let values: Vec<&str> = settings.values().map(String::as_str).collect();
            for (p99, verdict) in cell_runs.iter() {
                let number = ledger.steps.len() + 1;
                let file = format!("{number:02}.json");
                let mut result = run(*p99, 100_000, 1000.0, 0.0);
                result.path = Path::new("results").join(&file);
                runs.push(result);
                ledger.record(StepRecord {
                    number,
                    name: format!("linger {}", values.join(", ")),
                    fingerprint: "f".into(),
                    result: file,
                    verdict: *verdict,
                    exit_code: 0,
                    started_at: chrono::Utc::now(),
                    duration_s: 1.0,
                    settings: settings.clone(),
                    note: None,
                    cell: Some(CellOf {
                        step: "linger".into(),
                        settings: settings.clone(),
                        repetition: Some(number as u32),
                    }),
                });
            }
        }
        (ledger, runs)
    }

    fn only(matrices: &[Matrix]) -> Vec<String> {
        matrices[0]
            .recommendations
            .iter()
            .map(|(_, recommendation)| match recommendation {
                Recommendation::Cell { index, .. } => matrices[0].cells[*index].label(),
                Recommendation::KeepBaseline { why } => format!("keep: {why}"),
                Recommendation::Undecided { why } => format!("undecided: {why}"),
            })
            .collect()
    }

    #[test]
    fn the_cell_better_beyond_noise_and_worse_on_nothing_is_recommended_with_its_evidence() {
        let (ledger, runs) = campaign(
            "c",
            &[
                (
                    "producer.linger.ms=0",
                    &[(40, Passed), (44, Passed), (42, Passed)],
                ),
                (
                    "producer.linger.ms=5",
                    &[(30, Passed), (31, Passed), (33, Passed)],
                ),
                (
                    "producer.linger.ms=50",
                    &[(41, Passed), (43, Passed), (40, Passed)],
                ),
            ],
        );
        let matrices = Matrix::all(Path::new("results"), &ledger, &runs);
        let [matrix] = &matrices[..] else {
            panic!("one matrix")
        };
        assert_eq!(matrix.cells.len(), 3);
        assert!(matrix.cells.iter().all(|c| c.runs.len() == 3));
        let [(0, Recommendation::Cell { index, evidence })] = &matrix.recommendations[..] else {
            panic!("{:?}", matrix.recommendations)
        };
        assert_eq!(matrix.cells[*index].label(), "producer.linger.ms=5");
        assert!(
            evidence.iter().any(|line| line
                .starts_with("[steady] corrected.p99: 42.00 ms → 31.00 ms (-26.2 %, beyond noise")),
            "{evidence:?}"
        );
        let mut report = String::new();
        matrix.markdown(&mut report, "5.1");
        assert!(
            report.contains("| `producer.linger.ms=0` | 3 | 3 PASS | 1000.00 | 42.00 | baseline |"),
            "{report}"
        );
        assert!(
            report.contains("**Recommended: `producer.linger.ms=5`** over `producer.linger.ms=0`")
        );
        let console = matrix.console();
        assert!(
            console
                .contains("→ recommended: producer.linger.ms=5 (3 figure(s) better beyond noise"),
            "{console}"
        );
    }

    #[test]
    fn cells_are_compared_within_their_load_only() {
        // set.rate changes the load: linger=5 is judged against linger=0 at the same rate.
        let (ledger, runs) = campaign(
            "c",
            &[
                (
                    "producer.linger.ms=0, set.rate=400",
                    &[(40, Passed), (41, Passed)],
                ),
                (
                    "producer.linger.ms=0, set.rate=1600",
                    &[(90, Passed), (95, Passed)],
                ),
                (
                    "producer.linger.ms=5, set.rate=400",
                    &[(30, Passed), (31, Passed)],
                ),
                (
                    "producer.linger.ms=5, set.rate=1600",
                    &[(92, Passed), (94, Passed)],
                ),
            ],
        );
        let matrices = Matrix::all(Path::new("results"), &ledger, &runs);
        let baselines: Vec<Option<usize>> = matrices[0].cells.iter().map(|c| c.baseline).collect();
        assert_eq!(baselines, [None, None, Some(0), Some(1)]);
        let recommendations = only(&matrices);
        assert_eq!(recommendations[0], "producer.linger.ms=5, set.rate=400");
        assert!(
            recommendations[1].starts_with("keep: "),
            "{recommendations:?}"
        );
        assert!(matrices[0]
            .console()
            .contains("0 better, 0 worse beyond noise than producer.linger.ms=0, set.rate=1600"));
    }

    #[test]
    fn a_failing_cell_a_trade_off_and_unknown_noise_keep_the_baseline() {
        // Better beyond noise, but a run failed its thresholds.
        let (ledger, runs) = campaign(
            "c",
            &[
                ("producer.linger.ms=0", &[(40, Passed), (44, Passed)]),
                (
                    "producer.linger.ms=5",
                    &[(30, Passed), (31, ThresholdsFailed)],
                ),
            ],
        );
        let matrices = Matrix::all(Path::new("results"), &ledger, &runs);
        assert!(only(&matrices)[0].contains("passed its thresholds"));

        // p99 better, the recovery figure has no known direction, the rate is worse.
        let (ledger, mut runs) = campaign(
            "c",
            &[
                ("producer.linger.ms=0", &[(40, Passed), (41, Passed)]),
                ("producer.linger.ms=5", &[(30, Passed), (31, Passed)]),
            ],
        );
        for run in &mut runs[2..] {
            run.result.phases[0].achieved_rate = Some(500.0);
        }
        let matrices = Matrix::all(Path::new("results"), &ledger, &runs);
        assert!(only(&matrices)[0].starts_with("undecided: no cell improves"));

        // One run per cell of a figure without histograms: nothing tells the noise.
        let (ledger, mut runs) = campaign(
            "c",
            &[
                ("producer.linger.ms=0", &[(40, Passed)]),
                ("producer.linger.ms=5", &[(30, Passed)]),
            ],
        );
        for run in &mut runs {
            run.result.phases[0].corrected_us = None;
        }
        let matrices = Matrix::all(Path::new("results"), &ledger, &runs);
        assert!(only(&matrices)[0].starts_with("undecided: the noise is unknown"));
    }

    #[test]
    fn steps_without_a_second_cell_and_unfinished_runs_are_no_matrix() {
        // A repeated plain step is one cell.
        let (ledger, runs) = campaign(
            "c",
            &[("producer.linger.ms=0", &[(40, Passed), (41, Passed)])],
        );
        assert!(Matrix::all(Path::new("results"), &ledger, &runs).is_empty());
        // A snapshot of a killed run is no evidence.
        let (ledger, mut runs) = campaign(
            "c",
            &[
                ("producer.linger.ms=0", &[(40, Passed)]),
                ("producer.linger.ms=5", &[(30, Passed)]),
            ],
        );
        runs[1].result.incomplete =
            serde_json::from_value(serde_json::json!({"reason": "killed", "snapshot_at_s": 3.0}))
                .unwrap();
        let matrices = Matrix::all(Path::new("results"), &ledger, &runs);
        assert!(matrices[0].cells[1].runs.is_empty());
        assert!(matrices[0]
            .console()
            .contains("not compared: a side has no finished run"));
    }
}
