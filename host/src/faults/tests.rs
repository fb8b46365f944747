//! The executor on real processes: children this test spawns (`sleep`), found through a pid file
//! in a temporary folder, exactly as the lab's JVMs are.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::*;

fn profile(text: &str) -> Profile {
    toml::from_str(text).expect("a valid profile")
}

/// A `sleep 60` child with its PID in `<dir>/pid`; killed on drop if a test failed midway.
struct Sleeper {
    child: Child,
    pid_file: PathBuf,
}

impl Sleeper {
    fn spawn(dir: &Path) -> Sleeper {
        Sleeper::spawn_with(dir, &["/bin/sleep", "60"])
    }

    fn spawn_with(dir: &Path, argv: &[&str]) -> Sleeper {
        let child = Command::new(argv[0])
            .args(&argv[1..])
            .stdin(Stdio::null())
            .spawn()
            .expect("spawning the child");
        let pid_file = dir.join("pid");
        std::fs::write(&pid_file, format!("{}\n", child.id())).unwrap();
        Sleeper { child, pid_file }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn targets(&self, actions: &str) -> FaultTargets {
        let mut targets = FaultTargets::from_profile(&profile(&format!(
            "[workers.w]\npid_file = {:?}\n[workers.w.actions]\n{actions}",
            self.pid_file.display().to_string()
        )));
        assert!(targets.problems.is_empty(), "{:?}", targets.problems);
        targets.timeouts.graceful_exit = Duration::from_secs(5);
        targets.timeouts.state_change = Duration::from_secs(5);
        targets
    }
}

impl Drop for Sleeper {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const SIGNAL_ACTIONS: &str = r#"
stop = { signal = "SIGTERM" }
kill = { signal = "SIGKILL" }
pause = { signal = "SIGSTOP" }
resume = { signal = "SIGCONT" }
"#;

#[test]
fn targets_list_the_checked_actions_of_workers_brokers_and_links() {
    let targets = FaultTargets::from_profile(&profile(
        r#"
        [workers.worker-1]
        pid_file = "/tmp/w1.pid"
        actions.kill = { signal = "SIGKILL" }
        actions.start = { command = ["/bin/sh", "/tmp/start.sh"] }
        actions.stop = { signal = "SIGTERM" }
        [brokers.source-1]
        cluster = "source"
        actions.stop = { command = ["ssh", "broker1", "systemctl", "stop", "kafka"] }
        [links.workers-to-source]
        pid_file = "/tmp/proxy.pid"
        actions.cut = { signal = "SIGUSR1" }
        actions.restore = { signal = "SIGUSR2" }
        "#,
    ));
    assert!(targets.problems.is_empty(), "{:?}", targets.problems);
    assert_eq!(
        targets.targets(),
        vec![
            FaultTarget {
                name: "worker-1".into(),
                kind: TargetKind::Worker,
                actions: vec![Action::Stop, Action::Kill, Action::Start],
            },
            FaultTarget {
                name: "source-1".into(),
                kind: TargetKind::Broker,
                actions: vec![Action::Stop],
            },
            FaultTarget {
                name: "workers-to-source".into(),
                kind: TargetKind::Link,
                actions: vec![Action::Cut, Action::Restore],
            },
        ]
    );
}

#[test]
fn invalid_actions_are_left_out_and_refused_with_the_reason() {
    let text = r#"
        [workers.w]
        actions.kill = { signal = "SIGKILL" }
        actions.pause = { command = [] }
        actions.reboot = { command = ["reboot"] }
        "#;
    let targets = FaultTargets::from_profile(&profile(text));
    assert_eq!(targets.targets()[0].actions, Vec::<Action>::new());
    assert_eq!(targets.problems.len(), 3, "{:?}", targets.problems);
    let error = FaultTargets::try_from_profile(&profile(text))
        .unwrap_err()
        .to_string();
    assert!(error.contains("no pid_file"), "{error}");
    assert!(error.contains("unknown action \"reboot\""), "{error}");

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let refused = rt.block_on(targets.inject("w", Action::Kill)).unwrap_err();
    assert!(
        matches!(&refused, HostError::Invalid(m) if m.contains("no pid_file")),
        "{refused}"
    );
    let absent = rt.block_on(targets.inject("w", Action::Cut)).unwrap_err();
    assert!(
        matches!(&absent, HostError::Invalid(m) if m.contains("w has no `cut` action")),
        "{absent}"
    );
    let unknown = rt
        .block_on(targets.inject("nope", Action::Stop))
        .unwrap_err();
    assert!(
        matches!(&unknown, HostError::NotFound(m) if m.contains("the profile has w")),
        "{unknown}"
    );
}

#[test]
fn duplicate_and_odd_names_are_problems() {
    let targets =
        FaultTargets::from_profile(&profile("[workers.x]\n[brokers.x]\n[links.\"a b\"]\n"));
    assert_eq!(targets.targets().len(), 1);
    assert_eq!(targets.problems.len(), 2, "{:?}", targets.problems);
}

#[tokio::test]
async fn stop_returns_once_the_process_is_gone() {
    let dir = tempfile::tempdir().unwrap();
    let mut sleeper = Sleeper::spawn(dir.path());
    let targets = sleeper.targets(SIGNAL_ACTIONS);
    let started = Instant::now();
    targets.inject("w", Action::Stop).await.unwrap();
    let took = started.elapsed();
    // Gone means exited: the unreaped child is a zombie, and waiting for it returns at once.
    assert!(!procfs::is_alive(sleeper.pid()));
    let status = sleeper.child.try_wait().unwrap().expect("exited");
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(libc::SIGTERM));
    eprintln!("SIGTERM took effect in {took:?}");
    assert!(took < Duration::from_secs(2));
}

#[tokio::test]
async fn kill_returns_once_the_process_is_gone() {
    let dir = tempfile::tempdir().unwrap();
    let mut sleeper = Sleeper::spawn(dir.path());
    let targets = sleeper.targets(SIGNAL_ACTIONS);
    targets.inject("w", Action::Kill).await.unwrap();
    use std::os::unix::process::ExitStatusExt;
    let status = sleeper.child.try_wait().unwrap().expect("exited");
    assert_eq!(status.signal(), Some(libc::SIGKILL));
}

#[tokio::test]
async fn pause_and_resume_wait_for_the_process_state() {
    let dir = tempfile::tempdir().unwrap();
    let sleeper = Sleeper::spawn(dir.path());
    let targets = sleeper.targets(SIGNAL_ACTIONS);
    targets.inject("w", Action::Pause).await.unwrap();
    assert_eq!(procfs::state(sleeper.pid()), Some('T'));
    // Pausing twice is harmless: the process is already stopped.
    targets.inject("w", Action::Pause).await.unwrap();
    targets.inject("w", Action::Resume).await.unwrap();
    assert!(procfs::state(sleeper.pid()).is_some_and(|s| s != 'T'));
}

#[tokio::test]
async fn a_dead_process_is_reported_not_running() {
    let dir = tempfile::tempdir().unwrap();
    let mut sleeper = Sleeper::spawn(dir.path());
    let targets = sleeper.targets(SIGNAL_ACTIONS);
    sleeper.child.kill().unwrap();
    sleeper.child.wait().unwrap();
    let error = targets.inject("w", Action::Stop).await.unwrap_err();
    let expected = format!(
        "w is not running (no live pid in {})",
        sleeper.pid_file.display()
    );
    assert_eq!(error, HostError::Fault(expected));
    std::fs::remove_file(&sleeper.pid_file).unwrap();
    let error = targets.inject("w", Action::Kill).await.unwrap_err();
    assert!(matches!(error, HostError::Fault(m) if m.contains("is not running")));
}

#[tokio::test]
async fn a_process_that_ignores_sigterm_fails_the_stop_with_its_pid() {
    let dir = tempfile::tempdir().unwrap();
    let mut sleeper = Sleeper::spawn_with(
        dir.path(),
        &["/bin/sh", "-c", "trap '' TERM; while :; do sleep 0.1; done"],
    );
    let mut targets = sleeper.targets(SIGNAL_ACTIONS);
    targets.timeouts.graceful_exit = Duration::from_millis(500);
    // Give the shell a moment to install its trap.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let error = targets.inject("w", Action::Stop).await.unwrap_err();
    let pid = sleeper.pid();
    assert!(
        matches!(&error, HostError::Fault(m)
            if m.contains(&format!("w (pid {pid}) is still alive 0.5s after SIGTERM"))),
        "{error}"
    );
    targets.inject("w", Action::Kill).await.unwrap();
    sleeper.child.wait().unwrap();
}

#[tokio::test]
async fn start_command_returns_once_the_pid_file_names_a_live_process() {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("pid");
    // A daemon start: returns at once, the process outlives the command (as the lab's start.sh).
    let script = format!(
        "rm -f {pid}; (sleep 0.3; exec sleep 60) >/dev/null 2>&1 & echo $! > {pid}.next; \
         sleep 0.2; mv {pid}.next {pid}",
        pid = pid_file.display()
    );
    let mut targets = FaultTargets::from_profile(&profile(&format!(
        "[workers.w]\npid_file = {:?}\n[workers.w.actions]\nstart = {{ command = [\"/bin/sh\", \"-c\", {script:?}] }}\n{SIGNAL_ACTIONS}",
        pid_file.display().to_string()
    )));
    assert!(targets.problems.is_empty(), "{:?}", targets.problems);
    targets.timeouts.graceful_exit = Duration::from_secs(5);
    targets.inject("w", Action::Start).await.unwrap();
    let pid = procfs::live_pid(&pid_file).expect("a live pid after start");
    // The daemon is not our child (its parent shell exited): its zombie is reaped by PID 1,
    // perhaps late — `stop` must return all the same.
    let started = Instant::now();
    targets.inject("w", Action::Stop).await.unwrap();
    assert!(!procfs::is_alive(pid));
    eprintln!("stop of a non-child took effect in {:?}", started.elapsed());
}

#[tokio::test]
async fn a_failing_command_names_the_target_the_status_and_stderr() {
    let targets = FaultTargets::from_profile(&profile(
        r#"
        [workers.w]
        actions.stop = { command = ["/bin/sh", "-c", "echo 'Unit kafka-connect.service not loaded.' >&2; exit 5"] }
        "#,
    ));
    let error = targets.inject("w", Action::Stop).await.unwrap_err();
    let HostError::Fault(message) = error else {
        panic!("a fault error: {error}")
    };
    assert!(message.starts_with("stop w: "), "{message}");
    assert!(message.contains("exit status: 5"), "{message}");
    assert!(
        message.contains("Unit kafka-connect.service not loaded."),
        "{message}"
    );
}

#[tokio::test]
async fn cut_is_refused_until_the_link_reports_its_state() {
    // A process that never installed SIGUSR1 handlers would die of SIGUSR1: not sent.
    let dir = tempfile::tempdir().unwrap();
    let sleeper = Sleeper::spawn(dir.path());
    let targets = FaultTargets::from_profile(&profile(&format!(
        "[links.l]\npid_file = {:?}\nactions.cut = {{ signal = \"SIGUSR1\" }}\n",
        sleeper.pid_file.display().to_string()
    )));
    let error = targets.inject("l", Action::Cut).await.unwrap_err();
    assert!(
        matches!(&error, HostError::Fault(m) if m.contains("has not reported its state")),
        "{error}"
    );
    assert!(procfs::is_alive(sleeper.pid()), "no signal was sent");
}

#[tokio::test]
async fn a_link_already_in_the_wanted_state_is_not_signalled() {
    // Signalled, the sleeper would die of SIGUSR1; a second cut must be a no-op instead, or its
    // signal could still be pending when the next restore's arrives.
    let dir = tempfile::tempdir().unwrap();
    let sleeper = Sleeper::spawn(dir.path());
    let state_file = link_state::state_file(&sleeper.pid_file);
    link_state::write(&state_file, sleeper.pid(), LinkState::Cut).unwrap();
    let targets = FaultTargets::from_profile(&profile(&format!(
        "[links.l]\npid_file = {:?}\nactions.cut = {{ signal = \"SIGUSR1\" }}\n",
        sleeper.pid_file.display().to_string()
    )));
    targets.inject("l", Action::Cut).await.unwrap();
    assert!(procfs::is_alive(sleeper.pid()), "no signal was sent");
}
