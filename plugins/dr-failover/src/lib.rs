//! Disaster-recovery failover drill (seed 004 §11.5.2), active/passive: producers and a consumer
//! group work on the source; the source is lost for them (they stop at once) and, when the whole
//! site is lost, for the mirror too; the group moves to the target at the offsets the mirror
//! translated and resumes there. Measured record by record on the run's stamped records: the
//! time until the group consumes again (RTO), what the mirror had not delivered when the site was
//! lost (RPO), the records the group never read (must be 0 once the mirror has delivered what was
//! acknowledged), the records it read twice, and the error of the translation itself.

use kscen_sdk::consume::{self, CommitPolicy};
use kscen_sdk::faults::{self, Action};
use kscen_sdk::kafka;
use kscen_sdk::mm2::{self, wait_until, ReverseMirror};
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
             `missed`, `read_twice`, `read`. With `failback`, the application then runs on the \
             target for `on_dr` (producing the topic under its own name there), the run's mirror \
             is reversed on its Connect cluster (its connectors' configurations with the \
             clusters swapped, limited to the drill's topic and group) and resynchronises \
             (`resync_ms`), the target's producers stop and drain (`failback_unsynced_records`, \
             `failback_lost`, `failback_duplicates`), the group resumes on the source after \
             everything it read and producers restart there (`failback_rto_ms`), and the reverse \
             mirror is deleted; `missed` and `read_twice` then cover every record of both \
             sides.",
        )
        .apply(|d| mm2::tracked_load_params(d, TRACKED))
        .apply(|d| consume::group_params(d, "kscen-dr-app", 2))
        .param(spec::duration("warmup", "30s", "load and consumption on the source before the loss"))
        .param(spec::text("loss", "application", "what is lost: application (its clients stop), or site (the mirror's link to the source too)"))
        .param(spec::duration("outage", "20s", "with loss = site: how long the mirror's link stays cut"))
        .param(spec::duration("timeout", "3m", "longest wait for a checkpoint, the mirror and the group to catch up"))
        .param(spec::flag("failback", false, "then fail back to the source through a reverse mirror (004 §11.5.3)"))
        .param(spec::duration("on_dr", "20s", "with failback: how long the application produces and consumes on the target before the reverse mirror starts"))
        .cluster("source")
        .cluster("target")
        .connect()
        .fault(SOURCE_LINK)
        .build()
    }

    fn run() -> Result<(), ScenarioError> {
        let loss = Loss::from_param()?;

        phase("on source");
        let (load, topic) = mm2::start_tracked_load(&[])?;
        let drill = Drill {
            group: consume::fresh_group()?,
            members: param::int("members")? as u32,
            timeout: param::duration("timeout")?,
            topic,
            rate: param::float("rate")?,
            record_size: param::size("record_size")? as u32,
        };
        let (group, topic, timeout) = (&drill.group, &drill.topic, drill.timeout);
        let remote = mm2::remote_topic(topic)?;
        event(
            "mirror",
            &format!("{topic} is {remote} on the target; group {group}"),
        );
        let on_source = drill.consume("source", topic)?;
        sleep(param::duration("warmup")?);
        // A failover needs a checkpoint of the group; one taken before the loss is all a lost
        // site leaves.
        consume::wait_for_checkpoint(group, timeout)?;

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
        let translated = consume::move_to_translated(group, "target", timeout)?;
        let age = translated.iter().map(|t| t.age_ms).max().unwrap_or(0);
        figure("checkpoint_age_ms", age as f64, "ms");
        let errors = consume::translation_errors(group, false)?;
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
        let on_target = drill.consume("target", &remote)?;
        time_to_consume("rto_ms", lost_at, &[&on_target], "target", timeout)?;

        if loss == Loss::Site {
            site_back(lost_at)?;
        }

        if param::flag("failback")? {
            return failback(&drill, on_target);
        }
        phase("drain");
        consume::drain_and_report(group, timeout)?;
        on_target.stop();
        end_phase();
        Ok(())
    }
}

/// What the drill works on: the application's group, topic and producers.
struct Drill {
    group: String,
    members: u32,
    timeout: Duration,
    /// the application's topic: on the source, and under the same name on the target while the
    /// application runs there
    topic: String,
    rate: f64,
    record_size: u32,
}

impl Drill {
    fn consume(&self, cluster: &str, topic: &str) -> Result<Consume, ScenarioError> {
        Consume::group(cluster, topic, &self.group)
            .members(self.members)
            .commit(CommitPolicy::PerBatch)
            .start()
    }

    fn load(&self, cluster: &str, to: &str) -> kscen_sdk::load::LoadBuilder {
        Load::to(cluster, &self.topic)
            .rate(self.rate)
            .record_size(self.record_size)
            .replicate_to(to)
            .grace(self.timeout)
    }
}

/// Failback (004 §11.5.3), after the application ran on the target: the primary is repaired,
/// MirrorMaker DR → Primary (the run's mirror reversed) resynchronises what the application
/// wrote on the target, the producers stop there, everything drains, the group moves back to the
/// primary and the producers restart there; the reverse mirror stops and the forward one carries
/// on. Every record written on either side is followed to the group.
fn failback(drill: &Drill, on_target_remote: Consume) -> Result<(), ScenarioError> {
    let timeout = drill.timeout;
    let forward = mm2::mirror()?;
    let topic = drill.topic.as_str();
    let back_topic = ReverseMirror::remote_topic(&forward, topic)?;

    phase("on DR");
    // The application now writes its topic on the target; the reverse mirror will bring those
    // records back to the primary as `back_topic`.
    create_topic("target", topic, param::int("partitions")? as u32)?;
    let on_dr = drill
        .load("target", "source")
        .remote_topic(&back_topic)
        .start()?;
    let on_target_local = drill.consume("target", topic)?;
    event(
        "on DR",
        &format!("the application writes {topic} on the target, read with the mirrored records"),
    );
    sleep(param::duration("on_dr")?);

    phase("resync");
    let reverse = ReverseMirror::create(&forward, &[topic], &[&drill.group], timeout)?;
    event(
        "resync",
        &format!(
            "reverse mirror {} runs ({}): {topic} on the target becomes {back_topic} on the source",
            reverse.label(),
            reverse.connectors().join(", ")
        ),
    );
    // Converged: the records written on the target reach the source as they are written.
    let converged = wait_until(timeout, Duration::from_millis(200), || {
        Ok(on_dr
            .status()
            .replication
            .is_some_and(|r| r.replicated > 0 && r.lag_ms < 1000))
    })?;
    let Some(converged) = converged else {
        return Err(ScenarioError::Failed(format!(
            "the reverse mirror {} did not catch up within {timeout:?}",
            reverse.label()
        )));
    };
    figure("resync_ms", converged.as_secs_f64() * 1000.0, "ms");

    phase("failback");
    let switch_at = monotonic_now();
    if let Some(lag) = on_dr.status().replication {
        figure(
            "failback_unsynced_records",
            lag.lag_records as f64,
            "records",
        );
    }
    // Producers stop on the target; the stop waits for the reverse mirror to deliver their last
    // records to the source (the drain the seeds require before any switch).
    let on_dr = on_dr.stop();
    if let Some(verdict) = on_dr.replication {
        figure("failback_lost", verdict.lost as f64, "records");
        figure("failback_duplicates", verdict.duplicates as f64, "records");
    }
    if !consume::wait_drained(&drill.group, timeout)? {
        warn(&format!(
            "the group had not read everything on the target within {timeout:?}"
        ));
    }
    on_target_remote.stop();
    on_target_local.stop();
    // Drained on the target, the group resumes on the source after everything it read: the
    // ends of the application's topic (mirrored to the target and read there) and of what the
    // reverse mirror brought back.
    let mut offsets = Vec::new();
    for t in [topic, back_topic.as_str()] {
        for end in kafka::end_offsets("source", t)? {
            offsets.push((t.to_string(), end.partition, end.offset));
        }
    }
    consume::commit_offsets("source", &drill.group, &offsets)?;
    let on_source = drill.load("source", "target").start()?;
    let reads = drill.consume("source", topic)?;
    let reads_back = drill.consume("source", &back_topic)?;
    time_to_consume(
        "failback_rto_ms",
        switch_at,
        &[&reads, &reads_back],
        "source",
        timeout,
    )?;

    phase("nominal");
    drop(reverse);
    event(
        "nominal",
        "reverse mirror deleted; the forward mirror carries on",
    );
    mm2::wait_first_replicated(&on_source, timeout)?;
    sleep(secs(5));
    on_source.stop();
    consume::drain_and_report(&drill.group, timeout)?;
    reads.stop();
    reads_back.stop();
    end_phase();
    Ok(())
}

/// The figure `name`: the time from `since` until the group consumes again on `cluster`, every
/// partition of `jobs`' topics held by a member and positioned at the committed offsets (a
/// translation that gives nothing back leaves nothing to read, so a first record is no measure);
/// a warning after `timeout`.
fn time_to_consume(
    name: &str,
    since: Duration,
    jobs: &[&Consume],
    cluster: &str,
    timeout: Duration,
) -> Result<(), ScenarioError> {
    let resumed = wait_until(timeout, Duration::from_millis(50), || {
        Ok(jobs.iter().all(|job| job.status().join_ms.is_some()))
    })?;
    match resumed {
        Some(_) => figure(name, (monotonic_now() - since).as_secs_f64() * 1000.0, "ms"),
        None => warn(&format!(
            "the group did not hold every partition on the {cluster} within {timeout:?}"
        )),
    }
    Ok(())
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
