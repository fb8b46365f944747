//! The replication verifier catches exactly what goes wrong across a mirror. The mirror here is
//! a real consumer + producer written for the test, copying the source topic to the remote topic
//! on librdkafka's mock cluster while dropping and duplicating chosen records: the verifier must
//! report exactly those counts. (The MirrorMaker 2 runs are the lab's integration tests.)

mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{ClientConfig, Message};
use support::{run_scenario, u64_of};

const DROPPED: [u64; 7] = [10, 11, 500, 1500, 2000, 2001, 2002];
const DUPLICATED: [u64; 5] = [5, 600, 1000, 1700, 2300];

/// Copies `from` to `to` partition by partition, dropping and duplicating by sequence number.
fn faulty_mirror(bootstrap: String, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<u64> {
    std::thread::spawn(move || {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &bootstrap)
            .set("group.id", "faulty-mirror")
            .set("auto.offset.reset", "earliest")
            .create()
            .unwrap();
        consumer.subscribe(&["verify-src"]).unwrap();
        let producer: BaseProducer = ClientConfig::new()
            .set("bootstrap.servers", &bootstrap)
            .set("linger.ms", "1")
            .create()
            .unwrap();
        let mut copied = 0;
        while !stop.load(Ordering::Acquire) {
            producer.poll(Duration::ZERO);
            let Some(Ok(message)) = consumer.poll(Duration::from_millis(50)) else {
                continue;
            };
            let value = message.payload().unwrap_or_default();
            // The kscen stamp: sequence number at bytes 16..24.
            let seq = u64::from_be_bytes(value[16..24].try_into().unwrap());
            let copies = if DROPPED.contains(&seq) {
                0
            } else if DUPLICATED.contains(&seq) {
                2
            } else {
                1
            };
            for _ in 0..copies {
                let record = BaseRecord::<(), [u8]>::to("verify-dst")
                    .partition(message.partition())
                    .payload(value);
                producer.send(record).map_err(|(e, _)| e).unwrap();
                copied += 1;
            }
        }
        producer.flush(Duration::from_secs(5)).unwrap();
        copied
    })
}

#[test]
fn lost_and_duplicated_records_are_counted_exactly() {
    let cluster = MockCluster::new(1).unwrap();
    cluster.create_topic("verify-src", 3, 1).unwrap();
    cluster.create_topic("verify-dst", 3, 1).unwrap();
    let bootstrap = cluster.bootstrap_servers();
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("profile.toml");
    std::fs::write(
        &profile,
        format!("[clusters.source]\nbootstrap_servers = {bootstrap:?}\n[clusters.target]\nbootstrap_servers = {bootstrap:?}\n"),
    )
    .unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let mirror = faulty_mirror(bootstrap, stop.clone());
    let run = run_scenario(
        "plugin = \"e2e-latency\"\n[params]\ntopic = \"verify-src\"\nremote_topic = \"verify-dst\"\npartitions = 0\n\
         low_rate = 200\nlow_duration = \"2s\"\nload_rate = 1000\nload_duration = \"2s\"\nrecord_size = 100\ngrace = \"3s\"\n",
        &["--profile", profile.to_str().unwrap()],
    );
    stop.store(true, Ordering::Release);
    let copied = mirror.join().unwrap();
    assert_eq!(run.code(), 0, "stderr:\n{}", run.stderr());

    let verdict = &run.result()["replication"][0];
    let acked = u64_of(&verdict["acked"]);
    // Discovery, then 2 s at 200/s and 2 s at 1000/s: the plugin's sleeps decide the exact count.
    assert!((2300..=3500).contains(&acked), "{verdict}");
    assert_eq!(u64_of(&verdict["lost"]), DROPPED.len() as u64, "{verdict}");
    assert_eq!(
        u64_of(&verdict["duplicates"]),
        DUPLICATED.len() as u64,
        "{verdict}"
    );
    assert_eq!(
        u64_of(&verdict["replicated"]),
        acked - DROPPED.len() as u64,
        "{verdict}"
    );
    assert_eq!(u64_of(&verdict["out_of_order"]), 0, "{verdict}");
    assert_eq!(
        copied,
        acked - DROPPED.len() as u64 + DUPLICATED.len() as u64
    );

    // Replicated latency on one clock, per phase.
    for phase in ["low-rate", "under-load"] {
        let replicated = &run.phase(phase)["replicated_us"];
        assert!(u64_of(&replicated["count"]) > 0, "{phase}: {replicated}");
        assert!(u64_of(&replicated["p50"]) >= u64_of(&run.phase(phase)["corrected_us"]["min"]));
    }
    assert!(
        run.stdout()
            .contains("lost 7, duplicates 5, out of order 0"),
        "{}",
        run.stdout()
    );
}
