//! `clock`: the run's monotonic clock, wall time, and sleeps that do not burn the CPU budget.

use std::time::Duration;

use crate::bindings::v0_1_0::kscen::scenario::clock::Host;
use crate::caps::{unless_cancelled, PluginState};

impl Host for PluginState {
    async fn monotonic_now_ns(&mut self) -> wasmtime::Result<u64> {
        Ok(self.run()?.metrics.clock.now_ns())
    }

    async fn wall_now_ms(&mut self) -> wasmtime::Result<u64> {
        Ok(chrono::Utc::now().timestamp_millis().max(0) as u64)
    }

    async fn sleep_ms(&mut self, ms: u64) -> wasmtime::Result<()> {
        let run = self.run()?.clone();
        unless_cancelled(&run, tokio::time::sleep(Duration::from_millis(ms))).await
    }
}
