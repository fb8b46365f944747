//! The wasmtime side: one engine and linker for every plugin, a compile cache, the epoch ticker
//! that lets the host interrupt runaway plugins, and per-instance stores with limits.

mod cache;
pub mod limits;
mod plugin;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use wasmtime::component::Linker;
use wasmtime::{Config, Engine};

use crate::caps::PluginState;
pub use plugin::{MemoryCap, Plugin, PluginInfo};

/// How often the epoch advances: the granularity of CPU accounting and interruption.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

pub struct Host {
    engine: Engine,
    linker: Linker<PluginState>,
    cache: cache::CompileCache,
    ticker_stop: Arc<AtomicBool>,
}

impl Host {
    pub fn new() -> Result<Host> {
        let mut config = Config::new();
        config.epoch_interruption(true);
        let engine = Engine::new(&config).map_err(anyhow::Error::from)?;
        let mut linker = Linker::new(&engine);
        // WASI is linked so that components built for wasm32-wasip2 instantiate; the context
        // each store gets grants nothing (no files, env, sockets, clocks beyond WASI's own).
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(anyhow::Error::from)?;
        crate::bindings::add_to_linker(&mut linker).map_err(anyhow::Error::from)?;
        let cache = cache::CompileCache::new(crate::paths::cache_dir()?.join("components"));
        let ticker_stop = Arc::new(AtomicBool::new(false));
        spawn_epoch_ticker(engine.clone(), ticker_stop.clone())?;
        Ok(Host {
            engine,
            linker,
            cache,
            ticker_stop,
        })
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        self.ticker_stop.store(true, Ordering::Relaxed);
    }
}

fn spawn_epoch_ticker(engine: Engine, stop: Arc<AtomicBool>) -> Result<()> {
    std::thread::Builder::new()
        .name("kscen-epoch".into())
        .spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(EPOCH_TICK);
                engine.increment_epoch();
            }
        })?;
    Ok(())
}
