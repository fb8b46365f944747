//! `kscen:scenario@0.6.0`, the newest version: its own `shard` interface (which shard of a
//! sharded run the plugin is) beside every older version's host interfaces, all reused as
//! generated there. Its exports are 0.5.0's.

wasmtime::component::bindgen!({
    path: "../wit/scenario@0.6.0",
    world: "scenario",
    imports: { default: async | trappable },
    exports: { default: async },
    with: {
        "kscen:scenario@0.1.0": super::v0_1_0::kscen::scenario,
        "kscen:scenario/types@0.2.0": super::v0_2_0::kscen::scenario0_2_0::types,
        "kscen:scenario/mm2@0.3.0": super::v0_3_0::kscen::scenario0_3_0::mm2,
        "kscen:scenario/groups@0.4.0": super::v0_4_0::kscen::scenario0_4_0::groups,
        "kscen:scenario/grants@0.5.0": super::v0_5_0::kscen::scenario0_5_0::grants,
    },
});
