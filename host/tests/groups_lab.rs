//! Consumer groups across the real lab's MirrorMaker 2 mirror (`kscen lab up` with MM2
//! connectors): a group's lag on the source, the checkpoints MM2 emits for it on the target, and
//! what a consumer resuming at the translated offset misses or reads twice — as MM2 translates it,
//! as MM2 commits it for the group on the target, and with a checkpoint shifted by hand. The
//! mirror (aliases, policy, checkpoint connector) is found by kscen's own discovery, so the tests
//! hold whatever names the lab gives it. Set `KSCEN_LAB_PROFILE` to the lab's profile.toml;
//! without it the tests skip (and fail under CI=true). The checkpoint connector, paused for a
//! test, is resumed also when a check fails.

#[path = "support/lab_env.rs"]
mod lab_env;
#[path = "support/lab_kafka.rs"]
mod lab_kafka;

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use kscen::cluster::Clusters;
use kscen::config::profile::Profile;
use kscen::connect::{ConnectClient, State};
use kscen::deployment::mirrors::Mirror;
use kscen::error::HostError;
use kscen::groups::checkpoints::{read_checkpoints, Checkpoint, Checkpoints};
use kscen::groups::lag::{group_lag, PartitionLag};
use kscen::groups::translation::{translate, translation_error, Position, TranslationError};
use kscen::verify::stamp::Stamp;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};

use lab_env::{eventually, lab_profile, LAB_LOCK};
use lab_kafka::unique_topic;

/// The lab profile's cluster names.
const SOURCE: &str = "source";
const TARGET: &str = "target";
const PARTITIONS: i32 = 4;
const PER_PARTITION: i64 = 500;
/// How far the injected checkpoints are shifted from the exact offset.
const SHIFT: i64 = 7;
/// Within it MM2 replicates a new topic, lists a new group, starts a checkpoint task for it and
/// checkpoints it (the lab refreshes and emits every 5 s).
const MM2_WAIT: Duration = Duration::from_secs(90);
const SETTLE: Duration = Duration::from_secs(30);

/// The offset the source group commits on `partition`: mid-partition, so shifts either way stay
/// inside it.
fn committed_at(partition: i32) -> i64 {
    200 + 50 * i64::from(partition)
}

/// The lab's mirrors that checkpoint groups, found through Connect by kscen's discovery.
async fn checkpointing_mirrors(profile: &Profile) -> Vec<Mirror> {
    let mirrors = kscen::deployment::mirrors("lab", profile)
        .await
        .expect("the lab's mirrors are discovered");
    let checkpointing: Vec<Mirror> = mirrors
        .into_iter()
        .filter(|m| m.checkpoint.is_some())
        .collect();
    assert!(
        !checkpointing.is_empty(),
        "no mirror of the lab has a MirrorCheckpointConnector"
    );
    checkpointing
}

/// Writes `PARTITIONS * PER_PARTITION` records stamped by `run`, spread evenly over the
/// partitions, and waits for every acknowledgement.
async fn produce_stamped(clusters: &Clusters, topic: &str, run: u64) {
    let producer: FutureProducer = clusters
        .client_config(SOURCE)
        .unwrap()
        .set("acks", "all")
        .create()
        .expect("a producer");
    let mut deliveries = Vec::new();
    for seq in 0..(i64::from(PARTITIONS) * PER_PARTITION) as u64 {
        let mut value = vec![b'g'; 64];
        Stamp {
            run,
            job: 0,
            seq,
            intended_ns: 0,
        }
        .write(&mut value);
        let record = FutureRecord::<(), _>::to(topic)
            .partition((seq % PARTITIONS as u64) as i32)
            .payload(&value);
        deliveries.push(
            producer
                .send_result(record)
                .map_err(|(e, _)| e)
                .expect("queued"),
        );
    }
    for delivery in deliveries {
        delivery
            .await
            .expect("delivered or failed")
            .map_err(|(e, _)| e)
            .expect("acknowledged");
    }
}

/// A member of `group` on the source reads `topic` up to `committed_at` on every partition and
/// commits there; it stays in the group until dropped.
async fn consume_and_commit(clusters: &Clusters, topic: &str, group: &str) -> BaseConsumer {
    let mut config = clusters.client_config(SOURCE).unwrap();
    config
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest");
    let topic = topic.to_string();
    tokio::task::spawn_blocking(move || {
        let consumer: BaseConsumer = config.create().expect("a consumer");
        consumer.subscribe(&[&topic]).expect("subscribed");
        let mut read: HashMap<i32, i64> = HashMap::new();
        let mut last_error = None;
        let deadline = Instant::now() + SETTLE;
        while !(0..PARTITIONS).all(|p| read.get(&p).is_some_and(|o| *o >= committed_at(p) - 1)) {
            assert!(
                Instant::now() < deadline,
                "the group's member read only {read:?} in {SETTLE:?} (last error: {last_error:?})"
            );
            match consumer.poll(Duration::from_millis(100)) {
                Some(Ok(message)) => {
                    let last = read.entry(message.partition()).or_default();
                    *last = (*last).max(message.offset());
                }
                // Transient while the group forms on a topic just created.
                Some(Err(error)) => last_error = Some(error),
                None => {}
            }
        }
        let mut offsets = TopicPartitionList::new();
        for partition in 0..PARTITIONS {
            offsets
                .add_partition_offset(&topic, partition, Offset::Offset(committed_at(partition)))
                .unwrap();
        }
        consumer
            .commit(&offsets, CommitMode::Sync)
            .expect("committed");
        consumer
    })
    .await
    .unwrap()
}

/// The mirror that copied `topic` whole to the target, and its remote name there.
async fn replicated_by(clusters: &Clusters, mirrors: &[Mirror], topic: &str) -> (Mirror, String) {
    eventually("the topic copied whole to the target", MM2_WAIT, || async {
        let mut seen = Vec::new();
        for mirror in mirrors {
            let remote = mirror
                .remote_topic(topic)
                .expect("the lab's mirror has a policy kscen knows");
            match clusters.end_offsets(TARGET, &remote).await {
                Ok(ends)
                    if ends.len() == PARTITIONS as usize
                        && ends.iter().all(|(_, end)| *end == PER_PARTITION) =>
                {
                    return Ok((mirror.clone(), remote));
                }
                found => seen.push(format!("{remote}: {found:?}")),
            }
        }
        Err(seen.join("; "))
    })
    .await
}

/// The group's newest checkpoints for `remote`, once MM2 has checkpointed `committed_at` on
/// every partition.
async fn checkpointed(clusters: &Clusters, topic: &str, group: &str, remote: &str) -> Checkpoints {
    eventually(
        "a checkpoint of each committed offset",
        MM2_WAIT,
        || async {
            let read = read_checkpoints(clusters, TARGET, topic, Some(group))
                .await
                .map_err(|e| e.to_string())?;
            let translated = translate(&read, group);
            let all = (0..PARTITIONS).all(|p| {
                translated.iter().any(|t| {
                    t.remote_topic == remote
                        && t.partition == p
                        && t.upstream_offset == committed_at(p)
                })
            });
            match all {
                true => Ok(read),
                false => Err(format!("{translated:?}")),
            }
        },
    )
    .await
}

/// The translation error on `partition` for a consumer resuming the remote topic at `translated`.
async fn error_at(
    clusters: &Clusters,
    run: u64,
    (topic, remote): (&str, &str),
    partition: i32,
    translated: i64,
) -> TranslationError {
    translation_error(
        clusters,
        run,
        Position {
            cluster: SOURCE,
            topic,
            partition,
            offset: committed_at(partition),
        },
        Position {
            cluster: TARGET,
            topic: remote,
            partition,
            offset: translated,
        },
    )
    .await
    .expect("the translation error is measured")
}

/// Resumes a connector when dropped, also when the test panics. Drop runs inside the test's
/// runtime, which cannot wait on a future: the call gets a thread and a runtime of its own.
struct Resume<'a> {
    profile: &'a Profile,
    connector: String,
}

impl Drop for Resume<'_> {
    fn drop(&mut self) {
        let resumed = std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .expect("a runtime")
                        .block_on(async {
                            let client = ConnectClient::from_profile(self.profile)
                                .map_err(|e| e.to_string())?
                                .ok_or("no [connect]")?;
                            client
                                .resume(&self.connector)
                                .await
                                .map_err(|e| e.to_string())
                        })
                })
                .join()
        });
        // No panic here: a panic while unwinding would abort and hide the first failure.
        if !matches!(resumed, Ok(Ok(()))) {
            eprintln!(
                "could not resume connector {} ({resumed:?}): resume it by hand (PUT \
                 /connectors/{}/resume)",
                self.connector, self.connector
            );
        }
    }
}

async fn wait_state(client: &ConnectClient, connector: &str, state: State) {
    eventually(&format!("{connector} {state:?}"), SETTLE, || async {
        let status = client.status(connector).await.map_err(|e| e.to_string())?;
        match status.state == state && status.tasks.iter().all(|t| t.state == state) {
            true => Ok(()),
            false => Err(format!("{status:?}")),
        }
    })
    .await
}

/// Writes `checkpoint` to the checkpoints topic's partition `log_partition`, as MM2 would.
async fn inject(clusters: &Clusters, topic: &str, log_partition: i32, checkpoint: &Checkpoint) {
    let producer: FutureProducer = clusters
        .client_config(TARGET)
        .unwrap()
        .set("acks", "all")
        .create()
        .expect("a producer");
    let (key, value) = checkpoint.encode().unwrap();
    producer
        .send(
            FutureRecord::to(topic)
                .partition(log_partition)
                .key(&key)
                .payload(&value),
            Duration::from_secs(10),
        )
        .await
        .map_err(|(e, _)| e)
        .expect("the checkpoint is written");
}

/// A group commits on the source; MM2 replicates, checkpoints the group and commits its
/// translated offsets on the target. Resuming there misses nothing (a), also at the offsets MM2
/// committed (d); a checkpoint shifted by hand past the exact offset misses exactly the shift,
/// one shifted before it reads exactly the shift twice (b).
#[tokio::test]
async fn a_translated_group_misses_nothing_and_a_shifted_checkpoint_is_measured_exactly() {
    let Some(profile) = lab_profile() else { return };
    let _lab = LAB_LOCK.lock().await;
    let started = Instant::now();
    let clusters = Clusters::from_profile(&profile);
    let mirrors = checkpointing_mirrors(&profile).await;
    let topic = unique_topic("kscen", "groups");
    let group = unique_topic("kscen", "group");
    // A name the lab's filters let through, or the wait below would only time out.
    assert!(
        mirrors.iter().any(|m| m
            .topics
            .as_ref()
            .is_some_and(|t| t.replicates(&topic) == Some(true))),
        "no mirror replicates {topic}"
    );
    let run = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    clusters
        .create_topic(SOURCE, &topic, PARTITIONS as u32, None, &[])
        .await
        .unwrap();
    produce_stamped(&clusters, &topic, run).await;
    let member = consume_and_commit(&clusters, &topic, &group).await;

    // The group's lag on the source, with its member, then without.
    let lag = group_lag(&clusters, SOURCE, &group, None).await.unwrap();
    assert_eq!((lag.state.as_str(), lag.members), ("Stable", 1), "{lag:?}");
    let expected: Vec<PartitionLag> = (0..PARTITIONS)
        .map(|partition| PartitionLag {
            topic: topic.clone(),
            partition,
            committed: Some(committed_at(partition)),
            end: PER_PARTITION,
            lag: Some(PER_PARTITION - committed_at(partition)),
        })
        .collect();
    assert_eq!(lag.partitions, expected);
    assert_eq!(lag.max_lag(), PER_PARTITION - committed_at(0));
    assert_eq!(
        lag.total_lag(),
        (0..PARTITIONS)
            .map(|p| PER_PARTITION - committed_at(p))
            .sum::<i64>()
    );
    tokio::task::spawn_blocking(move || drop(member))
        .await
        .unwrap();
    let left = eventually("the group empty once its member left", SETTLE, || async {
        let lag = group_lag(
            &clusters,
            SOURCE,
            &group,
            Some(std::slice::from_ref(&topic)),
        )
        .await
        .map_err(|e| e.to_string())?;
        match (lag.state.as_str(), lag.members) {
            ("Empty", 0) => Ok(lag),
            _ => Err(format!("{lag:?}")),
        }
    })
    .await;
    assert_eq!(left.total_lag(), lag.total_lag());

    // (a) MM2's own translation.
    let (mirror, remote) = replicated_by(&clusters, &mirrors, &topic).await;
    let groups = mirror
        .groups
        .as_ref()
        .expect("the checkpoint connector was read");
    assert_eq!(groups.replicates(&group), Some(true), "{}", mirror.label());
    let checkpoints_topic = mirror
        .checkpoints_topic()
        .expect("the lab's mirror has a policy kscen knows");
    let checkpoints = checkpointed(&clusters, &checkpoints_topic, &group, &remote).await;
    println!(
        "mirror {} ({}), checkpoints in {checkpoints_topic} on {TARGET}, {} undecodable",
        mirror.label(),
        mirror.policy,
        checkpoints.undecodable
    );
    let translated = translate(&checkpoints, &group);
    let mut exact = HashMap::new();
    for t in &translated {
        let error = error_at(
            &clusters,
            run,
            (&topic, &remote),
            t.partition,
            t.downstream_offset,
        )
        .await;
        println!(
            "(a) partition {}: committed {} -> checkpoint {} (age {:?} ms), exact {:?}: missed {}, \
             read twice {}, saturated {}",
            t.partition,
            t.upstream_offset,
            t.downstream_offset,
            t.age_ms,
            error.exact,
            error.missed,
            error.read_twice,
            error.saturated
        );
        assert_eq!(error.missed, 0, "{error:?}");
        assert!(!error.saturated, "{error:?}");
        assert!(t.age_ms.is_some_and(|age| age >= 0), "{t:?}");
        exact.insert(
            t.partition,
            error.exact.expect("the windows hold the run's records"),
        );
    }

    // (d) The offsets MM2 commits for the group on the target, when it syncs them.
    let connect = ConnectClient::from_profile(&profile)
        .unwrap()
        .expect("the lab profile has [connect]");
    let checkpoint_connector = mirror.checkpoint.as_ref().unwrap().name.clone();
    let config: HashMap<String, String> = connect
        .config(&checkpoint_connector)
        .await
        .unwrap()
        .into_iter()
        .collect();
    if config.get("sync.group.offsets.enabled").map(String::as_str) == Some("true") {
        let synced = eventually(
            "the group's offsets synced to the target",
            MM2_WAIT,
            || async {
                let lag = group_lag(
                    &clusters,
                    TARGET,
                    &group,
                    Some(std::slice::from_ref(&remote)),
                )
                .await
                .map_err(|e| e.to_string())?;
                // At least the checkpoints read above: a later offset sync may have let MM2
                // translate further since.
                let all = lag.partitions.iter().all(|p| {
                    translated.iter().any(|t| {
                        t.partition == p.partition
                            && p.committed.is_some_and(|c| c >= t.downstream_offset)
                    })
                });
                // Settled: the group exists on the target with MM2's offsets and no member (the
                // first describe right after MM2's first sync once saw it otherwise).
                let settled = lag.state == "Empty" && lag.members == 0;
                match all && settled && lag.partitions.len() == PARTITIONS as usize {
                    true => Ok(lag),
                    false => Err(format!("{lag:?}")),
                }
            },
        )
        .await;
        assert_eq!((synced.state.as_str(), synced.members), ("Empty", 0));
        for partition in &synced.partitions {
            let committed = partition.committed.unwrap();
            let error = error_at(
                &clusters,
                run,
                (&topic, &remote),
                partition.partition,
                committed,
            )
            .await;
            println!(
                "(d) partition {}: committed on {TARGET} {committed}, lag {:?}: missed {}, read \
                 twice {}",
                partition.partition, partition.lag, error.missed, error.read_twice
            );
            assert_eq!(error.missed, 0, "{error:?}");
        }
    } else {
        println!("(d) skipped: {checkpoint_connector} does not sync group offsets");
    }

    // (b) A checkpoint shifted by hand, while the connector cannot overwrite it.
    let resume = Resume {
        profile: &profile,
        connector: checkpoint_connector.clone(),
    };
    connect.pause(&checkpoint_connector).await.unwrap();
    wait_state(&connect, &checkpoint_connector, State::Paused).await;
    let partition = 0;
    let exact = exact[&partition];
    // MM2's newest, to put back at the end: it may have written one since (a).
    let original = read_checkpoints(&clusters, TARGET, &checkpoints_topic, Some(&group))
        .await
        .unwrap()
        .newest
        .into_iter()
        .find(|e| e.checkpoint.topic == remote && e.checkpoint.partition == partition)
        .expect("checkpointed above");
    let baseline = error_at(&clusters, run, (&topic, &remote), partition, exact).await;
    assert_eq!(baseline.missed, 0, "{baseline:?}");
    for shift in [SHIFT, -SHIFT] {
        let shifted = Checkpoint {
            downstream_offset: exact + shift,
            ..original.checkpoint.clone()
        };
        inject(
            &clusters,
            &checkpoints_topic,
            original.log_partition,
            &shifted,
        )
        .await;
        let read = read_checkpoints(&clusters, TARGET, &checkpoints_topic, Some(&group))
            .await
            .unwrap();
        let resumed_at = translate(&read, &group)
            .into_iter()
            .find(|t| t.remote_topic == remote && t.partition == partition)
            .expect("the group's checkpoint")
            .downstream_offset;
        assert_eq!(
            resumed_at,
            exact + shift,
            "the injected checkpoint is the newest"
        );
        let error = error_at(&clusters, run, (&topic, &remote), partition, resumed_at).await;
        println!(
            "(b) partition {partition}: exact {exact}, checkpoint shifted by {shift:+}: missed {}, \
             read twice {} (at the exact offset: {})",
            error.missed, error.read_twice, baseline.read_twice
        );
        if shift > 0 {
            assert_eq!(
                (error.missed, error.read_twice),
                (SHIFT as u64, baseline.read_twice),
                "{error:?}"
            );
        } else {
            assert_eq!(
                (error.missed, error.read_twice),
                (0, baseline.read_twice + SHIFT as u64),
                "{error:?}"
            );
        }
    }
    // The group's newest checkpoint is MM2's again.
    inject(
        &clusters,
        &checkpoints_topic,
        original.log_partition,
        &original.checkpoint,
    )
    .await;
    drop(resume);
    wait_state(&connect, &checkpoint_connector, State::Running).await;
    println!("done in {:?}", started.elapsed());
}

/// What a user mistypes: a group or topic the cluster does not have, a mirror whose checkpoints
/// topic does not exist.
#[tokio::test]
async fn unknown_groups_and_topics_are_not_found_by_name() {
    let Some(profile) = lab_profile() else { return };
    let clusters = Clusters::from_profile(&profile);
    let group = unique_topic("kscen", "no-such-group");
    let error = group_lag(&clusters, SOURCE, &group, None)
        .await
        .unwrap_err();
    let HostError::NotFound(message) = &error else {
        panic!("{error:?}")
    };
    assert!(
        message.contains(&format!(
            "consumer group {group} on cluster {SOURCE}: no such group"
        )),
        "{message}"
    );

    let topic = unique_topic("kscen", "no-such-topic");
    let error = group_lag(
        &clusters,
        SOURCE,
        &group,
        Some(std::slice::from_ref(&topic)),
    )
    .await
    .unwrap_err();
    assert_eq!(
        error,
        HostError::NotFound(format!("topic {topic} on {SOURCE}"))
    );

    let mirror = &checkpointing_mirrors(&profile).await[0];
    let alias = unique_topic("kscen", "no-such-alias");
    let missing = mirror.policy.checkpoints_topic(&alias).unwrap();
    let error = read_checkpoints(&clusters, TARGET, &missing, None)
        .await
        .unwrap_err();
    let HostError::NotFound(message) = &error else {
        panic!("{error:?}")
    };
    assert!(
        message.starts_with(&format!("checkpoints topic {missing} on cluster {TARGET}"))
            && message.contains("emit.checkpoints.enabled"),
        "{message}"
    );
}
