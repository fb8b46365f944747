//! `grants`: which capabilities the run holds, so a plugin uses an optional one only when the
//! environment had it.

use crate::bindings::v0_5_0::kscen::scenario0_5_0::grants::Host;
use crate::bindings::Capability;
use crate::caps::PluginState;

impl Host for PluginState {
    async fn granted(&mut self, capability: Capability) -> wasmtime::Result<bool> {
        Ok(self.run()?.grants.holds(&capability.into()))
    }
}
