//! A misbehaving plugin never takes the host down: it is stopped, its load jobs are stopped and
//! flushed, and the partial result is written with what happened (fixture: plugins/misbehave).

mod support;

use std::time::Instant;

use kscen::faults::procfs::send_signal;
use support::{run_scenario, u64_of, PLUGIN_FAILED};

fn misbehave(mode: &str, limits: &str) -> support::Run {
    misbehave_with(mode, limits, "")
}

fn misbehave_with(mode: &str, limits: &str, params: &str) -> support::Run {
    run_scenario(
        &format!("plugin = \"misbehave\"\n[params]\nmode = \"{mode}\"\nafter = \"800ms\"\n{params}\n[limits]\n{limits}\n"),
        &[],
    )
}

#[test]
fn an_infinite_loop_is_interrupted_within_its_cpu_budget() {
    let started = Instant::now();
    let run = misbehave("spin", "cpu = \"1s\"");
    // 0.8 s of load, 1 s of spinning, flush.
    run.assert_stopped_by_a_1s_cpu_budget(started.elapsed(), 8.0);
}

#[test]
fn a_memory_hog_hits_its_cap() {
    let run = misbehave("hoard", "memory = \"32MiB\"");
    run.assert_partial_result_kept("memory_limit");
    assert!(
        run.stderr().contains("memory limit of 33554432 bytes"),
        "{}",
        run.stderr()
    );
}

#[test]
fn a_panicking_plugin_yields_a_clear_error() {
    let run = misbehave("panic", "");
    run.assert_partial_result_kept("trapped");
    assert!(
        run.stderr()
            .contains("misbehave fixture panicked on purpose"),
        "{}",
        run.stderr()
    );
}

#[test]
fn a_scenario_error_is_reported_as_such() {
    let run = misbehave("fail", "");
    run.assert_partial_result_kept("returned");
    assert!(
        run.stderr().contains("misbehave fixture failed on purpose"),
        "{}",
        run.stderr()
    );
}

#[test]
fn bad_input_is_an_error_before_anything_runs() {
    let unknown = run_scenario("plugin = \"steady\"\n[params]\nrat = 10\n", &[]);
    assert_eq!(unknown.code(), 1);
    assert!(
        unknown.stderr().contains("unknown parameter \"rat\""),
        "{}",
        unknown.stderr()
    );
    assert!(unknown.result.is_none());

    let missing = run_scenario("plugin = \"no-such-plugin\"\n", &[]);
    assert_eq!(missing.code(), 1);
    assert!(
        missing.stderr().contains("cargo xtask build-plugins"),
        "{}",
        missing.stderr()
    );

    let no_cluster = run_scenario(
        "plugin = \"steady\"\n",
        &["--profile", "/nonexistent/profile.toml"],
    );
    assert_eq!(no_cluster.code(), 1);
    assert!(
        no_cluster
            .stderr()
            .contains("cannot read profile /nonexistent/profile.toml"),
        "{}",
        no_cluster.stderr()
    );
}

#[test]
fn a_plugin_sees_no_environment_files_or_sockets() {
    // A port that accepts connections, so only the sandbox can stop the plugin reaching it.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let run = misbehave_with("escape", "", &format!("port = {port}"));
    assert_eq!(run.code(), 0, "stderr:\n{}", run.stderr());
    let events = run.result()["events"].as_array().unwrap();
    assert!(events.iter().any(|e| e["kind"] == "sandbox"), "{events:?}");
}

#[test]
fn sigint_stops_the_run_and_leaves_a_valid_partial_result() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("long.toml");
    std::fs::write(
        &scenario,
        "plugin = \"steady\"\n[params]\nrate = 500\nduration = \"1h\"\n",
    )
    .unwrap();
    let json = dir.path().join("partial.json");
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_kscen"))
        .arg("run")
        .arg(&scenario)
        .arg("--json")
        .arg(&json)
        .env("KSCEN_PLUGIN_PATH", support::plugin_dist())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_secs(3));
    send_signal(child.id(), libc::SIGINT).unwrap();
    let output = child.wait_with_output().unwrap();
    assert_eq!(
        output.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let result: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(result["outcome"]["failure"]["kind"], "interrupted");
    let nominal = &result["phases"][0];
    assert!(u64_of(&nominal["acked"]) > 500, "{nominal}");
    assert_eq!(
        nominal["sent"], nominal["acked"],
        "in-flight records were flushed"
    );
}

#[test]
fn a_host_call_longer_than_its_limit_stops_the_plugin() {
    let run = run_scenario(
        "plugin = \"steady\"\n[params]\nrate = 500\nduration = \"1h\"\n[limits]\nhost_call_timeout = \"2s\"\n",
        &[],
    );
    assert_eq!(run.code(), PLUGIN_FAILED, "{}", run.stderr());
    assert_eq!(
        run.result()["outcome"]["failure"]["kind"],
        "host_call_timeout"
    );
    assert!(
        run.stderr().contains("host_call_timeout of 2s"),
        "{}",
        run.stderr()
    );
    let nominal = run.phase("nominal");
    assert!(u64_of(&nominal["acked"]) >= 500, "{nominal}");
    assert_eq!(
        nominal["sent"], nominal["acked"],
        "the load job was stopped and flushed"
    );
}

#[test]
fn records_larger_than_the_limit_are_refused() {
    let run = run_scenario(
        "plugin = \"steady\"\n[params]\nrecord_size = \"2MiB\"\ncount = 10\n[limits]\nmax_record_size = \"1MiB\"\n",
        &[],
    );
    assert_eq!(run.code(), PLUGIN_FAILED, "{}", run.stderr());
    assert!(
        run.stderr()
            .contains("exceeds the scenario's [limits] max_record_size of 1048576 bytes"),
        "{}",
        run.stderr()
    );
}

#[test]
fn load_jobs_beyond_the_limit_are_refused() {
    // The ramp-up starts one job; with none allowed the first is refused.
    let run = run_scenario(
        "plugin = \"ramp-up\"\n[params]\nstep_duration = \"1s\"\n[limits]\nmax_load_jobs = 0\n",
        &[],
    );
    assert_eq!(run.code(), PLUGIN_FAILED, "{}", run.stderr());
    assert!(
        run.stderr()
            .contains("max_load_jobs of 0 load jobs is reached"),
        "{}",
        run.stderr()
    );
}

#[test]
fn a_consumer_beyond_the_limit_is_refused_after_the_allowed_ones_opened() {
    let run = misbehave("consumers", "max_consumers = 3");
    run.assert_partial_result_kept("returned");
    assert!(
        run.stderr()
            .contains("after 3 consumers: invalid: the scenario's [limits] max_consumers of 3 open consumers is reached"),
        "{}",
        run.stderr()
    );
}
