//! Probes against a real lab (`kscen lab up`): every lab JVM runs the Prometheus JMX exporter.
//! Set `KSCEN_LAB_PROFILE` to the lab's profile.toml; without it the tests skip. No Prometheus
//! server runs in the lab: `query` is covered by unit tests on the API's documented answers.

#[path = "support/lab_env.rs"]
mod lab_env;

use kscen::error::HostError;
use kscen::probe::Probes;

use lab_env::lab_profile;

#[tokio::test]
async fn worker_probes_expose_mm2_metrics_and_jvm_heap() {
    let Some(profile) = lab_profile() else { return };
    let probes = Probes::load(&profile).unwrap();
    let mut mm2_source_samples = 0;
    for worker in profile.workers.keys() {
        let heap = probes
            .scrape(worker, "jvm_memory_used_bytes")
            .await
            .unwrap();
        let heap = heap
            .iter()
            .find(|s| s.label("area") == Some("heap"))
            .expect("heap sample");
        assert!(heap.value > 1e6, "{worker}: heap {}", heap.value);

        let mm2 = probes.scrape(worker, "kafka_connect_mirror").await.unwrap();
        assert!(mm2
            .iter()
            .all(|s| s.name.starts_with("kafka_connect_mirror")));
        mm2_source_samples += mm2
            .iter()
            .filter(|s| s.name == "kafka_connect_mirror_source_connector_record_count")
            .count();
    }
    // Source tasks spread over the workers; together they report every replicated partition.
    assert!(
        mm2_source_samples > 0,
        "no kafka_connect_mirror_source_connector_record_count on any worker"
    );
}

#[tokio::test]
async fn every_lab_probe_scrapes_whole() {
    let Some(profile) = lab_profile() else { return };
    let probes = Probes::load(&profile).unwrap();
    for name in probes.names() {
        let all = probes.scrape(name, "").await.unwrap();
        assert!(all.len() > 50, "{name}: {} samples", all.len());
        // A scrape probe cannot run PromQL: a clear error, not an HTTP attempt.
        let error = probes.query(name, "up").await.unwrap_err();
        assert!(
            matches!(&error, HostError::Invalid(m) if m.contains("prometheus")),
            "{error:?}"
        );
    }
}
