//! A campaign file: the steps of a test plan (scenarios with their overrides), their order, what
//! to wait for between them, and where their results go. Checked whole before anything runs, so a
//! typo in step 9 is not found two hours in.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, ensure, Context, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::client_props::{Client, Property};
use crate::config::scenario::client_settings;
use crate::config::units::parse_duration;
use crate::deployment::mirrors::Role;
use crate::run::command::RunArgs;

use super::comparisons::{DeclaredComparison, RawComparison};
use super::connector_settings::ConnectorChanges;
use super::ledger::CellOf;

/// How long a wait between steps may take before the campaign gives up on it.
pub const DEFAULT_WAIT_TIMEOUT: Duration = Duration::from_secs(600);

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCampaign {
    name: String,
    description: Option<String>,
    /// results folder, relative to the campaign file
    results: Option<PathBuf>,
    profile: Option<String>,
    #[serde(default)]
    set: toml::Table,
    #[serde(default)]
    after: RawAfter,
    #[serde(default)]
    stop_on_fail: bool,
    #[serde(default, rename = "step")]
    steps: Vec<Step>,
    #[serde(default, rename = "compare")]
    comparisons: Vec<RawComparison>,
}

/// One step as written: a `kscen run` of a scenario with its options.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    pub name: String,
    /// a scenario file (relative to the campaign file), a bundled scenario's name, or PACK/SCENARIO
    pub scenario: String,
    /// parameters, over the campaign's `set` and the command line's `--set`
    #[serde(default)]
    pub set: toml::Table,
    #[serde(default)]
    pub producer: toml::Table,
    #[serde(default)]
    pub consumer: toml::Table,
    #[serde(default)]
    pub thresholds: Vec<String>,
    #[serde(default)]
    pub grant_faults: Vec<String>,
    pub mirror: Option<String>,
    pub alerts: Option<String>,
    pub mm2_metrics: Option<String>,
    /// MirrorMaker 2 connector settings by role (`source`, `checkpoint`, `heartbeat`): applied
    /// through Connect's REST API before the step, restored after it
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub connector: BTreeMap<String, toml::Table>,
    /// Kafka Connect worker settings (`worker.properties` keys): written into the config file of
    /// every worker of the profile, which are restarted one by one before the step and after it
    /// with the files restored
    #[serde(default, skip_serializing_if = "toml::Table::is_empty")]
    pub worker: toml::Table,
    /// settings to vary (`"producer.linger.ms" = [0, 5, 50]`): one run per combination
    #[serde(default, skip_serializing)]
    pub matrix: toml::Table,
    /// runs of each combination
    #[serde(default, skip_serializing)]
    pub repeat: Option<u32>,
    /// which of the `repeat` runs this is (a cell's)
    #[serde(default, skip_deserializing, skip_serializing_if = "Option::is_none")]
    pub repetition: Option<u32>,
    /// what to wait for after this step, instead of the campaign's `[after]`
    #[serde(default, skip_serializing)]
    after: Option<RawAfter>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAfter {
    pause: Option<String>,
    #[serde(default)]
    mirror_healthy: bool,
    #[serde(default)]
    lag_drained: bool,
    timeout: Option<String>,
}

/// What to wait for before the next step.
#[derive(Debug, Clone, PartialEq)]
pub struct After {
    pub pause: Duration,
    /// every connector of the mirror and its tasks RUNNING
    pub mirror_healthy: bool,
    /// MirrorMaker 2 has committed its source offsets up to the end of every partition it mirrors
    pub lag_drained: bool,
    pub timeout: Duration,
}

impl After {
    /// Only the mirror healthy again, within `timeout`: after settings were changed or put back.
    pub fn mirror_healthy_within(timeout: Duration) -> After {
        After {
            pause: Duration::ZERO,
            mirror_healthy: true,
            lag_drained: false,
            timeout,
        }
    }

    pub fn waits(&self) -> bool {
        !self.pause.is_zero() || self.mirror_healthy || self.lag_drained
    }
}

impl RawAfter {
    fn resolve(&self) -> Result<After> {
        let duration = |text: &Option<String>, default: Duration, key: &str| match text {
            Some(text) => parse_duration(text).with_context(|| format!("{key} = {text:?}")),
            None => Ok(default),
        };
        Ok(After {
            pause: duration(&self.pause, Duration::ZERO, "pause")?,
            mirror_healthy: self.mirror_healthy,
            lag_drained: self.lag_drained,
            timeout: duration(&self.timeout, DEFAULT_WAIT_TIMEOUT, "timeout")?,
        })
    }
}

/// What the command line sets over the campaign file.
#[derive(Debug, Default)]
pub struct Overrides {
    pub profile: Option<String>,
    pub results: Option<PathBuf>,
    /// parameters for every step, over the campaign's (a step's own `set` wins)
    pub set: toml::Table,
}

impl Overrides {
    /// `--set key=value` items, values in TOML syntax.
    pub fn parse_set(items: &[String]) -> Result<toml::Table> {
        let mut table = toml::Table::new();
        for item in items {
            let (key, value) = crate::run::command::parse_set(item)?;
            let value: toml::Value = format!("v = {value}")
                .parse::<toml::Table>()
                .ok()
                .and_then(|mut t| t.remove("v"))
                .with_context(|| {
                    format!("--set {item}: the value is TOML: a number, true/false, or a \"quoted string\"")
                })?;
            table.insert(key, value);
        }
        Ok(table)
    }
}

/// A campaign, checked and resolved.
#[derive(Debug)]
pub struct Campaign {
    pub path: PathBuf,
    pub name: String,
    pub description: Option<String>,
    pub results_dir: PathBuf,
    pub profile: Option<String>,
    pub stop_on_fail: bool,
    pub steps: Vec<PlannedStep>,
    /// `[[compare]]`: the baselines and candidates the file names, compared at the end
    pub comparisons: Vec<DeclaredComparison>,
}

/// A step with what the campaign adds to it.
#[derive(Debug)]
pub struct PlannedStep {
    pub number: usize,
    pub step: Step,
    /// the scenario argument as `kscen run` takes it
    pub scenario: PathBuf,
    /// `key=value` in TOML value syntax: the campaign's `set`, the command line's, the step's
    pub set: Vec<String>,
    pub producer: Vec<Property>,
    pub consumer: Vec<Property>,
    pub after: After,
    /// the matrix cell or repetition of a written step this is; none for a plain step
    pub cell: Option<CellOf>,
    /// MirrorMaker 2 connector settings to apply before the step and restore after it
    pub connector: Box<ConnectorChanges>,
    /// Connect worker settings to apply (rolling restart) before the step and restore after it
    pub worker: Vec<Property>,
    /// the step's result file, in the results folder
    pub result_file: String,
    /// what makes an earlier result this step's: the step, its parameters and the profile
    pub fingerprint: String,
}

impl PlannedStep {
    /// What the step changes beyond its scenario: its matrix cell's settings, its producer and
    /// consumer properties (`producer.<key>`), its connector settings
    /// (`connector.<role>.<key>`) and its worker settings (`worker.<key>`).
    pub fn settings(&self) -> BTreeMap<String, String> {
        let mut settings = self
            .cell
            .as_ref()
            .map(|cell| cell.settings.clone())
            .unwrap_or_default();
        for (client, properties) in [("producer", &self.producer), ("consumer", &self.consumer)] {
            for (key, value) in properties {
                settings.insert(format!("{client}.{key}"), value.clone());
            }
        }
        for (role, changes) in &self.connector {
            for (key, value) in changes {
                settings.insert(format!("connector.{role}.{key}"), value.clone());
            }
        }
        for (key, value) in &self.worker {
            settings.insert(format!("worker.{key}"), value.clone());
        }
        settings
    }

    /// The `kscen run` this step is.
    pub fn run_args(&self, profile: Option<String>, results_dir: &Path) -> RunArgs {
        let properties = |list: &[Property]| list.iter().map(|(k, v)| format!("{k}={v}")).collect();
        RunArgs {
            scenario: self.scenario.clone(),
            profile,
            set: self.set.clone(),
            json: Some(results_dir.join(&self.result_file)),
            producer_props: properties(&self.producer),
            consumer_props: properties(&self.consumer),
            grant_fault: self.step.grant_faults.clone(),
            threshold: self.step.thresholds.clone(),
            mirror: self.step.mirror.clone(),
            alerts: self.step.alerts.clone(),
            mm2_metrics: self.step.mm2_metrics.clone(),
            ..RunArgs::default()
        }
    }
}

impl Campaign {
    /// A campaign file by path, or a bundled campaign by name, with the command line's overrides.
    pub fn load(arg: &Path, overrides: &Overrides) -> Result<Campaign> {
        let path = if crate::bundle::is_scenario_name(arg) {
            crate::bundle::find_campaign(&arg.to_string_lossy())?
        } else {
            arg.to_path_buf()
        };
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read campaign file {}", path.display()))?;
        Self::parse(&path, &text, overrides)
            .with_context(|| format!("campaign file {}", path.display()))
    }

    pub fn parse(path: &Path, text: &str, overrides: &Overrides) -> Result<Campaign> {
        let mut raw: RawCampaign = toml::from_str(text)?;
        if overrides.profile.is_some() {
            raw.profile.clone_from(&overrides.profile);
        }
        ensure!(
            !raw.steps.is_empty(),
            "no step: list them as [[step]] name = \"...\" scenario = \"...\""
        );
        let dir = path.parent().unwrap_or(Path::new(""));
        let default_after = raw.after.resolve().context("[after]")?;
        let mut steps: Vec<PlannedStep> = Vec::new();
        for (index, written) in std::mem::take(&mut raw.steps).into_iter().enumerate() {
            let context = || format!("step {} ({})", index + 1, written.name);
            let after = match &written.after {
                Some(after) => after
                    .resolve()
                    .with_context(|| format!("{}: after", context()))?,
                None => default_after.clone(),
            };
            // Cells of one written step are compared with each other in the report.
            let is_matrix = !written.matrix.is_empty() || written.repeat.unwrap_or(1) > 1;
            for (step, varied) in super::matrix::cells(&written).with_context(context)? {
                if steps.iter().any(|s| s.step.name == step.name) {
                    bail!("two steps are named {:?}: each step needs its own name (its results are kept by name)", step.name);
                }
                let cell = Cell {
                    number: steps.len() + 1,
                    of: is_matrix.then(|| CellOf {
                        step: written.name.clone(),
                        settings: varied,
                        repetition: step.repetition,
                    }),
                    step,
                    after: after.clone(),
                };
                // plan_step names the step (its number and the cell's name) in its errors.
                steps.push(plan_step(cell, dir, &raw, &overrides.set)?);
            }
        }
        let comparisons = raw
            .comparisons
            .iter()
            .enumerate()
            .map(|(index, comparison)| {
                comparison
                    .resolve(&steps)
                    .with_context(|| format!("[[compare]] {}", index + 1))
            })
            .collect::<Result<_>>()?;
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "campaign".into());
        Ok(Campaign {
            path: path.to_path_buf(),
            name: raw.name,
            description: raw.description,
            results_dir: match (&overrides.results, raw.results) {
                (Some(results), _) => results.clone(),
                (None, Some(results)) => dir.join(results),
                (None, None) => PathBuf::from(format!("{stem}-results")),
            },
            profile: raw.profile,
            stop_on_fail: raw.stop_on_fail,
            steps,
            comparisons,
        })
    }
}

/// A step as the campaign will run it: one cell of what was written, its place and its wait.
struct Cell {
    number: usize,
    step: Step,
    of: Option<CellOf>,
    after: After,
}

fn plan_step(
    cell: Cell,
    dir: &Path,
    campaign: &RawCampaign,
    command_line_set: &toml::Table,
) -> Result<PlannedStep> {
    let Cell {
        number,
        step,
        of,
        after,
    } = cell;
    ensure!(!step.name.trim().is_empty(), "a step needs a name");
    let context = || format!("step {number} ({})", step.name);
    let beside = dir.join(&step.scenario);
    let scenario = if beside.is_file() {
        beside
    } else {
        PathBuf::from(&step.scenario)
    };
    // The scenario and thresholds are read now so a mistake stops the campaign before it starts.
    crate::pack::load_scenario(&scenario).with_context(context)?;
    for threshold in &step.thresholds {
        crate::thresholds::parse(threshold).with_context(context)?;
    }
    // A step's own parameters win: a fault scenario that needs real time (session timeouts, a
    // rebalance) keeps time_scale = 1 when the command line scales the rest of the plan.
    let mut set = campaign.set.clone();
    set.extend(command_line_set.clone());
    set.extend(step.set.clone());
    let producer = client_settings(&step.producer)
        .and_then(|list| checked_properties(Client::Producer, list))
        .with_context(|| format!("{}: producer", context()))?;
    let consumer = client_settings(&step.consumer)
        .and_then(|list| checked_properties(Client::Consumer, list))
        .with_context(|| format!("{}: consumer", context()))?;
    let connector = connector_settings(&step.connector)?;
    let worker = client_settings(&step.worker).with_context(|| format!("{}: worker", context()))?;
    let fingerprint = fingerprint(&step, &set, campaign.profile.as_deref());
    Ok(PlannedStep {
        number,
        result_file: format!("{number:02}-{}.json", slug(&step.name)),
        scenario,
        set: set.iter().map(|(k, v)| format!("{k}={v}")).collect(),
        producer,
        consumer,
        after,
        cell: of,
        connector,
        worker,
        fingerprint,
        step,
    })
}

/// `connector.<role> = { key = value }` by role, values as Connect takes them (text).
fn connector_settings(by_role: &BTreeMap<String, toml::Table>) -> Result<Box<ConnectorChanges>> {
    by_role
        .iter()
        .map(|(role_name, settings)| {
            let Some(role) = Role::ALL.into_iter().find(|r| r.to_string() == *role_name) else {
                bail!("connector.{role_name}: the roles are source, checkpoint and heartbeat");
            };
            let settings =
                client_settings(settings).with_context(|| format!("connector.{role_name}"))?;
            Ok((role, settings))
        })
        .collect()
}

/// Properties as `kscen run` will read them, so a key it refuses is refused now.
fn checked_properties(client: Client, list: Vec<Property>) -> Result<Vec<Property>> {
    for (key, value) in &list {
        crate::config::client_props::parse_property_arg(client, &format!("{key}={value}"))?;
    }
    Ok(list)
}

fn fingerprint(step: &Step, set: &toml::Table, profile: Option<&str>) -> String {
    let text = serde_json::json!({ "step": step, "set": set, "profile": profile });
    let digest = Sha256::digest(text.to_string().as_bytes());
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// A file-name-safe form of a step's name.
fn slug(name: &str) -> String {
    let mut slug = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.ends_with('-') {
            slug.push('-');
        }
    }
    slug.trim_matches('-').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A campaign file in a folder holding the scenario files `a.toml` and `b.toml`.
    fn parse(text: &str) -> Result<Campaign> {
        let dir = tempfile::tempdir().unwrap();
        for name in ["a.toml", "b.toml"] {
            std::fs::write(dir.path().join(name), "plugin = \"steady\"\n").unwrap();
        }
        Campaign::parse(&dir.path().join("plan.toml"), text, &Overrides::default()).map(
            |mut campaign| {
                // The folder goes away with this function: keep paths comparable.
                campaign.results_dir = campaign
                    .results_dir
                    .strip_prefix(dir.path())
                    .unwrap_or(&campaign.results_dir)
                    .to_path_buf();
                campaign
            },
        )
    }

    fn one_step(rest: &str) -> String {
        format!("name = \"c\"\n[[step]]\nname = \"a\"\nscenario = \"a.toml\"\n{rest}")
    }

    #[test]
    fn steps_take_the_campaign_settings_under_their_own() {
        let campaign = parse(
            r#"
            name = "day 1"
            results = "out"
            set = { time_scale = 0.01, nominal_rate = 100 }
            after = { pause = "2s" }
            [[step]]
            name = "PERF-01 nominal"
            scenario = "a.toml"
            set = { nominal_rate = 200, step_duration = "30s" }
            producer = { "linger.ms" = 5, "compression.type" = "lz4" }
            thresholds = ["corrected.p99 < 100ms"]
            [[step]]
            name = "PERF-03 burst"
            scenario = "b.toml"
            after = { mirror_healthy = true, timeout = "1m" }
            "#,
        )
        .unwrap();
        assert_eq!(campaign.results_dir, Path::new("out"));
        let [first, second] = &campaign.steps[..] else {
            panic!("two steps")
        };
        assert_eq!(
            first.set,
            [
                "nominal_rate=200",
                "step_duration=\"30s\"",
                "time_scale=0.01"
            ]
        );
        assert_eq!(first.result_file, "01-perf-01-nominal.json");
        assert_eq!(first.after.pause, Duration::from_secs(2));
        assert!(!first.after.mirror_healthy);
        assert_eq!(second.set, ["nominal_rate=100", "time_scale=0.01"]);
        assert!(second.after.mirror_healthy && second.after.pause.is_zero());
        assert_eq!(second.after.timeout, Duration::from_secs(60));
        let args = first.run_args(Some("lab".into()), Path::new("out"));
        assert_eq!(args.producer_props, ["compression.type=lz4", "linger.ms=5"]);
        assert_eq!(args.threshold, ["corrected.p99 < 100ms"]);
        assert_eq!(args.profile.as_deref(), Some("lab"));
        assert_eq!(
            args.json.as_deref(),
            Some(Path::new("out/01-perf-01-nominal.json"))
        );
    }

    #[test]
    fn a_changed_step_is_another_step() {
        let print = |rate: u32| {
            let campaign = parse(&one_step(&format!("set = {{ nominal_rate = {rate} }}\n")));
            campaign.unwrap().steps[0].fingerprint.clone()
        };
        assert_eq!(print(100), print(100));
        assert_ne!(print(100), print(200));
    }

    #[test]
    fn mistakes_are_found_before_anything_runs() {
        let error = |text: &str| format!("{:#}", parse(text).unwrap_err());
        assert!(error("name = \"c\"\n").contains("no step"));
        let text = error("name = \"c\"\n[[step]]\nname = \"a\"\nscenario = \"nothing.toml\"\n");
        assert!(
            text.contains("step 1 (a)") && text.contains("nothing.toml"),
            "{text}"
        );
        let text = error(&one_step("thresholds = [\"p99 <\"]\n"));
        assert!(text.contains("step 1 (a)"), "{text}");
        let text = error(&one_step("[[step]]\nname = \"a\"\nscenario = \"b.toml\"\n"));
        assert!(text.contains("two steps are named \"a\""), "{text}");
        let text = error(&one_step("after = { pause = \"soon\" }\n"));
        assert!(text.contains("pause = \"soon\""), "{text}");
        let text = error(&one_step("producer = { acks = [1] }\n"));
        assert!(text.contains("step 1 (a): producer"), "{text}");
    }

    #[test]
    fn slugs_keep_letters_and_digits() {
        assert_eq!(slug("PERF-02 ramp-up (x10)"), "perf-02-ramp-up-x10");
        assert_eq!(slug("5.1 worker kill"), "5-1-worker-kill");
    }
}
