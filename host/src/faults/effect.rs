//! Waiting for a fault to take effect, so `inject` returns at the moment it did: the process is
//! gone, stopped, running again, started, or the link proxy confirmed the new state. Polls /proc
//! every 10 ms: fine enough to timestamp a fault, cheap enough to run for a minute.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::error::{HostError, HostResult};

use super::link_state::{self, LinkState};
use super::procfs;

const POLL: Duration = Duration::from_millis(10);

/// Calls `check` until it gives an answer or `timeout` passes (`None`).
async fn poll<T>(timeout: Duration, mut check: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(answer) = check() {
            return Some(answer);
        }
        if Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(POLL).await;
    }
}

fn state_text(pid: u32) -> String {
    procfs::state(pid).map_or_else(|| "gone".into(), |s| s.to_string())
}

/// Until `pid` has exited (a zombie counts as exited: its parent may reap it late).
pub(super) async fn gone(target: &str, pid: u32, after: &str, timeout: Duration) -> HostResult<()> {
    match poll(timeout, || (!procfs::is_alive(pid)).then_some(())).await {
        Some(()) => Ok(()),
        None => Err(HostError::Fault(format!(
            "{target} (pid {pid}) is still alive {}s after {after} (state {}); it may be stuck \
             shutting down: `kill` it",
            timeout.as_secs_f64(),
            state_text(pid)
        ))),
    }
}

/// Until `pid` is stopped (`T`), or has `resumed` (`stopped == false`: anything but `T`).
pub(super) async fn stopped(
    target: &str,
    pid: u32,
    stopped: bool,
    after: &str,
    timeout: Duration,
) -> HostResult<()> {
    let answer = poll(timeout, || match procfs::state(pid) {
        None => Some(Err("exited")),
        Some(s) if procfs::is_dead_state(s) => Some(Err("exited")),
        Some(s) if procfs::is_stopped_state(s) == stopped => Some(Ok(())),
        Some(_) => None,
    })
    .await;
    let want = if stopped { "stopped (T)" } else { "running" };
    match answer {
        Some(Ok(())) => Ok(()),
        Some(Err(what)) => Err(HostError::Fault(format!(
            "{target} (pid {pid}) {what} after {after} instead of being {want}"
        ))),
        None => Err(HostError::Fault(format!(
            "{target} (pid {pid}) is not {want} {}s after {after} (state {})",
            timeout.as_secs_f64(),
            state_text(pid)
        ))),
    }
}

/// Until the link proxy `pid` reports `want` in its state file.
pub(super) async fn link(
    target: &str,
    pid: u32,
    pid_file: &Path,
    want: LinkState,
    after: &str,
    timeout: Duration,
) -> HostResult<()> {
    let file = link_state::state_file(pid_file);
    let answer = poll(timeout, || {
        if link_state::read(&file) == Some((want, pid)) {
            Some(Ok(()))
        } else if !procfs::is_alive(pid) {
            Some(Err(()))
        } else {
            None
        }
    })
    .await;
    match answer {
        Some(Ok(())) => Ok(()),
        Some(Err(())) => Err(HostError::Fault(format!(
            "link {target} (pid {pid}) exited after {after} instead of reporting `{}`",
            want.word()
        ))),
        None => Err(HostError::Fault(format!(
            "link {target} (pid {pid}) did not report `{}` in {} within {}s of {after}",
            want.word(),
            file.display(),
            timeout.as_secs_f64()
        ))),
    }
}

/// Until the pid file names a live process (after a `start` command); returns its PID.
pub(super) async fn started(target: &str, pid_file: &Path, timeout: Duration) -> HostResult<u32> {
    poll(timeout, || procfs::live_pid(pid_file))
        .await
        .ok_or_else(|| {
            HostError::Fault(format!(
                "{target}: the start command succeeded but {} names no live process {}s later; \
                 see the target's log",
                pid_file.display(),
                timeout.as_secs_f64()
            ))
        })
}
