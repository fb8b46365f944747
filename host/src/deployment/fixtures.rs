//! Test inputs: the lab's real `GET /connectors?expand=info&expand=status` answer (captured with
//! curl from `kscen lab up`, Kafka 3.7.2) and connectors shaped like it.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::mirrors::Listed;
use crate::connect::{ConnectorStatus, State, TaskStatus};

const LAB_CONNECTORS: &str = include_str!("fixtures/lab-connectors.json");

#[derive(Deserialize)]
struct Expanded {
    info: Info,
}

#[derive(Deserialize)]
struct Info {
    name: String,
    config: BTreeMap<String, String>,
}

/// The lab's three connectors with their real configs, sorted by name, statuses not read.
pub fn lab_listing() -> Vec<Listed> {
    let all: BTreeMap<String, Expanded> = serde_json::from_str(LAB_CONNECTORS).unwrap();
    all.into_values()
        .map(|e| Listed {
            name: e.info.name,
            config: e.info.config,
            status: None,
        })
        .collect()
}

/// A connector of `class` mirroring `source` into `target`, with `extra` settings.
pub fn listed(
    name: &str,
    class: &str,
    source: &str,
    target: &str,
    extra: &[(&str, &str)],
) -> Listed {
    let mut config: BTreeMap<String, String> = [
        ("connector.class", class),
        ("source.cluster.alias", source),
        ("target.cluster.alias", target),
        ("name", name),
    ]
    .into_iter()
    .chain(extra.iter().copied())
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    config.insert(
        "tasks.max".into(),
        config.get("tasks.max").cloned().unwrap_or("1".into()),
    );
    Listed {
        name: name.to_string(),
        config,
        status: None,
    }
}

/// Connector state and `(task state, worker alive)` by connector name.
pub type StatusSpec<'a> = (&'a str, State, &'a [(State, bool)]);

/// `listed` with statuses: the connector on the lab's worker-1 (alive), tasks on worker-2 and worker-3
/// (ports 45084, 45085 in turn), a FAILED task with a Java trace.
pub fn with_status(mut listed: Vec<Listed>, specs: &[StatusSpec]) -> Vec<Listed> {
    for (name, state, tasks) in specs {
        let connector = listed.iter_mut().find(|l| l.name == *name).unwrap();
        connector.status = Some(ConnectorStatus {
            name: name.to_string(),
            state: *state,
            worker_id: "127.0.0.1:45083".into(),
            worker_alive: true,
            tasks: tasks
                .iter()
                .enumerate()
                .map(|(id, (state, alive))| TaskStatus {
                    id: id as u32,
                    state: *state,
                    worker_id: format!("127.0.0.1:{}", 45084 + id % 2),
                    worker_alive: *alive,
                    trace: (*state == State::Failed).then(|| {
                        "org.apache.kafka.connect.errors.ConnectException: boom\n\tat org.apache.kafka.connect.mirror.MirrorSourceTask.poll".into()
                    }),
                })
                .collect(),
            trace: None,
        });
    }
    listed
}
