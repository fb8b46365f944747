//! # kscen-sdk
//!
//! Write kscen scenarios in Rust. A scenario orchestrates; the host runs the load natively and
//! measures it. Implement [`Scenario`], then `kscen_sdk::export_scenario!(MyScenario);`, and
//! build with `cargo build --release --target wasm32-wasip2`.
//!
//! ```ignore
//! use kscen_sdk::prelude::*;
//!
//! struct Hello;
//!
//! impl Scenario for Hello {
//!     fn describe() -> ScenarioInfo {
//!         Describe::new("hello", "one phase of steady load")
//!             .param(spec::float("rate", 100.0, "records per second"))
//!             .cluster("source")
//!             .build()
//!     }
//!
//!     fn run() -> Result<(), ScenarioError> {
//!         phase("steady");
//!         Load::to("source", "hello").rate(param::float("rate")?).duration(secs(5)).start()?.wait()?;
//!         Ok(())
//!     }
//! }
//!
//! kscen_sdk::export_scenario!(Hello);
//! ```

// Lets the generated code name this crate as plugins see it.
extern crate self as kscen_sdk;

pub mod brokers;
pub mod consume;
pub mod describe;
mod error;
pub mod grants;
pub mod jvm;
pub mod load;
pub mod mm2;
pub mod param;
pub mod shard;

/// Generated bindings of `kscen:scenario@0.6.0`, for what the wrappers do not cover. 0.6.0 imports
/// 0.1.0's host interfaces, 0.2.0's `types`, 0.3.0's `mm2`, 0.4.0's `groups` and 0.5.0's `grants`
/// unchanged, so they sit in `kscen::scenario0_1_0` to `kscen::scenario0_5_0`, and 0.6.0's own
/// `shard` in `kscen::scenario0_6_0`.
pub mod bindings {
    wit_bindgen::generate!({
        path: "wit/scenario@0.6.0",
        world: "scenario",
        pub_export_macro: true,
        export_macro_name: "export_bindings",
        default_bindings_module: "kscen_sdk::bindings",
        runtime_path: "kscen_sdk::wit_bindgen::rt",
        // The older versions' interfaces come from `deps/`: generate them here too.
        generate_all,
    });
}

use std::time::Duration;

pub use bindings::kscen::scenario0_1_0::{
    clock, connect, faults, kafka, log, metrics, params, probe,
};

/// The contract's types: the description of 0.2.0 (unchanged since), errors and parameters as
/// 0.1.0 defines them. What a scenario's `describe` returns is [`crate::ScenarioInfo`], which
/// holds this `ScenarioInfo` and the optional capabilities.
pub mod types {
    pub use crate::bindings::kscen::scenario0_1_0::types::{
        ConnectError, Error, ParamKind, ParamSpec,
    };
    pub use crate::bindings::kscen::scenario0_2_0::types::{
        Capability, ScenarioInfo, TopicRequest,
    };
}
pub use consume::Consume;
pub use describe::{spec, Describe, ScenarioInfo};
pub use error::ScenarioError;
pub use load::Load;
pub use shard::{shard, Shard};
/// Re-exported so plugin crates need no wit-bindgen dependency of their own.
pub use wit_bindgen;

/// What a plugin implements.
pub trait Scenario {
    /// Name, summary, parameters, and the capabilities it needs or uses when offered. Runs
    /// without host access.
    fn describe() -> ScenarioInfo;
    /// The scenario itself. Return an error to fail the run with its message.
    fn run() -> Result<(), ScenarioError>;
}

/// Exports a [`Scenario`] implementation as the component's `describe`, `optional-capabilities`
/// and `run`.
#[macro_export]
macro_rules! export_scenario {
    ($scenario:ty) => {
        struct __KscenExport;

        impl $crate::bindings::Guest for __KscenExport {
            fn describe() -> $crate::types::ScenarioInfo {
                <$scenario as $crate::Scenario>::describe().required
            }

            fn optional_capabilities() -> ::std::vec::Vec<$crate::types::Capability> {
                <$scenario as $crate::Scenario>::describe().optional
            }

            fn run() -> ::core::result::Result<(), ::std::string::String> {
                <$scenario as $crate::Scenario>::run().map_err(|error| error.to_string())
            }
        }

        $crate::bindings::export_bindings!(__KscenExport with_types_in $crate::bindings);
    };
}

/// Everything a typical scenario uses.
pub mod prelude {
    pub use crate::consume::Consume;
    pub use crate::describe::{spec, Describe};
    pub use crate::load::Load;
    pub use crate::{
        create_topic, end_phase, event, figure, gauge, info, monotonic_now, param, phase, secs,
        sleep, warn, Scenario, ScenarioError, ScenarioInfo,
    };
    pub use std::time::Duration;
}

/// Sleeps on the host (does not use the plugin's CPU budget).
pub fn sleep(duration: Duration) {
    clock::sleep_ms(duration.as_millis() as u64);
}

/// Time since the run started, on the host's monotonic clock.
pub fn monotonic_now() -> Duration {
    Duration::from_nanos(clock::monotonic_now_ns())
}

pub fn secs(seconds: u64) -> Duration {
    Duration::from_secs(seconds)
}

/// A probe's sample, for the tests of the modules that read exporters.
#[cfg(test)]
pub(crate) fn probe_sample(name: &str, labels: &[(&str, &str)], value: f64) -> probe::Sample {
    probe::Sample {
        name: name.into(),
        labels: labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        value,
    }
}

/// Opens a phase (closing the previous one); load is attributed to phases by intended send time.
pub fn phase(name: &str) {
    metrics::phase_begin(name);
}

pub fn end_phase() {
    metrics::phase_end();
}

/// Records an entry in the run's event log.
pub fn event(kind: &str, message: &str) {
    metrics::event(kind, message);
}

/// A named result of the scenario, with its unit (`ms`, `s`, `records`, ...).
pub fn figure(name: &str, value: f64, unit: &str) {
    metrics::figure(name, value, unit);
}

pub fn gauge(name: &str, value: f64) {
    metrics::gauge(name, value);
}

pub fn info(message: &str) {
    log::log(log::Level::Info, message);
}

pub fn warn(message: &str) {
    log::log(log::Level::Warn, message);
}

/// Creates a topic (an existing one is accepted as it is) as the operator set it up: the
/// replication factor, `min.insync.replicas` and configs of the profile or scenario file, else
/// the cluster's defaults. The host reports what the topic got in the run's events, and refuses a
/// topic on which the run's `acks=all` producer could never be acknowledged.
///
/// With [`kafka::create_topic`] directly, a replication factor of 0 means the same; another
/// value is used unless the operator set one.
pub fn create_topic(cluster: &str, topic: &str, partitions: u32) -> Result<(), ScenarioError> {
    Ok(kafka::create_topic(cluster, topic, partitions, 0, &[])?)
}
