//! One scenario component: loaded once, described, and run in a fresh store with limits.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use wasmtime::component::ResourceTable;
use wasmtime::{CallHook, ResourceLimiter, Store, UpdateDeadline};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::WasiCtxBuilder;

use super::Host;
use crate::bindings::{Described, ParamKind as WitKind, ScenarioPre, WitVersion};
use crate::caps::{GuestTime, HostCallTimeout, Interrupted, PluginState, RunContext};
use crate::config::params::{ParamKind, ParamSpec};
use crate::engine::limits::Limits;
use crate::policy::Request;
use crate::result::{LoadedFrom, PluginFailure};

/// What the plugin's stderr may hold (panic messages); writes beyond it trap the plugin.
const STDERR_CAPACITY: usize = 1024 * 1024;
/// Memory and CPU for `describe`, which only builds a small record.
const DESCRIBE_LIMITS: Limits = Limits {
    memory_bytes: 64 * 1024 * 1024,
    cpu: Duration::from_secs(2),
    host_call_timeout: None,
    max_record_size: 0,
    max_load_jobs: 0,
    max_consumers: 0,
};

pub struct Plugin {
    pub path: PathBuf,
    pub loaded: LoadedFrom,
    pre: ScenarioPre,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct PluginInfo {
    pub name: String,
    pub summary: String,
    pub description: String,
    pub params: Vec<ParamSpec>,
    /// what the run cannot start without
    pub requests: Vec<Request>,
    /// what it uses when the environment has it
    pub optional: Vec<Request>,
}

impl PluginInfo {
    /// Every capability the plugin may use: what a pack lists and an operator reviews.
    pub fn all_requests(&self) -> impl Iterator<Item = &Request> {
        self.requests.iter().chain(&self.optional)
    }
}

#[derive(Debug, thiserror::Error)]
#[error("CPU budget of {budget:?} used up (the plugin's own code ran {used:?}; time in host calls does not count) — raise [limits] cpu if this is legitimate")]
struct CpuBudgetExceeded {
    budget: Duration,
    used: Duration,
}

#[derive(Debug, thiserror::Error)]
#[error("memory limit of {limit} bytes reached (it asked for {desired} bytes) — raise [limits] memory if this is legitimate")]
struct MemoryLimitReached {
    limit: u64,
    desired: usize,
}

/// Caps linear memory; a refused growth traps with a typed error instead of returning -1, so the
/// report can say which limit stopped the plugin.
pub struct MemoryCap {
    limit: u64,
}

impl ResourceLimiter for MemoryCap {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired as u64 > self.limit {
            return Err(wasmtime::Error::new(MemoryLimitReached {
                limit: self.limit,
                desired,
            }));
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 1_000_000)
    }
}

impl Host {
    /// Loads a component file (from the compile cache when possible) and checks that it is a
    /// scenario for one of the WIT versions this host runs, which its imports tell.
    pub fn load(&self, path: &Path) -> Result<Plugin> {
        let bytes = std::fs::read(path)
            .with_context(|| format!("cannot read plugin {}", path.display()))?;
        let (component, loaded) = self.cache.load(&self.engine, &bytes, path)?;
        let version = WitVersion::of_component(&component, &self.engine).map_err(|reason| {
            anyhow::anyhow!(
                "{} is not a kscen scenario plugin this kscen can run: {reason}; supported WIT \
                 versions: {} (rebuild it against a kscen-sdk for one of them)",
                path.display(),
                WitVersion::supported_list()
            )
        })?;
        let instance_pre = self
            .linker
            .instantiate_pre(&component)
            .map_err(anyhow::Error::from)
            .with_context(|| {
                format!(
                    "{} targets {version} but imports something it does not define (build it against the kscen-sdk of that version)",
                    path.display()
                )
            })?;
        let pre = ScenarioPre::new(version, instance_pre)
            .map_err(anyhow::Error::from)
            .with_context(|| {
                format!(
                    "{} does not export describe and run as {version} requires",
                    path.display()
                )
            })?;
        Ok(Plugin {
            path: path.to_path_buf(),
            loaded,
            pre,
        })
    }

    fn new_store(
        &self,
        run: Option<Arc<RunContext>>,
        limits: Limits,
        stderr: MemoryOutputPipe,
    ) -> Store<PluginState> {
        // Deny by default: no preopened directories, no environment, no arguments, no sockets.
        let wasi = WasiCtxBuilder::new().stderr(stderr).build();
        let state = PluginState {
            wasi,
            table: ResourceTable::new(),
            memory_cap: MemoryCap {
                limit: limits.memory_bytes,
            },
            guest_time: GuestTime::default(),
            open_consumers: 0,
            run,
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|state| &mut state.memory_cap);
        store.call_hook(|mut store, hook| {
            let time = &mut store.data_mut().guest_time;
            match hook {
                CallHook::CallingWasm | CallHook::ReturningFromHost => time.enter(),
                CallHook::CallingHost | CallHook::ReturningFromWasm => time.leave(),
            }
            Ok(())
        });
        let budget = limits.cpu;
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(move |store| {
            let used = store.data().guest_time.used();
            if used > budget {
                return Err(wasmtime::Error::new(CpuBudgetExceeded { budget, used }));
            }
            // Yield to tokio each tick so other tasks (timeline, live output) keep running.
            Ok(UpdateDeadline::Yield(1))
        });
        store
    }
}

impl Plugin {
    /// The contract version the component was built against.
    pub fn wit_version(&self) -> WitVersion {
        self.pre.version()
    }

    pub async fn describe(&self, host: &Host) -> Result<PluginInfo> {
        let stderr = MemoryOutputPipe::new(STDERR_CAPACITY);
        let mut store = host.new_store(None, DESCRIBE_LIMITS, stderr.clone());
        let outcome = self.pre.describe(&mut store).await;
        let info = outcome.map_err(|error| {
            anyhow::anyhow!("{}", classify(error, &stderr))
                .context(format!("describe() of {} failed", self.path.display()))
        })?;
        convert_info(info).with_context(|| {
            format!(
                "describe() of {} returned an invalid description",
                self.path.display()
            )
        })
    }

    /// Runs the scenario in a fresh store. Load jobs are the run's; the caller stops them.
    pub async fn run(
        &self,
        host: &Host,
        run: Arc<RunContext>,
        limits: Limits,
    ) -> Result<(), PluginFailure> {
        let stderr = MemoryOutputPipe::new(STDERR_CAPACITY);
        let mut store = host.new_store(Some(run), limits, stderr.clone());
        let outcome = self.pre.run(&mut store).await;
        // The store (and the instance in it) is dropped here whatever happened: never re-entered.
        match outcome {
            Ok(Ok(())) => Ok(()),
            Ok(Err(message)) => Err(PluginFailure::Returned(message)),
            Err(error) => Err(classify(error, &stderr)),
        }
    }
}

fn classify(error: wasmtime::Error, stderr: &MemoryOutputPipe) -> PluginFailure {
    if let Some(cpu) = error.downcast_ref::<CpuBudgetExceeded>() {
        return PluginFailure::CpuBudget(cpu.to_string());
    }
    if let Some(memory) = error.downcast_ref::<MemoryLimitReached>() {
        return PluginFailure::MemoryLimit(memory.to_string());
    }
    if let Some(interrupted) = error.downcast_ref::<Interrupted>() {
        return PluginFailure::Interrupted(interrupted.to_string());
    }
    if let Some(timeout) = error.downcast_ref::<HostCallTimeout>() {
        return PluginFailure::HostCallTimeout(timeout.to_string());
    }
    let output = String::from_utf8_lossy(&stderr.contents())
        .trim()
        .to_string();
    let tail: String = output
        .chars()
        .rev()
        .take(2000)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    let mut message = format!("{error:?}");
    if !tail.is_empty() {
        message = format!("{tail}\n{message}");
    }
    PluginFailure::Trapped(message)
}

fn convert_info(Described { info, optional }: Described) -> Result<PluginInfo> {
    anyhow::ensure!(!info.name.trim().is_empty(), "the scenario name is empty");
    let mut params = Vec::new();
    for spec in info.params {
        anyhow::ensure!(
            spec.name != crate::config::params::TIME_SCALE,
            "parameter {:?} is reserved by the host",
            spec.name
        );
        anyhow::ensure!(
            !params.iter().any(|p: &ParamSpec| p.name == spec.name),
            "parameter {:?} is declared twice",
            spec.name
        );
        params.push(ParamSpec {
            name: spec.name,
            kind: match spec.kind {
                WitKind::Int => ParamKind::Int,
                WitKind::Float => ParamKind::Float,
                WitKind::Text => ParamKind::Text,
                WitKind::Flag => ParamKind::Flag,
                WitKind::Duration => ParamKind::Duration,
                WitKind::Size => ParamKind::Size,
                WitKind::FloatList => ParamKind::FloatList,
                WitKind::SizeList => ParamKind::SizeList,
            },
            default: spec.default,
            help: spec.help,
        });
    }
    let requests: Vec<Request> = info.capabilities.into_iter().map(Request::from).collect();
    let optional: Vec<Request> = optional.into_iter().map(Request::from).collect();
    if let Some(twice) = optional.iter().find(|request| requests.contains(request)) {
        anyhow::bail!("{twice} is both required and optional");
    }
    Ok(PluginInfo {
        name: info.name,
        summary: info.summary,
        description: info.description,
        params,
        requests,
        optional,
    })
}
