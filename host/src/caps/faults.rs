//! `faults`: stop, kill, start, pause workers and brokers, cut and restore network links — only
//! the targets the plugin asked for and the operator granted.

use crate::bindings::v0_1_0::kscen::scenario::faults::{Action as WitAction, Host, Target};
use crate::bindings::WitError;
use crate::caps::{Access, PluginState, RunContext};
use crate::error::HostResult;
use crate::faults::{Action, FaultTarget, TargetKind};

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

impl RunContext {
    /// The fault targets the operator granted this run, as the plugin may list them.
    fn granted_fault_targets(&self) -> Vec<FaultTarget> {
        let granted: Vec<&str> = self.grants.faults().collect();
        self.faults
            .targets()
            .into_iter()
            .filter(|t| granted.contains(&t.name.as_str()))
            .collect()
    }

    /// Injects a granted fault, its request, end or failure recorded in the run's events; the
    /// instant it took effect on the run's clock.
    async fn inject_fault(&self, target: &str, action: Action) -> HostResult<u64> {
        self.permit(Access::Fault {
            target,
            action: action.key(),
        })?;
        let metrics = &self.metrics;
        let what = format!("{} {target}", action.key());
        metrics.events.push(metrics.clock.now_ns(), "fault", &what);
        let done = self.faults.inject(target, action).await;
        let now = metrics.clock.now_ns();
        match done {
            Ok(()) => {
                metrics.events.push(now, "fault-done", &what);
                Ok(now)
            }
            Err(error) => {
                metrics
                    .events
                    .push(now, "fault-failed", &format!("{what}: {error}"));
                Err(error)
            }
        }
    }
}

impl Host for PluginState {
    async fn targets(&mut self) -> wasmtime::Result<Vec<Target>> {
        Ok(self
            .run()?
            .granted_fault_targets()
            .into_iter()
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
        Ok(run
            .inject_fault(&target, from_wit(action))
            .await
            .map_err(WitError::from))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::caps::testing::{context, events};
    use crate::error::HostError;
    use crate::policy::Request;

    #[test]
    fn a_plugin_lists_only_the_targets_the_operator_granted() {
        let asked = [Request::Fault("worker-1".into())];
        let (withheld, _cancel) = context(&asked, &[]);
        assert!(withheld.granted_fault_targets().is_empty());
        let (granted, _cancel) = context(&asked, &["worker-1"]);
        let targets = granted.granted_fault_targets();
        assert_eq!(targets.len(), 1);
        assert_eq!(targets[0].name, "worker-1");
        assert_eq!(targets[0].kind, TargetKind::Worker);
    }

    #[tokio::test]
    async fn a_withheld_fault_is_refused_before_anything_is_done() {
        let (run, _cancel) = context(&[Request::Fault("worker-1".into())], &[]);
        let refused = run.inject_fault("worker-1", Action::Kill).await;
        assert!(matches!(refused, Err(HostError::Denied(_))), "{refused:?}");
        assert!(events(&run, "fault").is_empty(), "no fault was attempted");
        assert_eq!(events(&run, "fault-denied").len(), 1);
    }

    #[tokio::test]
    async fn a_fault_that_cannot_act_is_recorded_as_failed_with_its_reason() {
        // worker-1's pid file does not exist: there is no process to kill.
        let (run, _cancel) = context(&[Request::Fault("worker-1".into())], &["worker-1"]);
        let failed = run
            .inject_fault("worker-1", Action::Kill)
            .await
            .unwrap_err();
        assert_eq!(events(&run, "fault"), ["kill worker-1"]);
        assert!(events(&run, "fault-done").is_empty());
        assert_eq!(
            events(&run, "fault-failed"),
            [format!("kill worker-1: {failed}")]
        );
        assert!(failed.to_string().contains("worker-1"), "{failed}");
    }
}
