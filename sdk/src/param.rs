//! Typed access to the scenario's parameters (already checked against their declared kinds).

use std::time::Duration;

use crate::params::{get, ParamValue};
use crate::ScenarioError;

fn value(name: &str) -> Result<ParamValue, ScenarioError> {
    Ok(get(name)?)
}

fn mismatch(name: &str, wanted: &str) -> ScenarioError {
    ScenarioError::Failed(format!("parameter {name:?} is not declared as {wanted}"))
}

pub fn int(name: &str) -> Result<i64, ScenarioError> {
    match value(name)? {
        ParamValue::Int(v) => Ok(v),
        _ => Err(mismatch(name, "int")),
    }
}

pub fn float(name: &str) -> Result<f64, ScenarioError> {
    match value(name)? {
        ParamValue::Float(v) => Ok(v),
        ParamValue::Int(v) => Ok(v as f64),
        _ => Err(mismatch(name, "float")),
    }
}

pub fn text(name: &str) -> Result<String, ScenarioError> {
    match value(name)? {
        ParamValue::Text(v) => Ok(v),
        _ => Err(mismatch(name, "text")),
    }
}

pub fn flag(name: &str) -> Result<bool, ScenarioError> {
    match value(name)? {
        ParamValue::Flag(v) => Ok(v),
        _ => Err(mismatch(name, "flag")),
    }
}

/// A duration, with the run's time scale already applied.
pub fn duration(name: &str) -> Result<Duration, ScenarioError> {
    match value(name)? {
        ParamValue::DurationMs(ms) => Ok(Duration::from_millis(ms)),
        _ => Err(mismatch(name, "duration")),
    }
}

pub fn size(name: &str) -> Result<u64, ScenarioError> {
    match value(name)? {
        ParamValue::SizeBytes(v) => Ok(v),
        _ => Err(mismatch(name, "size")),
    }
}

pub fn float_list(name: &str) -> Result<Vec<f64>, ScenarioError> {
    match value(name)? {
        ParamValue::FloatList(v) => Ok(v),
        _ => Err(mismatch(name, "float-list")),
    }
}

pub fn size_list(name: &str) -> Result<Vec<u64>, ScenarioError> {
    match value(name)? {
        ParamValue::SizeList(v) => Ok(v),
        _ => Err(mismatch(name, "size-list")),
    }
}

/// The run's time scale, for scenarios that compute durations of their own.
pub fn time_scale() -> f64 {
    crate::params::time_scale()
}
