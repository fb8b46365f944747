//! What a result file says is what kscen reads back: every committed example (a run's, a
//! snapshot's, an imported one's) reads and writes back unchanged, and what a report needs from a
//! result that lacks a part reads as absent, not as zero.

use std::path::Path;

use super::*;

/// The committed examples of `kscen.result/v1`, documented in docs/result-schema.md.
fn examples() -> Vec<std::path::PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/examples");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_committed_example_reads_back_and_writes_out_unchanged() {
    let files = examples();
    assert!(files.len() >= 3, "{files:?}");
    for file in files {
        let written: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        let read = load(&file).unwrap_or_else(|e| panic!("{e:#}"));
        let again = serde_json::to_value(&read.result).unwrap();
        assert_eq!(again, written, "{} does not round-trip", file.display());
    }
}

#[test]
fn the_examples_cover_a_run_a_snapshot_and_an_import() {
    let results: Vec<RunResult> = examples()
        .iter()
        .map(|file| load(file).unwrap().result)
        .collect();
    let run = results
        .iter()
        .find(|r| r.origin.is_none() && r.incomplete.is_none())
        .expect("a finished run");
    assert!(run.phases.iter().all(|p| p.corrected_us.is_some()));
    assert!(!run.thresholds.is_empty() && !run.timeline.is_empty());
    assert!(run.environment.as_ref().unwrap().host.is_some());
    let snapshot = results
        .iter()
        .find(|r| r.incomplete.is_some())
        .expect("a snapshot");
    assert_eq!(snapshot.outcome, Outcome::Running);
    assert!(snapshot
        .thresholds
        .iter()
        .all(|t| t.verdict == Verdict::NotEvaluated));
    let imported = results.iter().find(|r| r.is_imported()).expect("an import");
    assert!(!imported.not_measured.is_empty());
    assert!(imported.phases.iter().all(|p| p.imported.is_some()));
}

#[test]
fn a_minimal_result_reads_with_every_optional_part_absent() {
    let result: RunResult = serde_json::from_str(
        r#"{"schema": "kscen.result/v1", "scenario": {"name": "old"},
            "outcome": {"status": "failed", "failure": {"kind": "trapped", "message": "boom"}},
            "phases": [{"name": "p", "target_rate": null}]}"#,
    )
    .unwrap();
    assert_eq!(result.environment.map(|e| e.embedded_cluster), None);
    assert_eq!(result.totals, Counts::default());
    let phase = &result.phases[0];
    assert_eq!(phase.target_rate, Some(None), "null: unthrottled");
    assert_eq!(
        (phase.counts.sent, phase.corrected_us.as_ref()),
        (None, None)
    );
    let failure = result.outcome.failure().unwrap();
    assert_eq!((failure.kind(), failure.message()), ("trapped", "boom"));
    assert_eq!(result.outcome.status(), "failed");
}

#[test]
fn totals_are_absent_where_a_phase_does_not_know_its_count() {
    let phase = |sent: Option<u64>| PhaseResult {
        name: "p".into(),
        counts: Counts {
            sent,
            ..Default::default()
        },
        ..Default::default()
    };
    assert_eq!(
        Counts::over(&[phase(Some(2)), phase(Some(3))]).sent,
        Some(5)
    );
    assert_eq!(Counts::over(&[phase(Some(2)), phase(None)]).sent, None);
    assert_eq!(
        Counts::over(&[]).sent,
        Some(0),
        "a run with no load sent nothing"
    );
}

#[test]
fn the_deployment_settings_a_step_set_are_kept_secrets_redacted_and_old_files_read_without() {
    let settings = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let source = settings(&[
        ("tasks.max", "4"),
        ("source.cluster.sasl.jaas.config", "login pw"),
    ]);
    let in_force = DeploymentSettings::new(
        [
            ("mm2-source", source.as_slice()),
            ("mm2-heartbeat", &[][..]),
        ],
        &settings(&[("offset.flush.interval.ms", "7321")]),
    );
    let connector = &in_force.connector_settings["mm2-source"];
    assert_eq!(connector["tasks.max"], "4");
    assert_eq!(connector["source.cluster.sasl.jaas.config"], "(redacted)");
    assert!(!in_force.connector_settings.contains_key("mm2-heartbeat"));

    let environment = |deployment_settings| Environment {
        embedded_cluster: false,
        profile: Some("lab".into()),
        clusters: Default::default(),
        kafka_versions: Default::default(),
        host: None,
        deployment_settings,
    };
    let written = serde_json::to_value(environment(in_force.clone())).unwrap();
    assert_eq!(
        written["connector_settings"]["mm2-source"]["tasks.max"],
        "4"
    );
    assert_eq!(
        written["worker_settings"]["offset.flush.interval.ms"],
        "7321"
    );
    let read: Environment = serde_json::from_value(written).unwrap();
    assert_eq!(read.deployment_settings, in_force);

    // Nothing changed: nothing written; a file from before reads as nothing changed.
    let written = serde_json::to_value(environment(DeploymentSettings::default())).unwrap();
    assert!(
        written.get("connector_settings").is_none() && written.get("worker_settings").is_none()
    );
    let old: Environment =
        serde_json::from_str(r#"{"embedded_cluster": true, "profile": null, "clusters": {}}"#)
            .unwrap();
    assert_eq!(old.deployment_settings, DeploymentSettings::default());
}
