//! The one place `bindgen!` runs: one module per published version of `kscen:scenario`.
//!
//! Why it is this small: each version only adds to the one before. `kscen:scenario@0.2.0` changes
//! only `types` (a plugin may declare topic requests in `describe`); 0.3.0 only adds the `mm2`
//! interface, 0.4.0 only the `groups` interface, 0.5.0 the `grants` interface and the
//! `optional-capabilities` export, 0.6.0 the `shard` interface. Each WIT imports the older packages unchanged (through its `deps/` folder), and its
//! `bindgen!` maps them to the code generated for them (`with:`). So every host capability
//! (`caps/`) is implemented once, on the traits of the version that introduced it, and one linker,
//! built from the newest world (whose imports include all older ones'), instantiates components
//! of every version. 0.2.0 to 0.6.0 share `describe` and `run`; a 0.1.0 `describe` result is
//! adapted to 0.2.0's [`ScenarioInfo`]. `optional-capabilities` is read from every component that
//! exports it, whatever the version its imports tell: a plugin that declares optional
//! capabilities but never asks `granted` imports nothing of 0.5.0's, and still gets them. A future version that changes a host interface gets that interface
//! generated in its own module, and the older module delegates its calls to it.
//!
//! A component's version is read from its imports: a 0.2.0 component imports `types@0.2.0` (its
//! `describe` returns that interface's `scenario-info`), a 0.3.0 one `mm2@0.3.0`, a 0.4.0 one
//! `groups@0.4.0`, a 0.5.0 one `grants@0.5.0`, a 0.6.0 one `shard@0.6.0`. A plugin that never calls its version's new interface imports what one of the
//! version before does, and runs as one: the two are the same contract for it.

pub mod v0_1_0;
pub mod v0_2_0;
pub mod v0_3_0;
pub mod v0_4_0;
pub mod v0_5_0;
pub mod v0_6_0;

use wasmtime::component::{Component, ComponentExportIndex, HasSelf, InstancePre, Linker};
use wasmtime::{Engine, Store};

use crate::caps::PluginState;

pub use v0_1_0::kscen::scenario::types::{Error as WitError, ParamKind};
pub use v0_2_0::kscen::scenario0_2_0::types::{Capability, TopicRequest};
pub use v0_2_0::ScenarioInfo;

/// A published version of the plugin contract this host runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum WitVersion {
    V0_1_0,
    V0_2_0,
    V0_3_0,
    V0_4_0,
    V0_5_0,
    V0_6_0,
}

const PACKAGE: &str = "kscen:scenario";

impl WitVersion {
    /// Oldest first.
    pub const SUPPORTED: [WitVersion; 6] = [
        WitVersion::V0_1_0,
        WitVersion::V0_2_0,
        WitVersion::V0_3_0,
        WitVersion::V0_4_0,
        WitVersion::V0_5_0,
        WitVersion::V0_6_0,
    ];
    /// What the SDK and new packs are built against.
    pub const NEWEST: WitVersion = WitVersion::V0_6_0;

    pub fn semver(self) -> &'static str {
        match self {
            WitVersion::V0_1_0 => "0.1.0",
            WitVersion::V0_2_0 => "0.2.0",
            WitVersion::V0_3_0 => "0.3.0",
            WitVersion::V0_4_0 => "0.4.0",
            WitVersion::V0_5_0 => "0.5.0",
            WitVersion::V0_6_0 => "0.6.0",
        }
    }

    /// The world's name as packs record it, e.g. `kscen:scenario@0.2.0`.
    pub fn world(self) -> String {
        format!("{PACKAGE}@{}", self.semver())
    }

    /// The version a world name (`kscen:scenario@0.1.0`) stands for, if this host supports it.
    pub fn from_world(world: &str) -> Option<WitVersion> {
        Self::SUPPORTED
            .into_iter()
            .find(|version| version.world() == world)
    }

    /// `kscen:scenario@0.1.0, kscen:scenario@0.2.0`: for messages.
    pub fn supported_list() -> String {
        Self::SUPPORTED.map(WitVersion::world).join(", ")
    }

    /// The newest `kscen:scenario` version the component imports; an error saying what it imports
    /// instead when that is no version this host supports.
    pub fn of_component(component: &Component, engine: &Engine) -> Result<WitVersion, String> {
        let mut found = None;
        for (name, _) in component.component_type().imports(engine) {
            let Some(version) = name
                .strip_prefix(PACKAGE)
                .and_then(|rest| rest.strip_prefix('/'))
                .and_then(|rest| rest.split_once('@'))
                .map(|(_, version)| version)
            else {
                continue;
            };
            let Some(known) = Self::SUPPORTED.into_iter().find(|v| v.semver() == version) else {
                return Err(format!("it imports {name}"));
            };
            found = found.max(Some(known));
        }
        found.ok_or_else(|| format!("it imports no {PACKAGE} interface"))
    }
}

impl std::fmt::Display for WitVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.world())
    }
}

/// Links every version's host interfaces: the newest world imports all of the older ones'.
pub fn add_to_linker(linker: &mut Linker<PluginState>) -> wasmtime::Result<()> {
    v0_6_0::Scenario::add_to_linker::<_, HasSelf<_>>(linker, |state| state)
}

/// The export of 0.5.0 listing the capabilities a plugin uses only when they are offered.
const OPTIONAL_CAPABILITIES: &str = "optional-capabilities";

/// What `describe` and `optional-capabilities` return, in the newest version's terms.
pub struct Described {
    pub info: ScenarioInfo,
    pub optional: Vec<Capability>,
}

/// A component ready to instantiate, with its version's exports looked up. 0.3.0 to 0.6.0
/// export what 0.2.0 does, so one variant serves them all.
pub enum ScenarioPre {
    V0_1_0(v0_1_0::ScenarioPre<PluginState>),
    V0_2_0 {
        pre: v0_2_0::ScenarioPre<PluginState>,
        version: WitVersion,
        /// `optional-capabilities`, when the component exports it
        optional: Option<ComponentExportIndex>,
    },
}

impl ScenarioPre {
    /// Fails when the component does not export what `version` defines.
    pub fn new(
        version: WitVersion,
        instance_pre: InstancePre<PluginState>,
    ) -> wasmtime::Result<ScenarioPre> {
        if version == WitVersion::V0_1_0 {
            return Ok(ScenarioPre::V0_1_0(v0_1_0::ScenarioPre::new(instance_pre)?));
        }
        let optional = instance_pre
            .component()
            .get_export_index(None, OPTIONAL_CAPABILITIES);
        if version >= WitVersion::V0_5_0 && optional.is_none() {
            wasmtime::bail!("it does not export {OPTIONAL_CAPABILITIES}");
        }
        Ok(ScenarioPre::V0_2_0 {
            pre: v0_2_0::ScenarioPre::new(instance_pre)?,
            version,
            optional,
        })
    }

    pub fn version(&self) -> WitVersion {
        match self {
            ScenarioPre::V0_1_0(_) => WitVersion::V0_1_0,
            ScenarioPre::V0_2_0 { version, .. } => *version,
        }
    }

    /// Instantiates the component in `store` and calls `describe`, and `optional-capabilities`
    /// when it has it.
    pub async fn describe(&self, store: &mut Store<PluginState>) -> wasmtime::Result<Described> {
        match self {
            ScenarioPre::V0_1_0(pre) => {
                let instance = pre.instantiate_async(&mut *store).await?;
                Ok(Described {
                    info: instance.call_describe(store).await?.into(),
                    optional: Vec::new(),
                })
            }
            ScenarioPre::V0_2_0 { pre, optional, .. } => {
                let instance = pre.instance_pre().instantiate_async(&mut *store).await?;
                let exports = v0_2_0::Scenario::new(&mut *store, &instance)?;
                let info = exports.call_describe(&mut *store).await?;
                let optional = match optional {
                    Some(index) => {
                        let call = instance
                            .get_typed_func::<(), (Vec<Capability>,)>(&mut *store, index)?;
                        call.call_async(&mut *store, ()).await?.0
                    }
                    None => Vec::new(),
                };
                Ok(Described { info, optional })
            }
        }
    }

    /// Instantiates the component in `store` and calls `run`.
    pub async fn run(
        &self,
        store: &mut Store<PluginState>,
    ) -> wasmtime::Result<Result<(), String>> {
        match self {
            ScenarioPre::V0_1_0(pre) => {
                let instance = pre.instantiate_async(&mut *store).await?;
                instance.call_run(store).await
            }
            ScenarioPre::V0_2_0 { pre, .. } => {
                let instance = pre.instantiate_async(&mut *store).await?;
                instance.call_run(store).await
            }
        }
    }
}
