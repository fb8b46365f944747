//! Disaster-recovery failover drill (seed 004 §11.5.2), active/passive: producers and a consumer
//! group work on the source; the source is lost for them (they stop at once) and, when the whole
//! site is lost, for the mirror too; the group moves to the target at the offsets the mirror
//! translated and resumes there. Measured record by record on the run's stamped records: the
//! time until the group consumes again (RTO), what the mirror had not delivered when the site was
//! lost (RPO), the records the group never read (must be 0 once the mirror has delivered what was
//! acknowledged), the records it read twice, and the error of the translation itself.

use kscen_sdk::consume::{self, CommitPolicy};
use kscen_sdk::faults::{self, Action};
use kscen_sdk::mm2;
use kscen_sdk::prelude::*;

struct DrFailover;

/// The fault target a site loss cuts: the mirror's path to the source cluster.
const SOURCE_LINK: &str = "workers-to-source";

/// What the source's loss takes away.
#[derive(Clone, Copy, PartialEq)]
enum Loss {
    /// The application's clients stop; the mirror still delivers what was acknowledged.
    Application,
    /// The source site is gone for the mirror too, until `outage` has passed.
    Site,
}

impl Loss {
    fn from_param() -> Result<Loss, ScenarioError> {
        match param::text("loss")?.as_str() {
            "application" => Ok(Loss::Application),
            "site" => Ok(Loss::Site),
            other => Err(ScenarioError::Failed(format!(
                "loss must be application or site, got {other:?}"
            ))),
        }
    }
}

const TRACKED: mm2::TrackedLoadDefaults = mm2::TrackedLoadDefaults {
    topic: "kscen-dr",
    rate: 2000.0,
    partitions: 6,
    grace: "3m",
};

impl Scenario for DrFailover {
    fn describe() -> ScenarioInfo {
        Describe::new(
            "dr-failover",
            "Fail a consumer group over to the target at translated offsets: RTO, missed and read-twice records (004 §11.5.2)",
        )
        .description(
            "Produces tracked records to a fresh `topic` at `rate` while a consumer group of \
             `members` reads it on the source, committing after each batch. After `warmup` (and \
             the mirror's first checkpoint of the group), the source is lost for the application: \
             producer and consumers stop at once. With `loss = \"site\"` the mirror loses it too \
             (fault target `workers-to-source` cut) for `outage`: what was acknowledged and not \
             yet mirrored is the RPO. The group's offsets translated by the run's mirror (its \
             newest checkpoints) are committed on the target and the group resumes there on the \
             remote topic. Figures: `rto_ms` (loss to the group holding every partition on the \
             target), `checkpoint_age_ms`, `translation_missed` / `translation_read_twice` (the \
             error of the translated offsets against the stamped records of both clusters); for a \
             site loss the mirror's lag at the loss, `rpo_ms` (age of the oldest acknowledged \
             record not yet on the target) and `rpo_records` (how many); and, once the group has \
             read everything the mirror delivered (or `timeout`), its verdict over both clusters: \
             `missed`, `read_twice`, `read`.",
        )
        .apply(|d| mm2::tracked_load_params(d, TRACKED))
        .apply(|d| consume::group_params(d, "kscen-dr-app", 2))
        .param(spec::duration("warmup", "30s", "load and consumption on the source before the loss"))
        .param(spec::text("loss", "application", "what is lost: application (its clients stop), or site (the mirror's link to the source too)"))
        .param(spec::duration("outage", "20s", "with loss = site: how long the mirror's link stays cut"))
        .param(spec::duration("timeout", "3m", "longest wait for a checkpoint, the mirror and the group to catch up"))
        .cluster("source")
        .cluster("target")
        .fault(SOURCE_LINK)
        .build()
    }

    fn run() -> Result<(), ScenarioError> {
        let group = consume::fresh_group()?;
        let members = param::int("members")? as u32;
        let timeout = param::duration("timeout")?;
        let loss = Loss::from_param()?;
        let consume_on = |cluster: &str, topic: &str| {
            Consume::group(cluster, topic, &group)
                .members(members)
                .commit(CommitPolicy::PerBatch)
                .start()
        };

        phase("on source");
        let (load, topic) = mm2::start_tracked_load(&[])?;
        let remote = mm2::remote_topic(&topic)?;
        event(
            "mirror",
            &format!("{topic} is {remote} on the target; group {group}"),
        );
        let on_source = consume_on("source", &topic)?;
        sleep(param::duration("warmup")?);
        // A failover needs a checkpoint of the group; one taken before the loss is all a lost
        // site leaves.
        consume::wait_for_checkpoint(&group, timeout)?;

        phase("failover");
        let lost_at = monotonic_now();
        if loss == Loss::Site {
            event(
                "failover",
                "the source site is lost: the mirror's link is cut, producer and consumers stop",
            );
            faults::inject(SOURCE_LINK, Action::Cut)?;
            // What the mirror had not delivered of the acknowledged records when the site went.
            if let Some(lag) = load.status().replication {
                figure("rpo_ms", lag.lag_ms as f64, "ms");
                figure("rpo_records", lag.lag_records as f64, "records");
            }
            load.abandon();
        } else {
            event(
                "failover",
                "the source is lost for the application: producer and consumers stop",
            );
            load.stop();
        }
        let read_on_source = on_source.stop();
        info(&format!(
            "read {} records on the source",
            read_on_source.records
        ));
        let translated = consume::move_to_translated(&group, "target", timeout)?;
        let age = translated.iter().map(|t| t.age_ms).max().unwrap_or(0);
        figure("checkpoint_age_ms", age as f64, "ms");
        let errors = consume::translation_errors(&group, false)?;
        figure(
            "translation_missed",
            errors.iter().map(|e| e.missed).sum::<u64>() as f64,
            "records",
        );
        figure(
            "translation_read_twice",
            errors.iter().map(|e| e.read_twice).sum::<u64>() as f64,
            "records",
        );
        let on_target = consume_on("target", &remote)?;
        // Consuming again: every partition of the remote topic held by a member, positioned at
        // the committed offsets. A translation that gives nothing back leaves nothing to read,
        // so the first record is no measure.
        let resumed = mm2::wait_until(timeout, Duration::from_millis(50), || {
            Ok(on_target.status().join_ms.is_some())
        })?;
        match resumed {
            Some(_) => figure(
                "rto_ms",
                (monotonic_now() - lost_at).as_secs_f64() * 1000.0,
                "ms",
            ),
            None => warn(&format!(
                "the group did not hold every partition on the target within {timeout:?}"
            )),
        }

        if loss == Loss::Site {
            site_back(lost_at)?;
        }

        phase("drain");
        consume::drain_and_report(&group, timeout)?;
        on_target.stop();
        end_phase();
        Ok(())
    }
}

/// The site stays lost for `outage` from the loss (the group reads what the target has), then
/// comes back: the mirror delivers what it could not.
fn site_back(lost_at: Duration) -> Result<(), ScenarioError> {
    let outage = param::duration("outage")?;
    sleep((lost_at + outage).saturating_sub(monotonic_now()));
    phase("site back");
    faults::inject(SOURCE_LINK, Action::Restore)?;
    event("site back", "the mirror's link to the source is restored");
    Ok(())
}

kscen_sdk::export_scenario!(DrFailover);
