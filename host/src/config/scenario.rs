//! Scenario files: which plugin runs, with which parameters, under which limits.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use serde::Deserialize;

use super::units::parse_duration;
use crate::engine::limits::Limits;

#[derive(Debug, Clone)]
pub struct ScenarioFile {
    pub path: PathBuf,
    pub name: String,
    pub plugin: String,
    pub description: Option<String>,
    pub params: toml::Table,
    pub limits: Limits,
    /// Fault targets the operator grants this scenario (`[grants] faults = [...]`).
    pub granted_faults: Vec<String>,
    /// Pass/fail criteria (`thresholds = ["corrected.p99 < 100ms", ...]`).
    pub thresholds: Vec<crate::thresholds::Threshold>,
    /// Stop the run as soon as a threshold fails (`abort_on_fail = true`).
    pub abort_on_fail: bool,
    /// How the topics the run creates are made, on every cluster (`[new_topics]`); over the
    /// profile's per-cluster settings.
    pub new_topics: super::new_topics::NewTopics,
    /// The MirrorMaker 2 mirror the run measures when the deployment has several (`mirror =
    /// "NAME"`: a connector name, or the alias pair `SOURCE->TARGET`).
    pub mirror: Option<String>,
    /// Producer settings (`[producer]`, Java or librdkafka names), before the command line's.
    pub producer: Vec<super::client_props::Property>,
    /// The deployment's alerts to watch during the run (`[alerts]`).
    pub alerts: Option<crate::watch::alerts::AlertWatch>,
    /// MirrorMaker 2's own metrics to sample during the run (`[mm2_metrics]`).
    pub mm2_metrics: Option<crate::watch::mm2_metrics::Mm2MetricsWatch>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGrants {
    #[serde(default)]
    faults: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAlerts {
    probe: String,
    poll: Option<String>,
    fault_phase: Option<String>,
}

impl RawAlerts {
    fn resolve(self) -> Result<crate::watch::alerts::AlertWatch> {
        Ok(crate::watch::alerts::AlertWatch {
            poll: watch_poll(self.poll.as_deref())?,
            probe: self.probe,
            fault_phase: self.fault_phase,
        })
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMm2Metrics {
    probe: String,
    poll: Option<String>,
}

impl RawMm2Metrics {
    fn resolve(self) -> Result<crate::watch::mm2_metrics::Mm2MetricsWatch> {
        Ok(crate::watch::mm2_metrics::Mm2MetricsWatch {
            poll: watch_poll(self.poll.as_deref())?,
            probe: self.probe,
        })
    }
}

/// A watch's `poll`: each is a query to the deployment's Prometheus.
fn watch_poll(text: Option<&str>) -> Result<Duration> {
    let Some(text) = text else {
        return Ok(crate::watch::DEFAULT_POLL);
    };
    let poll = parse_duration(text).with_context(|| format!("poll = {text:?}"))?;
    anyhow::ensure!(
        poll >= Duration::from_millis(100),
        "poll = {text:?}: at least 100ms (each poll is a query to the Prometheus server)"
    );
    Ok(poll)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    name: Option<String>,
    plugin: String,
    description: Option<String>,
    #[serde(default)]
    params: toml::Table,
    #[serde(default)]
    limits: crate::engine::limits::RawLimits,
    #[serde(default)]
    grants: RawGrants,
    #[serde(default)]
    thresholds: Vec<String>,
    #[serde(default)]
    abort_on_fail: bool,
    #[serde(default)]
    new_topics: super::new_topics::NewTopics,
    mirror: Option<String>,
    #[serde(default)]
    producer: toml::Table,
    alerts: Option<RawAlerts>,
    mm2_metrics: Option<RawMm2Metrics>,
}

/// A table of client settings (`[producer]`, a campaign step's `producer`) as properties, in key
/// order: TOML strings, numbers and booleans as the text a properties file would hold.
pub fn client_settings(table: &toml::Table) -> Result<Vec<super::client_props::Property>> {
    table
        .iter()
        .map(|(key, value)| {
            let text = match value {
                toml::Value::String(s) => s.clone(),
                toml::Value::Integer(i) => i.to_string(),
                toml::Value::Float(f) => f.to_string(),
                toml::Value::Boolean(b) => b.to_string(),
                other => anyhow::bail!(
                    "{key} = {other}: a client setting is a string, a number or a boolean"
                ),
            };
            Ok((key.clone(), text))
        })
        .collect()
}

impl ScenarioFile {
    pub fn load(path: &Path) -> Result<ScenarioFile> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read scenario file {}", path.display()))?;
        Self::parse(path, &text)
    }

    pub fn parse(path: &Path, text: &str) -> Result<ScenarioFile> {
        let raw: RawScenario = toml::from_str(text)
            .with_context(|| format!("invalid scenario file {}", path.display()))?;
        let limits = raw
            .limits
            .resolve()
            .with_context(|| format!("invalid [limits] in {}", path.display()))?;
        let producer = client_settings(&raw.producer)
            .with_context(|| format!("invalid [producer] in {}", path.display()))?;
        let alerts = raw
            .alerts
            .map(RawAlerts::resolve)
            .transpose()
            .with_context(|| format!("invalid [alerts] in {}", path.display()))?;
        let mm2_metrics = raw
            .mm2_metrics
            .map(RawMm2Metrics::resolve)
            .transpose()
            .with_context(|| format!("invalid [mm2_metrics] in {}", path.display()))?;
        let name = raw.name.unwrap_or_else(|| {
            path.file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default()
        });
        Ok(ScenarioFile {
            path: path.to_path_buf(),
            name,
            plugin: raw.plugin,
            description: raw.description,
            params: raw.params,
            limits,
            granted_faults: raw.grants.faults,
            abort_on_fail: raw.abort_on_fail,
            new_topics: raw.new_topics,
            mirror: raw.mirror,
            producer,
            alerts,
            mm2_metrics,
            thresholds: raw
                .thresholds
                .iter()
                .map(|t| crate::thresholds::parse(t))
                .collect::<Result<_>>()
                .with_context(|| format!("invalid thresholds in {}", path.display()))?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scenario_file_with_params_and_limits() {
        let scenario = ScenarioFile::parse(
            Path::new("scenarios/perf-02-ramp-up.toml"),
            "plugin = \"ramp-up\"\n[params]\nnominal_rate = 1000\n[limits]\nmemory = \"32MiB\"\ncpu = \"2s\"\n",
        )
        .unwrap();
        assert_eq!(scenario.name, "perf-02-ramp-up");
        assert_eq!(scenario.plugin, "ramp-up");
        assert_eq!(scenario.params["nominal_rate"].as_integer(), Some(1000));
        assert_eq!(scenario.limits.memory_bytes, 32 * 1024 * 1024);
        assert_eq!(scenario.limits.cpu, Duration::from_secs(2));
    }

    #[test]
    fn errors_name_the_file_and_key() {
        let error =
            ScenarioFile::parse(Path::new("bad.toml"), "plugin = \"x\"\nparam = 1\n").unwrap_err();
        let text = format!("{error:#}");
        assert!(
            text.contains("bad.toml") && text.contains("unknown field `param`"),
            "{text}"
        );
    }

    #[test]
    fn producer_settings_travel_with_the_scenario_and_the_result_hides_secrets() {
        let scenario = ScenarioFile::parse(
            Path::new("e.toml"),
            "plugin = \"steady\"\n[producer]\nacks = \"1\"\n\"linger.ms\" = 5\n\
             \"enable.idempotence\" = false\n\"sasl.password\" = \"hunter2\"\n",
        )
        .unwrap();
        assert_eq!(
            scenario.producer,
            [
                ("acks", "1"),
                ("enable.idempotence", "false"),
                ("linger.ms", "5"),
                ("sasl.password", "hunter2"),
            ]
            .map(|(k, v)| (k.to_string(), v.to_string()))
        );
        let in_force =
            crate::config::client_props::map_producer_properties(&scenario.producer).in_force();
        assert_eq!(in_force["linger.ms"], "5");
        assert_eq!(in_force["sasl.password"], "(redacted)");

        let error = ScenarioFile::parse(
            Path::new("e.toml"),
            "plugin = \"steady\"\n[producer]\nacks = [1]\n",
        )
        .unwrap_err();
        let text = format!("{error:#}");
        assert!(
            text.contains("invalid [producer] in e.toml")
                && text.contains("acks = [1]: a client setting is a string"),
            "{text}"
        );
    }
}
