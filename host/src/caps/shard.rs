//! `shard`: which shard of a sharded run (`kscen run --shard I/N`) the plugin runs in.

use crate::bindings::v0_6_0::kscen::scenario0_6_0::shard::{Host, ShardInfo};
use crate::caps::PluginState;

impl Host for PluginState {
    async fn current(&mut self) -> wasmtime::Result<ShardInfo> {
        let shard = self.run()?.shard;
        Ok(ShardInfo {
            index: shard.index,
            count: shard.count,
        })
    }
}
