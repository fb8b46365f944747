//! The consume job on its own (no plugin, no wasm), against the embedded mock cluster: a group of
//! members reads every record once, resumes where it committed, keeps one ledger per group, and
//! refuses a topic the cluster does not have.

use std::sync::Arc;
use std::time::Duration;

use kscen::cluster::Clusters;
use kscen::error::HostError;
use kscen::load::consume::{
    self, CommitPolicy, ConsumeJob, ConsumePlan, GroupProtocol, GroupReading, StartFrom,
};
use kscen::metrics::clock::RunClock;
use kscen::metrics::RunMetrics;
use kscen::verify::group_ledger::{GroupVerdict, Produced};
use kscen::verify::seqset::SeqSet;
use kscen::verify::stamp::Stamp;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};

const RUN: u64 = 0x5eed;
const PRODUCER_JOB: u32 = 7;

fn plan(topic: &str, group: &str, members: u32, count: Option<u64>) -> ConsumePlan {
    ConsumePlan {
        reading: GroupReading {
            cluster: "source".into(),
            topic: topic.into(),
            group: group.into(),
            members,
            commit: CommitPolicy::PerBatch,
            protocol: GroupProtocol::Classic,
        },
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

/// The group's verdict on the `sent` records the test produced to `orders`.
fn verdict(metrics: &RunMetrics, group: &str, sent: u64) -> GroupVerdict {
    let none = SeqSet::default();
    metrics
        .group_ledger(group)
        .lock()
        .unwrap()
        .verdict([Produced {
            job: PRODUCER_JOB,
            reaches: vec![("source".into(), "orders".into())],
            sent,
            failed: &none,
        }])
}

/// Lets `job` read until its group has read all `sent` records, then stops it. Members that
/// join one after the other rebalance the group, and a rebalance may hand a partition over
/// before its last batch's commit lands: those records are read twice (at least once, as Kafka
/// promises), which a count of records would mistake for progress.
async fn read_all(job: &Arc<ConsumeJob>, metrics: &RunMetrics, sent: u64) -> GroupVerdict {
    let started = std::time::Instant::now();
    while verdict(metrics, &job.plan.reading.group, sent).unread > 0 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the group did not read every record within 60 s: {:?}",
            job.status()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    job.request_stop();
    finished(job).await;
    verdict(metrics, &job.plan.reading.group, sent)
}

#[tokio::test]
async fn a_group_reads_every_record_and_resumes_where_it_committed() {
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
        plan(topic, "billing", 2, None),
        config.clone(),
        clock,
        metrics.group_ledger("billing"),
    )
    .unwrap();
    let read = read_all(&first, &metrics, 5000).await;
    assert_eq!(read.read, 5000);
    let status = first.status();
    // Every record taken is counted, a record read twice as often as it was read.
    assert_eq!(status.records, 5000 + read.read_twice);
    assert_eq!(status.bytes, status.records * 100);
    assert_eq!(status.stamped, status.records);
    assert_eq!(status.partitions, 4);
    assert!(status.rebalances.join_ms.is_some(), "{status:?}");
    assert!(status.e2e_us.count == status.records && status.e2e_us.max > 0);

    // The same group resumes after what it committed, not from the beginning.
    produce_stamped(&clusters, topic, 5000, 1000, clock);
    let second = consume::spawn(
        2,
        RUN,
        plan(topic, "billing", 1, None),
        config.clone(),
        clock,
        metrics.group_ledger("billing"),
    )
    .unwrap();
    let read = read_all(&second, &metrics, 6000).await;
    assert_eq!(read.read, 6000);
    assert!(
        second.status().records < 5000,
        "resumed at the group's offsets: {:?}",
        second.status()
    );

    // Another group, from the earliest record: everything again, in its own ledger.
    let other = consume::spawn(
        3,
        RUN,
        plan(topic, "audit", 3, None),
        config,
        clock,
        metrics.group_ledger("audit"),
    )
    .unwrap();
    assert_eq!(read_all(&other, &metrics, 6000).await.read, 6000);
    assert_eq!(metrics.group_names(), ["audit", "billing"]);
}

/// A count stops the whole group once its members together took that many records.
#[tokio::test]
async fn a_count_stops_every_member() {
    let clusters = Clusters::embedded().unwrap();
    let clock = RunClock::start();
    let metrics = RunMetrics::new(clock);
    clusters
        .create_topic("source", "orders", 3, None, &[])
        .await
        .unwrap();
    produce_stamped(&clusters, "orders", 0, 3000, clock);
    let job = consume::spawn(
        1,
        RUN,
        plan("orders", "counted", 2, Some(500)),
        mock_config(&clusters),
        clock,
        metrics.group_ledger("counted"),
    )
    .unwrap();
    finished(&job).await;
    assert!(job.status().records >= 500, "{:?}", job.status());
}

/// A job that stops with records fetched but never taken (a consumer's fetch queue runs far
/// ahead of it) commits only what it took: the group's next job reads the rest, none skipped.
#[tokio::test]
async fn a_stopped_job_commits_only_the_records_it_took() {
    let clusters = Clusters::embedded().unwrap();
    let clock = RunClock::start();
    let metrics = RunMetrics::new(clock);
    clusters
        .create_topic("source", "orders", 2, None, &[])
        .await
        .unwrap();
    produce_stamped(&clusters, "orders", 0, 40_000, clock);
    let config = mock_config(&clusters);
    let first = consume::spawn(
        1,
        RUN,
        plan("orders", "ledger", 1, Some(1000)),
        config.clone(),
        clock,
        metrics.group_ledger("ledger"),
    )
    .unwrap();
    finished(&first).await;
    let took = first.status().records;
    assert!(took < 40_000, "the first job stopped early: {took}");
    let second = consume::spawn(
        2,
        RUN,
        plan("orders", "ledger", 1, None),
        config,
        clock,
        metrics.group_ledger("ledger"),
    )
    .unwrap();
    let read = read_all(&second, &metrics, 40_000).await;
    assert_eq!(read.read, 40_000, "{read:?}");
    assert_eq!(
        second.status().records,
        40_000 - took,
        "{:?}",
        second.status()
    );
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
    no_commits.reading.commit = CommitPolicy::None;
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
    invalid.reading.group = "g".into();
    invalid.reading.members = 0;
    assert!(matches!(invalid.validate(), Err(HostError::Invalid(_))));
}

/// A second job of the group, on another topic (a failback reading the application's topic and
/// what the reverse mirror brought back), rebalances the group: the first job's members get
/// their partitions again and go on reading them.
#[tokio::test]
async fn a_job_keeps_reading_after_another_job_of_its_group_joins() {
    let clusters = Clusters::embedded().unwrap();
    let clock = RunClock::start();
    let metrics = RunMetrics::new(clock);
    for topic in ["orders", "refunds"] {
        clusters
            .create_topic("source", topic, 2, None, &[])
            .await
            .unwrap();
    }
    produce_stamped(&clusters, "orders", 0, 1000, clock);
    let config = mock_config(&clusters);
    let orders = consume::spawn(
        1,
        RUN,
        plan("orders", "ledger", 2, None),
        config.clone(),
        clock,
        metrics.group_ledger("ledger"),
    )
    .unwrap();
    let started = std::time::Instant::now();
    while verdict(&metrics, "ledger", 1000).unread > 0 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{:?}",
            orders.status()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let refunds = consume::spawn(
        2,
        RUN,
        plan("refunds", "ledger", 1, None),
        config,
        clock,
        metrics.group_ledger("ledger"),
    )
    .unwrap();
    let rebalances = orders.status().rebalances.rebalances;
    let started = std::time::Instant::now();
    while orders.status().rebalances.rebalances == rebalances
        || refunds.status().assigned_partitions == 0
    {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the group did not rebalance: {:?} {:?}",
            orders.status(),
            refunds.status()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    produce_stamped(&clusters, "orders", 1000, 1000, clock);
    let read = read_all(&orders, &metrics, 2000).await;
    assert_eq!(read.read, 2000, "{:?}", orders.status());
    refunds.request_stop();
    finished(&refunds).await;
}
