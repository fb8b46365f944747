//! Scenarios written in Python and JavaScript (`plugins/<name>-py/scenario.py` and
//! `plugins/<name>-js/scenario.js`, built by `cargo xtask build-plugins` with `sdk/python` and
//! `sdk/js`): each declares and runs what its Rust twin does, the same guard rails stop it, its
//! errors become the run's, and 5.3 measures on the lab what the Rust plugin measures, side by side.

mod support;

use std::process::Command;
use std::time::Instant;

use support::{f64_of, plugin_dist, run_scenario, u64_of, Run};

/// A guest language, by the suffix of its plugins' names.
#[derive(Clone, Copy)]
struct Language(&'static str);

const PYTHON: Language = Language("py");
const JAVASCRIPT: Language = Language("js");

impl Language {
    /// `<base>-<suffix>`, checked to be built.
    fn plugin(self, base: &str) -> String {
        let name = format!("{base}-{}", self.0);
        let wasm = plugin_dist().join(format!("{name}.wasm"));
        assert!(
            wasm.is_file(),
            "{} is not built: run `cargo xtask build-plugins`",
            wasm.display()
        );
        name
    }
}

/// `plugin` with short PERF-03 params on the embedded mock cluster.
fn burst(plugin: &str) -> Run {
    let run = run_scenario(
        &format!(
            "plugin = \"{plugin}\"\n[params]\nnominal_rate = 200\nburst_rate = 800\n\
             burst_duration = \"1s\"\npause_duration = \"1s\"\ncycles = 2\nrecord_size = 100\n"
        ),
        &[],
    );
    assert_eq!(run.code(), 0, "{plugin}: {}", run.stderr());
    run
}

/// The parameter and capability sections of `kscen describe plugin`.
fn declared(plugin: &str) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_kscen"))
        .args(["describe", plugin])
        .env("KSCEN_PLUGIN_PATH", plugin_dist())
        .output()
        .expect("kscen runs");
    assert!(
        output.status.success(),
        "kscen describe {plugin}: {output:?}"
    );
    let text = String::from_utf8(output.stdout).unwrap();
    let start = text.find("Parameters:").expect("a Parameters section");
    let end = text.find("\nFile: ").expect("a File line");
    text[start..end].to_string()
}

fn mirror_events(run: &Run) -> Vec<String> {
    let events = run.result()["events"].as_array().unwrap();
    events
        .iter()
        .filter(|e| e["kind"] == "mirror")
        .map(|e| e["message"].as_str().unwrap().to_string())
        .collect()
}

fn burst_declares_and_runs_like_the_rust_burst(language: Language) {
    let plugin = language.plugin("burst");
    assert_eq!(declared(&plugin), declared("burst"));
    let guest = burst(&plugin);
    let rust = burst("burst");
    assert_eq!(
        guest.phase_names(),
        ["burst-1", "pause-1", "burst-2", "pause-2"]
    );
    assert_eq!(guest.phase_names(), rust.phase_names());
    for (guest_phase, rust_phase) in guest.phases().iter().zip(rust.phases()) {
        let target = f64_of(&rust_phase["target_rate"]);
        assert_eq!(f64_of(&guest_phase["target_rate"]), target, "{guest_phase}");
        for phase in [guest_phase, rust_phase] {
            let achieved = f64_of(&phase["achieved_rate"]);
            assert!(
                (achieved - target).abs() <= target * 0.05,
                "phase {} achieved {achieved} for a target of {target}",
                phase["name"]
            );
            assert_eq!(u64_of(&phase["failed"]), 0, "{phase}");
        }
    }
    assert_eq!(guest.result()["figures"], rust.result()["figures"]);
    // On the embedded cluster both run producer-only, and say so alike.
    assert_eq!(mirror_events(&guest), mirror_events(&rust));
    assert!(mirror_events(&guest)[0]
        .starts_with("producer-only: this environment has no cluster `target`"));
}

fn misbehave(language: Language, mode: &str, limits: &str) -> Run {
    run_scenario(
        &format!(
            "plugin = \"{}\"\n[params]\nmode = \"{mode}\"\nafter = \"800ms\"\n[limits]\n{limits}\n",
            language.plugin("misbehave")
        ),
        &[],
    )
}

fn an_infinite_loop_is_stopped_within_its_cpu_budget(language: Language) {
    let started = Instant::now();
    let run = misbehave(language, "spin", "cpu = \"1s\"");
    // 0.8 s of load, 1 s of spinning, flush, and, the first time, compiling a component that
    // carries its interpreter.
    run.assert_stopped_by_a_1s_cpu_budget(started.elapsed(), 30.0);
}

fn a_memory_hog_hits_its_cap(language: Language) {
    // Above what the interpreters need to start, far below what the hoard asks for.
    let run = misbehave(language, "hoard", "memory = \"48MiB\"");
    run.assert_partial_result_kept("memory_limit");
    assert!(
        run.stderr().contains("memory limit of 50331648 bytes"),
        "{}",
        run.stderr()
    );
}

fn errors_fail_the_run_with_their_message(language: Language) {
    let own = run_scenario(
        &format!(
            "plugin = \"{}\"\n[params]\ncycles = 0\n",
            language.plugin("burst")
        ),
        &[],
    );
    assert_eq!(own.code(), support::PLUGIN_FAILED, "{}", own.stderr());
    let failure = &own.result()["outcome"]["failure"];
    assert_eq!(failure["kind"], "returned", "{failure}");
    assert_eq!(failure["message"], "cycles must be at least 1", "{failure}");

    let refused = misbehave(language, "denied", "");
    refused.assert_partial_result_kept("returned");
    let message = refused.result()["outcome"]["failure"]["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        message.starts_with("denied: cluster \"target\""),
        "{message}"
    );
}

/// 5.3 for the source connector, with the criteria of
/// scenarios/resilience-5-3-connector-restart.toml, by `plugin` on the lab: it passes, and its
/// load crossed the mirror with nothing lost.
fn connector_restart_on_the_lab(profile: &std::path::Path, plugin: &str) -> Run {
    let run = run_scenario(
        &format!(
            "plugin = \"{plugin}\"\nthresholds = [\"source_restart_with_tasks_ms < 30s\", \
             \"source_resume_ms < 30s\", \"source_catch_up_ms < 5m\", \"replication.lost == 0\"]\n\
             [params]\nroles = \"source\"\nrate = 300\npause = \"5s\"\nsettle = \"3s\"\n\
             timeout = \"1m\"\n"
        ),
        &["--profile", profile.to_str().expect("a UTF-8 profile path")],
    );
    assert_eq!(
        run.code(),
        0,
        "{plugin}: thresholds: {}\n{}",
        run.result()["thresholds"],
        run.stderr()
    );
    let verdicts = run.result()["replication"].as_array().expect("replication");
    assert!(
        !verdicts.is_empty(),
        "{plugin}: the load was followed across the mirror"
    );
    for verdict in verdicts {
        assert_eq!(u64_of(&verdict["lost"]), 0, "{plugin}: {verdict}");
        assert!(u64_of(&verdict["replicated"]) > 0, "{plugin}: {verdict}");
    }
    run
}

/// One run each on a shared Connect cluster: a restart's timing moves by hundreds of ms from run
/// to run whoever asks for it (523 against 1116 ms on a loaded CI machine), so figures agree when
/// within a factor of 3 or 2 s of each other; a broken measurement would show as zero or as a
/// timeout's worth.
fn within_noise(guest: f64, rust: f64) -> bool {
    guest > 0.0 && ((guest - rust).abs() < 2000.0 || guest.max(rust) <= 3.0 * guest.min(rust))
}

#[test]
fn connector_restart_in_python_and_javascript_measures_what_its_rust_twin_does_on_the_lab() {
    let Some(profile) = support::lab_profile_from("KSCEN_LAB_PROFILE", "lab") else {
        return;
    };
    let rust = connector_restart_on_the_lab(&profile, "connector-restart");
    let phases = [
        "before",
        "source restart",
        "source restart_with_tasks",
        "source pause",
        "source resume",
    ];
    assert_eq!(rust.phase_names(), phases);
    assert!(rust.figure("source_resume_lag_peak_records") > 0.0);
    // A connector-only restart may leave every task as it was, with nothing to detect: its time
    // is reported only when seen, in any language.
    let seen_only_sometimes = ["source_restart_ms", "source_restart_detected_ms"];
    let names = |run: &Run| {
        let figures = run.result()["figures"].as_object().expect("figures");
        figures
            .keys()
            .filter(|name| !seen_only_sometimes.contains(&name.as_str()))
            .cloned()
            .collect::<Vec<_>>()
    };
    for language in [PYTHON, JAVASCRIPT] {
        let plugin = language.plugin("connector-restart");
        let guest = connector_restart_on_the_lab(&profile, &plugin);
        assert_eq!(guest.phase_names(), phases, "{plugin}");
        assert_eq!(names(&guest), names(&rust), "{plugin}");
        for figure in [
            "source_restart_with_tasks_ms",
            "source_resume_ms",
            "source_catch_up_ms",
        ] {
            let (guest, rust) = (guest.figure(figure), rust.figure(figure));
            println!("{figure:<32} connector-restart {rust:>8.0}   {plugin} {guest:>8.0}");
            assert!(
                within_noise(guest, rust),
                "{plugin}: {figure} {guest} against the Rust twin's {rust}"
            );
        }
        // How much lag the pause builds depends on when Connect applies it, not on the language.
        assert!(
            guest.figure("source_resume_lag_peak_records") > 0.0,
            "{plugin}: a 5 s pause builds a lag"
        );
        assert_eq!(guest.figure("source_restart_with_tasks_failed_tasks"), 0.0);
        let achieved = |run: &Run| f64_of(&run.phase("before")["achieved_rate"]);
        assert!(
            (achieved(&guest) - achieved(&rust)).abs() <= achieved(&rust) * 0.05,
            "{plugin}: {} records/s before the restart against the Rust twin's {}",
            achieved(&guest),
            achieved(&rust)
        );
    }
}

#[test]
fn burst_in_python_declares_and_runs_like_the_rust_burst() {
    burst_declares_and_runs_like_the_rust_burst(PYTHON);
}

#[test]
fn burst_in_javascript_declares_and_runs_like_the_rust_burst() {
    burst_declares_and_runs_like_the_rust_burst(JAVASCRIPT);
}

#[test]
fn an_infinite_python_loop_is_stopped_within_its_cpu_budget() {
    an_infinite_loop_is_stopped_within_its_cpu_budget(PYTHON);
}

#[test]
fn an_infinite_javascript_loop_is_stopped_within_its_cpu_budget() {
    an_infinite_loop_is_stopped_within_its_cpu_budget(JAVASCRIPT);
}

#[test]
fn a_memory_hungry_python_scenario_hits_its_cap() {
    a_memory_hog_hits_its_cap(PYTHON);
}

#[test]
fn a_memory_hungry_javascript_scenario_hits_its_cap() {
    a_memory_hog_hits_its_cap(JAVASCRIPT);
}

#[test]
fn python_errors_fail_the_run_with_their_message() {
    errors_fail_the_run_with_their_message(PYTHON);
}

#[test]
fn javascript_errors_fail_the_run_with_their_message() {
    errors_fail_the_run_with_their_message(JAVASCRIPT);
}
