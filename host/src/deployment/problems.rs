//! What is wrong with a mirror: a connector missing, not RUNNING, or on a worker that does not
//! answer; a task likewise; a policy kscen cannot follow or connectors that disagree on it;
//! a pinned connector Connect does not run as pinned; a filter that keeps the test topic out.

use std::fmt;

use super::filter::Verdict;
use super::mirrors::{ConnectorRef, Deployed, Lookup, Mirror, Role};
use super::policy::ReplicationPolicy;
use crate::connect::{ConnectorStatus, State};

#[derive(Debug, Clone, PartialEq)]
pub enum Problem {
    /// The mirror has no connector of that role.
    NoConnector {
        role: Role,
    },
    /// Pinned in `[mm2]` but not deployed on Connect.
    NotDeployed {
        connector: String,
    },
    /// Pinned as one role, deployed as another class.
    WrongClass {
        connector: String,
        role: Role,
        class: String,
    },
    /// Deployed with other aliases than the mirror's.
    OtherAliases {
        connector: String,
        source: String,
        target: String,
    },
    /// A connector's policy differs from the mirror's.
    OtherPolicy {
        connector: String,
        policy: ReplicationPolicy,
    },
    UnknownPolicy {
        class: String,
    },
    NotRunning {
        connector: String,
        state: State,
        trace: Option<String>,
    },
    OnDeadWorker {
        connector: String,
        worker: String,
    },
    TaskNotRunning {
        connector: String,
        task: u32,
        state: State,
        trace: Option<String>,
    },
    TaskOnDeadWorker {
        connector: String,
        task: u32,
        worker: String,
    },
    /// A RUNNING source connector without tasks replicates nothing.
    NoSourceTask {
        connector: String,
    },
    TopicNotReplicated {
        topic: String,
        why: Verdict,
    },
}

/// Every problem of `mirror`; with `topic`, also whether its filter lets that topic through.
pub fn problems(mirror: &Mirror, topic: Option<&str>) -> Vec<Problem> {
    let mut found = Vec::new();
    for role in Role::ALL {
        match mirror.connector(role) {
            None => found.push(Problem::NoConnector { role }),
            Some(connector) => connector_problems(mirror, role, connector, &mut found),
        }
    }
    if let ReplicationPolicy::Unknown { class } = &mirror.policy {
        found.push(Problem::UnknownPolicy {
            class: class.clone(),
        });
    }
    if let (Some(topic), Some(filter)) = (topic, &mirror.topics) {
        let verdict = filter.verdict(topic);
        if verdict != Verdict::Replicated {
            found.push(Problem::TopicNotReplicated {
                topic: topic.to_string(),
                why: verdict,
            });
        }
    }
    found
}

fn connector_problems(
    mirror: &Mirror,
    role: Role,
    connector: &ConnectorRef,
    found: &mut Vec<Problem>,
) {
    let name = || connector.name.clone();
    let deployed: &Deployed = match &connector.lookup {
        Lookup::NotRead => return,
        Lookup::Missing => {
            found.push(Problem::NotDeployed { connector: name() });
            return;
        }
        Lookup::Found(deployed) => deployed,
    };
    if deployed.role != Some(role) {
        found.push(Problem::WrongClass {
            connector: name(),
            role,
            class: deployed.class.clone(),
        });
    }
    if (&deployed.source_alias, &deployed.target_alias)
        != (&mirror.source_alias, &mirror.target_alias)
    {
        found.push(Problem::OtherAliases {
            connector: name(),
            source: deployed.source_alias.clone(),
            target: deployed.target_alias.clone(),
        });
    }
    if deployed.policy != mirror.policy {
        found.push(Problem::OtherPolicy {
            connector: name(),
            policy: deployed.policy.clone(),
        });
    }
    if let Some(status) = &deployed.status {
        found.extend(status_problems(role, status));
    }
}

/// What is wrong with a connector as its status shows it: not RUNNING, on a worker that does not
/// answer, a task likewise, a RUNNING source connector without tasks.
pub fn status_problems(role: Role, status: &ConnectorStatus) -> Vec<Problem> {
    let mut found = Vec::new();
    let name = || status.name.clone();
    if status.state != State::Running {
        found.push(Problem::NotRunning {
            connector: name(),
            state: status.state,
            trace: status.trace.clone(),
        });
    } else if !status.worker_alive {
        found.push(Problem::OnDeadWorker {
            connector: name(),
            worker: status.worker_id.clone(),
        });
    }
    for task in &status.tasks {
        if task.state != State::Running {
            found.push(Problem::TaskNotRunning {
                connector: name(),
                task: task.id,
                state: task.state,
                trace: task.trace.clone(),
            });
        } else if !task.worker_alive {
            found.push(Problem::TaskOnDeadWorker {
                connector: name(),
                task: task.id,
                worker: task.worker_id.clone(),
            });
        }
    }
    if role == Role::Source && status.state == State::Running && status.tasks.is_empty() {
        found.push(Problem::NoSourceTask { connector: name() });
    }
    found
}

/// As Connect spells it (`RUNNING`, `PAUSED`).
pub fn state_name(state: State) -> String {
    format!("{state:?}").to_uppercase()
}

/// The first line of a Java stack trace: the exception and its message.
fn headline(trace: &Option<String>) -> String {
    trace
        .as_deref()
        .and_then(|t| t.lines().next())
        .map(|line| format!(": {line}"))
        .unwrap_or_default()
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::NoConnector { role } => write!(
                f,
                "no {role} connector ({}) for this alias pair",
                role.class_name()
            ),
            Problem::NotDeployed { connector } => write!(
                f,
                "{connector}: pinned in [mm2] but Connect does not run it (check the name, or deploy it)"
            ),
            Problem::WrongClass { connector, role, class } => write!(
                f,
                "{connector}: pinned as the {role} connector but its connector.class is {class:?}"
            ),
            Problem::OtherAliases { connector, source, target } => write!(
                f,
                "{connector}: deployed for {source}->{target}, not for this mirror's aliases"
            ),
            Problem::OtherPolicy { connector, policy } => {
                write!(f, "{connector}: uses {policy}, unlike the mirror")
            }
            Problem::UnknownPolicy { class } => write!(
                f,
                "replication.policy.class {class} is unknown to kscen: remote topic names cannot be told"
            ),
            Problem::NotRunning { connector, state, trace } => {
                write!(f, "{connector}: connector {}{}", state_name(*state), headline(trace))
            }
            Problem::OnDeadWorker { connector, worker } => write!(
                f,
                "{connector}: shown RUNNING on {worker}, which does not answer"
            ),
            Problem::TaskNotRunning { connector, task, state, trace } => {
                write!(f, "{connector}: task {task} {}{}", state_name(*state), headline(trace))
            }
            Problem::TaskOnDeadWorker { connector, task, worker } => write!(
                f,
                "{connector}: task {task} shown RUNNING on {worker}, which does not answer"
            ),
            Problem::NoSourceTask { connector } => write!(
                f,
                "{connector}: RUNNING with no task: no source topic matches its filter, or it cannot \
                 reach the source cluster"
            ),
            Problem::TopicNotReplicated { topic, why } => match why {
                Verdict::NotIncluded => write!(f, "topic {topic:?} matches no `topics` pattern: not replicated"),
                Verdict::Excluded { pattern } => {
                    write!(f, "topic {topic:?} is excluded by {pattern:?}: not replicated")
                }
                Verdict::Unknown { why } => write!(f, "whether topic {topic:?} is replicated cannot be told: {why}"),
                Verdict::Replicated => write!(f, "topic {topic:?} is replicated"),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deployment::fixtures;
    use crate::deployment::mirrors::discover;

    #[test]
    fn a_healthy_lab_mirror_has_no_problem() {
        let mirrors = discover(fixtures::with_status(
            fixtures::lab_listing(),
            &[
                (
                    "mirror-source",
                    State::Running,
                    &[(State::Running, true), (State::Running, true)],
                ),
                ("mirror-checkpoint", State::Running, &[]),
                (
                    "mirror-heartbeat",
                    State::Running,
                    &[(State::Running, true)],
                ),
            ],
        ));
        assert_eq!(problems(&mirrors[0], Some("kscen-lab-seed")), []);
    }

    #[test]
    fn states_dead_workers_missing_connectors_and_an_excluded_topic() {
        let listed = fixtures::lab_listing()
            .into_iter()
            .filter(|l| l.name != "mirror-heartbeat")
            .collect();
        let mirrors = discover(fixtures::with_status(
            listed,
            &[
                (
                    "mirror-source",
                    State::Running,
                    &[(State::Running, false), (State::Failed, true)],
                ),
                ("mirror-checkpoint", State::Paused, &[]),
            ],
        ));
        let found = problems(&mirrors[0], Some("orders.internal"));
        let shown: Vec<String> = found.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "mirror-source: task 0 shown RUNNING on 127.0.0.1:45084, which does not answer",
                "mirror-source: task 1 FAILED: org.apache.kafka.connect.errors.ConnectException: boom",
                "mirror-checkpoint: connector PAUSED",
                "no heartbeat connector (MirrorHeartbeatConnector) for this alias pair",
                r#"topic "orders.internal" is excluded by ".*[\\.\\-]internal": not replicated"#,
            ]
        );
    }

    #[test]
    fn a_running_source_without_tasks_and_an_unknown_policy() {
        let mut listed = fixtures::lab_listing();
        let source = listed
            .iter_mut()
            .find(|l| l.name == "mirror-source")
            .unwrap();
        source
            .config
            .insert("replication.policy.class".into(), "com.acme.Policy".into());
        let mirrors = discover(fixtures::with_status(
            listed,
            &[("mirror-source", State::Running, &[])],
        ));
        let found = problems(&mirrors[0], None);
        assert!(found.contains(&Problem::NoSourceTask {
            connector: "mirror-source".into()
        }));
        assert!(found.contains(&Problem::UnknownPolicy {
            class: "com.acme.Policy".into()
        }));
        // The checkpoint and heartbeat connectors kept the default policy.
        assert!(found.contains(&Problem::OtherPolicy {
            connector: "mirror-heartbeat".into(),
            policy: ReplicationPolicy::from_config(None, None),
        }));
    }
}
