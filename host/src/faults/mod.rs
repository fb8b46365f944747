//! Fault actions on the profile's workers, brokers and network links. SKELETON: the interface the
//! capability uses; the implementation is being written (helper task).

use crate::config::profile::Profile;
use crate::error::{HostError, HostResult};

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

#[derive(Debug, Default)]
pub struct FaultTargets {}

impl FaultTargets {
    pub fn from_profile(_profile: &Profile) -> FaultTargets {
        FaultTargets {}
    }

    pub fn targets(&self) -> Vec<FaultTarget> {
        Vec::new()
    }

    /// Carries out `action` on `target`; returns once it has taken effect.
    pub async fn inject(&self, _target: &str, _action: Action) -> HostResult<()> {
        Err(HostError::Unsupported(
            "fault actions are not implemented yet".into(),
        ))
    }
}
