//! Topic migration through the mirror (seed 004 §11.2.3): the application keeps producing on the
//! source while MirrorMaker 2 replicates; once the mirror's lag is under `max_lag` records, the
//! consumer group switches to the target at the offsets MM2 translated, and the migration is
//! validated for `validate`. If the mirror's lag exceeds `rollback_lag` before the end, the group
//! is rolled back to the source, automatically, as the seed's field note does. Every record is
//! followed: the group's verdict over both clusters says what a switch (or a rollback) cost.

use kscen_sdk::consume::{self, CommitPolicy, ConsumeStatus};
use kscen_sdk::load::Load;
use kscen_sdk::mm2;
use kscen_sdk::prelude::*;

struct TopicMigration;

const TRACKED: mm2::TrackedLoadDefaults = mm2::TrackedLoadDefaults {
    topic: "kscen-migration",
    rate: 1000.0,
    partitions: 6,
    grace: "3m",
};

/// The mirror's lag on the tracked load: records acknowledged on the source, not yet on the target.
fn mirror_lag(load: &Load) -> u64 {
    load.status().replication.map_or(0, |r| r.lag_records)
}

impl Scenario for TopicMigration {
    fn describe() -> ScenarioInfo {
        Describe::new(
            "topic-migration",
            "Switch a consumer group to the target once the mirror's lag is small; roll back when it grows (004 §11.2.3)",
        )
        .description(
            "Produces tracked records to a fresh `topic` at `rate` while a consumer group reads \
             it on the source. Once the mirror checkpoints the group and its lag (records \
             acknowledged on the source and not yet on the target) is under `max_lag`, the group \
             stops on the source, its offsets translated by the run's mirror are committed on \
             the target and it resumes there on the remote topic (`switch_ms`: source stopped \
             to first record read on the target). \
             During `validate`, a mirror lag over `rollback_lag` rolls the group back to the \
             source at its source offsets (`rolled_back` 1, `rollback_ms`). Then the producer \
             stops and the group reads what is left; the group's verdict over both clusters: \
             `missed`, `read_twice`; and `mirror_lag_max` during validation.",
        )
        .apply(|d| mm2::tracked_load_params(d, TRACKED))
        .apply(|d| consume::group_params(d, "kscen-order-processor", 2))
        .param(spec::duration("warmup", "20s", "consumption on the source before the migration starts"))
        .param(spec::int("max_lag", 100, "the mirror's lag (records) under which the group switches"))
        .param(spec::int("rollback_lag", 1000, "the mirror's lag (records) over which the group goes back to the source"))
        .param(spec::duration("validate", "30s", "how long the migration is watched before it is accepted"))
        .param(spec::duration("timeout", "3m", "longest wait for the mirror's lag, a checkpoint, and the final drain"))
        .cluster("source")
        .cluster("target")
        .build()
    }

    fn run() -> Result<(), ScenarioError> {
        let group = consume::fresh_group()?;
        let members = param::int("members")? as u32;
        let timeout = param::duration("timeout")?;
        let max_lag = param::int("max_lag")? as u64;
        let rollback_lag = param::int("rollback_lag")? as u64;
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
            "migration",
            &format!("{topic} (remote {remote}), group {group}"),
        );
        let on_source = consume_on("source", &topic)?;
        sleep(param::duration("warmup")?);

        phase("sync");
        // Ready to switch once the mirror checkpoints the group (a new group waits for the
        // checkpoint connector to find it) and its lag is small: the switch then times the
        // interruption, not the group's discovery.
        consume::wait_for_checkpoint(&group, timeout)?;
        let synced = mm2::wait_until(timeout, Duration::from_millis(200), || {
            Ok(mirror_lag(&load) < max_lag)
        })?;
        if synced.is_none() {
            return Err(ScenarioError::Failed(format!(
                "the mirror's lag stayed at {} records or more for {timeout:?}: no switch",
                max_lag
            )));
        }

        phase("switch");
        let switch_started = monotonic_now();
        on_source.stop();
        consume::move_to_translated(&group, "target", timeout)?;
        let on_target = consume_on("target", &remote)?;
        mm2::wait_until(timeout, Duration::from_millis(50), || {
            Ok(on_target.status().records > 0)
        })?;
        figure(
            "switch_ms",
            (monotonic_now() - switch_started).as_secs_f64() * 1000.0,
            "ms",
        );

        phase("validate");
        let validate_until = monotonic_now() + param::duration("validate")?;
        let mut lag_max = 0;
        let mut rolled_back = None;
        while monotonic_now() < validate_until {
            let lag = mirror_lag(&load);
            lag_max = lag_max.max(lag);
            gauge("mirror_lag_records", lag as f64);
            if lag > rollback_lag {
                event("rollback", &format!("the mirror's lag reached {lag} records (> {rollback_lag}): back to the source"));
                let started = monotonic_now();
                let stopped: ConsumeStatus = on_target.stop();
                info(&format!(
                    "read {} records on the target before the rollback",
                    stopped.records
                ));
                let back = consume_on("source", &topic)?;
                mm2::wait_until(timeout, Duration::from_millis(50), || {
                    Ok(back.status().records > 0)
                })?;
                figure(
                    "rollback_ms",
                    (monotonic_now() - started).as_secs_f64() * 1000.0,
                    "ms",
                );
                rolled_back = Some(back);
                break;
            }
            sleep(Duration::from_millis(200));
        }
        figure("mirror_lag_max", lag_max as f64, "records");
        figure(
            "rolled_back",
            if rolled_back.is_some() { 1.0 } else { 0.0 },
            "",
        );

        phase("drain");
        load.stop();
        consume::drain_and_report(&group, timeout)?;
        drop(rolled_back);
        drop(on_target);
        end_phase();
        Ok(())
    }
}

kscen_sdk::export_scenario!(TopicMigration);
