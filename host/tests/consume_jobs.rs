//! The consume job on its own (no plugin, no wasm), against the embedded mock cluster: a group of
//! members reads every record once, resumes where it committed, keeps one ledger per group, and
//! refuses a topic the cluster does not have.

use std::sync::Arc;
use std::time::Duration;

use kscen::cluster::Clusters;
use kscen::error::HostError;
use kscen::load::consume::{self, CommitPolicy, ConsumeJob, ConsumePlan, GroupProtocol, StartFrom};
use kscen::metrics::clock::RunClock;
use kscen::metrics::RunMetrics;
use kscen::verify::stamp::Stamp;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};

const RUN: u64 = 0x5eed;
const PRODUCER_JOB: u32 = 7;

fn plan(topic: &str, group: &str, members: u32, count: Option<u64>) -> ConsumePlan {
    ConsumePlan {
        cluster: "source".into(),
        topic: topic.into(),
        group: group.into(),
        members,
        commit: CommitPolicy::PerBatch,
        protocol: GroupProtocol::Classic,
        start: StartFrom::Earliest,
        count,
        duration: None,
    }
}

/// `count` records of 100 bytes, stamped as this run's producer job, over the topic's partitions.
fn produce_stamped(clusters: &Clusters, topic: &str, from: u64, count: u64, clock: RunClock) {
    let producer: BaseProducer = clusters.client_config("source").unwrap().create().unwrap();
    for seq in from..from + count {
        let mut value = vec![b'x'; 100];
        Stamp {
            run: RUN,
            job: PRODUCER_JOB,
            seq,
            intended_ns: clock.now_ns(),
        }
        .write(&mut value);
        loop {
            match producer.send(BaseRecord::<(), _>::to(topic).payload(&value)) {
                Ok(()) => break,
                Err(_) => {
                    producer.poll(Duration::from_millis(10));
                }
            }
        }
    }
    producer.flush(Duration::from_secs(30)).unwrap();
}

/// librdkafka's mock cluster keeps a member that left until its session times out: a short one
/// lets the next job of the group join without waiting 45 s.
fn mock_config(clusters: &Clusters) -> rdkafka::ClientConfig {
    let mut config = clusters.client_config("source").unwrap();
    config.set("session.timeout.ms", "6000");
    config
}

async fn finished(job: &Arc<ConsumeJob>) {
    tokio::time::timeout(Duration::from_secs(60), job.wait_done())
        .await
        .expect("the consume job reaches its count within 60 s");
}

#[tokio::test]
async fn a_group_reads_every_record_once_and_resumes_where_it_committed() {
    let clusters = Clusters::embedded().unwrap();
    let clock = RunClock::start();
    let metrics = RunMetrics::new(clock);
    let topic = "orders";
    clusters
        .create_topic("source", topic, 4, None, &[])
        .await
        .unwrap();
    produce_stamped(&clusters, topic, 0, 5000, clock);

    let config = mock_config(&clusters);
    let first = consume::spawn(
        1,
        RUN,
        plan(topic, "billing", 2, Some(5000)),
        config.clone(),
        clock,
        metrics.group_ledger("billing"),
    )
    .unwrap();
    finished(&first).await;
    let status = first.status();
    assert_eq!(status.records, 5000);
    assert_eq!(status.bytes, 5000 * 100);
    assert_eq!(status.stamped, 5000);
    assert_eq!(status.read_twice, 0);
    assert_eq!(status.partitions, 4);
    assert!(status.rebalances.join_ms.is_some(), "{status:?}");
    assert!(status.e2e_us.count == 5000 && status.e2e_us.max > 0);

    // The same group resumes after what it committed: only the new records.
    produce_stamped(&clusters, topic, 5000, 1000, clock);
    let second = consume::spawn(
        2,
        RUN,
        plan(topic, "billing", 1, Some(1000)),
        config.clone(),
        clock,
        metrics.group_ledger("billing"),
    )
    .unwrap();
    finished(&second).await;
    assert_eq!(second.status().records, 1000);
    assert_eq!(second.status().read_twice, 0);

    // Another group, from the earliest record: everything again, in its own ledger.
    let other = consume::spawn(
        3,
        RUN,
        plan(topic, "audit", 3, Some(6000)),
        config,
        clock,
        metrics.group_ledger("audit"),
    )
    .unwrap();
    finished(&other).await;
    assert_eq!(other.status().records, 6000);
    assert_eq!(other.status().read_twice, 0);
    assert_eq!(metrics.group_names(), ["audit", "billing"]);
}

#[tokio::test]
async fn a_record_read_by_two_jobs_of_one_group_is_read_twice() {
    let clusters = Clusters::embedded().unwrap();
    let clock = RunClock::start();
    let metrics = RunMetrics::new(clock);
    clusters
        .create_topic("source", "payments", 2, None, &[])
        .await
        .unwrap();
    produce_stamped(&clusters, "payments", 0, 300, clock);
    let config = mock_config(&clusters);
    // Nothing committed: the second job of the group starts over, as a consumer failed over
    // without its offsets would.
    let mut no_commits = plan("payments", "fraud", 1, Some(300));
    no_commits.commit = CommitPolicy::None;
    for id in [1, 2] {
        let job = consume::spawn(
            id,
            RUN,
            no_commits.clone(),
            config.clone(),
            clock,
            metrics.group_ledger("fraud"),
        )
        .unwrap();
        finished(&job).await;
    }
    let ledger = metrics.group_ledger("fraud");
    assert_eq!(ledger.lock().unwrap().read_twice(), 300);
}

#[tokio::test]
async fn a_topic_the_cluster_does_not_have_is_refused_by_name() {
    let clusters = Clusters::embedded().unwrap();
    let clock = RunClock::start();
    let metrics = RunMetrics::new(clock);
    let refused = consume::spawn(
        1,
        RUN,
        plan("no-such-topic", "g", 1, None),
        clusters.client_config("source").unwrap(),
        clock,
        metrics.group_ledger("g"),
    )
    .err()
    .expect("a missing topic is refused");
    match refused {
        HostError::NotFound(message) => {
            assert!(
                message.contains("no-such-topic") && message.contains("source"),
                "{message}"
            )
        }
        other => panic!("expected NotFound, got {other:?}"),
    }
    let mut invalid = plan("t", "", 1, None);
    assert!(matches!(invalid.validate(), Err(HostError::Invalid(_))));
    invalid.group = "g".into();
    invalid.members = 0;
    assert!(matches!(invalid.validate(), Err(HostError::Invalid(_))));
}
