//! `kscen compare` on real runs (the embedded mock cluster): two repetitions at 2 000 msg/s
//! against two at 4 000 — the rate change is beyond noise, the latency percentiles are read and
//! judged, replication lag (the mock has no mirror) is said not measured, and the Markdown table
//! is written; `kscen report` on two of them compares them the same way. A perf-test run
//! imported from a log of three appended runs is compared with the step of a ramp-up chosen
//! with `--phase`, and with another run of its log.

mod support;

use std::path::Path;

use support::Sandbox;

/// The line of `table` for `metric`.
fn line<'a>(table: &'a str, metric: &str) -> &'a str {
    table
        .lines()
        .find(|l| l.starts_with(metric))
        .unwrap_or_else(|| panic!("no {metric} in\n{table}"))
}

#[test]
fn a_rate_change_across_repetitions_is_beyond_noise() {
    let sandbox = Sandbox::new();
    std::fs::write(
        sandbox.path("steady.toml"),
        "plugin = \"steady\"\n[params]\nduration = \"2s\"\n",
    )
    .unwrap();
    let mut sides = (Vec::new(), Vec::new());
    for repetition in 1..=2 {
        for (rate, side) in [(2000, &mut sides.0), (4000, &mut sides.1)] {
            let json = format!("r{rate}-{repetition}.json");
            sandbox.ok(&[
                "run",
                "steady.toml",
                "--set",
                &format!("rate={rate}"),
                "--json",
                &json,
            ]);
            side.push(json);
        }
    }
    let mut args = vec!["compare", "--baseline"];
    args.extend(sides.0.iter().map(String::as_str));
    args.push("--candidate");
    args.extend(sides.1.iter().map(String::as_str));
    args.extend(["--markdown", "comparison.md"]);
    let table = sandbox.ok(&args);
    let achieved = table
        .lines()
        .find(|l| l.starts_with("[nominal] achieved_rate"))
        .unwrap_or_else(|| panic!("{table}"));
    // The rates achieved depend on the machine; that doubling the target roughly doubles them,
    // far beyond the runs' spread, does not.
    let change: f64 = achieved.split_whitespace().nth(6).unwrap().parse().unwrap();
    assert!((90.0..=110.0).contains(&change), "{achieved}");
    assert!(achieved.contains("beyond noise (runs"), "{achieved}");
    let p99 = table
        .lines()
        .find(|l| l.starts_with("[nominal] corrected.p99"))
        .unwrap_or_else(|| panic!("{table}"));
    assert!(p99.contains(" noise (runs 2 vs 2, 95 % interval"), "{p99}");
    let lag = table
        .lines()
        .find(|l| l.starts_with("replication_lag_ms.peak"))
        .unwrap_or_else(|| panic!("{table}"));
    assert!(lag.ends_with("not measured"), "{lag}");
    let markdown = std::fs::read_to_string(sandbox.path("comparison.md")).unwrap();
    assert!(
        markdown.contains("| [nominal] achieved_rate |"),
        "{markdown}"
    );

    // The report on two of the runs compares the second with the first, as compare does.
    sandbox.ok(&[
        "report",
        "r2000-1.json",
        "r4000-1.json",
        "--markdown",
        "report.md",
        "--html",
        "report.html",
    ]);
    let report = std::fs::read_to_string(sandbox.path("report.md")).unwrap();
    let section = &report[report
        .find("## 4. Comparison with the first run")
        .unwrap_or_else(|| panic!("{report}"))..];
    assert!(
        section.contains("### 4.1 Section 3 (steady) against section 2"),
        "{section}"
    );
    for metric in ["[nominal] achieved_rate", "[nominal] corrected.p99"] {
        assert!(section.contains(&format!("| {metric} | ")), "{section}");
    }
    assert!(
        section.contains(
            "| replication_lag_ms.peak | not measured | not measured | — | not measured |"
        ),
        "{section}"
    );
    assert!(report.contains("## 5. Environment and security"));
    let html = std::fs::read_to_string(sandbox.path("report.html")).unwrap();
    assert!(html.contains("<h2>4. Comparison with the first run</h2>"));

    // Mixed up sides are refused with the file named.
    let missing = sandbox.refused(&[
        "compare",
        "--baseline",
        "nope.json",
        "--candidate",
        "r4000-1.json",
    ]);
    assert!(
        missing.contains("cannot read result nope.json"),
        "{missing}"
    );
}

#[test]
fn an_imported_perf_test_run_is_compared_with_the_phase_chosen() {
    let sandbox = Sandbox::new();
    let log = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/perf-test/appended-three-runs.log");
    sandbox.ok(&["import", log.to_str().unwrap(), "--json", "past.json"]);
    std::fs::write(
        sandbox.path("ramp.toml"),
        "plugin = \"ramp-up\"\n[params]\nnominal_rate = 1000\nmultipliers = [1.0, 2.0]\n\
         unthrottled_step = false\nstep_duration = \"2s\"\n",
    )
    .unwrap();
    sandbox.ok(&["run", "ramp.toml", "--json", "ramp.json"]);
    let compare = |extra: &[&'static str]| {
        let mut args = vec![
            "compare",
            "--baseline",
            "past.json",
            "--candidate",
            "ramp.json",
        ];
        args.extend(extra);
        args
    };

    // Three runs against two steps: nothing pairs them by name, and compare says how to.
    let automatic = sandbox.ok(&compare(&[]));
    assert!(
        automatic.contains(
            "left out: every phase: no baseline phase (appended-three-runs #1, \
             appended-three-runs #2, appended-three-runs #3) has a candidate phase of its name \
             (step-1 1x, step-2 2x); choose the pairs with `kscen compare --phase"
        ),
        "{automatic}"
    );

    // Run 1 of the log (1 000 msg/s asked) against the ramp-up's 1x step (1 000 msg/s).
    let table = sandbox.ok(&compare(&["--phase", "appended-three-runs #1=step-1 1x"]));
    let rate = line(&table, "[appended-three-runs #1 / step-1 1x] achieved_rate");
    assert!(
        rate.contains("999.80 records/s") && rate.ends_with("noise unknown: one run, repeat it"),
        "{rate}"
    );
    // perf-test cannot know corrected latency: not measured, never zero.
    let p99 = line(&table, "[appended-three-runs #1 / step-1 1x] corrected.p99");
    assert!(
        p99.contains(" not measured ") && p99.ends_with("not measured"),
        "{p99}"
    );
    // Its service latency (send() → callback) is what it printed: no histogram, noise unknown.
    let service = line(&table, "[appended-three-runs #1 / step-1 1x] service.p99");
    assert!(
        service.contains("88.00 ms") && service.ends_with("noise unknown: one run, repeat it"),
        "{service}"
    );
    assert!(!table.contains("step-2"), "only the pair chosen: {table}");
    assert!(!table.contains("left out"), "{table}");

    // Two runs of the appended log, one against the other.
    let table = sandbox.ok(&[
        "compare",
        "--baseline",
        "past.json",
        "--candidate",
        "past.json",
        "--phase",
        "appended-three-runs #1=appended-three-runs #2",
    ]);
    let rate = line(
        &table,
        "[appended-three-runs #1 / appended-three-runs #2] achieved_rate",
    );
    assert!(
        rate.contains("999.80 records/s") && rate.contains("4997.92 records/s"),
        "{rate}"
    );

    // A phase a run does not have is refused, with the run's file and its phases.
    let refused = sandbox.refused(&compare(&["--phase", "appended-three-runs #1=step-3 3x"]));
    assert!(
        refused.contains(
            "--phase appended-three-runs #1=step-3 3x: the candidate ramp.json has no phase \
             \"step-3 3x\"; its phases: \"step-1 1x\", \"step-2 2x\""
        ),
        "{refused}"
    );

    // The report on both compares them too, and points to --phase.
    sandbox.ok(&[
        "report",
        "past.json",
        "ramp.json",
        "--markdown",
        "report.md",
    ]);
    let report = std::fs::read_to_string(sandbox.path("report.md")).unwrap();
    assert!(
        report.contains("- every phase: no baseline phase (appended-three-runs #1"),
        "{report}"
    );
}
