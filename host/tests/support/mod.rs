//! Shared by the integration tests: running the built `kscen` binary on scenario files written
//! for the test, against the bundled plugins.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The bundled plugins, built by `cargo xtask build-plugins` (the test command builds them).
pub fn plugin_dist() -> PathBuf {
    let dist = workspace_root().join("plugins").join("dist");
    assert!(
        dist.join("steady.wasm").is_file(),
        "plugins are not built: run `cargo xtask test` (or `cargo xtask build-plugins` before `cargo test`)"
    );
    dist
}

/// `kscen run`'s exit code when the plugin failed.
pub const PLUGIN_FAILED: i32 = 3;

pub struct Run {
    code: i32,
    stdout: String,
    stderr: String,
    pub result: Option<Value>,
}

impl Run {
    /// A finished `kscen run` and the JSON result it wrote at `json`, if it wrote one.
    pub fn collect(output: Output, json: &Path) -> Run {
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            result: read_result(json),
        }
    }

    /// A step of a campaign: the result it wrote at `json` and the exit code its ledger records
    /// (the campaign printed its output).
    pub fn campaign_step(json: &Path, code: i32) -> Run {
        Run {
            code,
            stdout: String::new(),
            stderr: format!("(step of a campaign, result {})", json.display()),
            result: read_result(json),
        }
    }

    pub fn code(&self) -> i32 {
        self.code
    }

    /// The plugin failed with `kind` after its `before` phase ran a load, and that load's figures
    /// survived in the result, every record accounted for.
    pub fn assert_partial_result_kept(&self, kind: &str) {
        assert_eq!(self.code(), PLUGIN_FAILED, "stderr:\n{}", self.stderr());
        let outcome = &self.result()["outcome"];
        assert_eq!(outcome["status"], "failed", "{outcome}");
        assert_eq!(outcome["failure"]["kind"], kind, "{outcome}");
        let before = self.phase("before");
        assert!(u64_of(&before["acked"]) >= 500, "{before}");
        assert_eq!(
            u64_of(&before["acked"]) + u64_of(&before["failed"]),
            u64_of(&before["sent"]),
            "every record accounted for"
        );
    }

    /// The plugin was stopped by its 1 s CPU budget (`cpu = "1s"`), its partial result kept, and
    /// the run took `took`, under `bound`: well under what an unbounded loop would take.
    pub fn assert_stopped_by_a_1s_cpu_budget(&self, took: std::time::Duration, bound_s: f64) {
        self.assert_partial_result_kept("cpu_budget");
        assert!(
            self.stderr().contains("CPU budget of 1s used up"),
            "{}",
            self.stderr()
        );
        assert!(took.as_secs_f64() < bound_s, "took {took:?}");
    }

    pub fn stdout(&self) -> String {
        self.stdout.clone()
    }

    pub fn stderr(&self) -> String {
        self.stderr.clone()
    }

    pub fn result(&self) -> &Value {
        self.result
            .as_ref()
            .unwrap_or_else(|| panic!("no JSON result written; stderr:\n{}", self.stderr()))
    }

    pub fn phases(&self) -> &Vec<Value> {
        self.result()["phases"].as_array().expect("phases")
    }

    pub fn phase(&self, name: &str) -> &Value {
        self.phases()
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("no phase {name:?} in {:?}", self.phase_names()))
    }

    /// The value of the figure the scenario reported as `name`.
    pub fn figure(&self, name: &str) -> f64 {
        let figures = &self.result()["figures"];
        f64_of(
            &figures
                .get(name)
                .unwrap_or_else(|| panic!("no figure {name} in {figures}"))["value"],
        )
    }

    /// The mirror the run measured, as its result records it: its label and the name of its
    /// source connector.
    pub fn mirror_measured(&self) -> (&str, &str) {
        let mirror = &self.result()["mirror"];
        let source = mirror["connectors"]
            .as_array()
            .unwrap_or_else(|| panic!("no mirror in the result: {mirror}"))
            .iter()
            .find(|c| c["role"] == "source")
            .unwrap_or_else(|| panic!("no source connector: {mirror}"));
        (
            mirror["label"].as_str().expect("a label"),
            source["name"].as_str().expect("a name"),
        )
    }

    /// The verdict of the threshold written as `threshold` in the scenario file.
    pub fn threshold_verdict(&self, threshold: &str) -> &str {
        let thresholds = &self.result()["thresholds"];
        thresholds
            .as_array()
            .expect("thresholds")
            .iter()
            .find(|t| t["threshold"] == threshold)
            .unwrap_or_else(|| panic!("no threshold {threshold:?} in {thresholds}"))["verdict"]
            .as_str()
            .expect("a verdict")
    }

    pub fn phase_names(&self) -> Vec<String> {
        self.phases()
            .iter()
            .map(|p| p["name"].as_str().unwrap().to_string())
            .collect()
    }
}

fn read_result(json: &Path) -> Option<Value> {
    let text = std::fs::read_to_string(json).ok()?;
    Some(serde_json::from_str(&text).expect("valid JSON result"))
}

/// Writes `scenario` (TOML text) to a temporary file and runs `kscen run` on it with `args`.
pub fn run_scenario(scenario: &str, args: &[&str]) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("scenario.toml");
    std::fs::write(&file, scenario).unwrap();
    kscen_run(&file, &[], args)
}

/// Runs a bundled scenario file (`scenarios/`) on the lab of `profile` with `args` (overrides,
/// grants), and prints what it printed.
pub fn run_bundled(profile: &Path, scenario: &str, args: &[&str]) -> Run {
    let file = workspace_root().join("scenarios").join(scenario);
    let run = kscen_run(&file, &["--profile".as_ref(), profile.as_os_str()], args);
    eprintln!(
        "{scenario}: exit {}\n{}\n{}",
        run.code(),
        run.stdout(),
        run.stderr()
    );
    run
}

/// `kscen run FILE` with the bundled plugins, its JSON result collected.
fn kscen_run(file: &Path, options: &[&std::ffi::OsStr], args: &[&str]) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("result.json");
    let output = Command::new(env!("CARGO_BIN_EXE_kscen"))
        .arg("run")
        .arg(file)
        .args(options)
        .arg("--json")
        .arg(&json)
        .args(args)
        .env("KSCEN_PLUGIN_PATH", plugin_dist())
        .output()
        .expect("kscen runs");
    Run::collect(output, &json)
}

/// The profile of a lab `cargo xtask test` started for these tests, from `variable`; `None`
/// (the tests say they are skipped) when it is unset, a failure when it is unset on CI.
pub fn lab_profile_from(variable: &str, lab: &str) -> Option<PathBuf> {
    match std::env::var_os(variable) {
        Some(path) => Some(PathBuf::from(path)),
        None if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("CI=true but {variable} is unset: `cargo xtask test` starts the {lab} for these tests")
        }
        None => {
            eprintln!("skipped: no {lab} ({variable} unset)");
            None
        }
    }
}

/// A timeline gauge's values, in time order, from the seconds that have it.
pub fn gauge_series(run: &Run, gauge: &str) -> Vec<f64> {
    run.result()["timeline"]
        .as_array()
        .expect("a timeline")
        .iter()
        .filter_map(|point| point["gauges"][gauge].as_f64())
        .collect()
}

/// The gauge fell below `normal` at some second and was back at it at a later one.
pub fn assert_gauge_dips_and_recovers(run: &Run, gauge: &str, normal: f64) {
    let series = gauge_series(run, gauge);
    let dip = series.iter().position(|&v| v < normal);
    assert!(
        dip.is_some_and(|at| series[at..].contains(&normal)),
        "{gauge} should fall below {normal} and come back to it: {series:?}"
    );
}

pub fn f64_of(value: &Value) -> f64 {
    value
        .as_f64()
        .unwrap_or_else(|| panic!("not a number: {value}"))
}

pub fn u64_of(value: &Value) -> u64 {
    value
        .as_u64()
        .unwrap_or_else(|| panic!("not an integer: {value}"))
}

/// A kscen of its own: HOME, pack store, trust store and compile cache all in a temporary folder,
/// the bundled plugins on the plugin path.
pub struct Sandbox {
    pub dir: tempfile::TempDir,
}

impl Sandbox {
    pub fn new() -> Sandbox {
        Sandbox {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    /// kscen to run in the sandbox folder, with the sandbox's packs, trust and cache.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_kscen"));
        command
            .args(args)
            .current_dir(self.dir.path())
            .env("HOME", self.dir.path())
            .env("KSCEN_PACKS_DIR", self.path("packs"))
            .env("KSCEN_TRUST_DIR", self.path("trust"))
            .env("KSCEN_CACHE_DIR", self.path("cache"))
            .env("KSCEN_PLUGIN_PATH", plugin_dist());
        command
    }

    /// `kscen pack build` of `scenario` (a file in the sandbox) as `acme.kpack`, pack acme 1.0.0,
    /// signed with `keys/<key>.key` when given.
    pub fn build_pack(&self, scenario: &str, key: Option<&str>) -> PathBuf {
        let key_file = key.map(|k| format!("keys/{k}.key"));
        let mut args = vec![
            "pack",
            "build",
            "--name",
            "acme",
            "--version",
            "1.0.0",
            scenario,
            "--out",
            "acme.kpack",
        ];
        if let Some(key_file) = &key_file {
            args.extend(["--key", key_file.as_str()]);
        }
        self.ok(&args);
        self.path("acme.kpack")
    }

    /// Runs kscen in the sandbox folder.
    pub fn kscen(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("kscen runs")
    }

    /// Runs kscen and asserts success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let output = self.kscen(args);
        assert!(
            output.status.success(),
            "kscen {args:?} failed:\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Runs kscen and asserts it fails with exit code 1; returns stderr.
    pub fn refused(&self, args: &[&str]) -> String {
        let output = self.kscen(args);
        assert_eq!(
            output.status.code(),
            Some(1),
            "kscen {args:?} should have been refused:\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stderr).into_owned()
    }
}
