//! For tests against a running lab (`kscen lab up`): the profile from `KSCEN_LAB_PROFILE`, one lab
//! user at a time, polling until a state shows up, and a guard that resumes a SIGSTOPped process.

#![allow(dead_code)]

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use kscen::config::profile::Profile;

/// The lab profile, or `None` (with the skip line) when `KSCEN_LAB_PROFILE` is unset. On CI a
/// missing lab is a failure: a green run must not mean "nothing ran".
pub fn lab_profile() -> Option<Profile> {
    let path = match std::env::var("KSCEN_LAB_PROFILE") {
        Ok(path) if !path.trim().is_empty() => path,
        _ => {
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("CI=true but KSCEN_LAB_PROFILE is unset: start a lab (`kscen lab up`) and point it at its profile.toml");
            }
            println!("skipped: no lab (KSCEN_LAB_PROFILE unset)");
            return None;
        }
    };
    let path = expand_home(&path);
    Some(
        Profile::load(&path.display().to_string())
            .unwrap_or_else(|e| panic!("KSCEN_LAB_PROFILE={}: {e:#}", path.display())),
    )
}

fn expand_home(path: &str) -> PathBuf {
    match (path.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => Path::new(&home).join(rest),
        _ => PathBuf::from(path),
    }
}

/// The tests of one binary change shared lab state (pause a connector, stop a worker): one at a time.
pub static LAB_LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Polls `probe` every 200 ms until it returns `Ok`, or panics after `timeout` with the last reason.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let started = Instant::now();
    loop {
        match probe().await {
            Ok(value) => return value,
            Err(why) if started.elapsed() >= timeout => {
                panic!("{what}: not after {timeout:?}: {why}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

/// SIGSTOPs a process and SIGCONTs it when dropped — also when the test panics.
pub struct Stopped {
    pid: i32,
}

impl Stopped {
    pub fn stop(pid_file: &Path) -> Stopped {
        let text = std::fs::read_to_string(pid_file)
            .unwrap_or_else(|e| panic!("{}: {e}", pid_file.display()));
        let pid: i32 = text
            .trim()
            .parse()
            .unwrap_or_else(|e| panic!("{}: {e}", pid_file.display()));
        assert!(signal(pid, "STOP"), "kill -STOP {pid} failed");
        // A JVM's threads stop one by one; until all have, one may still answer a request.
        let deadline = Instant::now() + Duration::from_secs(5);
        while !all_threads_stopped(pid) {
            assert!(
                Instant::now() < deadline,
                "process {pid} not stopped 5 s after SIGSTOP"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        Stopped { pid }
    }
}

/// Whether every thread of `pid` shows state `T` (stopped) in /proc.
fn all_threads_stopped(pid: i32) -> bool {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return false;
    };
    tasks.flatten().all(|task| {
        std::fs::read_to_string(task.path().join("stat"))
            .ok()
            // the state follows the command name, which is in parentheses and may hold spaces
            .and_then(|stat| {
                stat.rsplit_once(')')
                    .map(|(_, rest)| rest.trim_start().starts_with('T'))
            })
            .unwrap_or(true)
    })
}

impl Drop for Stopped {
    fn drop(&mut self) {
        // No assert here: a panic while unwinding would abort and hide the first failure.
        if !signal(self.pid, "CONT") {
            eprintln!("kill -CONT {} failed: resume it by hand", self.pid);
        }
    }
}

fn signal(pid: i32, name: &str) -> bool {
    std::process::Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .status()
        .is_ok_and(|status| status.success())
}
