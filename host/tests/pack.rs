//! Signed plugin packs end to end, with the built `kscen` binary and the bundled plugins: a signed
//! pack installs and its scenario runs on the embedded cluster; tampered, unsigned and
//! foreign-signed packs are refused with an error naming what failed; packs go through a real OCI
//! registry (Debian's `docker-registry`, started here on loopback) and come back verified.

#[path = "support/registry.rs"]
mod registry;
mod support;

use std::path::{Path, PathBuf};

use kscen::pack::archive::PackArchive;
use registry::Registry;
use support::{u64_of, Sandbox};

/// A short run of the bundled steady plugin.
const QUICK: &str = r#"
description = "steady, 200 records"
plugin = "steady"
thresholds = ["totals.failed == 0"]
[params]
topic = "pack-test"
rate = 1000
count = 200
record_size = 100
"#;

/// One isolated kscen world, with the quick scenario in `src/`.
struct World(Sandbox);

impl std::ops::Deref for World {
    type Target = Sandbox;

    fn deref(&self) -> &Sandbox {
        &self.0
    }
}

impl World {
    fn new() -> World {
        let world = World(Sandbox::new());
        std::fs::create_dir_all(world.path("src")).unwrap();
        std::fs::write(world.path("src/quick.toml"), QUICK).unwrap();
        world
    }

    /// A key pair `keys/<name>.key` + `.pub`.
    fn keygen(&self, name: &str) {
        self.ok(&["pack", "keygen", "--out", "keys", "--name", name]);
    }

    fn trust(&self, name: &str) {
        self.ok(&["pack", "trust", "add", name, &format!("keys/{name}.pub")]);
    }

    /// Builds `acme.kpack` from the quick scenario, signed with `key` when given.
    fn build(&self, key: Option<&str>) -> PathBuf {
        self.build_pack("src/quick.toml", key)
    }

    fn installed(&self) -> bool {
        self.path("packs/acme/1.0.0").exists()
    }
}

fn edit_pack(pack: &Path, edit: impl FnOnce(&mut PackArchive)) {
    let mut archive = PackArchive::read(pack).unwrap();
    edit(&mut archive);
    archive.write(pack).unwrap();
}

/// Changes one byte of the pack's component, as a careless or hostile hand would.
fn flip_a_component_byte(pack: &Path) {
    edit_pack(pack, |archive| {
        let wasm = archive.files.get_mut("plugins/dist/steady.wasm").unwrap();
        let middle = wasm.len() / 2;
        wasm[middle] ^= 0x01;
    });
}

#[test]
fn a_signed_pack_installs_and_its_scenario_runs() {
    let world = World::new();
    world.keygen("acme");
    world.trust("acme");
    world.build(Some("acme"));

    let inspect = world.ok(&["pack", "inspect", "acme.kpack"]);
    assert!(
        inspect.contains("Signature: valid, by acme")
            && inspect.contains("requests: cluster source")
            && inspect.contains("all files match"),
        "{inspect}"
    );
    let verify = world.ok(&["pack", "verify", "acme.kpack"]);
    assert!(verify.starts_with("OK: pack acme@1.0.0"), "{verify}");
    world.ok(&["pack", "install", "acme.kpack"]);
    assert!(world
        .path("packs/acme/1.0.0/plugins/dist/steady.wasm")
        .is_file());
    let list = world.ok(&["pack", "list"]);
    let key_id = std::fs::read_to_string(world.path("packs/acme/1.0.0/install.json")).unwrap();
    assert!(
        list.contains("acme") && list.contains("1.0.0") && list.contains("quick"),
        "{list}"
    );
    let key_id: serde_json::Value = serde_json::from_str(&key_id).unwrap();
    assert!(list.contains(key_id["key_id"].as_str().unwrap()), "{list}");

    // Runs the pack's own component, resolved from the installed pack.
    let run = world.kscen(&["run", "acme/quick", "--json", "result.json"]);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(0), "{stderr}");
    let result: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(world.path("result.json")).unwrap()).unwrap();
    let plugin_path = result["scenario"]["plugin"]["path"].as_str().unwrap();
    assert!(
        plugin_path.ends_with("packs/acme/1.0.0/plugins/dist/steady.wasm"),
        "{plugin_path}"
    );
    assert_eq!(u64_of(&result["totals"]["acked"]), 200, "{result}");

    // Changed after install: refused at run time, naming the file.
    let wasm = world.path("packs/acme/1.0.0/plugins/dist/steady.wasm");
    let mut bytes = std::fs::read(&wasm).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(&wasm, bytes).unwrap();
    let error = world.refused(&["run", "acme/quick"]);
    assert!(
        error.contains("plugins/dist/steady.wasm: sha256") && error.contains("does not match"),
        "{error}"
    );
}

#[test]
fn a_tampered_component_byte_is_refused() {
    let world = World::new();
    world.keygen("acme");
    world.trust("acme");
    let pack = world.build(Some("acme"));
    flip_a_component_byte(&pack);
    for command in ["verify", "install"] {
        let error = world.refused(&["pack", command, "acme.kpack"]);
        assert!(
            error.contains("refused")
                && error.contains("plugins/dist/steady.wasm: sha256")
                && error.contains("changed after the pack was built"),
            "{error}"
        );
    }
    // Digests are checked even when signatures are waived.
    let error = world.refused(&["pack", "install", "acme.kpack", "--allow-unsigned"]);
    assert!(error.contains("steady.wasm: sha256"), "{error}");
    assert!(!world.installed());
    let inspect = world.ok(&["pack", "inspect", "acme.kpack"]);
    assert!(inspect.contains("Digests: MISMATCH"), "{inspect}");
}

#[test]
fn an_edited_manifest_is_refused() {
    let world = World::new();
    world.keygen("acme");
    world.trust("acme");
    let pack = world.build(Some("acme"));
    // The attacker swaps the component AND updates its digest in the manifest: only the
    // signature can catch this.
    edit_pack(&pack, |archive| {
        let wasm = archive.files.get_mut("plugins/dist/steady.wasm").unwrap();
        let old = kscen::pack::digest::sha256_hex(wasm);
        let middle = wasm.len() / 2;
        wasm[middle] ^= 0x01;
        let new = kscen::pack::digest::sha256_hex(wasm);
        let text = String::from_utf8(archive.manifest.clone()).unwrap();
        archive.manifest = text.replace(&old, &new).into_bytes();
    });
    for args in [
        vec!["pack", "verify", "acme.kpack"],
        vec!["pack", "install", "acme.kpack"],
        vec!["pack", "install", "acme.kpack", "--allow-unsigned"],
    ] {
        let error = world.refused(&args);
        assert!(
            error.contains("signature of manifest.json by acme")
                && error.contains("is invalid")
                && error.contains("changed after it was signed"),
            "{error}"
        );
    }
    assert!(!world.installed());
}

#[test]
fn an_unsigned_pack_is_refused_unless_allowed() {
    let world = World::new();
    world.build(None);
    let error = world.refused(&["pack", "install", "acme.kpack"]);
    assert!(
        error.contains("the pack is unsigned") && error.contains("--allow-unsigned"),
        "{error}"
    );
    assert!(!world.installed());
    let verify = world.ok(&["pack", "verify", "acme.kpack", "--allow-unsigned"]);
    assert!(verify.contains("signature: unsigned"), "{verify}");
    world.ok(&["pack", "install", "acme.kpack", "--allow-unsigned"]);
    assert!(world.installed());
    let list = world.ok(&["pack", "list"]);
    assert!(list.contains("unsigned"), "{list}");
}

#[test]
fn a_pack_signed_by_an_untrusted_key_is_refused_until_signed_by_a_trusted_one() {
    let world = World::new();
    world.keygen("acme");
    world.keygen("stranger");
    world.trust("acme");
    world.build(Some("stranger"));
    let stranger_pub = std::fs::read_to_string(world.path("keys/stranger.pub")).unwrap();
    let stranger_id = kscen::pack::minisign::PublicKey::parse(&stranger_pub)
        .unwrap()
        .id
        .to_string();
    let error = world.refused(&["pack", "install", "acme.kpack"]);
    assert!(
        error.contains(&format!(
            "signed by key {stranger_id}, which is not trusted"
        )) && error.contains("acme ("),
        "{error}"
    );
    assert!(!world.installed());

    // Re-signing with a trusted key makes it installable.
    world.ok(&["pack", "sign", "acme.kpack", "--key", "keys/acme.key"]);
    let verify = world.ok(&["pack", "verify", "acme.kpack"]);
    assert!(verify.contains("signature: acme"), "{verify}");
    world.ok(&["pack", "install", "acme.kpack"]);
    let again = world.refused(&["pack", "install", "acme.kpack"]);
    assert!(
        again.contains("already installed") && again.contains("--force"),
        "{again}"
    );
    world.ok(&["pack", "install", "acme.kpack", "--force"]);
}

#[test]
fn python_and_javascript_components_travel_in_a_signed_pack_like_rust_ones() {
    let world = World::new();
    world.keygen("acme");
    world.trust("acme");
    for language in ["py", "js"] {
        std::fs::write(
            world.path(&format!("src/burst-{language}.toml")),
            format!(
                "plugin = \"burst-{language}\"\nthresholds = [\"totals.failed == 0\"]\n[params]\n\
                 nominal_rate = 200\nburst_rate = 400\nburst_duration = \"500ms\"\n\
                 pause_duration = \"500ms\"\ncycles = 1\nrecord_size = 100\n"
            ),
        )
        .unwrap();
    }
    world.ok(&[
        "pack",
        "build",
        "--name",
        "guests",
        "--version",
        "1.0.0",
        "src/burst-py.toml",
        "src/burst-js.toml",
        "--key",
        "keys/acme.key",
    ]);
    let inspect = world.ok(&["pack", "inspect", "guests-1.0.0.kpack"]);
    assert!(
        inspect.contains("Signature: valid, by acme")
            && inspect.contains("burst-py")
            && inspect.contains("burst-js")
            && inspect.contains("requests: cluster source"),
        "{inspect}"
    );
    world.ok(&["pack", "install", "guests-1.0.0.kpack"]);
    for language in ["py", "js"] {
        let run = world.kscen(&["run", &format!("guests/burst-{language}")]);
        assert_eq!(
            run.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&run.stderr)
        );
    }
}

/// A world trusting acme, whose pack signed by acme is pushed to `registry` as `acme/perf`; with
/// the artifact's digest.
fn pushed_signed_pack(registry: &Registry) -> (World, String) {
    let world = World::new();
    world.keygen("acme");
    world.trust("acme");
    world.build(Some("acme"));
    let digest = registry.push(&world, "acme/perf");
    (world, digest)
}

#[test]
fn a_pack_pushed_to_a_registry_is_pulled_by_digest_verified_and_run() {
    let Some(registry) = Registry::start() else {
        return;
    };
    let (world, digest) = pushed_signed_pack(&registry);
    let reference = format!("{}/acme/perf:1.0.0", registry.address);

    // By digest: the same bytes as the file pushed, verified, installed, run.
    let by_digest = format!("{}/acme/perf@{digest}", registry.address);
    let pulled = world.ok(&[
        "pack",
        "pull",
        &by_digest,
        "--plain-http",
        "--out",
        "pulled.kpack",
    ]);
    assert!(
        pulled.contains("acme@1.0.0") && pulled.contains("signature acme"),
        "{pulled}"
    );
    assert_eq!(
        std::fs::read(world.path("pulled.kpack")).unwrap(),
        std::fs::read(world.path("acme.kpack")).unwrap(),
        "a pulled pack is the pushed one, byte for byte"
    );
    world.ok(&["pack", "install", "pulled.kpack"]);
    let run = world.kscen(&["run", "acme/quick"]);
    assert_eq!(
        run.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    // By tag, with the default file name.
    world.ok(&["pack", "pull", &reference, "--plain-http"]);
    assert!(world.path("acme-1.0.0.kpack").is_file());
}

/// What `kscen k8s run`'s shards do: `kscen run REGISTRY/REPOSITORY@DIGEST/SCENARIO` pulls the
/// pack once, checks it, and runs its scenario; a digest the registry does not hold and a pack
/// signed by nobody this machine trusts are refused before anything runs.
#[test]
fn a_scenario_pinned_by_digest_in_a_registry_is_pulled_once_verified_and_run() {
    let Some(registry) = Registry::start() else {
        return;
    };
    let (world, digest) = pushed_signed_pack(&registry);
    let pinned = format!("{}/acme/perf@{digest}/quick", registry.address);

    let run = world.kscen(&["run", &pinned, "--plain-http"]);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("pulled pack acme@1.0.0") && stderr.contains("signed by acme"),
        "{stderr}"
    );
    assert!(!world.installed(), "a pinned pull installs nothing");
    // Cached by digest: the second run pulls nothing (the registry is gone) and checks it again.
    drop(registry);
    let again = world.kscen(&["run", &pinned, "--plain-http"]);
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert_eq!(again.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("pulled pack"), "{stderr}");
    // A cached file changed since: refused as an installed pack's would be.
    let cached = world.path(&format!(
        "cache/pinned-packs/{}/acme/1.0.0/plugins/dist/steady.wasm",
        digest.trim_start_matches("sha256:")
    ));
    let mut wasm = std::fs::read(&cached).unwrap();
    wasm[100] ^= 0x01;
    std::fs::write(&cached, wasm).unwrap();
    let error = world.refused(&["run", &pinned, "--plain-http"]);
    assert!(error.contains("steady.wasm"), "{error}");

    let registry = Registry::start().unwrap();
    let unknown = format!(
        "{}/acme/perf@sha256:{}/quick",
        registry.address,
        "0".repeat(64)
    );
    let error = world.refused(&["run", &unknown, "--plain-http"]);
    assert!(error.contains("acme/perf@sha256:000"), "{error}");
    // Signed by a key this machine does not trust.
    let stranger = World::new();
    stranger.keygen("mallory");
    stranger.build(Some("mallory"));
    let digest = registry.push(&stranger, "mallory/perf");
    let pinned = format!("{}/mallory/perf@{digest}/quick", registry.address);
    let error = world.refused(&["run", &pinned, "--plain-http"]);
    assert!(error.contains("refused"), "{error}");
}

#[test]
fn a_tampered_artifact_is_refused_on_pull_and_nothing_is_written() {
    let Some(registry) = Registry::start() else {
        return;
    };
    let world = World::new();
    world.keygen("acme");
    world.trust("acme");
    let pack = world.build(Some("acme"));
    // Someone with write access to the registry swaps the component's bytes.
    flip_a_component_byte(&pack);
    let reference = format!("{}/acme/perf:1.0.0", registry.address);
    world.ok(&["pack", "push", "acme.kpack", &reference, "--plain-http"]);
    let error = world.refused(&[
        "pack",
        "pull",
        &reference,
        "--plain-http",
        "--out",
        "pulled.kpack",
    ]);
    assert!(
        error.contains("refused") && error.contains("plugins/dist/steady.wasm: sha256"),
        "{error}"
    );
    assert!(!world.path("pulled.kpack").exists());
    // A plain HTTPS client meets the plain-HTTP registry with an error that names it.
    let error = world.refused(&["pack", "pull", &reference]);
    assert!(
        error.contains(&registry.address) && error.contains("needs --plain-http"),
        "{error}"
    );
}
