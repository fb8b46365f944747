//! Against the `secure` lab (`kscen lab up --secure`: SASL_SSL + SCRAM-SHA-512 on both clusters,
//! Connect REST over HTTPS with Basic auth): the security is real (plaintext, a wrong password and
//! a missing REST login are refused), a scenario passes through it end to end, and no secret ends
//! up in that run's output, logs, JSON result or reports.
//!
//! `cargo xtask test` runs these (their names start with `secure_lab_`) against a lab of their own
//! with `KSCEN_SECURE_LAB_PROFILE` set; the plain lab's run skips them by name.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use kscen::config::profile::Profile;
use kscen::connect::ConnectClient;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::ClientConfig;
use support::{workspace_root, Run};

fn secure_profile_path() -> Option<PathBuf> {
    support::lab_profile_from("KSCEN_SECURE_LAB_PROFILE", "secure lab")
}

fn load(path: &Path) -> Profile {
    Profile::load(&path.display().to_string())
        .unwrap_or_else(|e| panic!("secure lab profile {}: {e:#}", path.display()))
}

/// Whether a client with these properties gets the cluster's metadata.
fn metadata(bootstrap: &str, properties: &BTreeMap<String, String>) -> Result<usize, String> {
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", bootstrap);
    for (key, value) in properties {
        config.set(key, value);
    }
    let consumer: BaseConsumer = config.create().map_err(|e| e.to_string())?;
    consumer
        .fetch_metadata(None, Duration::from_secs(8))
        .map(|m| m.brokers().len())
        .map_err(|e| e.to_string())
}

#[test]
fn secure_lab_refuses_plaintext_wrong_passwords_and_anonymous_rest_calls() {
    let Some(path) = secure_profile_path() else {
        return;
    };
    let profile = load(&path);
    for (name, cluster) in &profile.clusters {
        let properties = &cluster.properties;
        assert_eq!(properties["security.protocol"], "SASL_SSL", "{name}");
        assert_eq!(properties["sasl.mechanisms"], "SCRAM-SHA-512", "{name}");
        assert_eq!(
            metadata(&cluster.bootstrap_servers, properties),
            Ok(1),
            "{name} with the profile's credentials"
        );
        assert!(
            metadata(&cluster.bootstrap_servers, &BTreeMap::new()).is_err(),
            "{name}: a plaintext client must not get metadata"
        );
        let mut wrong = properties.clone();
        wrong.insert("sasl.password".into(), "not-the-password".into());
        let error = metadata(&cluster.bootstrap_servers, &wrong).unwrap_err();
        assert!(!error.is_empty(), "{name}: a wrong password is refused");
    }

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let list_connectors = |profile: &Profile| {
        let client = ConnectClient::from_profile(profile).unwrap().unwrap();
        runtime.block_on(client.connectors())
    };
    let connectors =
        list_connectors(&profile).expect("Connect over HTTPS with the profile's Basic auth");
    assert!(
        connectors.contains(&"mirror-source".to_string()),
        "{connectors:?}"
    );

    let mut anonymous = profile.clone();
    anonymous.connect.as_mut().unwrap().basic_auth = None;
    let refused = list_connectors(&anonymous).expect_err("a call without credentials is refused");
    assert!(
        refused
            .to_string()
            .contains("refused the credentials: check connect.basic_auth"),
        "{refused}"
    );

    let mut untrusting = profile.clone();
    untrusting.connect.as_mut().unwrap().ca_file = None;
    let untrusted = list_connectors(&untrusting)
        .expect_err("without the lab's CA the workers' certificate is not trusted");
    assert!(
        untrusted.to_string().contains("no Connect worker answered"),
        "{untrusted}"
    );
}

/// Every secret of the secure lab: the resolved passwords of the profile, and the lab's password
/// files and `key=password` files (the SCRAM users of brokers and workers, the key stores…).
fn secrets(profile_path: &Path, profile: &Profile) -> Vec<String> {
    let mut secrets: Vec<String> = profile
        .clusters
        .values()
        .filter_map(|c| c.properties.get("sasl.password").cloned())
        .collect();
    let auth = profile.connect.as_ref().and_then(|c| c.basic_auth.as_ref());
    secrets.extend(auth.map(|a| a.password.clone()));
    let state = profile_path.parent().unwrap();
    for folder in [state.join("secrets"), state.join("tls")] {
        for file in files_under(&folder) {
            let name = file.file_name().unwrap().to_string_lossy().into_owned();
            let text = || std::fs::read_to_string(&file).unwrap();
            if name.ends_with(".password") {
                secrets.push(text().trim().to_string());
            } else if name.ends_with(".properties") || name.ends_with(".credentials") {
                let values = text()
                    .lines()
                    .filter(|line| !line.starts_with('#'))
                    .filter_map(|line| line.split_once('=').map(|(_, v)| v.trim().to_string()))
                    .collect::<Vec<_>>();
                secrets.extend(values);
            }
        }
    }
    secrets.sort();
    secrets.dedup();
    for secret in &secrets {
        assert!(
            secret.len() >= 8,
            "lab secrets are random and long enough to search for"
        );
    }
    secrets
}

/// Every file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(files_under(&path));
        } else {
            files.push(path);
        }
    }
    files
}

#[test]
fn secure_lab_scenario_passes_and_no_secret_reaches_output_logs_result_or_reports() {
    let Some(path) = secure_profile_path() else {
        return;
    };
    let profile = load(&path);
    let secrets = secrets(&path, &profile);
    assert!(
        secrets.len() >= 6,
        "kscen, broker, worker and REST users, key and trust stores: {}",
        secrets.len()
    );

    let out = tempfile::tempdir().unwrap();
    let json = out.path().join("result.json");
    // Connect REST (restart, pause, resume over HTTPS with Basic auth) and a tracked load through
    // MM2 (SASL_SSL on both clusters, for kscen's clients and the workers'), with debug logs.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_kscen"))
        .arg("run")
        .arg(workspace_root().join("scenarios/resilience-5-3-connector-restart.toml"))
        .arg("--profile")
        .arg(&path)
        .arg("--json")
        .arg(&json)
        .args(["--set", "pause=\"4s\""])
        .args(["--set", "settle=\"3s\"", "--set", "rate=300"])
        .env("KSCEN_PLUGIN_PATH", support::plugin_dist())
        .env("KSCEN_LOG", "debug")
        .output()
        .expect("kscen runs");
    let run = Run::collect(output, &json);
    eprintln!("exit {}\n{}\n{}", run.code(), run.stdout(), run.stderr());
    assert_eq!(run.code(), 0, "thresholds: {}", run.result()["thresholds"]);
    let verdict = &run.result()["replication"][0];
    assert!(verdict["replicated"].as_u64().unwrap() > 0, "{verdict}");
    assert_eq!(verdict["lost"], 0, "{verdict}");

    let reports = out.path().join("report");
    let report = std::process::Command::new(env!("CARGO_BIN_EXE_kscen"))
        .arg("report")
        .arg(&json)
        .arg("--out")
        .arg(&reports)
        .output()
        .expect("kscen report runs");
    assert!(
        report.status.success(),
        "{}",
        String::from_utf8_lossy(&report.stderr)
    );

    let mut searched = vec![
        ("stdout".to_string(), run.stdout()),
        ("stderr (debug logs)".to_string(), run.stderr()),
        (
            "profile.toml".to_string(),
            std::fs::read_to_string(&path).unwrap(),
        ),
    ];
    for file in files_under(out.path()) {
        let text = String::from_utf8_lossy(&std::fs::read(&file).unwrap()).into_owned();
        searched.push((file.display().to_string(), text));
    }
    assert!(
        searched.iter().any(|(name, _)| name.ends_with(".html"))
            && searched.iter().any(|(name, _)| name.ends_with(".md"))
            && searched.iter().any(|(name, _)| name.ends_with(".csv")),
        "the reports were written: {:?}",
        searched.iter().map(|(name, _)| name).collect::<Vec<_>>()
    );
    for (name, text) in &searched {
        for secret in &secrets {
            assert!(
                !text.contains(secret.as_str()),
                "a secret of the secure lab appears in {name}"
            );
        }
    }
    // The debug logs are not empty: the search looked at real output.
    assert!(run.stderr().lines().count() > 10, "{}", run.stderr());
}
