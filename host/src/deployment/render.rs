//! The `kscen describe-deployment` printout: each mirror's aliases, connectors with their states
//! and tasks, policy, filters, the remote name of the test topic, and its problems.

use std::fmt::Write as _;

use super::mirrors::{ConnectorRef, Lookup, Mirror, Role};
use super::problems::{problems, state_name};
use crate::connect::ConnectorStatus;

/// The printout, and how many problems it lists.
pub struct Description {
    pub text: String,
    pub problems: usize,
}

pub fn describe(profile_name: &str, mirrors: &[Mirror], topic: Option<&str>) -> Description {
    let mut out = String::new();
    let mut count = 0;
    let how = if mirrors.iter().any(|m| m.pinned) {
        "pinned by the profile's [mm2]"
    } else {
        "discovered through Connect"
    };
    let _ = writeln!(
        out,
        "Profile {profile_name}: {} MirrorMaker 2 mirror{} ({how})",
        mirrors.len(),
        if mirrors.len() == 1 { "" } else { "s" }
    );
    for mirror in mirrors {
        let _ = writeln!(out, "\nmirror {}", mirror.label());
        let _ = writeln!(out, "  policy      {}", mirror.policy);
        if let Some(version) = &mirror.connect_version {
            let _ = writeln!(out, "  connect     Kafka {version}");
        }
        if let Some(topic) = topic {
            let remote = mirror
                .remote_topic(topic)
                .unwrap_or_else(|| "(unknown: the policy is not one kscen knows)".into());
            let _ = writeln!(
                out,
                "  topic       {topic} -> {remote} on {}",
                mirror.target_alias
            );
        }
        for (label, filter) in [("topics", &mirror.topics), ("groups", &mirror.groups)] {
            let shown = filter.as_ref().map_or(
                "(not read: no connector config)".to_string(),
                ToString::to_string,
            );
            let _ = writeln!(out, "  {label:<11} {shown}");
        }
        for role in Role::ALL {
            let shown = mirror
                .connector(role)
                .map_or("(none)".to_string(), connector);
            let _ = writeln!(out, "  {:<11} {shown}", role.to_string());
        }
        let found = problems(mirror, topic);
        count += found.len();
        if found.is_empty() {
            let _ = writeln!(out, "  problems    none");
        } else {
            let _ = writeln!(out, "  problems");
            for problem in &found {
                let _ = writeln!(out, "    - {problem}");
            }
        }
    }
    Description {
        text: out,
        problems: count,
    }
}

/// `name (Class, tasks.max N): STATE on worker` and a line per task.
fn connector(connector: &ConnectorRef) -> String {
    let deployed = match &connector.lookup {
        Lookup::NotRead => {
            return format!(
                "{} (not read: the profile has no [connect])",
                connector.name
            )
        }
        Lookup::Missing => return format!("{} (not deployed on Connect)", connector.name),
        Lookup::Found(deployed) => deployed,
    };
    let class = match deployed.role {
        Some(role) => role.class_name(),
        None => deployed.class.as_str(),
    };
    let mut text = format!(
        "{} ({class}, tasks.max {})",
        connector.name, deployed.tasks_max
    );
    if let Some(status) = &deployed.status {
        text.push_str(&status_lines(status));
    }
    text
}

fn status_lines(status: &ConnectorStatus) -> String {
    let on = |worker: &str, alive: bool| match (worker.is_empty(), alive) {
        (true, _) => String::new(),
        (false, true) => format!(" on {worker}"),
        (false, false) => format!(" on {worker} (not answering)"),
    };
    let mut text = format!(
        ": {}{}",
        state_name(status.state),
        on(&status.worker_id, status.worker_alive)
    );
    if status.tasks.is_empty() {
        text.push_str(", no task");
    }
    for task in &status.tasks {
        let _ = write!(
            text,
            "\n              task {} {}{}",
            task.id,
            state_name(task.state),
            on(&task.worker_id, task.worker_alive)
        );
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connect::State;
    use crate::deployment::fixtures;
    use crate::deployment::mirrors::discover;

    #[test]
    fn the_lab_mirror_printed() {
        let mirrors = discover(fixtures::with_status(
            fixtures::lab_listing(),
            &[
                (
                    "mirror-source",
                    State::Running,
                    &[(State::Running, true), (State::Running, false)],
                ),
                ("mirror-checkpoint", State::Running, &[]),
                (
                    "mirror-heartbeat",
                    State::Running,
                    &[(State::Running, true)],
                ),
            ],
        ));
        let shown = describe("lab", &mirrors, Some("orders"));
        assert_eq!(shown.problems, 1);
        let expected = r#"Profile lab: 1 MirrorMaker 2 mirror (discovered through Connect)

mirror source->target
  policy      DefaultReplicationPolicy (separator ".")
  topic       orders -> source.orders on target
  topics      include .*; exclude .*[\.\-]internal, .*\.replica, __.*, connect-.*, mm2-.*
  groups      include .*; exclude console-consumer.*, _.*
  source      mirror-source (MirrorSourceConnector, tasks.max 4): RUNNING on 127.0.0.1:45083
              task 0 RUNNING on 127.0.0.1:45084
              task 1 RUNNING on 127.0.0.1:45085 (not answering)
  checkpoint  mirror-checkpoint (MirrorCheckpointConnector, tasks.max 1): RUNNING on 127.0.0.1:45083, no task
  heartbeat   mirror-heartbeat (MirrorHeartbeatConnector, tasks.max 1): RUNNING on 127.0.0.1:45083
              task 0 RUNNING on 127.0.0.1:45084
  problems
    - mirror-source: task 1 shown RUNNING on 127.0.0.1:45085, which does not answer
"#;
        assert_eq!(shown.text, expected, "{}", shown.text);
    }
}
