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
