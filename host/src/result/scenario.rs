//! What ran: the scenario, its plugin and where it was loaded from, its parameters and limits.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::config::params::ResolvedParams;
use crate::engine::limits::Limits;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScenarioMeta {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plugin: Option<PluginMeta>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<ParamsUsed>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<Limits>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PluginMeta {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(flatten)]
    pub loaded: Option<LoadedFrom>,
}

/// Where a component came from, for reports and results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadedFrom {
    pub sha256: String,
    pub from_cache: bool,
    pub load_ms: f64,
}

/// The parameters the plugin read, as values: what a report quotes and a re-run passes back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParamsUsed {
    pub time_scale: f64,
    #[serde(default)]
    pub values: BTreeMap<String, serde_json::Value>,
}

impl From<&ResolvedParams> for ParamsUsed {
    fn from(params: &ResolvedParams) -> Self {
        ParamsUsed {
            time_scale: params.time_scale,
            values: params
                .values
                .iter()
                .map(|(name, value)| {
                    let value = serde_json::to_value(value).expect("a parameter is plain data");
                    (name.clone(), value)
                })
                .collect(),
        }
    }
}
