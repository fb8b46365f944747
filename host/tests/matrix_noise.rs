//! A tuning matrix's noise verdicts hold when the campaign is run again (issue 17): the seeds'
//! producer matrix, `linger.ms` (0, 5, 50) x `compression.type` (none, lz4), 3 repetitions per
//! cell, run twice on the embedded mock cluster. Each cell of the second run compared with the
//! same cell of the first is within noise, and what the first run found beyond noise (linger
//! trading latency away) the second finds again.

mod support;

use std::collections::BTreeMap;

use serde_json::Value;
use support::Sandbox;

const SCENARIO: &str = "plugin = \"steady\"\n[params]\nrate = 2000\nduration = \"2s\"\n";

const CAMPAIGN: &str = r#"
name = "linger x codec"
results = "first"

[[step]]
name = "producer"
scenario = "steady.toml"
repeat = 3
matrix = { "producer.linger.ms" = [0, 5, 50], "producer.compression.type" = ["none", "lz4"] }
"#;

/// The result files of each cell, by its settings, in the ledger of the campaign run in `folder`.
fn cells(sandbox: &Sandbox, folder: &str) -> BTreeMap<String, Vec<String>> {
    let ledger = std::fs::read_to_string(sandbox.path(&format!("{folder}/campaign.json")))
        .expect("the campaign's ledger");
    let ledger: Value = serde_json::from_str(&ledger).unwrap();
    let mut cells: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for step in ledger["steps"].as_array().unwrap() {
        assert_eq!(step["verdict"], "passed", "{step}");
        let settings = format!(
            "linger.ms={}, compression.type={}",
            step["settings"]["producer.linger.ms"].as_str().unwrap(),
            step["settings"]["producer.compression.type"]
                .as_str()
                .unwrap()
        );
        let file = format!("{folder}/{}", step["result"].as_str().unwrap());
        cells.entry(settings).or_default().push(file);
    }
    cells
}

/// The metric lines of `kscen compare`'s table.
fn compare(sandbox: &Sandbox, baseline: &[String], candidate: &[String]) -> Vec<String> {
    let mut args = vec!["compare", "--baseline"];
    args.extend(baseline.iter().map(String::as_str));
    args.push("--candidate");
    args.extend(candidate.iter().map(String::as_str));
    let table = sandbox.ok(&args);
    table
        .lines()
        .filter(|line| line.starts_with('[') || line.starts_with("replication_"))
        .map(str::to_string)
        .collect()
}

fn row<'a>(rows: &'a [String], metric: &str) -> &'a str {
    rows.iter()
        .find(|line| line.starts_with(metric))
        .unwrap_or_else(|| panic!("no {metric} row in {rows:#?}"))
}

#[test]
fn a_linger_by_codec_matrix_gives_the_same_verdicts_when_run_again() {
    let sandbox = Sandbox::new();
    std::fs::write(sandbox.path("steady.toml"), SCENARIO).unwrap();
    std::fs::write(sandbox.path("plan.toml"), CAMPAIGN).unwrap();
    for folder in ["first", "second"] {
        let stdout = sandbox.ok(&["campaign", "run", "plan.toml", "--results", folder]);
        assert!(
            stdout.contains("Matrix \"producer\": 6 cells, 18 runs"),
            "{stdout}"
        );
    }
    let (first, second) = (cells(&sandbox, "first"), cells(&sandbox, "second"));
    assert_eq!(first.len(), 6, "{first:?}");
    assert_eq!(
        first.keys().collect::<Vec<_>>(),
        second.keys().collect::<Vec<_>>()
    );

    // A cell against itself: within noise. A 95 % interval misses by design about 1 time in
    // 20, and the machine's load drifts in the minutes between the two runs (a busy 2-core
    // machine moved 9 of 60 apart), so a few comparisons may be called apart; many more would
    // mean the intervals are too narrow for the run-to-run noise.
    let mut compared = 0;
    let mut apart = Vec::new();
    for (cell, runs) in &first {
        assert_eq!(runs.len(), 3, "{cell}: 3 repetitions");
        for line in compare(&sandbox, runs, &second[cell]) {
            if line.contains("not measured") {
                continue;
            }
            compared += 1;
            if line.contains("beyond noise") {
                apart.push(format!("{cell}: {line}"));
            }
        }
    }
    assert!(compared >= 60, "{compared} figures compared");
    eprintln!(
        "{} of {compared} self-comparisons beyond noise{}",
        apart.len(),
        apart.iter().map(|a| format!("\n  {a}")).collect::<String>()
    );
    assert!(
        apart.len() * 5 <= compared,
        "{} of {compared} self-comparisons beyond noise:\n{}",
        apart.len(),
        apart.join("\n")
    );

    // What linger does to latency at 2 000 records/s is far beyond noise, in both runs alike: a
    // record waits up to linger.ms for its batch.
    let baseline = "linger.ms=0, compression.type=none";
    for lingering in [
        "linger.ms=5, compression.type=none",
        "linger.ms=50, compression.type=none",
        "linger.ms=50, compression.type=lz4",
    ] {
        for runs in [&first, &second] {
            let rows = compare(&sandbox, &runs[baseline], &runs[lingering]);
            let p50 = row(&rows, "[nominal] corrected.p50");
            assert!(p50.contains("beyond noise"), "{lingering}: {p50}");
            let rate = row(&rows, "[nominal] achieved_rate");
            assert!(rate.contains("within noise"), "{lingering}: {rate}");
        }
    }
}
