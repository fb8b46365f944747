//! Scenario parameters: the kinds a plugin declares, and the typed values the host resolves from
//! the scenario file, `--set` overrides and declared defaults before the plugin runs.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use serde::Serialize;

use super::units::{parse_duration, parse_size};

/// The parameter every scenario understands: it multiplies every duration parameter.
pub const TIME_SCALE: &str = "time_scale";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ParamKind {
    Int,
    Float,
    Text,
    Flag,
    Duration,
    Size,
    FloatList,
    SizeList,
}

impl ParamKind {
    pub fn label(self) -> &'static str {
        match self {
            ParamKind::Int => "int",
            ParamKind::Float => "float",
            ParamKind::Text => "text",
            ParamKind::Flag => "flag",
            ParamKind::Duration => "duration",
            ParamKind::Size => "size",
            ParamKind::FloatList => "float-list",
            ParamKind::SizeList => "size-list",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ParamSpec {
    pub name: String,
    pub kind: ParamKind,
    pub default: Option<String>,
    pub help: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum ParamValue {
    Int(i64),
    Float(f64),
    Text(String),
    Flag(bool),
    /// Milliseconds, with the run's time scale applied.
    DurationMs(u64),
    SizeBytes(u64),
    FloatList(Vec<f64>),
    SizeList(Vec<u64>),
}

/// Parameters resolved for one run, ready for the plugin to read.
#[derive(Debug, Clone, Serialize)]
pub struct ResolvedParams {
    pub time_scale: f64,
    pub values: BTreeMap<String, ParamValue>,
}

impl ResolvedParams {
    pub fn get(&self, name: &str) -> Option<&ParamValue> {
        self.values.get(name)
    }
}

/// Resolves the plugin's declared parameters from the scenario file's `[params]` table and the
/// `--set` overrides (which win). Unknown names, wrong kinds and missing required values are
/// errors that name the parameter and what was expected.
pub fn resolve(
    specs: &[ParamSpec],
    from_file: &toml::Table,
    overrides: &[(String, String)],
) -> Result<ResolvedParams> {
    let mut raw: BTreeMap<String, toml::Value> = from_file.clone().into_iter().collect();
    for (name, text) in overrides {
        raw.insert(name.clone(), parse_override(text));
    }

    let time_scale = match raw.remove(TIME_SCALE) {
        None => 1.0,
        Some(value) => {
            let scale = as_f64(&value).with_context(|| format!("parameter {TIME_SCALE}"))?;
            if !(scale.is_finite() && scale > 0.0) {
                bail!("parameter {TIME_SCALE} must be a number greater than 0, got {scale}");
            }
            scale
        }
    };

    let known: Vec<&str> = specs.iter().map(|s| s.name.as_str()).collect();
    if let Some(unknown) = raw.keys().find(|name| !known.contains(&name.as_str())) {
        bail!(
            "unknown parameter {unknown:?}; this plugin takes: {}, {TIME_SCALE}",
            known.join(", ")
        );
    }

    let mut values = BTreeMap::new();
    for spec in specs {
        let value = match raw.remove(&spec.name) {
            Some(value) => value,
            None => match &spec.default {
                Some(default) => parse_override(default),
                None => bail!(
                    "parameter {:?} ({}) is required: {}; set it in [params] or with --set {}=...",
                    spec.name,
                    spec.kind.label(),
                    spec.help,
                    spec.name
                ),
            },
        };
        let typed = convert(spec.kind, &value, time_scale).with_context(|| {
            format!("parameter {:?} expects a {}", spec.name, spec.kind.label())
        })?;
        values.insert(spec.name.clone(), typed);
    }
    Ok(ResolvedParams { time_scale, values })
}

/// `--set` values and declared defaults are written in TOML value syntax; a bare word that is
/// not valid TOML (`--set topic=my-topic`) is taken as text.
fn parse_override(text: &str) -> toml::Value {
    let wrapped = format!("value = {text}");
    match wrapped.parse::<toml::Table>() {
        Ok(mut table) => table
            .remove("value")
            .unwrap_or_else(|| toml::Value::String(text.into())),
        Err(_) => toml::Value::String(text.to_string()),
    }
}

fn convert(kind: ParamKind, value: &toml::Value, time_scale: f64) -> Result<ParamValue> {
    Ok(match kind {
        ParamKind::Int => ParamValue::Int(
            value
                .as_integer()
                .ok_or_else(|| anyhow!("got {}", describe(value)))?,
        ),
        ParamKind::Float => ParamValue::Float(as_f64(value)?),
        ParamKind::Text => ParamValue::Text(
            value
                .as_str()
                .ok_or_else(|| anyhow!("got {}", describe(value)))?
                .to_string(),
        ),
        ParamKind::Flag => ParamValue::Flag(
            value
                .as_bool()
                .ok_or_else(|| anyhow!("got {}", describe(value)))?,
        ),
        ParamKind::Duration => {
            let duration = as_duration(value)?.mul_f64(time_scale);
            ParamValue::DurationMs(duration.as_millis() as u64)
        }
        ParamKind::Size => ParamValue::SizeBytes(as_size(value)?),
        ParamKind::FloatList => {
            ParamValue::FloatList(as_list(value)?.iter().map(as_f64).collect::<Result<_>>()?)
        }
        ParamKind::SizeList => {
            ParamValue::SizeList(as_list(value)?.iter().map(as_size).collect::<Result<_>>()?)
        }
    })
}

fn describe(value: &toml::Value) -> String {
    format!("{} {value}", value.type_str())
}

fn as_f64(value: &toml::Value) -> Result<f64> {
    match value {
        toml::Value::Float(f) => Ok(*f),
        toml::Value::Integer(i) => Ok(*i as f64),
        other => bail!("expected a number, got {}", describe(other)),
    }
}

fn as_duration(value: &toml::Value) -> Result<Duration> {
    match value {
        toml::Value::String(text) => parse_duration(text),
        toml::Value::Integer(seconds) if *seconds >= 0 => Ok(Duration::from_secs(*seconds as u64)),
        other => bail!(
            "expected a duration such as \"10m\" or \"30s\", got {}",
            describe(other)
        ),
    }
}

fn as_size(value: &toml::Value) -> Result<u64> {
    match value {
        toml::Value::Integer(bytes) if *bytes >= 0 => Ok(*bytes as u64),
        toml::Value::String(text) => parse_size(text),
        other => bail!(
            "expected a size such as 1024 or \"1MiB\", got {}",
            describe(other)
        ),
    }
}

fn as_list(value: &toml::Value) -> Result<&Vec<toml::Value>> {
    value
        .as_array()
        .ok_or_else(|| anyhow!("expected a list, got {}", describe(value)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str, kind: ParamKind, default: Option<&str>) -> ParamSpec {
        ParamSpec {
            name: name.into(),
            kind,
            default: default.map(Into::into),
            help: format!("the {name}"),
        }
    }

    fn table(text: &str) -> toml::Table {
        text.parse().unwrap()
    }

    #[test]
    fn file_values_overrides_and_defaults_combine() {
        let specs = [
            spec("rate", ParamKind::Float, Some("1000")),
            spec("topic", ParamKind::Text, Some("\"t\"")),
            spec("step", ParamKind::Duration, Some("\"10m\"")),
            spec("sizes", ParamKind::SizeList, Some("[100]")),
        ];
        let resolved = resolve(
            &specs,
            &table("rate = 2000\nsizes = [100, \"1KiB\"]"),
            &[("topic".into(), "my-topic".into())],
        )
        .unwrap();
        assert_eq!(resolved.get("rate"), Some(&ParamValue::Float(2000.0)));
        assert_eq!(
            resolved.get("topic"),
            Some(&ParamValue::Text("my-topic".into()))
        );
        assert_eq!(resolved.get("step"), Some(&ParamValue::DurationMs(600_000)));
        assert_eq!(
            resolved.get("sizes"),
            Some(&ParamValue::SizeList(vec![100, 1024]))
        );
    }

    #[test]
    fn time_scale_shrinks_every_duration() {
        let specs = [spec("step", ParamKind::Duration, Some("\"1h\""))];
        let resolved = resolve(&specs, &table(""), &[(TIME_SCALE.into(), "0.01".into())]).unwrap();
        assert_eq!(resolved.get("step"), Some(&ParamValue::DurationMs(36_000)));
        assert_eq!(resolved.time_scale, 0.01);
    }

    #[test]
    fn mistakes_name_the_parameter() {
        let specs = [spec("rate", ParamKind::Int, None)];
        let missing = resolve(&specs, &table(""), &[]).unwrap_err();
        assert!(format!("{missing:#}").contains("\"rate\" (int) is required"));
        let wrong = resolve(&specs, &table("rate = \"fast\""), &[]).unwrap_err();
        assert!(format!("{wrong:#}").contains("parameter \"rate\" expects a int"));
        let unknown = resolve(&specs, &table("rate = 1\nrat = 2"), &[]).unwrap_err();
        assert!(format!("{unknown:#}").contains("unknown parameter \"rat\""));
        let scale = resolve(&specs, &table("rate = 1\ntime_scale = 0"), &[]).unwrap_err();
        assert!(format!("{scale:#}").contains("greater than 0"));
    }
}
