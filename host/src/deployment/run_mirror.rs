//! The mirror a run measures, from the profile's cluster `source` to its cluster `target`: found
//! once, when the run first needs it (a plugin's `mm2` call or a tracked load), through the
//! profile's Connect or `[mm2]` pins, and chosen by the operator (`mirror` in the scenario file,
//! `kscen run --mirror`) when the deployment has several.

use tokio::sync::OnceCell;

use super::mirrors::{self, Mirror};
use super::policy::ReplicationPolicy;
use crate::config::profile::Profile;
use crate::error::{HostError, HostResult};

/// Where a run's mirror comes from, and the mirror once found.
pub struct RunMirror {
    deployment: Option<Deployment>,
    choice: Option<String>,
    found: OnceCell<Result<Found, HostError>>,
}

/// A profile that describes MirrorMaker 2 (it has `[connect]` or `[mm2]`).
struct Deployment {
    profile_name: String,
    profile: Profile,
}

/// Every mirror of the deployment, and the run's among them (or why there is none).
struct Found {
    all: Vec<Mirror>,
    chosen: Result<usize, HostError>,
}

impl Found {
    fn chosen(&self) -> Result<&Mirror, &HostError> {
        self.chosen.as_ref().map(|&index| &self.all[index])
    }
}

/// How a tracked load's remote topic was named.
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteTopic {
    pub name: String,
    /// `by mirror source->target (DefaultReplicationPolicy ...)`, for the run's events
    pub why: String,
}

impl RunMirror {
    /// `profile` as `kscen run` loaded it (`None` on the embedded cluster); `choice` names a
    /// mirror by a connector name or its alias pair.
    pub fn new(profile: Option<(&str, &Profile)>, choice: Option<String>) -> RunMirror {
        let deployment = profile
            .filter(|(_, p)| p.connect.is_some() || p.mm2.is_some())
            .map(|(name, profile)| Deployment {
                profile_name: name.to_string(),
                profile: profile.clone(),
            });
        RunMirror {
            deployment,
            choice,
            found: OnceCell::new(),
        }
    }

    /// Every mirror of the deployment.
    pub async fn all(&self) -> HostResult<&[Mirror]> {
        Ok(&self.found().await?.all)
    }

    /// The run's mirror.
    pub async fn chosen(&self) -> HostResult<&Mirror> {
        self.found().await?.chosen().map_err(Clone::clone)
    }

    /// The run's mirror if the run looked it up and found it; never looks it up.
    pub fn used(&self) -> Option<&Mirror> {
        self.found.get()?.as_ref().ok()?.chosen().ok()
    }

    /// The name `topic` of cluster `source_cluster` gets on the target. Without a deployment in
    /// the profile (no `[connect]`, no `[mm2]`), MirrorMaker 2's defaults: the default policy and
    /// the cluster's profile name as its alias.
    pub async fn remote_topic(&self, source_cluster: &str, topic: &str) -> HostResult<RemoteTopic> {
        if self.deployment.is_none() {
            let policy = ReplicationPolicy::from_config(None, None);
            return Ok(RemoteTopic {
                name: policy
                    .remote_topic(source_cluster, topic)
                    .expect("the default policy names every topic"),
                why: format!(
                    "by MirrorMaker 2's defaults (the profile describes no mirror: {policy}, \
                     alias {source_cluster:?})"
                ),
            });
        }
        self.mirrored_topic(topic).await
    }

    /// The name the run's mirror gives `topic` of its source cluster on its target.
    pub async fn mirrored_topic(&self, topic: &str) -> HostResult<RemoteTopic> {
        let mirror = self.chosen().await?;
        match mirror.remote_topic(topic) {
            Some(name) => Ok(RemoteTopic {
                name,
                why: format!("by mirror {} ({})", mirror.label(), mirror.policy),
            }),
            None => Err(HostError::Unsupported(format!(
                "mirror {} replicates with {}: kscen cannot tell where {topic} lands on the \
                 target; name the remote topic in the load (remote_topic)",
                mirror.label(),
                mirror.policy
            ))),
        }
    }

    async fn found(&self) -> HostResult<&Found> {
        let found = self
            .found
            .get_or_init(|| async {
                let Some(deployment) = &self.deployment else {
                    return Err(HostError::NotFound(
                        "the profile describes no MirrorMaker 2 deployment: add [connect] urls of \
                         the Connect cluster running it, or pin its mirrors with [[mm2.mirrors]]"
                            .into(),
                    ));
                };
                let all = super::mirrors(&deployment.profile_name, &deployment.profile)
                    .await
                    .map_err(|error| match error.downcast_ref::<HostError>() {
                        Some(HostError::Connect { status, .. }) => HostError::Connect {
                            status: *status,
                            message: format!("{error:#}"),
                        },
                        _ => HostError::NotFound(format!("{error:#}")),
                    })?;
                let chosen = choose(&all, self.choice.as_deref());
                Ok(Found { all, chosen })
            })
            .await;
        found.as_ref().map_err(Clone::clone)
    }
}

/// The index of the mirror `choice` names, else of the only mirror.
fn choose(all: &[Mirror], choice: Option<&str>) -> Result<usize, HostError> {
    let labels = || all.iter().map(Mirror::label).collect::<Vec<_>>().join(", ");
    match choice {
        Some(choice) => {
            let chosen = mirrors::choose(all, choice)
                .map_err(|error| HostError::NotFound(format!("{error:#}")))?;
            Ok(all
                .iter()
                .position(|m| std::ptr::eq(m, chosen))
                .expect("chosen among them"))
        }
        None if all.len() == 1 => Ok(0),
        None => Err(HostError::Invalid(format!(
            "the deployment runs {} MirrorMaker 2 mirrors ({}): choose the one to measure with \
             `mirror = \"NAME\"` in the scenario file or `kscen run --mirror NAME` (a connector \
             name, or the alias pair SOURCE->TARGET)",
            all.len(),
            labels()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deployment::fixtures;

    fn two_mirrors() -> Vec<Mirror> {
        mirrors::discover(vec![
            fixtures::listed("east-west", "MirrorSourceConnector", "east", "west", &[]),
            fixtures::listed(
                "west-east",
                "MirrorSourceConnector",
                "west",
                "east",
                &[("replication.policy.separator", "_")],
            ),
        ])
    }

    #[test]
    fn one_mirror_needs_no_choice_and_several_do() {
        let one = mirrors::discover(fixtures::lab_listing());
        assert_eq!(choose(&one, None), Ok(0));
        let two = two_mirrors();
        let Err(HostError::Invalid(error)) = choose(&two, None) else {
            panic!("several mirrors without a choice must be refused");
        };
        assert!(
            error.contains("east->west, west->east") && error.contains("--mirror"),
            "{error}"
        );
        assert_eq!(choose(&two, Some("west->east")), Ok(1));
        assert_eq!(choose(&two, Some("east-west")), Ok(0));
        assert!(matches!(
            choose(&two, Some("nowhere")),
            Err(HostError::NotFound(_))
        ));
    }

    #[tokio::test]
    async fn without_a_deployment_remote_topics_follow_mm2_defaults() {
        let mirror = RunMirror::new(None, None);
        let remote = mirror.remote_topic("dc1", "orders").await.unwrap();
        assert_eq!(remote.name, "dc1.orders");
        assert!(remote.why.contains("describes no mirror"), "{}", remote.why);
        assert!(matches!(mirror.chosen().await, Err(HostError::NotFound(_))));
    }
}
