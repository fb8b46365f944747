//! The host runs every published `kscen:scenario` version side by side: a plugin built against
//! 0.1.0 (fixture: plugins/legacy-v0-1) still loads, describes and runs; a 0.2.0 plugin that
//! declares its topics (fixture: plugins/declared-topics, which calls nothing of 0.3.0's) is held
//! to them, also in its pack manifest; a plugin that calls `mm2` is a 0.3.0 one, one that starts
//! consume jobs (`groups`) a 0.4.0 one, one that asks which capabilities it holds (`grants`) a
//! 0.5.0 one, whose optional capabilities `describe` and its pack show; one that asks which shard
//! it is (`shard`) a 0.6.0 one, told 0 of 1 when the run is not sharded; a component of any other
//! version is refused with one clear error.

mod support;

use std::path::Path;

use kscen::pack::archive::PackArchive;
use support::{f64_of, plugin_dist, run_scenario, u64_of, Sandbox};

const SUPPORTED: &str = "supported WIT versions: kscen:scenario@0.1.0, kscen:scenario@0.2.0, \
     kscen:scenario@0.3.0, kscen:scenario@0.4.0, kscen:scenario@0.5.0, kscen:scenario@0.6.0";

#[test]
fn a_0_1_0_plugin_still_loads_describes_and_runs() {
    let sandbox = Sandbox::new();
    let described = sandbox.ok(&["describe", "legacy-v0-1"]);
    assert!(
        described.contains("  cluster source")
            && described.contains("built for kscen:scenario@0.1.0"),
        "{described}"
    );

    let run = run_scenario("plugin = \"legacy-v0-1\"\n[params]\nrecords = 40\n", &[]);
    assert_eq!(run.code(), 0, "stderr:\n{}", run.stderr());
    assert_eq!(u64_of(&run.phase("legacy")["acked"]), 40);
    assert_eq!(
        f64_of(&run.result()["figures"]["legacy_acked"]["value"]),
        40.0
    );
}

#[test]
fn a_topic_outside_the_declared_patterns_is_denied_and_nothing_is_created() {
    let sandbox = Sandbox::new();
    let described = sandbox.ok(&["describe", "declared-topics"]);
    assert!(
        described.contains("  topic kscen-declared-* on source")
            && described.contains("built for kscen:scenario@0.2.0"),
        "{described}"
    );

    // No --profile: the embedded cluster, whose profile allows every topic.
    let run = run_scenario("plugin = \"declared-topics\"\n", &[]);
    assert_eq!(run.code(), 0, "stderr:\n{}", run.stderr());
    let calls = [
        "create-topic",
        "produce",
        "start-load",
        "subscribe",
        "end-offsets",
        "delete-topic",
    ];
    assert_eq!(
        f64_of(&run.result()["figures"]["denied_calls"]["value"]),
        calls.len() as f64,
        "the fixture fails its run unless each call was a typed denied"
    );
    let events = run.result()["events"].as_array().expect("events");
    let messages = |kind: &str| -> Vec<String> {
        events
            .iter()
            .filter(|e| e["kind"] == kind)
            .map(|e| e["message"].as_str().unwrap().to_string())
            .collect()
    };
    let denied = messages("denied");
    assert_eq!(denied.len(), calls.len(), "{denied:?}");
    for (call, message) in calls.iter().zip(&denied) {
        assert!(
            message.starts_with(call)
                && message.contains("topic \"payments\" on cluster \"source\" is outside the topics the plugin declared in describe() (kscen-declared-*)"),
            "{message}"
        );
    }
    let everything: Vec<&str> = events
        .iter()
        .filter_map(|e| e["message"].as_str())
        .collect();
    assert!(
        everything
            .iter()
            .any(|m| m.contains("created kscen-declared-ok on source")),
        "the declared topic is created: {everything:?}"
    );
    assert!(
        !everything.iter().any(|m| m.contains("created payments")),
        "nothing outside is created: {everything:?}"
    );
}

#[test]
fn a_plugin_asking_for_the_mirror_is_a_0_3_0_plugin() {
    // `consistency` asks `mm2` for its remote topic (its runs: tests/mm2_scenarios_lab.rs,
    // tests/deployment_lab.rs).
    let described = Sandbox::new().ok(&["describe", "consistency"]);
    assert!(
        described.contains("built for kscen:scenario@0.3.0"),
        "{described}"
    );
}

#[test]
fn a_plugin_starting_consume_jobs_is_a_0_4_0_plugin() {
    // `dr-failover` moves a consumer group (its run: tests/mm2_scenarios_lab.rs).
    let described = Sandbox::new().ok(&["describe", "dr-failover"]);
    assert!(
        described.contains("built for kscen:scenario@0.4.0"),
        "{described}"
    );
}

#[test]
fn a_plugin_asking_which_capabilities_it_holds_is_a_0_5_0_plugin() {
    // `ramp-up` follows its records across a mirror where there is one (its runs:
    // tests/perf_mirror_lab.rs, tests/plugins_embedded.rs).
    let sandbox = Sandbox::new();
    let described = sandbox.ok(&["describe", "ramp-up"]);
    assert!(
        described.contains("built for kscen:scenario@0.5.0")
            && described.contains(
                "Capabilities:\n  cluster source\n\nOptional capabilities (used when the environment has them):\n  cluster target\n  connect"
            ),
        "{described}"
    );

    // What a reviewer of a pack sees is every capability it may use, optional ones included.
    std::fs::write(sandbox.path("ramp.toml"), "plugin = \"ramp-up\"\n").unwrap();
    sandbox.ok(&[
        "pack",
        "build",
        "--name",
        "ramp",
        "--version",
        "1.0.0",
        "ramp.toml",
        "--out",
        "ramp.kpack",
    ]);
    let inspected = sandbox.ok(&["pack", "inspect", "ramp.kpack"]);
    assert!(
        inspected.contains("kscen:scenario@0.5.0")
            && inspected.contains("requests: cluster source, cluster target, connect"),
        "{inspected}"
    );
}

#[test]
fn a_plugin_asking_which_shard_it_is_is_a_0_6_0_plugin() {
    // `steady` says which stripe of the schedule it sends when the run is sharded (its sharded
    // run: tests/shards_lab.rs); unsharded it is shard 0 of 1 and says nothing.
    let sandbox = Sandbox::new();
    let described = sandbox.ok(&["describe", "steady"]);
    assert!(
        described.contains("built for kscen:scenario@0.6.0"),
        "{described}"
    );
    let run = run_scenario(
        "plugin = \"steady\"\n[params]\ncount = 50\nrate = 1000\n",
        &[],
    );
    assert_eq!(run.code(), 0, "stderr:\n{}", run.stderr());
    assert_eq!(u64_of(&run.phase("nominal")["acked"]), 50);
    assert!(!run.stderr().contains("shard"), "{}", run.stderr());
}

/// The 0.1.0 fixture with every `from` in its bytes rewritten to `to` in place: same length, so
/// the binary stays a valid component, now with other import names.
fn rewritten_fixture(dir: &Path, name: &str, from: &[u8], to: &[u8]) -> String {
    assert_eq!(from.len(), to.len());
    let mut bytes = std::fs::read(plugin_dist().join("legacy-v0-1.wasm")).unwrap();
    let mut rewritten = 0;
    let mut at = 0;
    while let Some(found) = bytes[at..].windows(from.len()).position(|w| w == from) {
        at += found;
        bytes[at..at + to.len()].copy_from_slice(to);
        rewritten += 1;
    }
    assert!(rewritten > 0, "{} not found", String::from_utf8_lossy(from));
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path.to_str().unwrap().to_string()
}

#[test]
fn a_component_of_neither_version_is_refused_with_the_supported_versions() {
    let sandbox = Sandbox::new();
    let future = rewritten_fixture(sandbox.dir.path(), "future.wasm", b"@0.1.0", b"@0.9.0");
    let error = sandbox.refused(&["describe", &future]);
    assert!(
        error.contains(&format!(
            "{future} is not a kscen scenario plugin this kscen can run: it imports kscen:scenario/"
        )) && error.contains("@0.9.0")
            && error.contains(SUPPORTED),
        "{error}"
    );
    // The same refusal when a scenario file names it.
    std::fs::write(
        sandbox.path("scenario.toml"),
        format!("plugin = \"{future}\"\n"),
    )
    .unwrap();
    let error = sandbox.refused(&["run", "scenario.toml"]);
    assert!(
        error.contains(&future) && error.contains(SUPPORTED),
        "{error}"
    );

    let foreign = rewritten_fixture(
        sandbox.dir.path(),
        "foreign.wasm",
        b"kscen:scenario/",
        b"other:scenario/",
    );
    let error = sandbox.refused(&["describe", &foreign]);
    assert!(
        error.contains(&format!(
            "{foreign} is not a kscen scenario plugin this kscen can run: it imports no kscen:scenario interface"
        )) && error.contains(SUPPORTED),
        "{error}"
    );
}

#[test]
fn a_pack_lists_declared_topics_and_install_checks_them_against_describe() {
    let sandbox = Sandbox::new();
    std::fs::write(
        sandbox.path("scoped.toml"),
        "plugin = \"declared-topics\"\n",
    )
    .unwrap();
    sandbox.ok(&[
        "pack",
        "build",
        "--name",
        "scoped",
        "--version",
        "1.0.0",
        "scoped.toml",
        "--out",
        "scoped.kpack",
    ]);
    let inspected = sandbox.ok(&["pack", "inspect", "scoped.kpack"]);
    assert!(
        inspected.contains("kscen:scenario@0.2.0")
            && inspected.contains("requests: cluster source, topic kscen-declared-* on source"),
        "{inspected}"
    );

    // A manifest that hides the topic request from a reviewer does not install.
    let pack = sandbox.path("scoped.kpack");
    let mut archive = PackArchive::read(&pack).unwrap();
    let mut manifest: serde_json::Value = serde_json::from_slice(&archive.manifest).unwrap();
    manifest["plugins"][0]["capabilities"]
        .as_array_mut()
        .unwrap()
        .retain(|capability| capability["kind"] != "topic");
    archive.manifest = serde_json::to_vec_pretty(&manifest).unwrap();
    archive.write(&pack).unwrap();
    let error = sandbox.refused(&["pack", "install", "scoped.kpack", "--allow-unsigned"]);
    assert!(
        error.contains("plugin declared-topics requests [cluster source, topic kscen-declared-* on source] but the manifest declares [cluster source]"),
        "{error}"
    );
}
