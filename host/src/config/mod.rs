//! Inputs of a run: profiles, scenario files, parameters, producer properties, units.

pub mod client_props;
pub mod new_topics;
pub mod params;
pub mod profile;
pub mod scenario;
pub mod secrets;
pub mod units;
