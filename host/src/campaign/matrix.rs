//! A step's `matrix` and `repeat`: one step per combination of the values it varies (producer and
//! consumer properties, scenario parameters, MirrorMaker 2 connector and Connect worker
//! settings), each repeated, so every cell is a run of its own with every setting in its result
//! and the ledger.

use std::collections::BTreeMap;

use anyhow::{bail, ensure, Result};

use super::plan::Step;
use crate::deployment::mirrors::Role;

/// Where a varied key goes: `producer.linger.ms`, `consumer.fetch.min.bytes`, `set.rate`,
/// `connector.source.tasks.max`, `worker.offset.flush.interval.ms`.
#[derive(Debug, Clone, PartialEq)]
enum Target {
    Producer(String),
    Consumer(String),
    Param(String),
    Connector(Role, String),
    Worker(String),
}

impl Target {
    fn parse(key: &str) -> Result<Target> {
        let split = |prefix: &str| key.strip_prefix(prefix).filter(|rest| !rest.is_empty());
        if let Some(name) = split("producer.") {
            return Ok(Target::Producer(name.into()));
        }
        if let Some(name) = split("consumer.") {
            return Ok(Target::Consumer(name.into()));
        }
        if let Some(name) = split("set.") {
            return Ok(Target::Param(name.into()));
        }
        if let Some(name) = split("worker.") {
            return Ok(Target::Worker(name.into()));
        }
        if let Some(rest) = split("connector.") {
            if let Some((role, name)) = rest.split_once('.') {
                if let Some(role) = Role::ALL.into_iter().find(|r| r.to_string() == role) {
                    return Ok(Target::Connector(role, name.into()));
                }
            }
        }
        bail!(
            "matrix key {key:?}: start it with producer., consumer., set. (a scenario parameter), \
             connector.source. / connector.checkpoint. / connector.heartbeat. (an MM2 \
             connector setting) or worker. (a Connect worker setting)"
        )
    }

    fn apply(&self, step: &mut Step, value: &toml::Value) {
        match self {
            Target::Producer(name) => step.producer.insert(name.clone(), value.clone()),
            Target::Consumer(name) => step.consumer.insert(name.clone(), value.clone()),
            Target::Param(name) => step.set.insert(name.clone(), value.clone()),
            Target::Connector(role, name) => step
                .connector
                .entry(role.to_string())
                .or_default()
                .insert(name.clone(), value.clone()),
            Target::Worker(name) => step.worker.insert(name.clone(), value.clone()),
        };
    }
}

/// The cells of `step`: each a plain step (no matrix left) with the settings it varies, for its
/// name and the ledger. A step with neither `matrix` nor `repeat` is its only cell.
pub fn cells(step: &Step) -> Result<Vec<(Step, BTreeMap<String, String>)>> {
    let repeat = step.repeat.unwrap_or(1);
    ensure!(repeat >= 1, "repeat = {repeat}: at least 1");
    let mut axes = Vec::new();
    for (key, values) in &step.matrix {
        let target = Target::parse(key)?;
        let values = match values {
            toml::Value::Array(values) if !values.is_empty() => values.clone(),
            other => bail!("matrix key {key:?} = {other}: give a non-empty list of values"),
        };
        axes.push((key.clone(), target, values));
    }
    let mut combinations: Vec<Vec<usize>> = vec![Vec::new()];
    for (_, _, values) in &axes {
        combinations = combinations
            .into_iter()
            .flat_map(|chosen| {
                (0..values.len()).map(move |index| {
                    let mut next = chosen.clone();
                    next.push(index);
                    next
                })
            })
            .collect();
    }
    let mut cells = Vec::new();
    for combination in &combinations {
        let mut cell = step.clone();
        cell.matrix.clear();
        cell.repeat = None;
        let mut settings = BTreeMap::new();
        for ((key, target, values), &index) in axes.iter().zip(combination) {
            target.apply(&mut cell, &values[index]);
            settings.insert(key.clone(), plain(&values[index]));
        }
        for repetition in 1..=repeat {
            let mut cell = cell.clone();
            cell.name = cell_name(&step.name, &settings, repetition, repeat);
            cell.repetition = (repeat > 1).then_some(repetition);
            cells.push((cell, settings.clone()));
        }
    }
    Ok(cells)
}

/// `linger x codec [producer.linger.ms=5, producer.compression.type=lz4] #2`
fn cell_name(
    name: &str,
    settings: &BTreeMap<String, String>,
    repetition: u32,
    repeat: u32,
) -> String {
    let mut full = name.to_string();
    if !settings.is_empty() {
        full.push_str(&format!(" [{}]", settings_label(settings)));
    }
    if repeat > 1 {
        full.push_str(&format!(" #{repetition}"));
    }
    full
}

/// `producer.linger.ms=5, set.rate=400`: a cell's settings, as its name and the report show them.
pub fn settings_label(settings: &BTreeMap<String, String>) -> String {
    let listed: Vec<String> = settings.iter().map(|(k, v)| format!("{k}={v}")).collect();
    listed.join(", ")
}

/// A TOML value as a setting's text: strings unquoted.
pub fn plain(value: &toml::Value) -> String {
    match value {
        toml::Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(text: &str) -> Step {
        toml::from_str(&format!("name = \"m\"\nscenario = \"a.toml\"\n{text}")).unwrap()
    }

    #[test]
    fn a_matrix_is_every_combination_times_its_repetitions() {
        let cells = cells(&step(
            "repeat = 3\n[matrix]\n\"producer.linger.ms\" = [0, 5, 50]\n\"producer.compression.type\" = [\"none\", \"lz4\"]\n",
        ))
        .unwrap();
        assert_eq!(cells.len(), 18);
        let names: std::collections::BTreeSet<_> = cells.iter().map(|(s, _)| &s.name).collect();
        assert_eq!(names.len(), 18, "every cell is named apart");
        let (first, settings) = &cells[0];
        assert_eq!(
            first.name,
            "m [producer.compression.type=none, producer.linger.ms=0] #1"
        );
        assert_eq!(first.producer["linger.ms"], toml::Value::Integer(0));
        assert_eq!(settings["producer.compression.type"], "none");
        assert!(first.matrix.is_empty() && first.repeat.is_none());
        assert_eq!(first.repetition, Some(1));
        let (last, _) = &cells[17];
        assert_eq!(last.producer["linger.ms"], toml::Value::Integer(50));
        assert_eq!(
            last.producer["compression.type"],
            toml::Value::String("lz4".into())
        );
        assert_eq!(last.repetition, Some(3));
    }

    #[test]
    fn connector_and_worker_settings_and_parameters_go_where_they_belong() {
        let cells = cells(&step(
            "[matrix]\n\"connector.source.tasks.max\" = [1, 4]\n\"set.rate\" = [100]\n\
             \"worker.offset.flush.interval.ms\" = [5000]\n",
        ))
        .unwrap();
        assert_eq!(cells.len(), 2);
        assert_eq!(
            cells[1].0.connector["source"]["tasks.max"],
            toml::Value::Integer(4)
        );
        assert_eq!(cells[1].0.set["rate"], toml::Value::Integer(100));
        assert_eq!(
            cells[1].0.worker["offset.flush.interval.ms"],
            toml::Value::Integer(5000)
        );
        assert_eq!(
            cells[1].0.name,
            "m [connector.source.tasks.max=4, set.rate=100, worker.offset.flush.interval.ms=5000]"
        );
        assert_eq!(cells[1].0.repetition, None);
    }

    #[test]
    fn a_plain_step_is_its_own_cell_and_bad_keys_say_what_to_write() {
        let plain_step = step("");
        let cells = cells(&plain_step).unwrap();
        assert_eq!(cells.len(), 1);
        assert_eq!(cells[0].0.name, "m");
        let error = super::cells(&step("[matrix]\n\"linger.ms\" = [0]\n")).unwrap_err();
        assert!(
            error.to_string().contains("start it with producer."),
            "{error}"
        );
        let error = super::cells(&step("[matrix]\n\"connector.sink.x\" = [0]\n")).unwrap_err();
        assert!(error.to_string().contains("connector.source."), "{error}");
        let error = super::cells(&step("[matrix]\n\"set.rate\" = []\n")).unwrap_err();
        assert!(error.to_string().contains("non-empty list"), "{error}");
        let error = super::cells(&step("repeat = 0\n")).unwrap_err();
        assert!(error.to_string().contains("at least 1"), "{error}");
    }
}
