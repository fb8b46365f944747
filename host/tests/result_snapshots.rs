//! Nothing lost when kscen itself dies: a 60 s run (PERF-01 at 1 000 msg/s on the embedded mock
//! cluster) SIGKILLed at 40 s leaves the snapshot kscen wrote while it ran — about 40 s of
//! timeline and phases, marked incomplete — which `kscen report` and `kscen compare` read and
//! say is incomplete.

mod support;

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{f64_of, u64_of, workspace_root, Sandbox};

/// Where on the run's clock kscen is killed.
const KILL_AT_S: f64 = 40.0;

/// The result file as it stands, when there is one. Every read must find a whole JSON document:
/// snapshots replace the file atomically.
fn read_result(path: &Path) -> Option<Value> {
    let text = std::fs::read_to_string(path).ok()?;
    Some(serde_json::from_str(&text).unwrap_or_else(|e| panic!("a torn result ({e}): {text}")))
}

#[test]
fn a_run_killed_at_40_s_leaves_40_s_of_result_marked_incomplete() {
    let sandbox = Sandbox::new();
    let scenario = workspace_root().join("scenarios/perf-01-nominal.toml");
    let json = sandbox.path("result.json");
    let log = std::fs::File::create(sandbox.path("run.log")).unwrap();
    let mut run = sandbox
        .command(&[
            "run",
            scenario.to_str().unwrap(),
            "--set",
            "duration=60s",
            "--set",
            "rate=1000",
            "--json",
            "result.json",
        ])
        // Each snapshot's write time, in plain text, for the figures the test prints.
        .env("KSCEN_LOG", "kscen::report::snapshot=debug")
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("kscen starts");

    // The run's clock starts once the plugin is compiled and loaded, which takes a while on a busy
    // machine: the first snapshot says where on that clock the run stands.
    let started = Instant::now();
    let (first_seen, first_at_s) = loop {
        if let Some(snapshot) = read_result(&json) {
            break (
                Instant::now(),
                f64_of(&snapshot["incomplete"]["snapshot_at_s"]),
            );
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no snapshot within 60 s:\n{}",
            std::fs::read_to_string(sandbox.path("run.log")).unwrap()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let kill_at = first_seen + Duration::from_secs_f64(KILL_AT_S - first_at_s);
    while Instant::now() < kill_at {
        read_result(&json);
        std::thread::sleep(Duration::from_millis(200));
    }
    run.kill().expect("SIGKILL");
    run.wait().unwrap();

    let result = read_result(&json).expect("a result left on disk");
    let log = std::fs::read_to_string(sandbox.path("run.log")).unwrap();
    let took: Vec<&str> = log
        .lines()
        .filter_map(|l| l.split("took=").nth(1)?.split_whitespace().next())
        .collect();
    eprintln!(
        "snapshot: {} bytes; snapshot writes took {took:?}",
        std::fs::metadata(&json).unwrap().len()
    );

    let incomplete = &result["incomplete"];
    assert!(incomplete["reason"].as_str().is_some(), "{incomplete}");
    assert_eq!(result["outcome"]["status"], "running");
    let snapshot_at_s = f64_of(&incomplete["snapshot_at_s"]);
    let timeline = result["timeline"].as_array().expect("a timeline");
    let last_point_s = f64_of(&timeline.last().expect("timeline points")["t_s"]);
    // Snapshots come every 2 s or so, less often on a loaded machine: the last one is a few
    // seconds before the kill at the most.
    assert!(
        (30.0..=KILL_AT_S + 1.0).contains(&last_point_s),
        "last timeline point at {last_point_s} s"
    );
    assert!(
        (last_point_s..=KILL_AT_S + 1.0).contains(&snapshot_at_s),
        "snapshot at {snapshot_at_s} s, last point at {last_point_s} s"
    );
    let phase = result["phases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "nominal")
        .unwrap_or_else(|| panic!("no nominal phase: {}", result["phases"]));
    let sent = u64_of(&phase["sent"]);
    // 1 000 msg/s over the phase so far: at least half of it however loaded the machine is.
    assert!(
        sent as f64 >= 500.0 * (last_point_s - 2.0) && u64_of(&phase["acked"]) > 0,
        "{phase}"
    );
    assert!(f64_of(&phase["end_s"]) >= last_point_s, "{phase}");
    assert_eq!(u64_of(&result["totals"]["sent"]), sent);
    let thresholds = result["thresholds"].as_array().unwrap();
    assert!(
        !thresholds.is_empty() && thresholds.iter().all(|t| t["verdict"] == "not_evaluated"),
        "{thresholds:?}"
    );

    let report = sandbox.kscen(&["report", "result.json", "--markdown", "report.md"]);
    let said = String::from_utf8_lossy(&report.stderr);
    assert!(report.status.success(), "{said}");
    assert!(said.contains("INCOMPLETE: snapshot at "), "{said}");
    let markdown = std::fs::read_to_string(sandbox.path("report.md")).unwrap();
    assert!(
        markdown.contains("verdict: **INCOMPLETE: snapshot at ")
            && markdown.contains("thresholds not evaluated"),
        "{markdown}"
    );

    let comparison = sandbox.ok(&[
        "compare",
        "--baseline",
        "result.json",
        "--candidate",
        "result.json",
    ]);
    assert!(
        comparison.contains("result.json: INCOMPLETE: snapshot at ")
            && comparison.contains("[nominal] achieved_rate"),
        "{comparison}"
    );
}
