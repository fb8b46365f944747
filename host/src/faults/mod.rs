//! Fault actions on the profile's workers, brokers and network links.
//!
//! A target only has the actions its profile `actions` table names, each checked when the
//! profile is read (`spec`); a plugin picks a target and an action name, never a command or a
//! signal. `inject` carries the action out and returns once it has taken effect (`effect`), so
//! the caller's timestamp is the moment of the fault:
//! - a signal is sent to the PID the target's pid file holds *now* (the process may have been
//!   restarted since the profile was written): stop/kill return once the process is gone,
//!   pause once it is stopped (`T`), resume once it runs again, cut/restore once the link proxy
//!   reports the new state (`link_state`);
//! - a command runs without a shell, with a timeout (`command`); a `start` command returns once
//!   the pid file names a live process, a `stop`/`kill` command once the old process is gone.
//!
//! Module map: `spec` (profile actions → plans), `procfs` (PIDs and process states),
//! `effect` (waiting for the effect), `command` (running commands), `link_state` (the state file
//! a link proxy writes).

mod command;
mod effect;
pub(crate) mod link_state;
pub mod procfs;
mod spec;

use std::path::PathBuf;
use std::time::Duration;

use crate::config::profile::{ProcessProfile, Profile};
use crate::error::{HostError, HostResult};

use self::link_state::LinkState;
use self::spec::{Plan, Signal};

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Stop,
    Kill,
    Start,
    Pause,
    Resume,
    Cut,
    Restore,
}

impl Action {
    pub const ALL: [Action; 7] = [
        Action::Stop,
        Action::Kill,
        Action::Start,
        Action::Pause,
        Action::Resume,
        Action::Cut,
        Action::Restore,
    ];

    /// The key naming this action in a profile's `actions` table.
    pub fn key(self) -> &'static str {
        match self {
            Action::Stop => "stop",
            Action::Kill => "kill",
            Action::Start => "start",
            Action::Pause => "pause",
            Action::Resume => "resume",
            Action::Cut => "cut",
            Action::Restore => "restore",
        }
    }

    /// The action a profile key names.
    pub fn from_key(key: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.key() == key)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TargetKind {
    Worker,
    Broker,
    Link,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct FaultTarget {
    pub name: String,
    pub kind: TargetKind,
    pub actions: Vec<Action>,
}

/// How long each kind of effect may take before `inject` fails.
#[derive(Debug, Clone, Copy)]
struct Timeouts {
    /// A clean stop: a Connect worker commits offsets and leaves its group first.
    graceful_exit: Duration,
    /// SIGKILL: only the kernel's teardown.
    forced_exit: Duration,
    /// Pause, resume, link cut/restore, and a started process showing up in its pid file.
    state_change: Duration,
    /// A command action (ssh, systemctl, start.sh).
    command: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            graceful_exit: Duration::from_secs(60),
            forced_exit: Duration::from_secs(10),
            state_change: Duration::from_secs(10),
            command: Duration::from_secs(60),
        }
    }
}

#[derive(Debug)]
struct Target {
    name: String,
    kind: TargetKind,
    pid_file: Option<PathBuf>,
    /// Checked actions, in `Action::ALL` order.
    plans: Vec<(Action, Plan)>,
    /// Actions the profile names but that failed the check, with why: refused at `inject`.
    refused: Vec<(Action, String)>,
}

#[derive(Debug, Default)]
pub struct FaultTargets {
    targets: Vec<Target>,
    /// Everything wrong with the profile's fault section (see `try_from_profile`).
    problems: Vec<String>,
    timeouts: Timeouts,
}

impl FaultTargets {
    /// Every worker, broker and link of the profile with its checked actions. Actions that fail
    /// the check are left out of `targets()` and refused by `inject` with the reason;
    /// `try_from_profile` fails on them instead.
    pub fn from_profile(profile: &Profile) -> FaultTargets {
        let mut targets: Vec<Target> = Vec::new();
        let mut problems = Vec::new();
        let sections = [
            (TargetKind::Worker, &profile.workers),
            (TargetKind::Broker, &profile.brokers),
            (TargetKind::Link, &profile.links),
        ];
        for (kind, section) in sections {
            for (name, process) in section {
                if let Err(problem) = spec::check_name(name) {
                    problems.push(problem);
                    continue;
                }
                if targets.iter().any(|t| &t.name == name) {
                    problems.push(format!(
                        "fault target {name:?} is named twice (workers, brokers and links share \
                         one namespace); the first one is kept"
                    ));
                    continue;
                }
                let (target, unknown) = Target::from_profile(name, kind, process);
                problems.extend(target.refused.iter().map(|(_, why)| why.clone()));
                problems.extend(unknown);
                targets.push(target);
            }
        }
        FaultTargets {
            targets,
            problems,
            timeouts: Timeouts::default(),
        }
    }

    /// Like `from_profile`, but a profile with any invalid fault action is an error listing
    /// them all (a typo in a profile should stop a run before the plugin starts).
    pub fn try_from_profile(profile: &Profile) -> anyhow::Result<FaultTargets> {
        let targets = FaultTargets::from_profile(profile);
        if !targets.problems.is_empty() {
            anyhow::bail!(
                "invalid fault actions in the profile: {}",
                targets.problems.join("; ")
            );
        }
        Ok(targets)
    }

    pub fn targets(&self) -> Vec<FaultTarget> {
        self.targets
            .iter()
            .map(|t| FaultTarget {
                name: t.name.clone(),
                kind: t.kind,
                actions: t.plans.iter().map(|(a, _)| *a).collect(),
            })
            .collect()
    }

    /// Carries out `action` on `target`; returns once it has taken effect.
    pub async fn inject(&self, target: &str, action: Action) -> HostResult<()> {
        let t = self.find(target)?;
        match t.plan(action)? {
            Plan::Signal(signal) => self.send_signal(t, action, *signal).await,
            Plan::Command(argv) => self.run_command(t, action, argv).await,
        }
    }

    fn find(&self, name: &str) -> HostResult<&Target> {
        self.targets.iter().find(|t| t.name == name).ok_or_else(|| {
            let names: Vec<&str> = self.targets.iter().map(|t| t.name.as_str()).collect();
            HostError::NotFound(format!(
                "no fault target {name:?}; the profile has {}",
                if names.is_empty() {
                    "none".to_string()
                } else {
                    names.join(", ")
                }
            ))
        })
    }

    async fn send_signal(&self, t: &Target, action: Action, signal: Signal) -> HostResult<()> {
        // `spec` refuses signal actions without a pid file.
        let pid_file = t
            .pid_file
            .as_deref()
            .ok_or_else(|| HostError::Invalid(format!("{} has no pid_file to signal", t.name)))?;
        let pid = procfs::live_pid(pid_file).ok_or_else(|| {
            HostError::Fault(format!(
                "{} is not running (no live pid in {})",
                t.name,
                pid_file.display()
            ))
        })?;
        if let Some(want) = link_state_wanted(action) {
            // A link already in the wanted state gets no signal: a signal it did not need could
            // still be pending when the next action's signal arrives, and undo it.
            if reported_link_state(&t.name, pid, pid_file)? == want {
                return Ok(());
            }
        }
        // The PID the operator's pid file names, with a signal `spec` allowed.
        if let Err(error) = procfs::send_signal(pid, signal.number) {
            return Err(HostError::Fault(format!(
                "sending {} to {} (pid {pid}): {error}",
                signal.name, t.name
            )));
        }
        let after = signal.name;
        let timeouts = &self.timeouts;
        match action {
            Action::Stop | Action::Kill => {
                let limit = if signal.number == libc::SIGKILL {
                    timeouts.forced_exit
                } else {
                    timeouts.graceful_exit
                };
                effect::gone(&t.name, pid, after, limit).await
            }
            Action::Pause => {
                effect::stopped(&t.name, pid, true, after, timeouts.state_change).await
            }
            Action::Resume => {
                effect::stopped(&t.name, pid, false, after, timeouts.state_change).await
            }
            Action::Cut => {
                let limit = timeouts.state_change;
                effect::link(&t.name, pid, pid_file, LinkState::Cut, after, limit).await
            }
            Action::Restore => {
                let limit = timeouts.state_change;
                effect::link(&t.name, pid, pid_file, LinkState::Open, after, limit).await
            }
            // `spec` gives `start` no signal.
            Action::Start => Err(HostError::Invalid(format!(
                "{}: `start` cannot be a signal",
                t.name
            ))),
        }
    }

    async fn run_command(&self, t: &Target, action: Action, argv: &[String]) -> HostResult<()> {
        let before = t.pid_file.as_deref().and_then(procfs::live_pid);
        command::run(argv, self.timeouts.command)
            .await
            .map_err(|why| HostError::Fault(format!("{} {}: {why}", action.key(), t.name)))?;
        let Some(pid_file) = t.pid_file.as_deref() else {
            return Ok(()); // the command's success is all we can know
        };
        match (action, before) {
            (Action::Start, _) => effect::started(&t.name, pid_file, self.timeouts.state_change)
                .await
                .map(drop),
            (Action::Stop | Action::Kill, Some(pid)) => {
                let after = format!("the {} command", action.key());
                effect::gone(&t.name, pid, &after, self.timeouts.graceful_exit).await
            }
            _ => Ok(()),
        }
    }
}

impl Target {
    /// The target, and the profile keys that name no action at all.
    fn from_profile(
        name: &str,
        kind: TargetKind,
        process: &ProcessProfile,
    ) -> (Target, Vec<String>) {
        let mut plans = Vec::new();
        let mut refused = Vec::new();
        let mut unknown = Vec::new();
        for (key, entry) in &process.actions {
            match (
                Action::from_key(key),
                spec::plan(name, key, entry, process.pid_file.is_some()),
            ) {
                (_, Ok((action, plan))) => plans.push((action, plan)),
                (Some(action), Err(why)) => refused.push((action, why)),
                (None, Err(why)) => unknown.push(why),
            }
        }
        let order = |a: &Action| Action::ALL.iter().position(|x| x == a);
        plans.sort_by_key(|(a, _)| order(a));
        let target = Target {
            name: name.to_string(),
            kind,
            pid_file: process.pid_file.clone(),
            plans,
            refused,
        };
        (target, unknown)
    }

    fn plan(&self, action: Action) -> HostResult<&Plan> {
        if let Some((_, plan)) = self.plans.iter().find(|(a, _)| *a == action) {
            return Ok(plan);
        }
        if let Some((_, why)) = self.refused.iter().find(|(a, _)| *a == action) {
            return Err(HostError::Invalid(format!(
                "the profile's `{}` action is invalid: {why}",
                action.key()
            )));
        }
        let has: Vec<&str> = self.plans.iter().map(|(a, _)| a.key()).collect();
        Err(HostError::Invalid(format!(
            "{} has no `{}` action; it has {}",
            self.name,
            action.key(),
            if has.is_empty() {
                "none".to_string()
            } else {
                has.join(", ")
            }
        )))
    }
}

/// Signalling cut/restore to a process that has not installed its handlers would kill it
/// (SIGUSR1's default action): require the proxy's own report first.
fn link_state_wanted(action: Action) -> Option<LinkState> {
    match action {
        Action::Cut => Some(LinkState::Cut),
        Action::Restore => Some(LinkState::Open),
        _ => None,
    }
}

/// The state the link proxy `pid` last reported; an error if it has reported none.
fn reported_link_state(name: &str, pid: u32, pid_file: &std::path::Path) -> HostResult<LinkState> {
    let file = link_state::state_file(pid_file);
    match link_state::read(&file) {
        Some((state, reporter)) if reporter == pid => Ok(state),
        _ => Err(HostError::Fault(format!(
            "link {name} (pid {pid}) has not reported its state in {}: it is still starting, or \
             it is not a `kscen lab proxy`",
            file.display()
        ))),
    }
}

#[cfg(test)]
mod tests;
