//! Probes against a real lab (`kscen lab up`): every lab JVM runs the Prometheus JMX exporter, and
//! the lab's Prometheus server (`/usr/bin/prometheus`, when installed) scrapes them all.
//! Set `KSCEN_LAB_PROFILE` to the lab's profile.toml; without it the tests skip. A lab without
//! Prometheus skips the `query` tests with the reason, except with `CI=true` (CI installs it).

#[path = "support/lab_env.rs"]
mod lab_env;

use std::time::{Duration, Instant};

use kscen::config::profile::Profile;
use kscen::error::HostError;
use kscen::probe::{Probes, Sample};

use lab_env::{eventually, lab_profile};

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
    for name in scrape_probes(&profile) {
        let name = name.as_str();
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

/// The lab's exporters: its `kind = "scrape"` probes.
fn scrape_probes(profile: &Profile) -> Vec<String> {
    profile
        .probes
        .iter()
        .filter(|(_, p)| p.kind == "scrape")
        .map(|(name, _)| name.clone())
        .collect()
}

/// The lab's profile and Probes when the lab runs Prometheus (probe `prometheus`). Otherwise
/// `None` with the skip reason, or a panic with `CI=true`: CI installs Prometheus, so a lab
/// without it there means the `query` path went untested.
fn lab_with_prometheus() -> Option<(Profile, Probes)> {
    let profile = lab_profile()?;
    if profile.probes.get("prometheus").map(|p| p.kind.as_str()) == Some("prometheus") {
        let probes = Probes::load(&profile).unwrap();
        return Some((profile, probes));
    }
    // `kscen lab up` records why it ran without Prometheus beside the profile.
    let why = std::env::var("KSCEN_LAB_PROFILE")
        .ok()
        .map(|p| lab_env_path(&p).with_file_name("prometheus-off"))
        .and_then(|f| std::fs::read_to_string(f).ok())
        .map(|why| why.trim().to_string())
        .unwrap_or_else(|| "the profile has no [probes.prometheus]".to_string());
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!(
            "CI=true but the lab runs without Prometheus ({why}): install it \
             (`apt-get install -y prometheus`) and rerun `kscen lab up`"
        );
    }
    println!("skipped: the lab runs without Prometheus ({why})");
    None
}

fn lab_env_path(path: &str) -> std::path::PathBuf {
    match (path.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => std::path::Path::new(&home).join(rest),
        _ => std::path::PathBuf::from(path),
    }
}

/// Polls a query until `check` accepts its samples (Prometheus scrapes every second; a scrape
/// of a busy JVM may time out once), printing the latency of the accepted answer.
async fn query_until(
    probes: &Probes,
    promql: &str,
    check: impl Fn(&[Sample]) -> Result<(), String>,
) -> Vec<Sample> {
    eventually(promql, Duration::from_secs(30), || async {
        let started = Instant::now();
        let samples = probes
            .query("prometheus", promql)
            .await
            .map_err(|e| e.to_string())?;
        let took = started.elapsed();
        check(&samples).map_err(|why| format!("{why}; samples: {samples:?}"))?;
        println!("{promql}: {} sample(s) in {took:?}", samples.len());
        Ok(samples)
    })
    .await
}

#[tokio::test]
async fn prometheus_reports_every_lab_exporter_up() {
    let Some((profile, probes)) = lab_with_prometheus() else {
        return;
    };
    let mut exporters = scrape_probes(&profile);
    exporters.sort();
    let up = query_until(&probes, "up", |samples| {
        let mut processes: Vec<String> = samples
            .iter()
            .filter_map(|s| s.label("process").map(str::to_string))
            .collect();
        processes.sort();
        if processes != exporters {
            return Err(format!("targets {processes:?}, exporters {exporters:?}"));
        }
        match samples
            .iter()
            .find(|s| s.label("process").is_some() && s.value != 1.0)
        {
            Some(down) => Err(format!("{down:?} is not up")),
            None => Ok(()),
        }
    })
    .await;
    // The seeds' lag monitor is a target too, up only while someone runs `kscen exporter`
    // (monitoring_lab does).
    let state = lab_env_path(&std::env::var("KSCEN_LAB_PROFILE").unwrap());
    let lag_monitor = kscen::lab::kscen_exporter_addr(state.parent().unwrap())
        .unwrap()
        .expect("a lab with Prometheus has a kscen exporter address");
    let (lag_monitor_targets, jvm_targets): (Vec<_>, Vec<_>) =
        up.iter().partition(|s| s.label("process").is_none());
    assert!(
        lag_monitor_targets
            .iter()
            .any(|s| s.label("job") == Some("mm2-metrics")
                && s.label("instance") == Some(lag_monitor.as_str())),
        "no mm2-metrics target at {lag_monitor}: {lag_monitor_targets:?}"
    );
    // One sample per JVM, under the seeds' job names.
    assert_eq!(jvm_targets.len(), exporters.len());
    for s in jvm_targets {
        assert_eq!(s.name, "up");
        let job = s.label("job").unwrap_or_default();
        let process = s.label("process").unwrap_or_default();
        let expected = match process {
            "source-1" => "kafka-source",
            "target-1" => "kafka-target",
            _ => "mm2-connect",
        };
        assert_eq!(job, expected, "{s:?}");
    }
}

#[tokio::test]
async fn prometheus_answers_mm2_and_heap_queries() {
    let Some((_, probes)) = lab_with_prometheus() else {
        return;
    };
    // The seeds' HEAP query, with the exporter's current metric name, summed by job.
    let heap = query_until(
        &probes,
        r#"sum by (job) (jvm_memory_used_bytes{area="heap"})"#,
        |samples| {
            let mut jobs: Vec<&str> = samples.iter().filter_map(|s| s.label("job")).collect();
            jobs.sort();
            if jobs != ["kafka-source", "kafka-target", "mm2-connect"] {
                return Err(format!("jobs {jobs:?}"));
            }
            Ok(())
        },
    )
    .await;
    for s in &heap {
        assert!(s.value > 1e6, "{s:?}");
    }
    // And as seed 000's script writes it, under its older exporter's name (a recording rule).
    query_until(
        &probes,
        r#"sum(jvm_memory_bytes_used{job="mm2-connect",area="heap"})"#,
        |samples| match samples {
            [s] if s.value > 1e6 => Ok(()),
            _ => Err(format!("{samples:?}")),
        },
    )
    .await;
    // MM2's own metrics: the seed topic's 8 partitions, each reported by the worker whose task
    // replicates it (polled: a worker whose scrape timed out has its series stale for a moment).
    query_until(
        &probes,
        r#"count by (job) (kafka_connect_mirror_source_connector_record_count{topic="source.kscen-lab-seed"})"#,
        |samples| match samples {
            [s] if s.label("job") == Some("mm2-connect") && s.value >= 8.0 => Ok(()),
            _ => Err("not every partition of the seed topic has its series".into()),
        },
    )
    .await;
}

#[tokio::test]
async fn a_promql_syntax_error_names_the_probe() {
    let Some((_, probes)) = lab_with_prometheus() else {
        return;
    };
    let error = probes
        .query("prometheus", "sum(up{job=\"mm2-connect\"}")
        .await
        .unwrap_err();
    println!("{error}");
    assert!(
        matches!(&error, HostError::Probe(m)
            if m.contains("\"prometheus\"") && m.contains("bad_data") && m.contains("parse error")),
        "{error:?}"
    );
}
