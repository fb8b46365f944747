//! The one door a host call goes through before it touches the deployment: the run's grants
//! decide, and a denial is recorded in the run's events (kind `<capability>-denied`) before the
//! plugin hears of it, so the result says what a plugin tried and was refused.

use std::fmt;

use super::RunContext;
use crate::error::{HostError, HostResult};
use crate::policy::topics;

/// What a host call is about to touch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Access<'a> {
    Cluster(&'a str),
    Topic {
        cluster: &'a str,
        topic: &'a str,
    },
    /// only a topic this run created may be deleted
    DeleteTopic {
        cluster: &'a str,
        topic: &'a str,
    },
    Connect,
    /// a fault action on a target
    Fault {
        target: &'a str,
        action: &'a str,
    },
    Probe(&'a str),
}

impl Access<'_> {
    /// The capability, as the event kind of a denial names it.
    fn capability(&self) -> &'static str {
        match self {
            Access::Cluster(_) => "cluster",
            Access::Topic { .. } | Access::DeleteTopic { .. } => "topic",
            Access::Connect => "connect",
            Access::Fault { .. } => "fault",
            Access::Probe(_) => "probe",
        }
    }
}

impl fmt::Display for Access<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Access::Cluster(cluster) => write!(f, "cluster {cluster}"),
            Access::Topic { cluster, topic } => write!(f, "topic {topic} on {cluster}"),
            Access::DeleteTopic { cluster, topic } => write!(f, "delete {topic} on {cluster}"),
            Access::Connect => write!(f, "connect"),
            Access::Fault { target, action } => write!(f, "{action} {target}"),
            Access::Probe(probe) => write!(f, "probe {probe}"),
        }
    }
}

impl RunContext {
    /// Whether the run may do `access`; a denial is an event of the run.
    pub fn permit(&self, access: Access) -> HostResult<()> {
        let grants = &self.grants;
        let decided = match access {
            Access::Cluster(cluster) => grants.check_cluster(cluster),
            Access::Topic { cluster, topic } => grants.check_topic(cluster, topic),
            Access::DeleteTopic { cluster, topic } => {
                grants.check_topic(cluster, topic).and_then(|()| {
                    let created_here = self
                        .kafka
                        .created_topics
                        .lock()
                        .unwrap()
                        .contains(&(cluster.to_string(), topic.to_string()));
                    topics::check_delete(cluster, topic, created_here)
                })
            }
            Access::Connect => grants.check_connect(),
            Access::Fault { target, .. } => grants
                .check_fault(target)
                .and_then(|()| self.first_shard_only("a fault")),
            Access::Probe(probe) => grants.check_probe(probe),
        };
        if let Err(denied) = &decided {
            self.metrics.events.push(
                self.metrics.clock.now_ns(),
                &format!("{}-denied", access.capability()),
                &format!("{access}: {denied}"),
            );
        }
        decided
    }

    /// What acts on the deployment once per run (faults, Connect changes) is shard 0's: N shards
    /// each restarting a connector would test something else than the scenario says.
    pub fn first_shard_only(&self, what: &str) -> HostResult<()> {
        if self.shard.is_first() {
            return Ok(());
        }
        Err(HostError::Denied(format!(
            "{what} is shard 0's to make, and this is shard {}: check the shard \
             (kscen_sdk::shard()) before acting on the deployment",
            self.shard
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::caps::testing::{cluster, context, events};
    use crate::policy::Request;

    #[test]
    fn a_granted_topic_is_permitted_and_leaves_no_event() {
        let (run, _cancel) = context(&[cluster("source")], &[]);
        let orders = Access::Topic {
            cluster: "source",
            topic: "orders-eu",
        };
        assert!(run.permit(orders).is_ok());
        assert!(run.metrics.events.snapshot().is_empty());
    }

    #[test]
    fn a_topic_outside_the_operators_patterns_is_denied_and_recorded() {
        let (run, _cancel) = context(&[cluster("source")], &[]);
        let payments = Access::Topic {
            cluster: "source",
            topic: "payments",
        };
        let denied = run.permit(payments).unwrap_err().to_string();
        assert!(denied.contains("orders*"), "{denied}");
        assert_eq!(
            events(&run, "topic-denied"),
            [format!("topic payments on source: {denied}")]
        );
    }

    #[test]
    fn a_cluster_the_plugin_did_not_ask_for_is_denied() {
        let (run, _cancel) = context(&[cluster("source")], &[]);
        let denied = run.permit(Access::Cluster("target")).unwrap_err();
        assert!(
            denied.to_string().contains("cluster(\"target\")"),
            "{denied}"
        );
        assert_eq!(events(&run, "cluster-denied").len(), 1);
    }

    #[test]
    fn a_plugin_may_delete_only_the_topics_its_run_created() {
        let (run, _cancel) = context(&[cluster("source")], &[]);
        let delete = Access::DeleteTopic {
            cluster: "source",
            topic: "orders-eu",
        };
        let denied = run.permit(delete).unwrap_err().to_string();
        assert!(denied.contains("was not created by this run"), "{denied}");
        run.kafka
            .created_topics
            .lock()
            .unwrap()
            .insert(("source".into(), "orders-eu".into()));
        assert!(run.permit(delete).is_ok());
        // Created here, but outside the operator's patterns: still not the plugin's to delete.
        run.kafka
            .created_topics
            .lock()
            .unwrap()
            .insert(("source".into(), "payments".into()));
        let outside = Access::DeleteTopic {
            cluster: "source",
            topic: "payments",
        };
        assert!(run.permit(outside).is_err());
        assert_eq!(events(&run, "topic-denied").len(), 2);
    }

    #[test]
    fn a_fault_the_operator_did_not_grant_is_denied_with_how_to_grant_it() {
        let asked = [Request::Fault("worker-1".into())];
        let kill = Access::Fault {
            target: "worker-1",
            action: "kill",
        };
        let (withheld, _cancel) = context(&asked, &[]);
        let denied = withheld.permit(kill).unwrap_err().to_string();
        assert!(denied.contains("--grant-fault worker-1"), "{denied}");
        assert_eq!(
            events(&withheld, "fault-denied"),
            [format!("kill worker-1: {denied}")]
        );
        let (granted, _cancel) = context(&asked, &["worker-1"]);
        assert!(granted.permit(kill).is_ok());
    }

    #[test]
    fn a_granted_fault_is_shard_0s_alone() {
        let asked = [Request::Fault("worker-1".into())];
        let kill = Access::Fault {
            target: "worker-1",
            action: "kill",
        };
        let (mut run, _cancel) = context(&asked, &["worker-1"]);
        run.shard = crate::shard::Shard { index: 1, count: 4 };
        let denied = run.permit(kill).unwrap_err().to_string();
        assert!(
            denied.contains("shard 0's to make, and this is shard 1/4"),
            "{denied}"
        );
        assert_eq!(
            events(&run, "fault-denied"),
            [format!("kill worker-1: {denied}")]
        );
        run.shard = crate::shard::Shard { index: 0, count: 4 };
        assert!(run.permit(kill).is_ok());
    }

    #[test]
    fn connect_and_probes_not_asked_for_are_denied() {
        let (run, _cancel) = context(&[cluster("source")], &[]);
        assert!(run.permit(Access::Connect).is_err());
        assert!(run.permit(Access::Probe("prometheus")).is_err());
        assert_eq!(events(&run, "connect-denied").len(), 1);
        assert_eq!(events(&run, "probe-denied").len(), 1);
    }
}
