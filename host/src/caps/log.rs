//! `log`: plugin messages, shown with the plugin's name and kept off stdout's measured lines.

use crate::bindings::v0_1_0::kscen::scenario::log::{Host, Level};
use crate::caps::PluginState;

impl Host for PluginState {
    async fn log(&mut self, level: Level, message: String) -> wasmtime::Result<()> {
        match level {
            Level::Debug => tracing::debug!(target: "plugin", "{message}"),
            Level::Info => eprintln!("[plugin] {message}"),
            Level::Warn => eprintln!("[plugin] warning: {message}"),
            Level::Error => eprintln!("[plugin] error: {message}"),
        }
        Ok(())
    }
}
