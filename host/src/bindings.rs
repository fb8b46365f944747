//! The one place `bindgen!` runs: host-side types and traits of `kscen:scenario@0.1.0`.

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

pub use self::kscen::scenario::types::Error as WitError;

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
            E::Connect { status, message } => {
                WitError::Connect(self::kscen::scenario::types::ConnectError { status, message })
            }
            E::Fault(m) => WitError::Fault(m),
            E::Probe(m) => WitError::Probe(m),
        }
    }
}
