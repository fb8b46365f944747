//! Which capabilities the run holds: those `describe` requires always, an optional one when the
//! environment has it.

use crate::bindings::kscen::scenario0_5_0::grants::granted;
use crate::types::Capability;

/// Whether the run holds the cluster of the profile named `name`.
pub fn cluster(name: &str) -> bool {
    granted(&Capability::Cluster(name.into()))
}

/// Whether the run holds the profile's metrics endpoint named `name`.
pub fn probe(name: &str) -> bool {
    granted(&Capability::Probe(name.into()))
}

/// Whether the run holds the Kafka Connect REST API.
pub fn connect() -> bool {
    granted(&Capability::Connect)
}
