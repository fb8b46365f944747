//! A plugin's own histograms (`metrics.record-value`) are first-class: percentiles in the console
//! summary and the result, run-wide and per phase, in the unit the name declares, and thresholds
//! on them. Runs the `custom-histograms` fixture, whose values are known (see its source).

mod support;

use support::{f64_of, run_scenario, u64_of, Run};

const SCENARIO: &str = r#"
plugin = "custom-histograms"
thresholds = [
    "hist(roundtrip_us).p99 < 50ms",
    "hist(roundtrip_us).max >= 49ms",
    "phase(fast).hist(roundtrip_us).p99 < 2ms",
    "hist(batch_bytes).max <= 1024",
    "probes_seen >= 0.9 * probes_sent",
]
"#;

/// The summary line of `histogram` in `scope`, split into its columns.
fn summary_line(run: &Run, histogram: &str, scope: &str) -> Vec<String> {
    let stdout = run.stdout();
    let mut lines = stdout
        .lines()
        .skip_while(|l| !l.starts_with("custom histogram"))
        .skip(1)
        .take_while(|l| !l.is_empty());
    let mut current = String::new();
    lines
        .find_map(|line| {
            if !line.starts_with(' ') {
                current = line
                    .split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .to_string();
            }
            let columns: Vec<String> = line.split_whitespace().map(str::to_string).collect();
            (current == histogram && columns.contains(&scope.to_string())).then_some(columns)
        })
        .unwrap_or_else(|| panic!("no summary line for {histogram} in {scope}:\n{stdout}"))
}

fn ms(column: &str) -> f64 {
    column
        .parse()
        .unwrap_or_else(|_| panic!("{column:?} is not ms"))
}

#[test]
fn custom_histograms_show_in_the_summary_and_pass_their_thresholds() {
    let run = run_scenario(SCENARIO, &[]);
    assert_eq!(run.code(), 0, "{}\n{}", run.stdout(), run.stderr());

    // run-wide: both phases and the value recorded between them, in ms
    let line = summary_line(&run, "roundtrip_us", "run");
    assert_eq!(line[1], "(ms)", "{line:?}");
    assert_eq!(line[3], "201", "{line:?}");
    let p50 = ms(&line[4]);
    assert!((0.8..=8.1).contains(&p50), "{line:?}");
    assert!(
        (49.9..=50.1).contains(&ms(line.last().unwrap())),
        "{line:?}"
    );
    // per phase: only the values recorded while the phase was open
    let fast = summary_line(&run, "roundtrip_us", "fast");
    assert_eq!(fast[1], "100", "{fast:?}");
    assert!((1.1..=1.21).contains(&ms(&fast[6])), "p99 {fast:?}");
    let slow = summary_line(&run, "roundtrip_us", "slow");
    assert_eq!(slow[1], "100", "{slow:?}");
    assert!((11.0..=12.1).contains(&ms(&slow[6])), "p99 {slow:?}");
    // a unit that is not a duration is shown as it is
    let bytes = summary_line(&run, "batch_bytes", "run");
    assert_eq!(
        (bytes[1].as_str(), bytes.last().unwrap().as_str()),
        ("(bytes)", "1024")
    );

    let result = run.result();
    assert_eq!(
        u64_of(&result["custom_histograms"]["roundtrip_us"]["count"]),
        201
    );
    let in_fast = &run.phase("fast")["custom_histograms"];
    assert_eq!(u64_of(&in_fast["roundtrip_us"]["count"]), 100);
    assert_eq!(u64_of(&in_fast["batch_bytes"]["count"]), 2);
    assert!(run.phase("slow")["custom_histograms"]["batch_bytes"].is_null());
    for threshold in result["thresholds"].as_array().unwrap() {
        assert_eq!(threshold["verdict"], "passed", "{threshold}");
    }
}

#[test]
fn a_failing_histogram_threshold_fails_the_run_with_its_measured_value() {
    let failing = "phase(slow).hist(roundtrip_us).p99 < 5ms";
    let run = run_scenario(
        SCENARIO,
        &[
            "--threshold",
            failing,
            "--threshold",
            "hist(never_recorded_us).p99 < 1s",
        ],
    );
    assert_eq!(run.code(), 2, "{}\n{}", run.stdout(), run.stderr());
    let thresholds = run.result()["thresholds"].as_array().unwrap();
    let slow = thresholds
        .iter()
        .find(|t| t["threshold"] == failing)
        .unwrap();
    assert_eq!(slow["verdict"], "failed");
    assert_eq!(slow["phase"], "slow");
    // compared in the histogram's unit: the 5 ms limit became 5000 µs
    assert_eq!(slow["unit"], "us");
    assert_eq!(f64_of(&slow["limit"]), 5_000.0);
    let measured = f64_of(&slow["measured"]);
    assert!((11_000.0..=12_100.0).contains(&measured), "{slow}");
    assert!(
        run.stdout().contains(&format!(
            "✗ {failing} [slow]: {measured:.3} us against 5000.000 us"
        )),
        "{}",
        run.stdout()
    );
    let never = thresholds
        .iter()
        .find(|t| t["threshold"] == "hist(never_recorded_us).p99 < 1s")
        .unwrap();
    assert_eq!(never["verdict"], "not_measured", "{never}");
    let passed = thresholds.iter().filter(|t| t["verdict"] == "passed");
    assert_eq!(passed.count(), 5);
}
