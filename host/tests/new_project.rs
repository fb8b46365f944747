//! A plugin author's first steps, outside this repository: `kscen new hello`, then
//! `cargo build --release --target wasm32-wasip2` and `kscen run scenario.toml` as the template's
//! README says, against kscen-sdk as `cargo package` makes it (the crate a user gets: its WIT must
//! be inside it).

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::{u64_of, workspace_root, Run};

fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// `cargo package -p kscen-sdk`, unpacked into `dir`; returns the crate's folder.
fn packaged_sdk(dir: &Path) -> PathBuf {
    let target = dir.join("package-target");
    let status = cargo()
        .args([
            "package",
            "-p",
            "kscen-sdk",
            "--no-verify",
            "--allow-dirty",
            "--quiet",
        ])
        .arg("--target-dir")
        .arg(&target)
        .current_dir(workspace_root())
        .status()
        .expect("cargo runs");
    assert!(status.success(), "cargo package -p kscen-sdk failed");
    let crate_file = std::fs::read_dir(target.join("package"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "crate"))
        .expect("a .crate file");
    let unpacked = dir.join("unpacked");
    let file = std::fs::File::open(&crate_file).unwrap();
    tar::Archive::new(flate2::read::GzDecoder::new(file))
        .unpack(&unpacked)
        .unwrap();
    let sdk = std::fs::read_dir(&unpacked)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .next()
        .expect("the crate's folder");
    // The WIT the SDK generates its bindings from travels inside the crate, not beside it.
    assert!(
        [
            "scenario.wit",
            "deps/scenario@0.4.0/scenario.wit",
            "deps/scenario@0.3.0/scenario.wit",
            "deps/scenario@0.2.0/scenario.wit",
            "deps/scenario@0.1.0/scenario.wit"
        ]
        .iter()
        .all(|file| sdk.join("wit/scenario@0.5.0").join(file).is_file()),
        "the packaged kscen-sdk lacks its WIT"
    );
    sdk
}

fn kscen(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_kscen"))
        .args(args)
        .current_dir(dir)
        .env_remove("KSCEN_PLUGIN_PATH")
        .output()
        .expect("kscen runs")
}

#[test]
fn kscen_new_builds_against_the_packaged_sdk_and_runs_outside_the_repository() {
    let dir = tempfile::tempdir().unwrap();
    assert!(!dir.path().starts_with(workspace_root()));
    let sdk = packaged_sdk(dir.path());

    let made = kscen(
        dir.path(),
        &["new", "hello", "--sdk-path", sdk.to_str().unwrap()],
    );
    assert!(
        made.status.success(),
        "kscen new failed: {}",
        String::from_utf8_lossy(&made.stderr)
    );
    let project = dir.path().join("hello");

    // The template's own command, with no CARGO_TARGET_DIR so the component lands where
    // scenario.toml expects it. Its `target/` is a link into the shared cache when there is one,
    // so the SDK's dependencies are not rebuilt on every run.
    if let Some(cache) = std::env::var_os("CARGO_TARGET_DIR") {
        let kept = Path::new(&cache).join("new-project-test");
        std::fs::create_dir_all(&kept).unwrap();
        std::os::unix::fs::symlink(&kept, project.join("target")).unwrap();
    }
    let built = cargo()
        .args(["build", "--release", "--target", "wasm32-wasip2"])
        .current_dir(&project)
        .env_remove("CARGO_TARGET_DIR")
        .status()
        .expect("cargo runs");
    assert!(built.success(), "the new project did not build");

    let json = dir.path().join("hello.json");
    let output = kscen(
        &project,
        &[
            "run",
            "scenario.toml",
            "--set",
            "duration=\"2s\"",
            "--json",
            json.to_str().unwrap(),
        ],
    );
    let run = Run::collect(output, &json);
    assert_eq!(
        run.code(),
        0,
        "stdout:\n{}\nstderr:\n{}",
        run.stdout(),
        run.stderr()
    );
    assert_eq!(run.phase_names(), ["steady", "probes"]);
    assert_eq!(
        u64_of(&run.result()["custom_histograms"]["produce_us"]["count"]),
        20
    );
    // The template's threshold on its own histogram was evaluated, not "not measured".
    assert!(
        run.stdout().contains("✓ hist(produce_us).p99 < 1s"),
        "{}",
        run.stdout()
    );
    // A run that succeeded logs no error (librdkafka's clients are closed before the embedded
    // cluster).
    assert!(
        !run.stderr().contains("ERROR") && !run.stderr().contains("AllBrokersDown"),
        "error lines after a successful run:\n{}",
        run.stderr()
    );

    // `describe` takes a path relative to the current folder.
    let described = kscen(
        &project,
        &["describe", "./target/wasm32-wasip2/release/hello.wasm"],
    );
    assert!(
        described.status.success(),
        "{}",
        String::from_utf8_lossy(&described.stderr)
    );
    assert!(String::from_utf8_lossy(&described.stdout).starts_with("hello — "));
}

/// `kscen new NAME --lang LANG` against this checkout's SDK, its `build.sh` as the README says,
/// then `kscen run scenario.toml`: the scenario passes its thresholds on the embedded cluster.
fn a_new_guest_project_builds_and_runs(lang: &str) {
    // The tools `cargo xtask build-plugins` installed: componentize-py in the target folder's
    // venv; the JavaScript SDK's node_modules are in sdk/js already.
    let venv_bin = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("the target folder")
        .join("guest-tools/python-venv/bin");
    if lang == "python" && !venv_bin.is_dir() {
        assert!(
            std::env::var("CI").map_or(true, |v| v != "true"),
            "CI=true but {} is missing: `cargo xtask build-plugins` installs it",
            venv_bin.display()
        );
        eprintln!("skipped: run `cargo xtask build-plugins` first");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let sdk = workspace_root().join("sdk");
    let name = format!("{lang}-probe");
    let created = kscen(
        dir.path(),
        &[
            "new",
            &name,
            "--lang",
            lang,
            "--sdk-path",
            sdk.to_str().unwrap(),
        ],
    );
    assert!(created.status.success(), "{created:?}");
    let project = dir.path().join(&name);
    let path = std::env::join_paths(
        std::iter::once(venv_bin).chain(std::env::split_paths(&std::env::var_os("PATH").unwrap())),
    )
    .unwrap();
    let built = Command::new(project.join("build.sh"))
        .env("PATH", path)
        .output()
        .expect("build.sh runs");
    assert!(built.status.success(), "{built:?}");
    let json = project.join("result.json");
    let run = Run::collect(
        kscen(
            &project,
            &[
                "run",
                "scenario.toml",
                "--set",
                "duration=1s",
                "--json",
                "result.json",
            ],
        ),
        &json,
    );
    assert_eq!(run.code(), 0, "{}", run.stderr());
    assert!(
        u64_of(&run.result()["totals"]["acked"]) >= 900,
        "{}",
        run.stdout()
    );
}

#[test]
fn kscen_new_writes_a_python_scenario_that_builds_and_runs() {
    a_new_guest_project_builds_and_runs("python");
}

#[test]
fn kscen_new_writes_a_javascript_scenario_that_builds_and_runs() {
    a_new_guest_project_builds_and_runs("js");
}
