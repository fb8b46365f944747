//! Every bundled plugin runs in the host against the embedded mock cluster, with short
//! parameters, and its result holds the figures its scenario promises.

mod support;

use support::{f64_of, run_scenario, u64_of};

fn assert_rate_close(phase: &serde_json::Value, target: f64, tolerance: f64) {
    let achieved = f64_of(&phase["achieved_rate"]);
    assert!(
        (achieved - target).abs() <= target * tolerance,
        "phase {} achieved {achieved} for a target of {target}",
        phase["name"]
    );
    assert_eq!(
        f64_of(&phase["target_rate"]),
        target,
        "phase {}",
        phase["name"]
    );
}

#[test]
fn ramp_up_has_six_phases_each_at_its_rate() {
    let run = run_scenario(
        "plugin = \"ramp-up\"\n[params]\nnominal_rate = 500\nstep_duration = \"1s\"\nrecord_size = 200\n",
        &[],
    );
    assert_eq!(run.code(), 0, "{}", run.stderr());
    assert_eq!(
        run.phase_names(),
        [
            "step-1 1x",
            "step-2 1.5x",
            "step-3 2x",
            "step-4 2.5x",
            "step-5 3x",
            "step-6 max"
        ]
    );
    for (name, multiplier) in [("step-1 1x", 1.0), ("step-3 2x", 2.0), ("step-5 3x", 3.0)] {
        assert_rate_close(run.phase(name), 500.0 * multiplier, 0.05);
    }
    let max = run.phase("step-6 max");
    assert!(max["target_rate"].is_null());
    assert!(
        f64_of(&max["achieved_rate"]) > 1500.0,
        "unthrottled step only reached {}",
        max["achieved_rate"]
    );
    for phase in run.phases() {
        assert_eq!(u64_of(&phase["failed"]), 0);
        assert!(u64_of(&phase["corrected_us"]["count"]) > 0);
        assert!(u64_of(&phase["corrected_us"]["p99"]) >= u64_of(&phase["service_us"]["p50"]));
    }
    // kafka-producer-perf-test's final line closes stdout, for scripts that `tail -1`.
    let last = run.stdout().lines().last().unwrap_or_default().to_string();
    assert!(
        last.contains("records sent,") && last.ends_with("ms 99.9th."),
        "{last}"
    );
}

#[test]
fn ramp_up_stops_on_its_stop_condition() {
    let run = run_scenario(
        "plugin = \"ramp-up\"\n[params]\nnominal_rate = 500\nstep_duration = \"2s\"\nmax_p99_ms = 0\n",
        &[],
    );
    assert_eq!(run.code(), 0, "{}", run.stderr());
    assert_eq!(run.phase_names(), ["step-1 1x"]);
    let events = run.result()["events"].as_array().unwrap();
    assert!(
        events.iter().any(|e| e["kind"] == "stop-condition"),
        "{events:?}"
    );
    assert_eq!(run.figure("stopped_by"), 1.0, "the corrected p99");
}

/// The PERF scenarios follow their records across a mirror where there is one (tests in
/// perf_mirror_lab.rs); on the embedded cluster, which has no `target`, they say they do not.
fn assert_producer_only(run: &support::Run) {
    let events = run.result()["events"].as_array().unwrap();
    assert!(
        events.iter().any(|e| e["kind"] == "mirror"
            && e["message"]
                .as_str()
                .unwrap()
                .starts_with("producer-only: this environment has no cluster `target`")),
        "{events:?}"
    );
    assert!(
        run.stderr()
            .contains("uses cluster target, connect when the environment has it"),
        "{}",
        run.stderr()
    );
    assert!(run.phases().iter().all(|p| p["replicated_us"].is_null()));
}

#[test]
fn burst_alternates_burst_and_nominal_phases() {
    let run = run_scenario(
        "plugin = \"burst\"\n[params]\nnominal_rate = 200\nburst_rate = 800\nburst_duration = \"1s\"\npause_duration = \"1s\"\ncycles = 2\nrecord_size = 100\n",
        &[],
    );
    assert_eq!(run.code(), 0, "{}", run.stderr());
    assert_eq!(
        run.phase_names(),
        ["burst-1", "pause-1", "burst-2", "pause-2"]
    );
    assert_rate_close(run.phase("burst-2"), 800.0, 0.05);
    assert_rate_close(run.phase("pause-2"), 200.0, 0.05);
}

#[test]
fn size_sweep_keeps_the_byte_rate_constant() {
    let run = run_scenario(
        "plugin = \"size-sweep\"\n[params]\nsizes = [1024, 102400]\ntarget_mib_per_s = 1\nstep_duration = \"2s\"\npause = \"200ms\"\n",
        &[],
    );
    assert_eq!(run.code(), 0, "{}", run.stderr());
    assert_eq!(run.phase_names(), ["size-1024B", "size-102400B"]);
    assert_rate_close(run.phase("size-1024B"), 1024.0, 0.02);
    assert_rate_close(run.phase("size-102400B"), 10.0, 0.1);
    assert_producer_only(&run);
    for phase in run.phases() {
        let mb = f64_of(&phase["mb_per_s"]);
        assert!(
            (mb - 1.0).abs() < 0.1,
            "phase {} at {mb} MiB/s",
            phase["name"]
        );
    }
}

#[test]
fn steady_sends_exactly_the_requested_count() {
    let run = run_scenario(
        "plugin = \"steady\"\n[params]\nrate = 2000\ncount = 3000\nrecord_size = 512\nkeys = true\n",
        &["--producer-props", "acks=all", "linger.ms=1"],
    );
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let nominal = run.phase("nominal");
    assert_eq!(u64_of(&nominal["acked"]), 3000);
    assert_eq!(u64_of(&nominal["bytes"]), 3000 * 512);
    assert_rate_close(nominal, 2000.0, 0.01);
    assert_eq!(run.result()["totals"]["acked"], 3000);
    assert_producer_only(&run);
}

#[test]
fn time_scale_shrinks_a_one_hour_plan() {
    let run = run_scenario(
        "plugin = \"steady\"\n[params]\nrate = 100\nduration = \"1h\"\n",
        &["--set", "time_scale=0.0005"],
    );
    assert_eq!(run.code(), 0, "{}", run.stderr());
    // 1 h × 0.0005 = 1.8 s at 100/s.
    let acked = u64_of(&run.phase("nominal")["acked"]);
    assert!((179..=181).contains(&acked), "{acked} records");
    assert!(f64_of(&run.result()["duration_s"]) < 10.0);
}

#[test]
fn an_impossible_threshold_fails_the_run_and_says_by_how_much() {
    let scenario = "plugin = \"steady\"\nthresholds = [\"achieved_rate >= 0.99 * target_rate\"]\n[params]\nrate = 500\ncount = 500\n";
    let passing = run_scenario(scenario, &[]);
    assert_eq!(passing.code(), 0, "{}", passing.stderr());
    assert_eq!(passing.result()["thresholds"][0]["verdict"], "passed");

    let failing = run_scenario(
        scenario,
        &[
            "--threshold",
            "corrected.p99 < 1us",
            "--threshold",
            "no_such_figure < 1",
        ],
    );
    assert_eq!(failing.code(), 2, "{}", failing.stderr());
    let thresholds = failing.result()["thresholds"].as_array().unwrap();
    let impossible = thresholds
        .iter()
        .find(|t| t["threshold"] == "corrected.p99 < 1us")
        .unwrap();
    assert_eq!(impossible["verdict"], "failed");
    assert_eq!(impossible["phase"], "nominal");
    assert!(support::f64_of(&impossible["margin"]) > 0.0);
    let missing = thresholds
        .iter()
        .find(|t| t["threshold"] == "no_such_figure < 1")
        .unwrap();
    assert_eq!(missing["verdict"], "not_measured");
    assert!(
        failing
            .stdout()
            .contains("✗ corrected.p99 < 1us [nominal]:"),
        "{}",
        failing.stdout()
    );
    assert!(
        failing.stdout().contains("(off by "),
        "{}",
        failing.stdout()
    );
}

#[test]
fn abort_on_fail_stops_the_run_early_and_keeps_the_result() {
    let started = std::time::Instant::now();
    let run = run_scenario(
        "plugin = \"steady\"\nabort_on_fail = true\nthresholds = [\"corrected.p99 < 1us\"]\n[params]\nrate = 200\nduration = \"1h\"\n",
        &[],
    );
    assert_eq!(run.code(), 2, "{}", run.stderr());
    assert!(
        started.elapsed() < std::time::Duration::from_secs(30),
        "took {:?}",
        started.elapsed()
    );
    let outcome = &run.result()["outcome"];
    assert_eq!(outcome["status"], "aborted", "{outcome}");
    assert!(
        outcome["reason"]
            .as_str()
            .unwrap()
            .contains("corrected.p99 < 1us"),
        "{outcome}"
    );
    assert!(u64_of(&run.phase("nominal")["acked"]) > 0);
    assert_eq!(run.result()["thresholds"][0]["verdict"], "failed");
}
