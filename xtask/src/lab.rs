//! Integration-test harness around the local lab: brings the lab up once (dedicated state folder),
//! hands the profile path to the caller, and always tears the lab down afterwards — also when the
//! caller fails or panics (drop guard).
//!
//! Without Java 17+ (or without Maven and without cached jars) the tests are skipped with a reason,
//! unless `CI=true`, where a lab that cannot start fails the run.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

/// A lab the tests run against: its state folder under ~/.cache/kscen/lab, its ports shifted so
/// it runs beside a developer's own lab, and what `kscen lab up` is told beyond that.
pub struct TestLab {
    pub state_name: &'static str,
    pub port_offset: &'static str,
    pub up_args: &'static [&'static str],
}

/// The lab most integration tests use.
pub const PLAIN: TestLab = TestLab {
    state_name: "test-state",
    port_offset: "1000",
    up_args: &[],
};

/// The MirrorMaker 2 scenarios' labs: 3 KRaft nodes per cluster (RF 3, min ISR 2) and MM2
/// connectors deployed from a user's config file, whose names, aliases (`east` -> `west`) and
/// replication policy separator (`_`) appear nowhere in kscen; one lab per Kafka version, one after
/// the other on the same ports.
pub const MM2_KAFKA_3: TestLab = TestLab {
    state_name: "mm2-test-state-3",
    port_offset: "8000",
    up_args: &[
        "--brokers",
        "3",
        "--kafka-version",
        "3.7.2",
        "--mm2-config",
        MM2_FIXTURE,
        "--no-prometheus",
    ],
};

pub const MM2_KAFKA_4: TestLab = TestLab {
    state_name: "mm2-test-state-4",
    port_offset: "8000",
    up_args: &[
        "--brokers",
        "3",
        "--kafka-version",
        "4.3.1",
        "--mm2-config",
        MM2_FIXTURE,
        "--no-prometheus",
    ],
};

/// The rolling upgrade's lab (004 §11.1.3 upgrades 3.9.x to 4.3.x): shaped as the MM2 labs, on
/// the last 3.x line; the upgrade test moves its source cluster to 4.x, so nothing else runs on it.
pub const UPGRADE_FROM_KAFKA_3_9: TestLab = TestLab {
    state_name: "upgrade-test-state",
    port_offset: "8000",
    up_args: &[
        "--brokers",
        "3",
        "--kafka-version",
        "3.9.1",
        "--mm2-config",
        MM2_FIXTURE,
        "--no-prometheus",
    ],
};

/// Relative to the checkout, where `cargo xtask` runs.
const MM2_FIXTURE: &str = "host/tests/fixtures/mm2-dc-east-west.json";

/// The seeds' own deployment: seed 003's MM2 connectors (names and aliases as the seed writes
/// them) on workers with seed 001's rebalance timers. One broker per cluster: the test measures
/// the workers' rebalance, not the brokers.
pub const SEEDS: TestLab = TestLab {
    state_name: "seeds-test-state",
    port_offset: "1000",
    up_args: &[
        "--mm2-config",
        "seed-003",
        "--timers",
        "seeds",
        "--no-prometheus",
    ],
};

/// SASL_SSL + SCRAM towards Kafka, HTTPS + Basic auth towards Connect; no Prometheus (the
/// secure tests do not probe it).
pub const SECURE: TestLab = TestLab {
    state_name: "secure-test-state",
    port_offset: "4000",
    up_args: &["--secure", "--no-prometheus"],
};

/// Runs `f` with the lab's profile path, or with `None` when the lab is unavailable locally.
pub fn with_lab<T>(
    kscen_bin: &Path,
    lab: &TestLab,
    f: impl FnOnce(Option<&Path>) -> Result<T>,
) -> Result<T> {
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    if let Err(why) = prerequisites() {
        if ci {
            bail!("CI=true and the lab cannot run: {why:#}");
        }
        eprintln!("skipping lab integration tests: {why:#}");
        return f(None);
    }
    let state = test_state_dir(lab)?;
    // Armed before `up`, so a half-started lab is stopped too.
    let mut guard = LabGuard {
        bin: kscen_bin.to_path_buf(),
        state: state.clone(),
        purge: false,
    };
    // A previous run killed hard may have left processes or data behind: start clean.
    guard.down(&["--purge"]);
    eprintln!(
        "starting the lab for integration tests (state {})",
        state.display()
    );
    let up = Command::new(kscen_bin)
        .args(["lab", "up", "--port-offset", lab.port_offset])
        .args(lab.up_args)
        .arg("--state-dir")
        .arg(&state)
        .status()
        .with_context(|| format!("running `{} lab up`", kscen_bin.display()))?;
    if !up.success() {
        let why = format!(
            "`kscen lab up` failed ({up}); logs under {}",
            state.display()
        );
        if ci {
            bail!("CI=true: {why}");
        }
        eprintln!("skipping lab integration tests: {why}");
        drop(guard);
        return f(None);
    }
    let profile = state.join("profile.toml");
    let result = f(Some(&profile));
    // A passing suite's data is only disk use (a 3-broker MM2 lab leaves ~4 GB on a shared disk);
    // a failing one keeps its logs for the reader.
    if result.is_err() {
        eprintln!("lab logs kept under {}", state.display());
    }
    guard.purge = result.is_ok();
    drop(guard);
    result
}

struct LabGuard {
    bin: PathBuf,
    state: PathBuf,
    /// Set once the suite passed.
    purge: bool,
}

impl LabGuard {
    fn down(&self, extra: &[&str]) {
        lab_down(&self.bin, &self.state, extra);
    }
}

/// `kscen lab down` on `state`; a failure is a warning (it runs from guards, while unwinding too).
pub fn lab_down(kscen_bin: &Path, state: &Path, extra: &[&str]) {
    let res = Command::new(kscen_bin)
        .args(["lab", "down", "--state-dir"])
        .arg(state)
        .args(extra)
        .status();
    match res {
        Ok(s) if s.success() => {}
        Ok(s) => eprintln!(
            "warning: `kscen lab down` exited with {s}; check for java processes under {}",
            state.display()
        ),
        Err(e) => eprintln!("warning: could not run `kscen lab down`: {e}"),
    }
}

impl Drop for LabGuard {
    fn drop(&mut self) {
        self.down(if self.purge { &["--purge"] } else { &[] });
    }
}

/// `~/.cache/kscen/lab/<state name>`, apart from the developer's own lab.
fn test_state_dir(lab: &TestLab) -> Result<PathBuf> {
    let home = std::env::var_os("HOME").context("HOME is not set")?;
    Ok(PathBuf::from(home)
        .join(".cache/kscen/lab")
        .join(lab.state_name))
}

/// Java 17+ present; Maven present unless jars are already cached.
fn prerequisites() -> Result<()> {
    let out = Command::new("java").arg("-version").output().context(
        "Java not found (the lab needs Java 17+, e.g. `apt-get install openjdk-17-jre-headless`)",
    )?;
    let text = String::from_utf8_lossy(&out.stderr);
    let major = text
        .split('"')
        .nth(1)
        .and_then(|v| {
            let mut it = v.split(['.', '-', '+', '_']);
            let first: u32 = it.next()?.parse().ok()?;
            if first == 1 {
                it.next()?.parse().ok()
            } else {
                Some(first)
            }
        })
        .with_context(|| format!("cannot read the Java version from: {}", text.trim()))?;
    if major < 17 {
        bail!("Java {major} found; the lab needs Java 17 or newer");
    }
    let jars_cached = std::env::var_os("HOME")
        .map(|h| PathBuf::from(h).join(".cache/kscen/lab"))
        .and_then(|d| std::fs::read_dir(d).ok())
        .is_some_and(|mut entries| {
            entries.any(|e| e.is_ok_and(|e| e.path().join(".resolved").is_file()))
        });
    if !jars_cached && Command::new("mvn").arg("-v").output().is_err() {
        bail!("Maven not found and no Kafka jars cached (the lab resolves them from Maven Central; `apt-get install maven`)");
    }
    Ok(())
}
