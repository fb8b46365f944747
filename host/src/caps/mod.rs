//! Host capabilities, one module per WIT interface, implemented on the plugin's store state.

pub mod clock;
pub mod connect;
pub mod faults;
mod gate;
pub mod grants;
pub mod groups;
pub mod kafka;
pub mod log;
pub mod metrics;
pub mod mm2;
pub mod params;
pub mod probe;
pub mod shard;
#[cfg(test)]
mod testing;

use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::config::params::ResolvedParams;
use crate::metrics::RunMetrics;
use crate::policy::Grants;
pub use gate::Access;

/// Everything a running plugin's host calls act on, each capability's own state apart. Shared
/// with the run for reporting.
pub struct RunContext {
    /// present when the profile has a `[connect]` section
    pub connect: Option<crate::connect::ConnectClient>,
    pub faults: crate::faults::FaultTargets,
    pub probes: crate::probe::Probes,
    /// The MirrorMaker 2 mirror the run measures, found on first use: names tracked loads'
    /// remote topics and answers the `mm2` interface.
    pub mirror: crate::deployment::run_mirror::RunMirror,
    pub metrics: Arc<RunMetrics>,
    pub params: ResolvedParams,
    pub grants: Grants,
    /// The scenario's `[limits]`: host-call timeout, record size, load jobs.
    pub limits: crate::engine::limits::Limits,
    /// Flips to true when the operator interrupts the run: waits end and the plugin is stopped.
    pub cancelled: tokio::sync::watch::Receiver<bool>,
    /// Which shard of the run this process is (`--shard`); the whole run when not sharded.
    pub shard: crate::shard::Shard,
    /// Declared last so it is dropped last: it holds the embedded mock cluster.
    pub kafka: kafka::KafkaState,
}

impl RunContext {
    /// Resolves when the run is cancelled.
    pub async fn cancellation(&self) {
        let mut cancelled = self.cancelled.clone();
        let _ = cancelled.wait_for(|c| *c).await;
    }
}

/// Time the plugin's own code has executed, measured at host-call boundaries.
#[derive(Debug, Default)]
pub struct GuestTime {
    used: Duration,
    entered: Option<Instant>,
}

impl GuestTime {
    pub fn enter(&mut self) {
        self.entered = Some(Instant::now());
    }

    pub fn leave(&mut self) {
        if let Some(entered) = self.entered.take() {
            self.used += entered.elapsed();
        }
    }

    pub fn used(&self) -> Duration {
        self.used + self.entered.map_or(Duration::ZERO, |e| e.elapsed())
    }
}

pub struct PluginState {
    pub wasi: WasiCtx,
    pub table: ResourceTable,
    pub memory_cap: crate::engine::MemoryCap,
    pub guest_time: GuestTime,
    /// Consumers the plugin holds now, against `[limits] max_consumers`.
    pub open_consumers: u32,
    /// `None` while `describe` runs: it must not call the host.
    pub run: Option<Arc<RunContext>>,
}

impl PluginState {
    pub fn run(&self) -> wasmtime::Result<&Arc<RunContext>> {
        self.run
            .as_ref()
            .ok_or_else(|| wasmtime::format_err!("describe() must not call host functions"))
    }
}

impl WasiView for PluginState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// The trap that ends a plugin when the operator interrupts the run.
#[derive(Debug, thiserror::Error)]
#[error("the run was interrupted")]
pub struct Interrupted;

/// The trap that ends a plugin whose host call outlived `[limits] host_call_timeout`.
#[derive(Debug, thiserror::Error)]
#[error("a host call took longer than the scenario's host_call_timeout of {0:?} — raise [limits] host_call_timeout if this is legitimate")]
pub struct HostCallTimeout(pub std::time::Duration);

/// Runs a blocking host call unless the run is cancelled first or it outlives the scenario's
/// `host_call_timeout`; either way the plugin traps.
pub async fn unless_cancelled<T>(
    run: &RunContext,
    work: impl std::future::Future<Output = T>,
) -> wasmtime::Result<T> {
    let limit = async {
        match run.limits.host_call_timeout {
            Some(timeout) => tokio::time::sleep(timeout).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        value = work => Ok(value),
        () = run.cancellation() => Err(wasmtime::Error::new(Interrupted)),
        () = limit => Err(wasmtime::Error::new(HostCallTimeout(
            run.limits.host_call_timeout.unwrap_or_default(),
        ))),
    }
}

/// Waits for a job's end (`done`) for at most `timeout_ms` (forever without one), unless the run
/// is cancelled first; false when the job was still running at the timeout.
pub async fn wait_at_most(
    run: &RunContext,
    timeout_ms: Option<u64>,
    done: impl std::future::Future<Output = ()>,
) -> wasmtime::Result<bool> {
    Ok(match timeout_ms {
        None => {
            unless_cancelled(run, done).await?;
            true
        }
        Some(ms) => unless_cancelled(run, tokio::time::timeout(Duration::from_millis(ms), done))
            .await?
            .is_ok(),
    })
}
