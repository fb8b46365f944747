//! What /proc and the pid file say about a process: its PID, whether it is alive, whether it is
//! stopped. Shared with the lab, which watches the same processes.

use std::path::Path;

/// The PID a pid file names, if it holds one (it is rewritten on every start).
pub(crate) fn read_pid(pid_file: &Path) -> Option<u32> {
    std::fs::read_to_string(pid_file)
        .ok()?
        .trim()
        .parse()
        .ok()
        .filter(|&pid| pid > 0)
}

/// The PID in `pid_file` if that process is alive.
pub fn live_pid(pid_file: &Path) -> Option<u32> {
    read_pid(pid_file).filter(|&pid| is_alive(pid))
}

/// kill(2): the one place kscen signals a process. Callers pass PIDs they have checked (a lab's
/// or an operator's pid file) and signals a profile allowed; signal 0 only probes the PID.
pub fn send_signal(pid: u32, signal: libc::c_int) -> std::io::Result<()> {
    // SAFETY: kill takes plain integers and touches no memory of ours.
    if unsafe { libc::kill(pid as libc::pid_t, signal) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Makes `command`'s process leave behind, at exec, the descriptors kscen inherited without
/// close-on-exec (a `flock` lock, a CI runner's pipes): a daemon it starts (a restarted worker)
/// would hold them for its whole life, keeping a lock taken or a CI step open.
pub(crate) fn no_inherited_fds(command: &mut tokio::process::Command) {
    // SAFETY: close_range is async-signal-safe and only flags descriptors; std's own exec-error
    // pipe is close-on-exec already, so it still reports a failed exec.
    unsafe {
        command.pre_exec(|| {
            libc::close_range(
                3,
                libc::c_uint::MAX,
                libc::CLOSE_RANGE_CLOEXEC as libc::c_int,
            );
            Ok(())
        });
    }
}

/// Alive and not a zombie: an exited child stays a zombie until its parent reaps it (PID 1 here
/// reaps late), and a zombie still answers `kill(pid, 0)`.
pub(crate) fn is_alive(pid: u32) -> bool {
    let answered = match send_signal(pid, 0) {
        Ok(()) => true,
        Err(error) => error.raw_os_error() == Some(libc::EPERM),
    };
    answered && state(pid).is_some_and(|s| !is_dead_state(s))
}

/// The one-letter state of /proc/<pid>/stat (`R`, `S`, `D`, `T`, `Z`...), `None` if gone.
pub fn state(pid: u32) -> Option<char> {
    parse_state(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// The state field of a /proc/<pid>/stat line. It follows the command name in parentheses, which
/// may itself contain spaces and parentheses: split at the last `)`.
pub(crate) fn parse_state(stat: &str) -> Option<char> {
    stat.rsplit_once(')')?.1.trim_start().chars().next()
}

/// `Z` (zombie) and `X` (dead): the process has exited.
pub(crate) fn is_dead_state(state: char) -> bool {
    matches!(state, 'Z' | 'X' | 'x')
}

/// `T` (stopped by a signal) or `t` (stopped by a tracer).
pub(crate) fn is_stopped_state(state: char) -> bool {
    matches!(state, 'T' | 't')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_follows_the_last_parenthesis() {
        assert_eq!(parse_state("42 (java) S 1 42 42 0 -1"), Some('S'));
        assert_eq!(parse_state("42 (a b) c) T 1 42"), Some('T'));
        assert_eq!(parse_state("42 (sleep) Z 1"), Some('Z'));
        assert_eq!(parse_state("garbage"), None);
        assert_eq!(parse_state("42 (x)"), None);
    }

    #[test]
    fn this_process_is_alive_and_running() {
        let me = std::process::id();
        assert!(is_alive(me));
        assert!(state(me).is_some_and(|s| !is_stopped_state(s) && !is_dead_state(s)));
    }

    #[test]
    fn pid_files_hold_a_positive_number() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pid");
        assert_eq!(read_pid(&file), None);
        std::fs::write(&file, "1234\n").unwrap();
        assert_eq!(read_pid(&file), Some(1234));
        std::fs::write(&file, "0").unwrap();
        assert_eq!(read_pid(&file), None);
        std::fs::write(&file, "not a pid").unwrap();
        assert_eq!(read_pid(&file), None);
    }
}
