//! `faults`: stop, kill, start, pause workers and brokers, cut and restore network links — only
//! the targets the plugin asked for and the operator granted.

use crate::bindings::v0_1_0::kscen::scenario::faults::{Action as WitAction, Host, Target};
use crate::bindings::WitError;
use crate::caps::{Access, PluginState};
use crate::faults::{Action, TargetKind};

fn from_wit(action: WitAction) -> Action {
    match action {
        WitAction::Stop => Action::Stop,
        WitAction::Kill => Action::Kill,
        WitAction::Start => Action::Start,
        WitAction::Pause => Action::Pause,
        WitAction::Resume => Action::Resume,
        WitAction::Cut => Action::Cut,
        WitAction::Restore => Action::Restore,
    }
}

fn to_wit(action: Action) -> WitAction {
    match action {
        Action::Stop => WitAction::Stop,
        Action::Kill => WitAction::Kill,
        Action::Start => WitAction::Start,
        Action::Pause => WitAction::Pause,
        Action::Resume => WitAction::Resume,
        Action::Cut => WitAction::Cut,
        Action::Restore => WitAction::Restore,
    }
}

impl Host for PluginState {
    async fn targets(&mut self) -> wasmtime::Result<Vec<Target>> {
        let run = self.run()?;
        let granted: Vec<&str> = run.grants.faults().collect();
        Ok(run
            .faults
            .targets()
            .into_iter()
            .filter(|t| granted.contains(&t.name.as_str()))
            .map(|t| Target {
                name: t.name,
                kind: match t.kind {
                    TargetKind::Worker => "worker",
                    TargetKind::Broker => "broker",
                    TargetKind::Link => "link",
                }
                .to_string(),
                actions: t.actions.into_iter().map(to_wit).collect(),
            })
            .collect())
    }

    async fn inject(
        &mut self,
        target: String,
        action: WitAction,
    ) -> wasmtime::Result<Result<u64, WitError>> {
        let run = self.run()?.clone();
        let action = from_wit(action);
        if let Err(denied) = run.permit(Access::Fault {
            target: &target,
            action: action.key(),
        }) {
            return Ok(Err(denied.into()));
        }
        let metrics = &run.metrics;
        metrics.events.push(
            metrics.clock.now_ns(),
            "fault",
            &format!("{} {target}", action.key()),
        );
        let done = run.faults.inject(&target, action).await;
        let now = metrics.clock.now_ns();
        Ok(match done {
            Ok(()) => {
                metrics
                    .events
                    .push(now, "fault-done", &format!("{} {target}", action.key()));
                Ok(now)
            }
            Err(error) => {
                metrics.events.push(
                    now,
                    "fault-failed",
                    &format!("{} {target}: {error}", action.key()),
                );
                Err(error.into())
            }
        })
    }
}
