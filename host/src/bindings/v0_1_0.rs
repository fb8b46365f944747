//! `kscen:scenario@0.1.0`: every host interface (the caps implement these traits), and the 0.1.0
//! world's exports, whose `describe` result is adapted to 0.2.0's.

wasmtime::component::bindgen!({
    path: "../wit/scenario@0.1.0",
    world: "scenario",
    imports: { default: async | trappable },
    exports: { default: async },
    with: {
        "kscen:scenario/kafka.load": crate::caps::kafka::LoadHandle,
        "kscen:scenario/kafka.consumer": crate::caps::kafka::ConsumerHandle,
    },
});

use self::kscen::scenario::types::{Capability, ConnectError, Error as WitError};
use super::v0_2_0::kscen::scenario0_2_0::types as newest;

/// `types` declares no functions; the linker still wants its (empty) host trait.
impl self::kscen::scenario::types::Host for crate::caps::PluginState {}

impl From<crate::error::HostError> for WitError {
    fn from(error: crate::error::HostError) -> Self {
        use crate::error::HostError as E;
        match error {
            E::Denied(m) => WitError::Denied(m),
            E::NotFound(m) => WitError::NotFound(m),
            E::Invalid(m) => WitError::Invalid(m),
            E::Kafka(m) => WitError::Kafka(m),
            E::Timeout(m) => WitError::Timeout(m),
            E::Unsupported(m) => WitError::Unsupported(m),
            E::Connect { status, message } => WitError::Connect(ConnectError { status, message }),
            E::Fault(m) => WitError::Fault(m),
            E::Probe(m) => WitError::Probe(m),
        }
    }
}

/// A 0.1.0 description is a 0.2.0 one that declares no topics.
impl From<ScenarioInfo> for newest::ScenarioInfo {
    fn from(info: ScenarioInfo) -> Self {
        newest::ScenarioInfo {
            name: info.name,
            summary: info.summary,
            description: info.description,
            params: info.params,
            capabilities: info
                .capabilities
                .into_iter()
                .map(|capability| match capability {
                    Capability::Cluster(name) => newest::Capability::Cluster(name),
                    Capability::Connect => newest::Capability::Connect,
                    Capability::Fault(name) => newest::Capability::Fault(name),
                    Capability::Probe(name) => newest::Capability::Probe(name),
                })
                .collect(),
        }
    }
}
