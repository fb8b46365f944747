//! `kscen:scenario@0.2.0`: its own `types` (capabilities with topic requests)
//! and the world's exports. Its host interfaces are 0.1.0's, reused as they are generated there.

wasmtime::component::bindgen!({
    path: "../wit/scenario@0.2.0",
    world: "scenario",
    imports: { default: async | trappable },
    exports: { default: async },
    with: {
        "kscen:scenario@0.1.0": super::v0_1_0::kscen::scenario,
    },
});

/// `types` declares no functions; the linker still wants its (empty) host trait.
impl self::kscen::scenario0_2_0::types::Host for crate::caps::PluginState {}

/// A capability as the policy grants it.
impl From<self::kscen::scenario0_2_0::types::Capability> for crate::policy::Request {
    fn from(capability: self::kscen::scenario0_2_0::types::Capability) -> Self {
        use self::kscen::scenario0_2_0::types::{Capability, TopicRequest};
        match capability {
            Capability::Cluster(name) => Self::Cluster(name),
            Capability::Connect => Self::Connect,
            Capability::Fault(name) => Self::Fault(name),
            Capability::Probe(name) => Self::Probe(name),
            Capability::Topic(TopicRequest { cluster, pattern }) => {
                Self::Topic { cluster, pattern }
            }
        }
    }
}
