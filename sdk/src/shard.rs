//! Which shard of a sharded run (`kscen run --shard I/N`) the scenario runs in. Every shard runs
//! the same plugin; the host gives each load its stripe of the rate and count. What the run does
//! once (creating topics, changing connectors, faults) is shard 0's:
//!
//! ```ignore
//! if kscen_sdk::shard().is_first() {
//!     mm2::restart_connector(&source)?;
//! }
//! ```

use crate::bindings::kscen::scenario0_6_0::shard::current;

/// Shard `index` of `count`, 0-based; 0 of 1 when the run is not sharded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl Shard {
    /// Whether this shard does what the run does once.
    pub fn is_first(self) -> bool {
        self.index == 0
    }
}

/// This process's shard.
pub fn shard() -> Shard {
    let info = current();
    Shard {
        index: info.index,
        count: info.count,
    }
}
