//! Command actions: what an operator writes for a real deployment (`ssh worker1 systemctl stop
//! kafka-connect`) or the lab's `start.sh`. Run without a shell (the profile gives the argv),
//! with stdin closed, a timeout, and the output kept for the error message.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};

/// How much output is kept: the end of it is what explains a failure.
const KEPT_BYTES: usize = 16 * 1024;
/// How long to keep reading after the command exited. A command that starts a daemon may leave
/// it holding our pipes (e.g. `sh -c 'server &'`): the command's own exit is what counts.
const DRAIN: Duration = Duration::from_millis(200);

/// Runs `argv`; `Err` says what failed, with the exit status and the tail of the output.
pub(super) async fn run(argv: &[String], timeout: Duration) -> Result<(), String> {
    let shown = format!("{argv:?}");
    let mut command = tokio::process::Command::new(&argv[0]);
    super::procfs::no_inherited_fds(&mut command);
    let mut child = command
        .args(&argv[1..])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot run {shown}: {e}"))?;
    let stdout = collect(child.stdout.take());
    let stderr = collect(child.stderr.take());
    let status = match tokio::time::timeout(timeout, child.wait()).await {
        Ok(status) => status.map_err(|e| format!("waiting for {shown}: {e}"))?,
        Err(_) => {
            let _ = child.kill().await;
            tokio::time::sleep(DRAIN).await;
            return Err(format!(
                "{shown} did not finish within {}s and was killed{}",
                timeout.as_secs_f64(),
                tail(&stderr, &stdout)
            ));
        }
    };
    if status.success() {
        return Ok(());
    }
    tokio::time::sleep(DRAIN).await;
    Err(format!(
        "{shown} failed ({status}){}",
        tail(&stderr, &stdout)
    ))
}

type Output = Arc<Mutex<Vec<u8>>>;

/// Reads a pipe in the background into a buffer that keeps the last `KEPT_BYTES`.
fn collect(pipe: Option<impl AsyncRead + Unpin + Send + 'static>) -> Output {
    let out: Output = Arc::default();
    if let Some(mut pipe) = pipe {
        let sink = out.clone();
        tokio::spawn(async move {
            let mut chunk = [0u8; 4096];
            while let Ok(n) = pipe.read(&mut chunk).await {
                if n == 0 {
                    break;
                }
                let mut kept = sink.lock().unwrap_or_else(|e| e.into_inner());
                kept.extend_from_slice(&chunk[..n]);
                let excess = kept.len().saturating_sub(KEPT_BYTES);
                kept.drain(..excess);
            }
        });
    }
    out
}

/// `: <last lines of stderr, else stdout>`, or nothing when both are empty.
fn tail(stderr: &Output, stdout: &Output) -> String {
    let text = |o: &Output| {
        let bytes = o.lock().unwrap_or_else(|e| e.into_inner()).clone();
        String::from_utf8_lossy(&bytes).trim().to_string()
    };
    let err = text(stderr);
    let chosen = if err.is_empty() { text(stdout) } else { err };
    if chosen.is_empty() {
        return String::new();
    }
    let lines: Vec<&str> = chosen.lines().collect();
    format!(": {}", lines[lines.len().saturating_sub(10)..].join(" | "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| w.to_string()).collect()
    }

    #[tokio::test]
    async fn success_and_failure_with_the_stderr_tail() {
        run(&argv(&["/bin/true"]), Duration::from_secs(5))
            .await
            .unwrap();
        let error = run(
            &argv(&[
                "/bin/sh",
                "-c",
                "echo noise; echo 'no such unit' >&2; exit 3",
            ]),
            Duration::from_secs(5),
        )
        .await
        .unwrap_err();
        assert!(error.contains("exit status: 3"), "{error}");
        assert!(
            error.ends_with("(exit status: 3): no such unit"),
            "stderr is preferred: {error}"
        );
    }

    #[tokio::test]
    async fn a_missing_program_is_named() {
        let error = run(&argv(&["/nonexistent/kscen-cmd"]), Duration::from_secs(5))
            .await
            .unwrap_err();
        assert!(
            error.contains("cannot run [\"/nonexistent/kscen-cmd\"]"),
            "{error}"
        );
    }

    #[tokio::test]
    async fn a_hung_command_is_killed_at_the_timeout() {
        let started = std::time::Instant::now();
        let error = run(&argv(&["/bin/sleep", "30"]), Duration::from_millis(300))
            .await
            .unwrap_err();
        assert!(error.contains("did not finish within 0.3s"), "{error}");
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[tokio::test]
    async fn a_command_does_not_inherit_descriptors_kscen_was_given() {
        let dir = tempfile::tempdir().unwrap();
        let lock = std::fs::File::create(dir.path().join("lock")).unwrap();
        // As `flock FILE kscen ...` hands its lock to kscen: open across exec.
        let fd = std::os::fd::AsRawFd::as_raw_fd(&lock);
        // SAFETY: clears the flags of a descriptor this test owns.
        unsafe { libc::fcntl(fd, libc::F_SETFD, 0) };
        let probe = format!("test ! -e /proc/self/fd/{fd}");
        run(&argv(&["/bin/sh", "-c", &probe]), Duration::from_secs(10))
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn a_daemon_holding_the_pipes_does_not_hang_the_command() {
        let dir = tempfile::tempdir().unwrap();
        let pid_file = dir.path().join("daemon.pid");
        let script = format!("sleep 30 & echo $! > {}; echo started", pid_file.display());
        let started = std::time::Instant::now();
        run(&argv(&["/bin/sh", "-c", &script]), Duration::from_secs(10))
            .await
            .unwrap();
        assert!(started.elapsed() < Duration::from_secs(5));
        if let Some(pid) = crate::faults::procfs::read_pid(&pid_file) {
            // The sleep this test started.
            let _ = crate::faults::procfs::send_signal(pid, libc::SIGKILL);
        }
    }
}
