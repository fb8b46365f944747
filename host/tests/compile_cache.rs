//! Components are compiled once: the second load of the same bytes comes from the cache, keyed by
//! content hash, and a changed component is never served a stale artifact.

mod support;

use kscen::engine::Host;

#[test]
fn a_component_loads_from_the_cache_the_second_time() {
    let cache = tempfile::tempdir().unwrap();
    std::env::set_var("KSCEN_CACHE_DIR", cache.path());
    let host = Host::new().unwrap();
    let plugin = support::plugin_dist().join("steady.wasm");

    let first = host.load(&plugin).unwrap();
    assert!(!first.loaded.from_cache);
    let second = host.load(&plugin).unwrap();
    assert!(second.loaded.from_cache);
    assert_eq!(first.loaded.sha256, second.loaded.sha256);
    println!(
        "compile {:.1} ms, from cache {:.1} ms",
        first.loaded.load_ms, second.loaded.load_ms
    );

    // Another component (other bytes) is compiled, not confused with the cached one.
    let copy = cache.path().join("burst.wasm");
    std::fs::copy(support::plugin_dist().join("burst.wasm"), &copy).unwrap();
    let other = host.load(&copy).unwrap();
    assert!(!other.loaded.from_cache);
    assert_ne!(other.loaded.sha256, first.loaded.sha256);
}

#[test]
fn a_file_that_is_not_a_scenario_component_is_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let host = Host::new().unwrap();
    let garbage = dir.path().join("garbage.wasm");
    std::fs::write(&garbage, b"not wasm at all").unwrap();
    let error = format!("{:#}", host.load(&garbage).err().unwrap());
    assert!(
        error.contains("is not a valid WebAssembly component"),
        "{error}"
    );

    // A valid component of another world: a core module wrapped as nothing we import or export.
    let empty = dir.path().join("empty.wasm");
    std::fs::write(&empty, wat_component()).unwrap();
    let error = format!("{:#}", host.load(&empty).err().unwrap());
    assert!(error.contains("kscen:scenario@0.1.0"), "{error}");
}

/// The smallest valid component: the component-model preamble and nothing else.
fn wat_component() -> Vec<u8> {
    vec![0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00]
}
