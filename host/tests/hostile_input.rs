//! Hostile input never panics: property-based runs over the parsers of scenario files, profiles,
//! producer properties, parameters and thresholds, and over component loading. Each property
//! runs 256 cases (`PROPTEST_CASES` changes it); component loading runs 16.

mod support;

use std::path::Path;

use kscen::config::client_props::{map_producer_properties, parse_property_arg, Client};
use kscen::config::params::{self, ParamKind, ParamSpec};
use kscen::config::profile::Profile;
use kscen::config::scenario::ScenarioFile;
use kscen::engine::Host;
use proptest::prelude::*;

/// Text shaped like the inputs: TOML-ish lines, keys, quotes, units, brackets and noise.
fn tomlish() -> impl Strategy<Value = String> {
    let line = prop_oneof![
        "[a-z_.]{1,12} = [0-9]{1,6}",
        "[a-z_.]{1,12} = \"[a-zA-Z0-9 ._-]{0,12}\"",
        "[a-z_.]{1,12} = \\[[0-9, \"a-z]{0,20}\\]",
        "\\[[a-z_.]{1,12}\\]",
        "plugin = \"[a-z-]{1,10}\"",
        "thresholds = \\[\"[a-z_.0-9 <>=*()]{0,30}\"\\]",
        "[\\PC]{0,40}",
    ];
    prop::collection::vec(line, 0..12).prop_map(|lines| lines.join("\n"))
}

proptest! {
    #[test]
    fn scenario_files_parse_or_error(text in tomlish()) {
        let _ = ScenarioFile::parse(Path::new("fuzz.toml"), &text);
    }

    #[test]
    fn profiles_parse_or_error(text in tomlish()) {
        let _ = toml::from_str::<Profile>(&text);
    }

    #[test]
    fn thresholds_parse_or_error(text in "[a-z_.()0-9 <>=!*%-]{0,40}") {
        let _ = kscen::thresholds::parse(&text);
    }

    #[test]
    fn producer_properties_map_or_report(key in "[a-z.]{1,30}", value in "[\\PC]{0,30}") {
        let mapped = map_producer_properties(&[(key.clone(), value.clone())]);
        // Every key is either applied (possibly renamed) or reported: never silently dropped.
        prop_assert!(!mapped.librdkafka.is_empty() || mapped.not_applied().next().is_some());
        let _ = parse_property_arg(Client::Producer, &format!("{key}={value}"));
    }

    #[test]
    fn parameters_resolve_or_error(values in tomlish(), set in "[a-z_]{1,8}=[\\PC]{0,12}") {
        let specs = [
            ParamSpec { name: "rate".into(), kind: ParamKind::Float, default: Some("1000".into()), help: String::new() },
            ParamSpec { name: "step".into(), kind: ParamKind::Duration, default: Some("\"1m\"".into()), help: String::new() },
            ParamSpec { name: "sizes".into(), kind: ParamKind::SizeList, default: Some("[100]".into()), help: String::new() },
        ];
        let table = values.parse::<toml::Table>().unwrap_or_default();
        let overrides: Vec<(String, String)> =
            set.split_once('=').map(|(k, v)| vec![(k.to_string(), v.to_string())]).unwrap_or_default();
        let _ = params::resolve(&specs, &table, &overrides);
    }
}

proptest! {
    // Each damaged component is compiled (about a second in a debug build): fewer cases.
    #![proptest_config(ProptestConfig::with_cases(16))]

    /// Random bytes, and real components with bytes flipped, are refused with an error.
    #[test]
    fn component_loading_refuses_garbage(noise in prop::collection::vec(any::<u8>(), 0..2048), flips in prop::collection::vec((any::<usize>(), any::<u8>()), 1..8)) {
        let dir = tempfile::tempdir().unwrap();
        std::env::set_var("KSCEN_CACHE_DIR", dir.path());
        let host = Host::new().unwrap();
        let garbage = dir.path().join("garbage.wasm");
        std::fs::write(&garbage, &noise).unwrap();
        prop_assert!(host.load(&garbage).is_err());

        let real = Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins/dist/steady.wasm");
        if let Ok(mut bytes) = std::fs::read(real) {
            for (at, byte) in flips {
                let at = at % bytes.len();
                bytes[at] ^= byte.max(1);
            }
            let damaged = dir.path().join("damaged.wasm");
            std::fs::write(&damaged, &bytes).unwrap();
            // A flip may land in a custom section and leave a valid component: then it must
            // still describe itself or fail cleanly — never panic.
            if let Ok(plugin) = host.load(&damaged) {
                let runtime = tokio::runtime::Runtime::new().unwrap();
                let _ = runtime.block_on(plugin.describe(&host));
            }
        }
    }
}

/// A profile in `dir` whose cluster `source` nobody listens on.
fn unreachable_profile(dir: &Path) -> std::path::PathBuf {
    let profile = dir.join("unreachable.toml");
    std::fs::write(
        &profile,
        "[clusters.source]\nbootstrap_servers = \"127.0.0.1:1\"\n",
    )
    .unwrap();
    profile
}

/// A profile naming a cluster nobody listens on: one error naming the cluster, its address, why
/// (as librdkafka saw it) and the profile to fix, before the plugin starts.
#[test]
fn an_unreachable_cluster_is_one_clear_error_before_the_plugin_starts() {
    let dir = tempfile::tempdir().unwrap();
    let profile = unreachable_profile(dir.path());
    let run = support::run_scenario(
        "plugin = \"steady\"\n[params]\nduration = \"2s\"\n",
        &["--profile", profile.to_str().unwrap()],
    );
    let stderr = run.stderr();
    assert_eq!(run.code(), 1, "{stderr}");
    assert!(
        stderr.contains("cluster \"source\" (127.0.0.1:1) does not answer")
            && stderr.contains("Connection refused")
            && stderr.contains(&format!(
                "Check clusters.source in the profile {}",
                profile.display()
            )),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// `kscen exporter` on a cluster nobody listens on: the reading says it failed (never a lag of 0),
/// stderr says which cluster and why; a listen address off loopback is refused.
#[test]
fn an_exporter_that_cannot_read_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let profile = unreachable_profile(dir.path());
    let exporter = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_kscen"))
            .args(["exporter", "--profile", profile.to_str().unwrap()])
            .args(args)
            .output()
            .unwrap()
    };
    let once = exporter(&["--once"]);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&once.stdout),
        String::from_utf8_lossy(&once.stderr),
    );
    assert_eq!(once.status.code(), Some(1), "{stderr}");
    assert!(
        stdout.contains("kscen_exporter_read_ok{part=\"groups\",cluster=\"source\"} 0\n"),
        "{stdout}"
    );
    assert!(
        stderr.contains("consumer groups of cluster source")
            && stderr.contains("(bootstrap servers 127.0.0.1:1)"),
        "{stderr}"
    );
    let exposed = exporter(&["--listen", "10.1.2.3:9308"]);
    assert_eq!(exposed.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&exposed.stderr).contains("loopback only"));
}

/// Alerts asked for wrongly are refused before the run, each with what to write instead: a
/// threshold on alerts without a watch, a probe the profile lacks, one that is no Prometheus,
/// a Prometheus that does not answer, a poll too fast to be a query.
#[test]
fn alert_watches_that_cannot_work_are_refused_before_the_run() {
    let steady = "plugin = \"steady\"\n[params]\nduration = \"1s\"\n";
    let unwatched = support::run_scenario(steady, &["--threshold", "alerts.fired == 0"]);
    assert_eq!(unwatched.code(), 1, "{}", unwatched.stderr());
    assert!(
        unwatched
            .stderr()
            .contains("reads alerts, and the run watches none: name the profile's Prometheus probe with --alerts PROBE"),
        "{}",
        unwatched.stderr()
    );

    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("probes.toml");
    std::fs::write(
        &profile,
        "[probes.worker]\nkind = \"scrape\"\nurl = \"http://127.0.0.1:1/metrics\"\n\
         [probes.down]\nkind = \"prometheus\"\nurl = \"http://127.0.0.1:1\"\n",
    )
    .unwrap();
    let profile = profile.to_str().unwrap();
    for (probe, says) in [
        ("nope", "no probe \"nope\" in the profile"),
        ("worker", "needs a \"prometheus\" probe"),
        ("down", "http://127.0.0.1:1/api/v1/query"),
    ] {
        let run = support::run_scenario(steady, &["--profile", profile, "--alerts", probe]);
        let stderr = run.stderr();
        assert_eq!(run.code(), 1, "{probe}: {stderr}");
        assert!(
            stderr.contains(&format!("alerts: cannot read probe {probe:?}"))
                && stderr.contains(says),
            "{probe}: {stderr}"
        );
    }

    let too_fast = support::run_scenario(
        &format!("{steady}[alerts]\nprobe = \"down\"\npoll = \"10ms\"\n"),
        &[],
    );
    assert!(
        too_fast.stderr().contains("invalid [alerts]")
            && too_fast.stderr().contains("at least 100ms"),
        "{}",
        too_fast.stderr()
    );
}
