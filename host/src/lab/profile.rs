//! `<state>/profile.toml`: what `kscen run --profile lab` needs to reach and fault the lab —
//! clusters (direct listeners), Connect URLs, workers and brokers with their fault actions, the
//! links `workers-to-<cluster>` that can be cut and restored, and metric probes (each JMX
//! exporter, and the lab's Prometheus server when it runs one). A secure lab's profile adds the
//! SASL_SSL client properties, the CA and the REST Basic auth, every password a `${file:…}`
//! reference. Written by hand (not serialised) to keep the documented shape: inline action tables, comments.

use std::fmt::Write as _;

use anyhow::{Context, Result};

use super::security::{Security, KSCEN_USER};
use super::topology::{Kind, Process, Topology, SOURCE_ALIAS, TARGET_ALIAS};

/// A TOML basic string.
fn q(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn actions(out: &mut String, table: &str, p: &Process) {
    let _ = writeln!(out, "[{table}.{}.actions]", p.name);
    out.push_str("stop = { signal = \"SIGTERM\" }\n");
    out.push_str("kill = { signal = \"SIGKILL\" }\n");
    out.push_str("pause = { signal = \"SIGSTOP\" }\n");
    out.push_str("resume = { signal = \"SIGCONT\" }\n");
    let _ = writeln!(
        out,
        "start = {{ command = [\"/bin/sh\", {}] }}",
        q(&p.start_script().display().to_string())
    );
}

/// kscen's SASL_SSL client properties, as user `kscen`.
fn cluster_properties(out: &mut String, cluster: &str, security: &Security) {
    let _ = writeln!(out, "[clusters.{cluster}.properties]");
    let password = file_reference(&security.password_file(KSCEN_USER));
    for (key, value) in security.kscen_kafka_settings(password) {
        let _ = writeln!(out, "{} = {}", q(key), q(&value));
    }
}

/// The CA that signs the workers' certificate, and the REST Basic auth user.
fn connect_auth(out: &mut String, security: &Security) {
    let _ = writeln!(
        out,
        "ca_file = {}",
        q(&security.ca_pem().display().to_string())
    );
    out.push_str("[connect.basic_auth]\n");
    let _ = writeln!(out, "username = {}", q(KSCEN_USER));
    let password = file_reference(&security.rest_password_file());
    let _ = writeln!(out, "password = {}", q(&password));
}

/// `${file:<path>}`: kscen reads the secret when it loads the profile.
fn file_reference(path: &std::path::Path) -> String {
    format!("${{file:{}}}", path.display())
}

pub fn render(topo: &Topology) -> String {
    let mut out = String::new();
    out.push_str("# kscen profile written by `kscen lab up`\n");
    out.push_str("name = \"lab\"\n");
    for cluster in [SOURCE_ALIAS, TARGET_ALIAS] {
        let _ = writeln!(out, "[clusters.{cluster}]");
        let _ = writeln!(out, "bootstrap_servers = {}", q(&topo.bootstrap(cluster)));
        if let Some(security) = &topo.security {
            cluster_properties(&mut out, cluster, security);
        }
    }
    let urls: Vec<String> = topo.workers().map(|w| q(&w.url())).collect();
    // No connector names or aliases: scenarios find the mirrors through Connect, by class.
    out.push_str("\n[connect]\n");
    let _ = writeln!(out, "urls = [{}]", urls.join(", "));
    if let Some(security) = &topo.security {
        connect_auth(&mut out, security);
    }
    for w in topo.workers() {
        let _ = writeln!(out, "\n[workers.{}]", w.name);
        let _ = writeln!(out, "url = {}", q(&w.url()));
        let _ = writeln!(out, "worker_id = {}", q(&w.worker_id()));
        let _ = writeln!(out, "pid_file = {}", q(&w.pid_file().display().to_string()));
        let _ = writeln!(out, "log_file = {}", q(&w.log_file().display().to_string()));
        let config_file = w.worker_properties().display().to_string();
        let _ = writeln!(out, "config_file = {}", q(&config_file));
        actions(&mut out, "workers", w);
    }
    for b in topo.brokers() {
        let Kind::Broker { cluster, .. } = b.kind else {
            continue;
        };
        let _ = writeln!(out, "\n[brokers.{}]", b.name);
        let _ = writeln!(out, "cluster = {}", q(cluster));
        let _ = writeln!(out, "pid_file = {}", q(&b.pid_file().display().to_string()));
        let _ = writeln!(out, "log_file = {}", q(&b.log_file().display().to_string()));
        actions(&mut out, "brokers", b);
    }
    for l in topo.proxies() {
        let Kind::Proxy { cluster, .. } = l.kind else {
            continue;
        };
        let _ = writeln!(
            out,
            "\n# cuts every connection of the Connect workers (and MM2) to `{cluster}`; kscen's own\n\
             # clients use the direct listener above and keep working"
        );
        let _ = writeln!(out, "[links.{}]", l.name);
        let _ = writeln!(out, "cluster = {}", q(cluster));
        let _ = writeln!(out, "pid_file = {}", q(&l.pid_file().display().to_string()));
        let _ = writeln!(out, "log_file = {}", q(&l.log_file().display().to_string()));
        let _ = writeln!(out, "[links.{}.actions]", l.name);
        out.push_str("cut = { signal = \"SIGUSR1\" }\n");
        out.push_str("restore = { signal = \"SIGUSR2\" }\n");
    }
    for p in &topo.processes {
        let Some(url) = p.metrics_url() else {
            continue;
        };
        let _ = writeln!(out, "\n[probes.{}]", p.name);
        out.push_str("kind = \"scrape\"\n");
        let _ = writeln!(out, "url = {}", q(&url));
    }
    if let Some(p) = topo.prometheus() {
        let _ = writeln!(
            out,
            "\n# the lab's Prometheus: jobs kafka-source, kafka-target (scraped every {}s) and\n\
             # mm2-connect (every {}s), as in the seeds' queries; label `process` names the lab process",
            super::config::BROKER_SCRAPE_INTERVAL_SECS,
            super::config::SCRAPE_INTERVAL_SECS
        );
        let _ = writeln!(out, "[probes.{}]", p.name);
        out.push_str("kind = \"prometheus\"\n");
        let _ = writeln!(out, "url = {}", q(&p.url()));
    }
    out
}

pub fn write(topo: &Topology) -> Result<()> {
    let path = topo.profile_path();
    std::fs::write(&path, render(topo))
        .with_context(|| format!("writing the lab profile {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_is_valid_toml_with_the_documented_keys() {
        let topo = Topology::new(std::path::Path::new("/tmp/st\"ate"), 0, 1).unwrap();
        let text = render(&topo);
        let v: toml::Value = toml::from_str(&text).expect("valid TOML");
        assert_eq!(v["name"].as_str(), Some("lab"));
        assert_eq!(
            v["clusters"]["source"]["bootstrap_servers"].as_str(),
            Some("127.0.0.1:20112")
        );
        assert_eq!(v["connect"]["urls"].as_array().map(Vec::len), Some(3));
        assert_eq!(
            v["workers"]["worker-2"]["worker_id"].as_str(),
            Some("127.0.0.1:20084")
        );
        assert_eq!(
            v["workers"]["worker-1"]["actions"]["kill"]["signal"].as_str(),
            Some("SIGKILL")
        );
        assert_eq!(
            v["brokers"]["target-1"]["actions"]["start"]["command"][1].as_str(),
            Some("/tmp/st\"ate/target-1/start.sh")
        );
        assert_eq!(v["brokers"]["target-1"]["cluster"].as_str(), Some("target"));
        assert_eq!(
            v["probes"]["worker-1"]["url"].as_str(),
            Some("http://127.0.0.1:20404/metrics")
        );
        assert_eq!(v["probes"].as_table().map(|t| t.len()), Some(6));
        assert_eq!(
            v["probes"]["prometheus"]["kind"].as_str(),
            Some("prometheus")
        );
        assert_eq!(
            v["probes"]["prometheus"]["url"].as_str(),
            Some("http://127.0.0.1:20090")
        );
        let without: toml::Value = toml::from_str(&render(&topo.without_prometheus())).unwrap();
        assert_eq!(without["probes"].as_table().map(|t| t.len()), Some(5));
        let link = &v["links"]["workers-to-source"];
        assert_eq!(link["cluster"].as_str(), Some("source"));
        assert_eq!(link["actions"]["cut"]["signal"].as_str(), Some("SIGUSR1"));
        assert_eq!(
            link["actions"]["restore"]["signal"].as_str(),
            Some("SIGUSR2")
        );
        assert_eq!(
            link["pid_file"].as_str(),
            Some("/tmp/st\"ate/workers-to-source/pid")
        );
    }

    #[test]
    fn the_profile_loads_and_offers_every_fault_target() {
        let topo = Topology::new(std::path::Path::new("/tmp/s"), 0, 1).unwrap();
        let profile: crate::config::profile::Profile = toml::from_str(&render(&topo)).unwrap();
        let faults = crate::faults::FaultTargets::try_from_profile(&profile).unwrap();
        let names: Vec<String> = faults.targets().into_iter().map(|t| t.name).collect();
        assert_eq!(
            names,
            [
                "worker-1",
                "worker-2",
                "worker-3",
                "source-1",
                "target-1",
                "workers-to-source",
                "workers-to-target"
            ]
        );
    }

    #[test]
    fn a_three_broker_profile_bootstraps_from_and_faults_every_broker() {
        let topo = Topology::new(std::path::Path::new("/tmp/s"), 0, 3).unwrap();
        let text = render(&topo);
        let v: toml::Value = toml::from_str(&text).unwrap();
        assert_eq!(
            v["clusters"]["source"]["bootstrap_servers"].as_str(),
            Some("127.0.0.1:20112,127.0.0.1:20122,127.0.0.1:20132")
        );
        let profile: crate::config::profile::Profile = toml::from_str(&text).unwrap();
        let faults = crate::faults::FaultTargets::try_from_profile(&profile).unwrap();
        let names: Vec<String> = faults.targets().into_iter().map(|t| t.name).collect();
        for name in [
            "source-1",
            "source-2",
            "source-3",
            "target-3",
            "workers-to-target",
        ] {
            assert!(names.iter().any(|n| n == name), "{name}: {names:?}");
        }
        assert_eq!(
            v["probes"]["target-3"]["url"].as_str(),
            Some("http://127.0.0.1:20236/metrics")
        );
        assert_eq!(v["probes"].as_table().map(|t| t.len()), Some(10));
    }

    #[test]
    fn a_secure_profile_references_every_secret_by_file() {
        let topo = Topology::new(std::path::Path::new("/s"), 2000, 1)
            .unwrap()
            .secured();
        let v: toml::Value = toml::from_str(&render(&topo)).expect("valid TOML");
        for cluster in ["source", "target"] {
            let properties = &v["clusters"][cluster]["properties"];
            let expected = [
                ("security.protocol", "SASL_SSL"),
                ("sasl.mechanisms", "SCRAM-SHA-512"),
                ("sasl.username", "kscen"),
                ("sasl.password", "${file:/s/secrets/kscen.password}"),
                ("ssl.ca.location", "/s/tls/ca.pem"),
            ];
            assert_eq!(properties.as_table().map(|t| t.len()), Some(expected.len()));
            for (key, value) in expected {
                assert_eq!(properties[key].as_str(), Some(value), "{cluster} {key}");
            }
        }
        assert_eq!(
            v["clusters"]["source"]["bootstrap_servers"].as_str(),
            Some("127.0.0.1:22112")
        );
        let connect = &v["connect"];
        assert_eq!(connect["urls"][0].as_str(), Some("https://127.0.0.1:22083"));
        assert_eq!(connect["ca_file"].as_str(), Some("/s/tls/ca.pem"));
        assert_eq!(connect["basic_auth"]["username"].as_str(), Some("kscen"));
        assert_eq!(
            connect["basic_auth"]["password"].as_str(),
            Some("${file:/s/secrets/connect-rest.password}")
        );
        for key in ["connectors", "source_alias", "target_alias"] {
            assert!(connect.get(key).is_none(), "{key}: found through Connect");
        }
        assert_eq!(
            v["workers"]["worker-3"]["url"].as_str(),
            Some("https://127.0.0.1:22085")
        );
        assert_eq!(
            v["probes"]["worker-1"]["url"].as_str(),
            Some("http://127.0.0.1:22404/metrics")
        );
    }

    #[test]
    fn kscen_loads_the_secure_profile_with_its_secrets() {
        let dir = tempfile::tempdir().unwrap();
        let topo = Topology::new(dir.path(), 2000, 1).unwrap().secured();
        let security = topo.security.clone().unwrap();
        super::super::security::write_test_secrets(&security);
        write(&topo).unwrap();
        let path = topo.profile_path().display().to_string();
        let profile = crate::config::profile::Profile::load(&path).unwrap();
        let kscen = std::fs::read_to_string(security.password_file(KSCEN_USER)).unwrap();
        let source = profile.cluster("source").unwrap();
        assert_eq!(source.properties["sasl.password"], kscen);
        let connect = profile.connect.unwrap();
        let rest = std::fs::read_to_string(security.rest_password_file()).unwrap();
        assert_eq!(connect.basic_auth.map(|a| a.password), Some(rest));
        assert_eq!(connect.ca_file, Some(security.ca_pem()));
    }

    #[test]
    fn port_offset_shifts_every_port() {
        let topo = Topology::new(std::path::Path::new("/tmp/s"), 1000, 1).unwrap();
        let v: toml::Value = toml::from_str(&render(&topo)).unwrap();
        assert_eq!(
            v["clusters"]["target"]["bootstrap_servers"].as_str(),
            Some("127.0.0.1:21212")
        );
        assert_eq!(
            v["workers"]["worker-3"]["worker_id"].as_str(),
            Some("127.0.0.1:21085")
        );
        assert_eq!(
            v["probes"]["source-1"]["url"].as_str(),
            Some("http://127.0.0.1:21116/metrics")
        );
        assert_eq!(
            v["probes"]["prometheus"]["url"].as_str(),
            Some("http://127.0.0.1:21090")
        );
    }
}
