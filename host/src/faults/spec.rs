//! What a profile's `actions` table may say, checked once when the profile is read: the action
//! keys kscen knows, and for each action the signals that make sense (a `pause` that sends SIGKILL
//! is a typo, not a fault). Plugins only name an action; they never see or choose what it runs.

use crate::config::profile::FaultAction;

use super::Action;

/// A checked action: how to carry it out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Plan {
    Signal(Signal),
    /// `argv[0]` and its arguments, run without a shell.
    Command(Vec<String>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Signal {
    pub number: libc::c_int,
    pub name: &'static str,
}

const SIGNALS: [Signal; 8] = [
    sig(libc::SIGTERM, "SIGTERM"),
    sig(libc::SIGINT, "SIGINT"),
    sig(libc::SIGKILL, "SIGKILL"),
    sig(libc::SIGSTOP, "SIGSTOP"),
    sig(libc::SIGTSTP, "SIGTSTP"),
    sig(libc::SIGCONT, "SIGCONT"),
    sig(libc::SIGUSR1, "SIGUSR1"),
    sig(libc::SIGUSR2, "SIGUSR2"),
];

const fn sig(number: libc::c_int, name: &'static str) -> Signal {
    Signal { number, name }
}

/// The signals each action may send. `start` needs a command: no signal starts a process.
fn allowed_signals(action: Action) -> &'static [&'static str] {
    match action {
        Action::Stop => &["SIGTERM", "SIGINT", "SIGKILL"],
        Action::Kill => &["SIGKILL"],
        Action::Pause => &["SIGSTOP", "SIGTSTP"],
        Action::Resume => &["SIGCONT"],
        Action::Cut | Action::Restore => &["SIGUSR1", "SIGUSR2"],
        Action::Start => &[],
    }
}

/// `SIGTERM`, `TERM` or `sigterm`.
fn parse_signal(text: &str) -> Option<Signal> {
    let upper = text.trim().to_ascii_uppercase();
    let name = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    SIGNALS.into_iter().find(|s| s.name == name)
}

/// Checks one `actions.<key> = ...` entry of target `target`. The error says what is wrong and
/// what would be accepted.
pub(super) fn plan(
    target: &str,
    key: &str,
    action: &FaultAction,
    has_pid_file: bool,
) -> Result<(Action, Plan), String> {
    let known = || {
        Action::ALL
            .iter()
            .map(|a| a.key())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let which = Action::from_key(key)
        .ok_or_else(|| format!("{target}: unknown action {key:?} (known: {})", known()))?;
    match action {
        FaultAction::Signal { signal } => {
            let allowed = allowed_signals(which);
            let parsed = parse_signal(signal).filter(|s| allowed.contains(&s.name));
            let Some(parsed) = parsed else {
                return Err(if allowed.is_empty() {
                    format!("{target}: `{key}` cannot be a signal; give a command")
                } else {
                    format!(
                        "{target}: `{key}` cannot send {signal:?} (allowed: {})",
                        allowed.join(", ")
                    )
                });
            };
            if !has_pid_file {
                return Err(format!(
                    "{target}: `{key}` sends {} but the target has no pid_file to find the process",
                    parsed.name
                ));
            }
            Ok((which, Plan::Signal(parsed)))
        }
        FaultAction::Command { command } => {
            if command
                .first()
                .is_none_or(|program| program.trim().is_empty())
            {
                return Err(format!(
                    "{target}: `{key}` has an empty command (give a program and its arguments)"
                ));
            }
            Ok((which, Plan::Command(command.clone())))
        }
    }
}

/// Target names are shown to plugins and used as grants: keep them plain.
pub(super) fn check_name(name: &str) -> Result<(), String> {
    let plain = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if plain {
        Ok(())
    } else {
        Err(format!(
            "fault target name {name:?} must be 1-64 letters, digits, '-', '_' or '.'"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signal(s: &str) -> FaultAction {
        FaultAction::Signal { signal: s.into() }
    }

    #[test]
    fn signals_are_named_with_or_without_sig() {
        assert_eq!(
            parse_signal("SIGTERM").map(|s| s.number),
            Some(libc::SIGTERM)
        );
        assert_eq!(parse_signal("kill").map(|s| s.number), Some(libc::SIGKILL));
        assert_eq!(parse_signal("SIGSEGV"), None);
    }

    #[test]
    fn each_action_accepts_its_own_signals_only() {
        let (action, checked) = plan("w", "stop", &signal("SIGTERM"), true).unwrap();
        assert_eq!(action, Action::Stop);
        assert!(matches!(checked, Plan::Signal(s) if s.number == libc::SIGTERM));
        assert!(plan("w", "pause", &signal("SIGSTOP"), true).is_ok());
        assert!(plan("l", "cut", &signal("USR1"), true).is_ok());
        let wrong = plan("w", "pause", &signal("SIGKILL"), true).unwrap_err();
        assert!(wrong.contains("allowed: SIGSTOP, SIGTSTP"), "{wrong}");
        let start = plan("w", "start", &signal("SIGCONT"), true).unwrap_err();
        assert!(start.contains("give a command"), "{start}");
    }

    #[test]
    fn signals_need_a_pid_file() {
        let error = plan("w", "kill", &signal("SIGKILL"), false).unwrap_err();
        assert!(error.contains("no pid_file"), "{error}");
    }

    #[test]
    fn unknown_keys_and_empty_commands_are_refused() {
        let error = plan("w", "reboot", &signal("SIGTERM"), true).unwrap_err();
        assert!(error.contains("unknown action \"reboot\""), "{error}");
        let empty = FaultAction::Command { command: vec![] };
        assert!(plan("w", "start", &empty, false).is_err());
        let command = FaultAction::Command {
            command: vec!["ssh".into(), "worker1".into(), "systemctl".into()],
        };
        let (_, ok) = plan("w", "stop", &command, false).unwrap();
        assert_eq!(
            ok,
            Plan::Command(vec!["ssh".into(), "worker1".into(), "systemctl".into()])
        );
    }

    #[test]
    fn names_stay_plain() {
        assert!(check_name("worker-1").is_ok());
        assert!(check_name("workers-to-source").is_ok());
        assert!(check_name("a b").is_err());
        assert!(check_name("").is_err());
    }
}
