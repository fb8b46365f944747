//! kscen: Kafka and MirrorMaker 2 load and resilience scenarios as sandboxed WebAssembly
//! components. The host owns the Kafka clients, timers and metrics; scenarios orchestrate.

pub mod bindings;
pub mod bundle;
pub mod campaign;
pub mod caps;
pub mod cli;
pub mod cluster;
pub mod config;
pub mod connect;
pub mod deployment;
pub mod engine;
pub mod error;
pub mod exit;
pub mod exporter;
pub mod faults;
pub mod groups;
pub mod import;
pub mod interrupt;
pub mod k8s;
pub mod lab;
pub mod load;
pub mod metrics;
pub mod metrics_http;
pub mod pack;
pub mod paths;
pub mod plugin_path;
pub mod policy;
pub mod probe;
pub mod report;
pub mod result;
pub mod run;
pub mod shard;
pub mod template;
pub mod thresholds;
pub mod verify;
pub mod watch;
