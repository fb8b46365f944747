//! `kscen import` on the kafka-producer-perf-test outputs of seed 002 (tests/fixtures/perf-test,
//! raw tool output only): each result reproduces its final line's figures exactly, leaves what
//! perf-test cannot know absent, and `kscen report` shows the figures as perf-test printed them.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/perf-test")
        .join(name)
}

/// The final lines of seed 002, as printed.
struct Expected {
    file: &'static str,
    records: u64,
    rate: &'static str,
    mb: &'static str,
    avg: &'static str,
    max: &'static str,
    percentiles: [u64; 4],
}

const SEED_002: &[Expected] = &[
    Expected {
        file: "seed002-a-size-51200-rate-1000.log",
        records: 500000,
        rate: "622.255077",
        mb: "30.38",
        avg: "1050.68",
        max: "4277.00",
        percentiles: [1039, 1173, 1235, 1478],
    },
    Expected {
        file: "seed002-b-nominal-print-metrics.log",
        records: 1800000,
        rate: "999.985000",
        mb: "0.98",
        avg: "22.21",
        max: "701.00",
        percentiles: [23, 31, 35, 63],
    },
    Expected {
        file: "seed002-c-linger50-lz4-print-metrics.log",
        records: 18000,
        rate: "999.333777",
        mb: "0.98",
        avg: "74.29",
        max: "1254.00",
        percentiles: [43, 334, 885, 1237],
    },
    Expected {
        file: "seed002-d-acks1-linger0-lz4.log",
        records: 18000,
        rate: "999.833361",
        mb: "0.98",
        avg: "13.76",
        max: "758.00",
        percentiles: [6, 11, 190, 203],
    },
    Expected {
        file: "seed002-e-size-10240-rate-10000.log",
        records: 1800000,
        rate: "6484.173214",
        mb: "63.32",
        avg: "459.97",
        max: "975.00",
        percentiles: [436, 653, 676, 793],
    },
];

impl Expected {
    /// The final line perf-test printed, rebuilt from the expected figures.
    fn final_line(&self) -> String {
        let [p50, p95, p99, p999] = self.percentiles;
        format!(
            "{} records sent, {} records/sec ({} MB/sec), {} ms avg latency, {} ms max latency, {p50} ms 50th, {p95} ms 95th, {p99} ms 99th, {p999} ms 99.9th.",
            self.records, self.rate, self.mb, self.avg, self.max
        )
    }
}

impl Expected {
    /// `phase` holds this final line's figures, exactly as printed, and no other run's.
    fn assert_figures(&self, phase: &Value) {
        let imported = &phase["imported"];
        let what = format!("{} / {}", self.file, phase["name"]);
        assert_eq!(imported["final_line"], self.final_line(), "{what}");
        assert_eq!(imported["partial"], false, "{what}");
        assert_eq!(imported["records"], self.records, "{what}");
        assert_eq!(
            imported["records_per_s"].as_f64(),
            Some(number(self.rate)),
            "{what}"
        );
        assert_eq!(
            imported["mb_per_s"].as_f64(),
            Some(number(self.mb)),
            "{what}"
        );
        assert_eq!(
            imported["avg_ms"].as_f64(),
            Some(number(self.avg)),
            "{what}"
        );
        assert_eq!(
            imported["max_ms"].as_f64(),
            Some(number(self.max)),
            "{what}"
        );
        for (field, value) in ["p50_ms", "p95_ms", "p99_ms", "p999_ms"]
            .iter()
            .zip(self.percentiles)
        {
            assert_eq!(imported[field], value, "{what}: {field}");
        }
        // The shared fields say the same.
        assert_eq!(phase["sent"], self.records, "{what}");
        assert_eq!(
            phase["achieved_rate"].as_f64(),
            Some(number(self.rate)),
            "{what}"
        );
    }
}

fn kscen(args: &[&str]) -> std::process::Output {
    let output = Command::new(env!("CARGO_BIN_EXE_kscen"))
        .args(args)
        .output()
        .expect("kscen runs");
    assert!(
        output.status.success(),
        "kscen {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn import(logs: &[&Path], json: &Path) -> Value {
    let mut args = vec!["import"];
    args.extend(logs.iter().map(|p| p.to_str().unwrap()));
    args.extend(["--json", json.to_str().unwrap()]);
    kscen(&args);
    serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap()
}

fn number(text: &str) -> f64 {
    text.parse().unwrap()
}

#[test]
fn each_seed_002_output_imports_to_its_final_figures_exactly() {
    let dir = tempfile::tempdir().unwrap();
    for expected in SEED_002 {
        let log = fixture(expected.file);
        let json = dir.path().join(format!("{}.json", expected.file));
        let result = import(&[&log], &json);
        assert_eq!(result["schema"], "kscen.result/v1");
        assert_eq!(result["origin"]["kind"], "imported");
        let phases = result["phases"].as_array().unwrap();
        assert_eq!(phases.len(), 1, "{}: one phase per log", expected.file);
        let phase = &phases[0];
        expected.assert_figures(phase);
        // What perf-test cannot know is absent.
        for absent in [
            "corrected_us",
            "schedule_lag_us",
            "service_us",
            "start_s",
            "target_rate",
        ] {
            assert!(
                phase.get(absent).is_none(),
                "{}: {absent} must be absent",
                expected.file
            );
        }
        let not_measured: Vec<&str> = result["not_measured"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["field"].as_str().unwrap())
            .collect();
        assert!(
            not_measured.contains(&"phases[].corrected_us"),
            "{not_measured:?}"
        );
    }
}

#[test]
fn periodic_lines_print_metrics_and_warnings_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    let a = import(&[&fixture(SEED_002[0].file)], &dir.path().join("a.json"));
    let intervals = a["phases"][0]["imported"]["intervals"].as_array().unwrap();
    assert_eq!(intervals.len(), 23);
    assert_eq!(intervals[0]["records"], 1878);
    assert_eq!(intervals[0]["records_per_s"].as_f64(), Some(375.5));
    assert_eq!(
        intervals
            .iter()
            .filter(|i| i["after_elision"] == true)
            .count(),
        1,
        "the seed elides lines once (`....`)"
    );
    assert!(
        a["phases"][0].get("acked").is_none(),
        "no --print-metrics: acked not measured"
    );

    let b = import(&[&fixture(SEED_002[1].file)], &dir.path().join("b.json"));
    let metrics = &b["phases"][0]["imported"]["producer_metrics"];
    assert_eq!(
        metrics["producer-metrics:record-send-total:{client-id=perf-producer-client}"],
        "1800000.000"
    );
    assert_eq!(b["phases"][0]["failed"], 0, "record-error-total");
    assert_eq!(b["phases"][0]["acked"], 1800000);

    let e = import(&[&fixture(SEED_002[4].file)], &dir.path().join("e.json"));
    let warnings = e["phases"][0]["imported"]["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 1);
    assert!(warnings[0]
        .as_str()
        .unwrap()
        .contains("LEADER_NOT_AVAILABLE"));
}

#[test]
fn the_report_on_imported_results_shows_perf_test_figures_as_printed() {
    let dir = tempfile::tempdir().unwrap();
    let logs: Vec<PathBuf> = SEED_002.iter().map(|e| fixture(e.file)).collect();
    let json = dir.path().join("seed002.json");
    import(
        &logs.iter().map(PathBuf::as_path).collect::<Vec<_>>(),
        &json,
    );
    let markdown = dir.path().join("seed002.md");
    kscen(&[
        "report",
        json.to_str().unwrap(),
        "--markdown",
        markdown.to_str().unwrap(),
    ]);
    let text = std::fs::read_to_string(&markdown).unwrap();
    for expected in SEED_002 {
        let [p50, p95, p99, p999] = expected.percentiles;
        let row = format!(
            "| {} | {} | service (perf-test) | {} | {} | {p50} | {p95} | {p99} | {p999} |",
            expected.rate, expected.mb, expected.avg, expected.max
        );
        assert!(text.contains(&row), "no row {row:?} in\n{text}");
        assert!(text.contains(&format!("| {} | *not measured* |", expected.records)));
    }
    assert!(
        text.contains("LEADER_NOT_AVAILABLE"),
        "the WARN line is a risk"
    );
    assert!(text.contains("`phases[].corrected_us`: perf-test times each record"));
    assert!(
        !dir.path().join("seed002-csv").exists(),
        "only --markdown was asked"
    );
}

#[test]
fn a_log_holding_the_command_gives_record_size_and_target() {
    let dir = tempfile::tempdir().unwrap();
    // As a terminal capture holds it: the seed's prompt and command line before the output.
    let log = dir.path().join("with-command.log");
    let output = std::fs::read_to_string(fixture(SEED_002[0].file)).unwrap();
    std::fs::write(
        &log,
        format!(
            "[root@3c67cc921beb appuser]# kafka-producer-perf-test  --topic \"test-prometheus.generated-data-1800.json\"   --num-records 500000   --record-size 51200   --throughput 1000  --producer.config bomberder.properties\n\n{output}"
        ),
    )
    .unwrap();
    let json = dir.path().join("with-command.json");
    let result = import(&[&log], &json);
    assert_eq!(result["phases"][0]["target_rate"].as_f64(), Some(1000.0));
    assert_eq!(
        result["phases"][0]["imported"]["command"]["record_size"],
        51200
    );
    let markdown = dir.path().join("with-command.md");
    kscen(&[
        "report",
        json.to_str().unwrap(),
        "--markdown",
        markdown.to_str().unwrap(),
    ]);
    let text = std::fs::read_to_string(&markdown).unwrap();
    assert!(
        text.contains("| 51200 B | 500000 | 1000.0 | 622.255077 | 30.38 |"),
        "{text}"
    );
}

const APPENDED: &str = "appended-three-runs.log";

/// The three runs an operator appended to one log, as their final lines print them.
const APPENDED_RUNS: &[Expected] = &[
    Expected {
        file: APPENDED,
        records: 15000,
        rate: "999.800040",
        mb: "0.98",
        avg: "6.21",
        max: "310.00",
        percentiles: [3, 9, 88, 297],
    },
    Expected {
        file: APPENDED,
        records: 60000,
        rate: "4997.917535",
        mb: "2.44",
        avg: "4.87",
        max: "180.00",
        percentiles: [3, 11, 42, 171],
    },
    Expected {
        file: APPENDED,
        records: 200000,
        rate: "19841.269841",
        mb: "1.89",
        avg: "398.12",
        max: "902.00",
        percentiles: [377, 655, 811, 889],
    },
];

/// Each phase's periodic lines, as record counts.
fn interval_records(phase: &Value) -> Vec<u64> {
    phase["imported"]["intervals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["records"].as_u64().unwrap())
        .collect()
}

/// Runs 1 and 2 of the appended log, each with only what it printed.
fn assert_first_two_runs(phases: &[Value]) {
    for (phase, expected) in phases.iter().zip(&APPENDED_RUNS[..2]) {
        expected.assert_figures(phase);
    }
    let [one, two] = [&phases[0], &phases[1]];
    assert_eq!(interval_records(one), [4996, 5002]);
    assert_eq!(interval_records(two), [24870, 25010]);
    assert_eq!(
        one["imported"]["lines"],
        serde_json::json!({"first": 1, "last": 12})
    );
    assert_eq!(
        two["imported"]["lines"],
        serde_json::json!({"first": 14, "last": 31})
    );
    assert_eq!(one["imported"]["command"]["topic"], "perf.a");
    assert_eq!(two["imported"]["command"]["topic"], "perf.b");
    assert_eq!(one["target_rate"].as_f64(), Some(1000.0));
    assert_eq!(two["target_rate"].as_f64(), Some(5000.0));
    // Run 1's WARN is run 1's alone; run 2's --print-metrics block is run 2's alone.
    let warnings = one["imported"]["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 1);
    assert!(warnings[0]
        .as_str()
        .unwrap()
        .contains("NOT_LEADER_OR_FOLLOWER"));
    assert_eq!(two["imported"]["warnings"], serde_json::json!([]));
    assert_eq!(one["imported"]["producer_metrics"], serde_json::json!({}));
    assert!(one.get("failed").is_none() && one.get("acked").is_none());
    let metrics = two["imported"]["producer_metrics"].as_object().unwrap();
    assert_eq!(metrics.len(), 4);
    assert_eq!(
        metrics["producer-metrics:record-send-total:{client-id=perf-producer-client}"],
        "60000.000"
    );
    assert_eq!(
        (&two["failed"], &two["acked"]),
        (&Value::from(3), &Value::from(59997))
    );
}

#[test]
fn three_appended_runs_import_as_three_phases_with_their_own_figures() {
    let dir = tempfile::tempdir().unwrap();
    let result = import(&[&fixture(APPENDED)], &dir.path().join("appended.json"));
    let phases = result["phases"].as_array().unwrap();
    let names: Vec<&str> = phases.iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "appended-three-runs #1",
            "appended-three-runs #2",
            "appended-three-runs #3"
        ]
    );
    assert_first_two_runs(phases);
    let three = &phases[2];
    APPENDED_RUNS[2].assert_figures(three);
    assert_eq!(interval_records(three), [98312, 99120]);
    assert_eq!(three["imported"]["run"], 3);
    assert_eq!(
        three["imported"]["lines"],
        serde_json::json!({"first": 33, "last": 40})
    );
    assert_eq!(
        three["imported"]["command"]["producer_props"][2],
        "linger.ms=5"
    );
    assert!(
        three["target_rate"].is_null(),
        "--throughput -1: unthrottled"
    );
    assert_eq!(three["imported"]["warnings"], serde_json::json!([]));
    assert_eq!(three["imported"]["producer_metrics"], serde_json::json!({}));
    assert_eq!(result["totals"]["sent"], 15000 + 60000 + 200000);
}

#[test]
fn a_log_cut_before_its_last_final_line_ends_with_a_partial_run_the_report_shows() {
    let dir = tempfile::tempdir().unwrap();
    // The appended log, cut just before run 3's final line (line 40).
    let text = std::fs::read_to_string(fixture(APPENDED)).unwrap();
    let cut: Vec<&str> = text.lines().take(39).collect();
    let log = dir.path().join("cut.log");
    std::fs::write(&log, cut.join("\n")).unwrap();
    let json = dir.path().join("cut.json");
    let output = kscen(&[
        "import",
        log.to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
    ]);
    let console = String::from_utf8_lossy(&output.stderr);
    assert!(
        console.contains("run 3, lines 33–38: partial: 2 intervals, no final line"),
        "{console}"
    );
    assert!(
        console.contains("run 1, lines 1–12: 15000 records sent"),
        "{console}"
    );
    let result: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let phases = result["phases"].as_array().unwrap();
    assert_eq!(phases.len(), 3);
    assert_first_two_runs(phases);
    let partial = &phases[2];
    assert_eq!(partial["name"], "cut #3");
    assert_eq!(partial["imported"]["partial"], true);
    assert_eq!(interval_records(partial), [98312, 99120]);
    assert_eq!(partial["imported"]["command"]["topic"], "perf.c");
    // No final line: no final figures, none made up from the periodic lines.
    for absent in ["sent", "achieved_rate", "mb_per_s", "acked"] {
        assert!(partial.get(absent).is_none(), "{absent} must be absent");
    }
    for absent in [
        "final_line",
        "records",
        "records_per_s",
        "p99_ms",
        "elapsed_s",
    ] {
        assert!(
            partial["imported"].get(absent).is_none(),
            "imported.{absent} must be absent"
        );
    }
    assert!(
        result["totals"].get("sent").is_none(),
        "a partial run's count is unknown"
    );
    assert!(result["not_measured"]
        .as_array()
        .unwrap()
        .iter()
        .any(|n| n["field"].as_str().unwrap().ends_with("for a partial run")));

    let markdown = dir.path().join("cut.md");
    let html = dir.path().join("cut.html");
    kscen(&[
        "report",
        json.to_str().unwrap(),
        "--markdown",
        markdown.to_str().unwrap(),
        "--html",
        html.to_str().unwrap(),
    ]);
    let text = std::fs::read_to_string(&markdown).unwrap();
    assert!(
        text.contains("cut #3: partial run, the log holds no final line for it"),
        "{text}"
    );
    let row = text
        .lines()
        .find(|l| l.starts_with("| cut #3 |"))
        .unwrap_or_else(|| panic!("no row for the partial run in\n{text}"));
    assert!(
        row.contains("partial run: 2 periodic line(s), no final line"),
        "{row}"
    );
    assert!(!row.contains("| 0 |"), "{row}");
    assert_eq!(
        row.matches("*not measured*").count(),
        9,
        "records, rate, MB/s, avg, max and 4 percentiles: {row}"
    );
    assert!(std::fs::read_to_string(&html).unwrap().contains("cut #3"));
}
