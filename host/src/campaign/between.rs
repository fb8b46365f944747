//! What a campaign waits for between two steps, so the next one starts on a settled deployment:
//! a pause, MirrorMaker 2's connectors and tasks all running, and its backlog copied.

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use super::plan::After;
use crate::cluster::Clusters;
use crate::config::profile::Profile;
use crate::connect::{ConnectClient, SourceOffset, State};
use crate::deployment::mirrors::{Mirror, Role};
use crate::deployment::problems::status_problems;

const POLL: Duration = Duration::from_secs(1);

/// How long a FAILED connector or task may stay failed before the wait gives up on it: Connect
/// restarts neither by itself, but an operator (or a scenario's own restart) may.
const STUCK_GRACE: Duration = Duration::from_secs(30);

/// What a wait is still waiting for. `stuck`: it will not settle by itself.
struct Unsettled {
    what: String,
    stuck: bool,
}

impl Unsettled {
    fn settling(what: String) -> Unsettled {
        Unsettled { what, stuck: false }
    }
}

/// The deployment a campaign runs against, when it has a profile.
pub struct Deployment<'a> {
    pub profile_name: &'a str,
    pub profile: &'a Profile,
}

impl Deployment<'_> {
    /// The mirror `choice` names, else every mirror of the deployment.
    pub async fn mirrors(&self, choice: Option<&str>) -> Result<Vec<Mirror>> {
        let mirrors = crate::deployment::mirrors(self.profile_name, self.profile).await?;
        Ok(match choice {
            Some(choice) => vec![crate::deployment::mirrors::choose(&mirrors, choice)?.clone()],
            None => mirrors,
        })
    }

    pub fn connect(&self) -> Result<ConnectClient> {
        ConnectClient::from_profile(self.profile)?.with_context(|| {
            format!(
                "profile {}: waiting for the mirror and changing its connectors need its \
                 [connect] urls",
                self.profile_name
            )
        })
    }
}

/// Waits as `after` says; what it waited for, for the progress view. An unsettled deployment at
/// the timeout is an error naming what is not settled.
pub async fn settle(
    after: &After,
    deployment: Option<&Deployment<'_>>,
    mirror_choice: Option<&str>,
) -> Result<Vec<String>> {
    let mut waited = Vec::new();
    if !after.pause.is_zero() {
        tokio::time::sleep(after.pause).await;
        waited.push(format!(
            "paused {}",
            crate::config::units::format_duration(after.pause)
        ));
    }
    if !(after.mirror_healthy || after.lag_drained) {
        return Ok(waited);
    }
    let Some(deployment) = deployment else {
        bail!(
            "mirror_healthy and lag_drained read MirrorMaker 2 through the profile's Connect: give \
             the campaign a profile (profile = \"...\" or --profile)"
        );
    };
    let mirrors = deployment.mirrors(mirror_choice).await?;
    let mirrors: Vec<&Mirror> = mirrors.iter().collect();
    let client = deployment.connect()?;
    let started = Instant::now();
    if after.mirror_healthy {
        until(after.timeout, STUCK_GRACE, started, || {
            unhealthy(&client, &mirrors)
        })
        .await
        .context("the mirror did not come back healthy")?;
        waited.push(format!(
            "mirror healthy after {:.1} s",
            started.elapsed().as_secs_f64()
        ));
    }
    if after.lag_drained {
        let clusters = Clusters::from_profile(deployment.profile);
        until(after.timeout, STUCK_GRACE, started, || {
            backlog(&client, &clusters, &mirrors)
        })
        .await
        .context("the mirror's backlog did not drain")?;
        waited.push(format!(
            "lag drained after {:.1} s",
            started.elapsed().as_secs_f64()
        ));
    }
    Ok(waited)
}

/// Polls `check` (what is not settled yet, or nothing) until it settles, `timeout` from
/// `started` passes, or what it waits for has been stuck for `stuck_grace`.
async fn until<F, Fut>(
    timeout: Duration,
    stuck_grace: Duration,
    started: Instant,
    mut check: F,
) -> Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Option<Unsettled>>>,
{
    let mut stuck_since = None;
    loop {
        let Some(unsettled) = check().await? else {
            return Ok(());
        };
        let what = &unsettled.what;
        if unsettled.stuck {
            let since = *stuck_since.get_or_insert_with(Instant::now);
            if since.elapsed() >= stuck_grace {
                bail!(
                    "{what}, for {}: Connect restarts no FAILED connector or task by itself. Fix \
                     the cause its trace gives, restart it (POST /connectors/<name>/restart?\
                     includeTasks=true&onlyFailed=true), and run the campaign again to resume",
                    crate::config::units::format_duration(since.elapsed())
                );
            }
        } else {
            stuck_since = None;
        }
        if started.elapsed() >= timeout {
            bail!(
                "after {}: {what}",
                crate::config::units::format_duration(timeout)
            );
        }
        tokio::time::sleep(POLL).await;
    }
}

/// The first problem of the mirrors' connectors and tasks as their statuses show it (not
/// RUNNING, on a worker that does not answer), if any; stuck when something FAILED.
async fn unhealthy(client: &ConnectClient, mirrors: &[&Mirror]) -> Result<Option<Unsettled>> {
    for (role, connector) in mirrors.iter().flat_map(|m| {
        Role::ALL
            .into_iter()
            .filter_map(|role| Some((role, m.connector(role)?)))
    }) {
        let status = client
            .status(&connector.name)
            .await
            .with_context(|| format!("status of connector {}", connector.name))?;
        let problems = status_problems(role, &status);
        if let Some(problem) = problems.first() {
            let failed = status.state == State::Failed
                || status.tasks.iter().any(|task| task.state == State::Failed);
            return Ok(Some(Unsettled {
                what: problem.to_string(),
                stuck: failed,
            }));
        }
    }
    Ok(None)
}

/// Records on the profile's `source` cluster the mirrors' source connectors have not committed
/// yet, if any. Connect commits source offsets every `offset.flush.interval.ms`, so this settles
/// up to that long after the copy itself.
async fn backlog(
    client: &ConnectClient,
    clusters: &Clusters,
    mirrors: &[&Mirror],
) -> Result<Option<Unsettled>> {
    let mut behind = 0;
    let mut partitions = 0;
    for connector in mirrors.iter().filter_map(|m| m.connector(Role::Source)) {
        let offsets = client.offsets(&connector.name).await.with_context(|| {
            format!(
                "committed offsets of connector {} (Connect serves them from Kafka 3.5 on)",
                connector.name
            )
        })?;
        for (topic, committed) in committed_by_topic(&offsets) {
            let ends = clusters
                .end_offsets("source", &topic)
                .await
                .with_context(|| format!("end offsets of {topic} on cluster source"))?;
            for (partition, end) in ends {
                let next = committed.get(&partition).map_or(0, |offset| offset + 1);
                if end > next {
                    behind += end - next;
                    partitions += 1;
                }
            }
        }
    }
    Ok((behind > 0).then(|| {
        Unsettled::settling(format!(
            "{behind} records not yet copied on {partitions} partition(s)"
        ))
    }))
}

/// MirrorMaker 2's source offsets (`{topic, partition}` → the last copied record's offset), per
/// topic. Entries of another shape are not MM2's and are left out.
fn committed_by_topic(
    offsets: &[SourceOffset],
) -> std::collections::BTreeMap<String, std::collections::BTreeMap<i32, i64>> {
    let mut topics: std::collections::BTreeMap<_, std::collections::BTreeMap<_, _>> =
        Default::default();
    for entry in offsets {
        let topic = entry.partition.get("topic").and_then(|v| v.as_str());
        let partition = entry.partition.get("partition").and_then(|v| v.as_i64());
        let offset = entry.offset.get("offset").and_then(|v| v.as_i64());
        if let (Some(topic), Some(partition), Some(offset)) = (topic, partition, offset) {
            topics
                .entry(topic.to_string())
                .or_default()
                .insert(partition as i32, offset);
        }
    }
    topics
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mm2_offsets_are_read_per_topic_and_others_left_out() {
        let offsets: Vec<SourceOffset> = serde_json::from_str(
            r#"[
              {"partition": {"cluster": "east", "topic": "orders", "partition": 1}, "offset": {"offset": 41}},
              {"partition": {"cluster": "east", "topic": "orders", "partition": 0}, "offset": {"offset": 9}},
              {"partition": {"filename": "/tmp/x"}, "offset": {"position": 3}}
            ]"#,
        )
        .unwrap();
        let topics = committed_by_topic(&offsets);
        assert_eq!(topics.len(), 1);
        assert_eq!(topics["orders"][&0], 9);
        assert_eq!(topics["orders"][&1], 41);
    }

    #[tokio::test]
    async fn a_wait_that_never_settles_names_what_is_left() {
        let error = until(Duration::ZERO, STUCK_GRACE, Instant::now(), || async {
            Ok(Some(Unsettled::settling(
                "12 records not yet copied".into(),
            )))
        })
        .await
        .unwrap_err();
        assert!(
            error.to_string().contains("12 records not yet copied"),
            "{error}"
        );
        until(Duration::ZERO, STUCK_GRACE, Instant::now(), || async {
            Ok(None)
        })
        .await
        .unwrap();
    }

    #[tokio::test]
    async fn a_failed_task_ends_the_wait_after_its_grace_not_at_the_timeout() {
        let started = Instant::now();
        let error = until(
            Duration::from_secs(600),
            Duration::from_millis(50),
            started,
            || async {
                Ok(Some(Unsettled {
                    what: "task 0 of m is FAILED".into(),
                    stuck: true,
                }))
            },
        )
        .await
        .unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(10));
        let error = error.to_string();
        assert!(
            error.contains("task 0 of m is FAILED")
                && error.contains("restarts no FAILED connector or task by itself")
                && error.contains("run the campaign again to resume"),
            "{error}"
        );
    }
}
