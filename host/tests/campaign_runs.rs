//! `kscen campaign run` on the embedded mock cluster: steps run in order with their own
//! parameters and producer settings, a pause between them; an interrupted campaign resumes
//! without redoing its finished step; a failed step gives the campaign's exit code and, with
//! `stop_on_fail`, stops it.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use kscen::faults::procfs::send_signal;
use serde_json::Value;
use support::Sandbox;

const SCENARIO: &str = "plugin = \"steady\"\n[params]\nduration = \"3s\"\nrate = 500\n";

const CAMPAIGN: &str = r#"
name = "three steps"
results = "results"
after = { pause = "1s" }

[[step]]
name = "warm-up"
scenario = "steady.toml"

[[step]]
name = "nominal"
scenario = "steady.toml"
set = { rate = 1000, duration = "8s" }

[[step]]
name = "doubled, linger 5"
scenario = "steady.toml"
set = { rate = 2000 }
producer = { "linger.ms" = 5 }
thresholds = ["totals.failed == 0"]
"#;

/// A sandbox holding the scenario `steady.toml` and the campaign `plan.toml`.
fn with_plan(plan: &str) -> Sandbox {
    let sandbox = Sandbox::new();
    std::fs::write(sandbox.path("steady.toml"), SCENARIO).unwrap();
    std::fs::write(sandbox.path("plan.toml"), plan).unwrap();
    sandbox
}

fn ledger(sandbox: &Sandbox) -> Option<Value> {
    let text = std::fs::read_to_string(sandbox.path("results/campaign.json")).ok()?;
    serde_json::from_str(&text).ok()
}

fn verdicts(ledger: &Value) -> Vec<(String, String)> {
    ledger["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap().to_string(),
                s["verdict"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn result(sandbox: &Sandbox, file: &str) -> Value {
    let text = std::fs::read_to_string(sandbox.path(&format!("results/{file}"))).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn modified(path: &Path) -> std::time::SystemTime {
    std::fs::metadata(path).unwrap().modified().unwrap()
}

#[test]
fn an_interrupted_campaign_resumes_without_redoing_a_finished_step() {
    let sandbox = with_plan(CAMPAIGN);

    // Interrupted (Ctrl-C) during step 2, once step 1 is in the ledger.
    let child = sandbox
        .command(&["campaign", "run", "plan.toml"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while ledger(&sandbox).is_none_or(|l| l["steps"].as_array().unwrap().is_empty()) {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "step 1 never finished"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // Past the pause, into step 2's 8 s.
    std::thread::sleep(Duration::from_secs(4));
    send_signal(child.id(), libc::SIGINT).unwrap();
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(130), "{stdout}");
    assert!(stdout.contains("paused 1.0s"), "{stdout}");
    assert!(
        stdout.contains("run the same command again to resume"),
        "{stdout}"
    );
    let first = ledger(&sandbox).unwrap();
    assert_eq!(
        verdicts(&first),
        [
            ("warm-up".to_string(), "passed".to_string()),
            ("nominal".to_string(), "interrupted".to_string())
        ]
    );
    let warm_up = sandbox.path("results/01-warm-up.json");
    let kept = modified(&warm_up);

    // Resumed: step 1 kept as it was, steps 2 and 3 run.
    let stdout = sandbox.ok(&["campaign", "run", "plan.toml"]);
    assert!(stdout.contains("warm-up: PASS earlier, kept"), "{stdout}");
    assert_eq!(modified(&warm_up), kept, "step 1 ran again");
    let ledger = ledger(&sandbox).unwrap();
    assert!(
        verdicts(&ledger).iter().all(|(_, v)| v == "passed") && verdicts(&ledger).len() == 3,
        "{ledger}"
    );

    // Each step ran with its own parameters and settings.
    let nominal = result(&sandbox, "02-nominal.json");
    assert_eq!(
        nominal["scenario"]["params"]["values"]["rate"], 1000.0,
        "{}",
        nominal["scenario"]["params"]
    );
    let doubled = result(&sandbox, "03-doubled-linger-5.json");
    assert_eq!(doubled["scenario"]["params"]["values"]["rate"], 2000.0);
    assert_eq!(doubled["producer_settings"]["linger.ms"], "5");
    assert!(doubled.get("incomplete").is_none());

    // Run again: nothing left to do.
    let stdout = sandbox.ok(&["campaign", "run", "plan.toml"]);
    assert_eq!(stdout.matches("earlier, kept").count(), 3, "{stdout}");

    // The results folder is the campaign's report, its steps in order, each once.
    for given in [
        &["results"][..],
        &["results/campaign.json", "results/01-warm-up.json"],
    ] {
        let mut args = vec!["report", "--markdown", "day.md"];
        args.extend(given);
        sandbox.ok(&args);
        let markdown = std::fs::read_to_string(sandbox.path("day.md")).unwrap();
        let steps = [
            "01-warm-up.json",
            "02-nominal.json",
            "03-doubled-linger-5.json",
        ];
        let at: Vec<usize> = steps
            .iter()
            .map(|file| {
                assert_eq!(
                    markdown.matches(&format!("results/{file}")).count(),
                    1,
                    "{file}: {markdown}"
                );
                markdown.find(&format!("results/{file}")).unwrap()
            })
            .collect();
        assert!(
            at.windows(2).all(|w| w[0] < w[1]),
            "steps out of order: {at:?}"
        );
    }
}

#[test]
fn a_failed_step_fails_the_campaign_and_stop_on_fail_stops_it() {
    let sandbox = with_plan(
        r#"
name = "strict"
results = "results"
stop_on_fail = true
set = { duration = "1s" }

[[step]]
name = "impossible"
scenario = "steady.toml"
thresholds = ["corrected.p99 < 1us"]

[[step]]
name = "never"
scenario = "steady.toml"
"#,
    );
    let output = sandbox.kscen(&["campaign", "run", "plan.toml"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(2), "{stdout}");
    assert!(stdout.contains("stop_on_fail"), "{stdout}");
    let ledger = ledger(&sandbox).unwrap();
    assert_eq!(
        verdicts(&ledger),
        [("impossible".to_string(), "thresholds_failed".to_string())]
    );
    assert!(
        stdout
            .lines()
            .any(|l| l.contains("never") && l.contains("not run")),
        "{stdout}"
    );

    // A mistake anywhere in the plan is refused before step 1 runs.
    std::fs::write(
        sandbox.path("typo.toml"),
        "name = \"t\"\n[[step]]\nname = \"a\"\nscenario = \"steady.toml\"\n[[step]]\nname = \"b\"\nscenario = \"stedy.toml\"\n",
    )
    .unwrap();
    let refused = sandbox.refused(&["campaign", "run", "typo.toml"]);
    assert!(
        refused.contains("step 2 (b)") && refused.contains("stedy.toml"),
        "{refused}"
    );
    assert!(!sandbox.path("typo-results").exists());

    // The bundled seeds' plan, found by name: every step's scenario resolves, and without a
    // profile its waits for the mirror are refused before anything runs. The bundle holds the
    // campaigns and scenarios only, so `kscen list` has no plugin to describe.
    let share = sandbox.path("share");
    for folder in ["campaigns", "scenarios"] {
        std::fs::create_dir_all(share.join(folder)).unwrap();
        for file in std::fs::read_dir(support::workspace_root().join(folder)).unwrap() {
            let file = file.unwrap().path();
            std::fs::copy(&file, share.join(folder).join(file.file_name().unwrap())).unwrap();
        }
    }
    let bundled = |args: &[&str]| {
        sandbox
            .command(args)
            .env("KSCEN_SHARE_DIR", &share)
            .env("KSCEN_PLUGIN_PATH", sandbox.path("no-plugins"))
            .output()
            .unwrap()
    };
    let output = bundled(&["campaign", "run", "seeds-plan"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("step 1 (PERF-01 nominal) waits for the mirror"),
        "{stderr}"
    );
    let listed = bundled(&["list"]);
    let listed = String::from_utf8_lossy(&listed.stdout);
    assert!(
        listed
            .lines()
            .any(|l| l.contains("seeds-plan") && l.contains("15 steps")),
        "{listed}"
    );
}

#[test]
fn a_matrix_runs_every_cell_with_its_settings_in_force() {
    let sandbox = with_plan(
        r#"
name = "matrix"
results = "results"
set = { duration = "1s" }

[[step]]
name = "linger"
scenario = "steady.toml"
repeat = 2
matrix = { "producer.linger.ms" = [0, 20], "set.rate" = [400] }
"#,
    );
    let stdout = sandbox.ok(&["campaign", "run", "plan.toml"]);
    assert!(stdout.contains("4 step(s)"), "{stdout}");
    let ledger = ledger(&sandbox).unwrap();
    let steps = ledger["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 4, "{ledger}");
    for (step, (linger, repetition)) in steps.iter().zip([("0", 1), ("0", 2), ("20", 1), ("20", 2)])
    {
        assert_eq!(
            step["name"],
            format!("linger [producer.linger.ms={linger}, set.rate=400] #{repetition}")
        );
        assert_eq!(step["settings"]["producer.linger.ms"], linger);
        let result = result(&sandbox, step["result"].as_str().unwrap());
        assert_eq!(result["producer_settings"]["linger.ms"], linger);
        assert_eq!(result["scenario"]["params"]["values"]["rate"], 400.0);
        // What the run ran on, for comparing cells across machines.
        assert!(result["environment"]["host"]["cores"].as_u64().unwrap() >= 1);
        assert!(result["environment"]["host"]["os"].is_string());
        assert_eq!(step["cell"]["step"], "linger");
        assert_eq!(step["cell"]["repetition"], repetition);
    }

    // The cells side by side: at the end of the run, and as a section of the report.
    assert!(
        stdout.contains("Matrix \"linger\": 2 cells, 4 runs\n  producer.linger.ms=0, set.rate=400"),
        "{stdout}"
    );
    // Which verdict depends on the machine's noise (linger trades p50 for p99); that one is given
    // is what a user relies on.
    assert!(
        [
            "→ recommended: ",
            "→ keep the baseline",
            "→ undecided against "
        ]
        .iter()
        .any(|verdict| stdout.contains(verdict)),
        "{stdout}"
    );
    sandbox.ok(&["report", "results", "--markdown", "report.md"]);
    let report = std::fs::read_to_string(sandbox.path("report.md")).unwrap();
    let section = &report[report
        .find("## 6. Campaign matrix")
        .expect("the campaign's section")..];
    assert!(
        section.contains("- `producer.linger.ms`: `0` in step(s) 1–2; `20` in step(s) 3–4"),
        "the configuration changes made: {section}"
    );
    assert!(
        section.contains("#### 6.3.1 linger (2 cells, 4 runs)"),
        "{section}"
    );
    for cell in ["producer.linger.ms=0", "producer.linger.ms=20"] {
        assert!(
            section.contains(&format!("| `{cell}, set.rate=400` | 2 | 2 PASS |")),
            "{section}"
        );
    }
    assert!(
        section.contains("**Recommended: `producer.linger.ms=20, set.rate=400`** over")
            || section.contains("**Keep the baseline** `producer.linger.ms=0, set.rate=400`: ")
            || section.contains("**Undecided** against `producer.linger.ms=0, set.rate=400`: "),
        "{section}"
    );
    assert!(section.contains("### 6.4 To validate"), "{section}");

    // The HTML report has the same section, as HTML.
    sandbox.ok(&["report", "results", "--html", "report.html"]);
    let html = std::fs::read_to_string(sandbox.path("report.html")).unwrap();
    let section = &html[html
        .find("<h2>6. Campaign matrix</h2>")
        .unwrap_or_else(|| panic!("the campaign's section: {html}"))..];
    assert!(
        section.contains("<h4>6.3.1 linger (2 cells, 4 runs)</h4>")
            && section.contains("<td><code>producer.linger.ms=20, set.rate=400</code></td>")
            && section.contains("<h3>6.4 To validate</h3>"),
        "{section}"
    );
}

#[test]
fn plain_steps_of_one_scenario_are_compared_before_and_after() {
    // The seeds' way: run the test, change one setting, run it again; one step does another load.
    let sandbox = with_plan(
        r#"
name = "before after"
results = "results"

[[step]]
name = "PERF-01"
scenario = "steady.toml"

[[step]]
name = "PERF-01, linger 20"
scenario = "steady.toml"
producer = { "linger.ms" = 20 }

[[step]]
name = "other load"
scenario = "steady.toml"
set = { rate = 300 }
"#,
    );
    sandbox.ok(&["campaign", "run", "plan.toml"]);
    sandbox.ok(&["report", "results", "--markdown", "report.md"]);
    let report = std::fs::read_to_string(sandbox.path("report.md")).unwrap();
    let section = &report[report.find("Settings compared").expect("compared")..];
    assert!(
        section.contains("step by step (3 cells, 3 runs)")
            && section.contains("| `as written` | 1 | 1 PASS |")
            && section.contains("| `producer.linger.ms=20` | 1 | 1 PASS |")
            && section.contains("| `set.rate=300` | 1 | 1 PASS | ")
            && section.contains(" | baseline |"),
        "{section}"
    );
    assert!(
        section.contains("**Recommended: `producer.linger.ms=20`** over `as written`")
            || section.contains("**Keep the baseline** `as written`: ")
            || section.contains("**Undecided** against `as written`: "),
        "{section}"
    );
}

#[test]
fn a_declared_comparison_is_shown_metric_by_metric_with_its_noise_verdict() {
    let sandbox = with_plan(
        r#"
name = "declared"
results = "results"
set = { duration = "1s" }

[[step]]
name = "PERF-01"
scenario = "steady.toml"

[[step]]
name = "PERF-01 again"
scenario = "steady.toml"

[[step]]
name = "PERF-01, linger 20"
scenario = "steady.toml"
producer = { "linger.ms" = 20 }
repeat = 2

[[compare]]
name = "linger 20 vs as written"
baseline = ["PERF-01", "PERF-01 again"]
candidate = "PERF-01, linger 20"
"#,
    );
    let stdout = sandbox.ok(&["campaign", "run", "plan.toml"]);
    // Repetitions on both sides: every figure is judged against the runs' spread.
    let shown = &stdout[stdout
        .find("Comparison \"linger 20 vs as written\":")
        .unwrap_or_else(|| panic!("the comparison at the end: {stdout}"))..];
    assert!(
        shown.contains("baseline:  2 run(s) of") && shown.contains("candidate: 2 run(s) of"),
        "{shown}"
    );
    let p99 = shown
        .lines()
        .find(|line| line.contains("corrected.p99"))
        .unwrap_or_else(|| panic!("a p99 row: {shown}"));
    assert!(
        p99.contains(" %  beyond noise (runs 2 vs 2")
            || p99.contains(" %  within noise (runs 2 vs 2"),
        "{p99}"
    );
    assert!(
        shown.contains(" figure(s) better beyond noise, "),
        "{shown}"
    );

    sandbox.ok(&["report", "results", "--markdown", "report.md"]);
    let report = std::fs::read_to_string(sandbox.path("report.md")).unwrap();
    let section = &report[report
        .find("Comparisons declared")
        .unwrap_or_else(|| panic!("the declared comparisons: {report}"))..];
    assert!(
        section.contains("1 linger 20 vs as written\n")
            && section.contains(
                "Baseline: `PERF-01` (PASS), `PERF-01 again` (PASS). Candidate: \
                 `PERF-01, linger 20 #1` (PASS), `PERF-01, linger 20 #2` (PASS)."
            ),
        "{section}"
    );
    assert!(
        section.lines().any(|line| line.starts_with("- ")
            && line.contains("corrected.p99: ")
            && (line.contains("beyond noise (runs 2 vs 2")
                || line.contains("within noise (runs 2 vs 2"))),
        "{section}"
    );
    // The executive summary names its outcome.
    assert!(
        report.contains("  - linger 20 vs as written: ")
            && report.contains(" figure(s) better beyond noise, "),
        "{report}"
    );

    // A comparison that names no step of the plan, or a step on both sides, is refused before
    // anything runs.
    for (compare, says) in [
        (
            "baseline = \"PERF-01\"\ncandidate = \"PERF-02\"\n",
            "[[compare]] 1: candidate: no step is named \"PERF-02\"; the campaign's steps are \
             \"PERF-01\", \"PERF-01, linger 20\"",
        ),
        (
            "baseline = [\"PERF-01\", \"PERF-01, linger 20\"]\ncandidate = \"PERF-01, linger 20\"\n",
            "[[compare]] 1: step \"PERF-01, linger 20\" is on both sides",
        ),
    ] {
        std::fs::write(
            sandbox.path("bad.toml"),
            format!(
                "name = \"bad\"\n[[step]]\nname = \"PERF-01\"\nscenario = \"steady.toml\"\n\
                 [[step]]\nname = \"PERF-01, linger 20\"\nscenario = \"steady.toml\"\n\
                 [[compare]]\n{compare}"
            ),
        )
        .unwrap();
        let refused = sandbox.refused(&["campaign", "run", "bad.toml"]);
        assert!(refused.contains(says), "{refused}");
        assert!(!sandbox.path("bad-results").exists());
    }
}
