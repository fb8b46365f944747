//! How a run ended: completed, failed (and why the plugin failed), aborted, or still running in
//! a snapshot.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Outcome {
    Completed,
    /// a snapshot: the run was still going (`incomplete` says when)
    Running,
    Failed {
        failure: PluginFailure,
    },
    /// `abort_on_fail` stopped the run when a threshold failed
    Aborted {
        reason: String,
    },
}

impl Outcome {
    /// The `status` the result file holds.
    pub fn status(&self) -> &'static str {
        match self {
            Outcome::Completed => "completed",
            Outcome::Running => "running",
            Outcome::Failed { .. } => "failed",
            Outcome::Aborted { .. } => "aborted",
        }
    }

    pub fn failure(&self) -> Option<&PluginFailure> {
        match self {
            Outcome::Failed { failure } => Some(failure),
            _ => None,
        }
    }
}

/// Why a plugin's run did not complete.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "message", rename_all = "snake_case")]
pub enum PluginFailure {
    /// `run` returned an error.
    Returned(String),
    /// Its code used more CPU than the scenario's `[limits] cpu`.
    CpuBudget(String),
    /// It tried to grow memory past `[limits] memory`.
    MemoryLimit(String),
    /// The operator interrupted the run.
    Interrupted(String),
    /// A host call outlived `[limits] host_call_timeout`.
    HostCallTimeout(String),
    /// It trapped (a panic, an unreachable, a failed host call).
    Trapped(String),
}

impl PluginFailure {
    /// The `kind` the result file holds.
    pub fn kind(&self) -> &'static str {
        match self {
            PluginFailure::Returned(_) => "returned",
            PluginFailure::CpuBudget(_) => "cpu_budget",
            PluginFailure::MemoryLimit(_) => "memory_limit",
            PluginFailure::Interrupted(_) => "interrupted",
            PluginFailure::HostCallTimeout(_) => "host_call_timeout",
            PluginFailure::Trapped(_) => "trapped",
        }
    }

    pub fn message(&self) -> &str {
        match self {
            PluginFailure::Returned(m)
            | PluginFailure::CpuBudget(m)
            | PluginFailure::MemoryLimit(m)
            | PluginFailure::Interrupted(m)
            | PluginFailure::HostCallTimeout(m)
            | PluginFailure::Trapped(m) => m,
        }
    }

    /// The same failure, its message prefixed (which shard of a merged run failed).
    pub fn prefixed(&self, prefix: &str) -> PluginFailure {
        let mut failure = self.clone();
        match &mut failure {
            PluginFailure::Returned(m)
            | PluginFailure::CpuBudget(m)
            | PluginFailure::MemoryLimit(m)
            | PluginFailure::Interrupted(m)
            | PluginFailure::HostCallTimeout(m)
            | PluginFailure::Trapped(m) => *m = format!("{prefix}{m}"),
        }
        failure
    }
}

impl std::fmt::Display for PluginFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let m = self.message();
        match self {
            PluginFailure::Returned(_) => write!(f, "the scenario failed: {m}"),
            PluginFailure::CpuBudget(_)
            | PluginFailure::MemoryLimit(_)
            | PluginFailure::HostCallTimeout(_) => write!(f, "the plugin was stopped: {m}"),
            PluginFailure::Interrupted(_) => write!(f, "{m}"),
            PluginFailure::Trapped(_) => write!(f, "the plugin crashed: {m}"),
        }
    }
}

/// What marks a snapshot: why it is not a finished run's result, and how far the run had got.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Incomplete {
    pub reason: String,
    /// when the snapshot was taken, on the run's clock
    pub snapshot_at_s: f64,
}

/// Why a snapshot is incomplete: said once, for every snapshot.
pub const SNAPSHOT_REASON: &str =
    "snapshot written while the run went on: kscen did not finish the run (killed, or its machine lost)";
