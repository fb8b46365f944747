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
        let imported = &phase["imported"];
        assert_eq!(
            imported["final_line"],
            expected.final_line(),
            "{}",
            expected.file
        );
        assert_eq!(imported["records"], expected.records);
        assert_eq!(
            imported["records_per_s"].as_f64(),
            Some(number(expected.rate))
        );
        assert_eq!(imported["mb_per_s"].as_f64(), Some(number(expected.mb)));
        assert_eq!(imported["avg_ms"].as_f64(), Some(number(expected.avg)));
        assert_eq!(imported["max_ms"].as_f64(), Some(number(expected.max)));
        for (field, value) in ["p50_ms", "p95_ms", "p99_ms", "p999_ms"]
            .iter()
            .zip(expected.percentiles)
        {
            assert_eq!(imported[field], value, "{}: {field}", expected.file);
        }
        // The shared fields say the same, and what perf-test cannot know is absent.
        assert_eq!(phase["sent"], expected.records);
        assert_eq!(phase["achieved_rate"].as_f64(), Some(number(expected.rate)));
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
