//! `params`: the scenario's resolved, typed parameters.

use crate::bindings::v0_1_0::kscen::scenario::params::{Host, ParamValue as Wit};
use crate::bindings::WitError;
use crate::caps::PluginState;
use crate::config::params::ParamValue;

impl Host for PluginState {
    async fn get(&mut self, name: String) -> wasmtime::Result<Result<Wit, WitError>> {
        let params = &self.run()?.params;
        Ok(match params.get(&name) {
            Some(value) => Ok(to_wit(value.clone())),
            None => Err(WitError::NotFound(format!(
                "parameter {name:?} was not declared in describe()"
            ))),
        })
    }

    async fn time_scale(&mut self) -> wasmtime::Result<f64> {
        Ok(self.run()?.params.time_scale)
    }
}

fn to_wit(value: ParamValue) -> Wit {
    match value {
        ParamValue::Int(v) => Wit::Int(v),
        ParamValue::Float(v) => Wit::Float(v),
        ParamValue::Text(v) => Wit::Text(v),
        ParamValue::Flag(v) => Wit::Flag(v),
        ParamValue::DurationMs(v) => Wit::DurationMs(v),
        ParamValue::SizeBytes(v) => Wit::SizeBytes(v),
        ParamValue::FloatList(v) => Wit::FloatList(v),
        ParamValue::SizeList(v) => Wit::SizeList(v),
    }
}
