//! `kscen:scenario@0.3.0`: its own `mm2` interface (the run's MirrorMaker 2
//! mirror) beside 0.1.0's host interfaces and 0.2.0's `types`, both reused as generated there.
//! Its exports are 0.2.0's.

wasmtime::component::bindgen!({
    path: "../wit/scenario@0.3.0",
    world: "scenario",
    imports: { default: async | trappable },
    exports: { default: async },
    with: {
        "kscen:scenario@0.1.0": super::v0_1_0::kscen::scenario,
        "kscen:scenario/types@0.2.0": super::v0_2_0::kscen::scenario0_2_0::types,
    },
});
