//! `kscen:scenario@0.4.0`: its own `groups` interface (consume jobs, group
//! lag, offset translation) beside 0.1.0's host interfaces, 0.2.0's `types` and 0.3.0's `mm2`,
//! all reused as generated there. Its exports are 0.2.0's.

wasmtime::component::bindgen!({
    path: "../wit/scenario@0.4.0",
    world: "scenario",
    imports: { default: async | trappable },
    exports: { default: async },
    with: {
        "kscen:scenario@0.1.0": super::v0_1_0::kscen::scenario,
        "kscen:scenario/types@0.2.0": super::v0_2_0::kscen::scenario0_2_0::types,
        "kscen:scenario/mm2@0.3.0": super::v0_3_0::kscen::scenario0_3_0::mm2,
        "kscen:scenario/groups.consume-job": crate::caps::groups::ConsumeHandle,
    },
});
