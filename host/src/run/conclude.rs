//! Stage 3 of a run: the result from the run's final figures, its thresholds judged, its summary
//! on the console and, with `--json`, the result file. Nothing here touches a cluster or the plugin.

use std::path::Path;

use anyhow::Result;

use super::collect::{result_of, Ending, Stage};
use super::execute::Executed;
use super::RunEnd;
use crate::report::console::{
    alert_lines, consumer_lines, custom_histogram_lines, figure_lines, group_lines,
    mm2_metrics_lines, perf_test_final_line, replication_lines, summary_table, threshold_lines,
};
use crate::result::{self, Outcome, RunResult};

pub fn conclude(executed: Executed, json: Option<&Path>) -> Result<(RunEnd, RunResult)> {
    let Executed {
        setup,
        metrics,
        end,
        mirror,
        alerts,
        mm2_metrics,
    } = executed;
    let mut run_result = result_of(
        &setup,
        &metrics,
        mirror,
        Stage::Finished(Box::new(Ending {
            outcome: outcome_of(&end),
            alerts,
            mm2_metrics,
        })),
    );
    crate::thresholds::judge_run(&mut run_result, &setup.thresholds);
    print!("\n{}", summary_table(&run_result.phases));
    print!("{}", replication_lines(&run_result.replication));
    print!(
        "{}",
        custom_histogram_lines(&run_result.custom_histograms, &run_result.phases)
    );
    print!("{}", figure_lines(&run_result.figures));
    print!("{}", threshold_lines(&run_result.thresholds));
    if let Some(line) = perf_test_final_line(&run_result.phases) {
        println!("{line}");
    }
    print!(
        "{}",
        consumer_lines(&run_result.consumers, setup.started_at)
    );
    print!("{}", group_lines(&run_result.groups));
    if let Some(alerts) = &run_result.alerts {
        print!("{}", alert_lines(alerts));
    }
    if let Some(mm2) = &run_result.mm2_metrics {
        print!("{}", mm2_metrics_lines(mm2));
    }
    if let Some(path) = json {
        result::write_json(path, &run_result)?;
        eprintln!("Result written to {}", path.display());
    }
    Ok((end, run_result))
}

/// How a run's end reads in its result.
fn outcome_of(end: &RunEnd) -> Outcome {
    match end {
        RunEnd::Completed => Outcome::Completed,
        RunEnd::Aborted(reason) => Outcome::Aborted {
            reason: reason.clone(),
        },
        RunEnd::PluginFailed(failure) => Outcome::Failed {
            failure: failure.clone(),
        },
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::config::params::ResolvedParams;
    use crate::metrics::clock::RunClock;
    use crate::metrics::RunMetrics;
    use crate::result::{
        Environment, HostInfo, LoadedFrom, PluginFailure, PluginMeta, ScenarioMeta,
    };
    use crate::run::collect::RunSetup;

    /// What `execute` hands on for a run whose plugin never started a job.
    fn executed(end: RunEnd, thresholds: &[&str]) -> Executed {
        let setup = RunSetup {
            scenario: ScenarioMeta {
                name: "a scenario".into(),
                file: Some("scenarios/a.toml".into()),
                plugin: Some(PluginMeta {
                    name: "a-plugin".into(),
                    path: Some("plugins/dist/a-plugin.wasm".into()),
                    loaded: Some(LoadedFrom {
                        sha256: "00".into(),
                        from_cache: true,
                        load_ms: 1.0,
                    }),
                }),
                params: Some(
                    (&ResolvedParams {
                        time_scale: 1.0,
                        values: Default::default(),
                    })
                        .into(),
                ),
                limits: Some(Default::default()),
            },
            environment: Environment {
                embedded_cluster: true,
                profile: None,
                clusters: Default::default(),
                kafka_versions: Default::default(),
                host: Some(HostInfo::read()),
                deployment_settings: Default::default(),
            },
            started_at: chrono::Utc::now(),
            producer_properties: Vec::new(),
            producer_settings: Default::default(),
            consumer_properties: Vec::new(),
            consumer_settings: Default::default(),
            thresholds: thresholds
                .iter()
                .map(|t| crate::thresholds::expr::parse(t).unwrap())
                .collect(),
            shard: None,
        };
        Executed {
            setup: Arc::new(setup),
            metrics: Arc::new(RunMetrics::new(RunClock::start())),
            end,
            mirror: None,
            alerts: None,
            mm2_metrics: None,
        }
    }

    #[test]
    fn an_aborted_run_writes_a_result_that_says_why_with_its_thresholds_evaluated() {
        let dir = tempfile::tempdir().unwrap();
        let json = dir.path().join("results/run.json");
        let (end, result) = conclude(
            executed(
                RunEnd::Aborted("p99 over 50 ms".into()),
                &["totals.failed == 0"],
            ),
            Some(&json),
        )
        .unwrap();
        assert_eq!(end, RunEnd::Aborted("p99 over 50 ms".into()));
        let written: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
        assert_eq!(written["outcome"]["status"], "aborted");
        assert_eq!(written["outcome"]["reason"], "p99 over 50 ms");
        assert_eq!(written["scenario"]["plugin"]["name"], "a-plugin");
        assert_eq!(written["thresholds"][0]["threshold"], "totals.failed == 0");
        assert_eq!(result.thresholds.len(), 1);
    }

    #[test]
    fn without_json_nothing_is_written_and_the_outcome_follows_the_end() {
        let (end, result) = conclude(executed(RunEnd::Completed, &[]), None).unwrap();
        assert_eq!(end, RunEnd::Completed);
        assert!(matches!(result.outcome, Outcome::Completed));
    }

    /// The result `collect` and `judge` give for `executed` at `stage`, as `conclude` and the
    /// snapshot writer take it.
    fn judged(executed: &Executed, stage: Stage) -> RunResult {
        let mut result = result_of(&executed.setup, &executed.metrics, None, stage);
        crate::thresholds::judge_run(&mut result, &executed.setup.thresholds);
        result
    }

    #[test]
    fn a_snapshot_is_marked_incomplete_and_passes_no_threshold() {
        let executed = executed(RunEnd::Completed, &["totals.failed == 0"]);
        let json = serde_json::to_value(judged(&executed, Stage::Snapshot)).unwrap();
        assert_eq!(json["incomplete"]["reason"], result::SNAPSHOT_REASON);
        assert!(json["incomplete"]["snapshot_at_s"].as_f64().unwrap() >= 0.0);
        assert_eq!(json["outcome"]["status"], "running");
        let threshold = &json["thresholds"][0];
        assert_eq!(threshold["verdict"], "not_evaluated", "{threshold}");
        assert_eq!(threshold["measured"], 0.0);
        let note = threshold["note"].as_str().unwrap();
        assert!(
            note.starts_with("run incomplete: on its first ") && note.ends_with(" s it holds"),
            "{note}"
        );
    }

    #[test]
    fn the_incomplete_mark_reads_back_and_is_the_reports_verdict() {
        use crate::report::verdict::{threshold_line, RunVerdict};
        let executed = executed(RunEnd::Completed, &["totals.failed == 0"]);
        let snapshot = judged(&executed, Stage::Snapshot);
        let read: RunResult =
            serde_json::from_str(&serde_json::to_string(&snapshot).unwrap()).unwrap();
        assert_eq!(read.incomplete, snapshot.incomplete);
        let verdict = RunVerdict::of(&read);
        assert!(
            matches!(verdict, RunVerdict::Incomplete { .. }),
            "{verdict:?}"
        );
        assert!(
            verdict.label().starts_with("INCOMPLETE: snapshot at ")
                && verdict.label().ends_with("thresholds not evaluated"),
            "{}",
            verdict.label()
        );
        assert_eq!(threshold_line(&read.thresholds[0]).verdict, "not evaluated");

        let finished = judged(
            &executed,
            Stage::Finished(Box::new(Ending {
                outcome: Outcome::Completed,
                alerts: None,
                mm2_metrics: None,
            })),
        );
        let read: RunResult =
            serde_json::from_str(&serde_json::to_string(&finished).unwrap()).unwrap();
        assert_eq!(read.incomplete, None);
        assert_eq!(RunVerdict::of(&read), RunVerdict::Passed { thresholds: 1 });
    }

    #[test]
    fn a_finished_result_reads_back_as_it_was_written() {
        let (_, result) = conclude(
            executed(
                RunEnd::PluginFailed(PluginFailure::Trapped("boom".into())),
                &[],
            ),
            None,
        )
        .unwrap();
        let json = serde_json::to_value(&result).unwrap();
        assert!(json.get("incomplete").is_none(), "{json}");
        let read: RunResult = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(serde_json::to_value(&read).unwrap(), json);
        assert_eq!(read.outcome.failure().unwrap().kind(), "trapped");
    }
}
