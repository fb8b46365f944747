//! The scenario plugins: built for wasm32-wasip2 from their own workspace, gathered in
//! `plugins/dist/` where kscen and the tests find them.

use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::workspace::Workspace;

/// What a folder under `plugins/` is for. Every one is registered here, once, as wasmtime's
/// test-programs register their guests: `build-plugins` refuses a folder that is not, and a
/// fixture whose test does not name it.
pub enum Role {
    /// Used by the bundled scenarios: installed and shipped in the release archive.
    Bundled,
    /// A test fixture or a bench plugin, built for that file's tests and never shipped. The file
    /// names the plugin in a string (without its `-py`/`-js` suffix: tests run each language's
    /// twin by name, as `"burst-{language}"`).
    Fixture { run_by: &'static str },
}

pub struct Plugin {
    /// the folder under `plugins/`, and `plugins/dist/<name>.wasm`
    pub name: &'static str,
    pub role: Role,
}

const fn bundled(name: &'static str) -> Plugin {
    Plugin {
        name,
        role: Role::Bundled,
    }
}

const fn fixture(name: &'static str, run_by: &'static str) -> Plugin {
    Plugin {
        name,
        role: Role::Fixture { run_by },
    }
}

pub const PLUGINS: &[Plugin] = &[
    bundled("steady"),
    bundled("ramp-up"),
    bundled("burst"),
    bundled("size-sweep"),
    bundled("e2e-latency"),
    bundled("catch-up"),
    bundled("endurance"),
    bundled("consistency"),
    bundled("worker-kill"),
    bundled("connector-restart"),
    bundled("connectivity-loss"),
    bundled("config-change"),
    bundled("task-failure"),
    bundled("consumer-perf"),
    bundled("dr-failover"),
    bundled("topic-migration"),
    bundled("offset-translation"),
    bundled("broker-faults"),
    fixture("misbehave", "host/tests/guard_rails.rs"),
    fixture("misbehave-py", "host/tests/guest_languages.rs"),
    fixture("misbehave-js", "host/tests/guest_languages.rs"),
    fixture("connector-restart-py", "host/tests/guest_languages.rs"),
    fixture("connector-restart-js", "host/tests/guest_languages.rs"),
    fixture("burst-py", "host/tests/pack.rs"),
    fixture("burst-js", "host/tests/pack.rs"),
    fixture("legacy-v0-1", "host/tests/wit_versions.rs"),
    fixture("declared-topics", "host/tests/wit_versions.rs"),
    fixture("custom-histograms", "host/tests/custom_histograms.rs"),
    fixture("bench-produce", "xtask/src/bench/sections/plugin.rs"),
    fixture("bench-produce-py", "xtask/src/bench/sections/plugin.rs"),
    fixture("bench-produce-js", "xtask/src/bench/sections/plugin.rs"),
    fixture("bench-consume", "xtask/src/bench/sections/consume.rs"),
];

/// The plugins the bundled scenarios use.
pub fn bundled_plugins() -> impl Iterator<Item = &'static str> {
    PLUGINS
        .iter()
        .filter(|p| matches!(p.role, Role::Bundled))
        .map(|p| p.name)
}

/// The Rust plugins (the others are built by `python` and `js` from their folders).
fn rust_plugins(root: &Path) -> impl Iterator<Item = &'static str> + '_ {
    PLUGINS
        .iter()
        .map(|p| p.name)
        .filter(|name| is_rust(&root.join("plugins"), name))
}

/// A Rust plugin is a crate: its folder has a Cargo.toml.
fn is_rust(plugins: &Path, name: &str) -> bool {
    plugins.join(name).join("Cargo.toml").is_file()
}

/// Refuses a checkout whose plugins and registry disagree, saying what to do: a folder not in
/// [`PLUGINS`], a registered plugin without its folder, a Rust plugin missing from the plugins'
/// workspace, a fixture its test does not name, a bundled plugin no scenario uses.
pub fn check_registry(root: &Path) -> Result<()> {
    check(root, PLUGINS)
}

fn check(root: &Path, registry: &[Plugin]) -> Result<()> {
    let plugins = root.join("plugins");
    let mut problems = Vec::new();
    for entry in
        std::fs::read_dir(&plugins).with_context(|| format!("reading {}", plugins.display()))?
    {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !entry.path().is_dir() || matches!(name.as_str(), "dist" | "target") {
            continue;
        }
        if !registry.iter().any(|p| p.name == name) {
            problems.push(format!(
                "plugins/{name} is not registered: add it to PLUGINS in xtask/src/plugins.rs, \
                 as bundled (its scenarios ship with kscen) or as a fixture with the test that runs it"
            ));
        }
    }
    let members = workspace_members(&plugins.join("Cargo.toml"))?;
    // Read once: every bundled plugin is looked up in them.
    let scenarios_dir = root.join("scenarios");
    let scenarios: Vec<String> = std::fs::read_dir(&scenarios_dir)
        .with_context(|| format!("reading {}", scenarios_dir.display()))?
        .filter_map(|entry| std::fs::read_to_string(entry.ok()?.path()).ok())
        .collect();
    for plugin in registry {
        let name = plugin.name;
        if !plugins.join(name).is_dir() {
            problems.push(format!(
                "{name} is registered but plugins/{name} does not exist"
            ));
            continue;
        }
        if is_rust(&plugins, name) && !members.iter().any(|m| m == name) {
            problems.push(format!(
                "plugins/{name} is not a member of plugins/Cargo.toml's workspace, so it is never built"
            ));
        }
        match plugin.role {
            Role::Fixture { run_by } => {
                let base = name.trim_end_matches("-py").trim_end_matches("-js");
                let runs_it = std::fs::read_to_string(root.join(run_by))
                    .is_ok_and(|text| text.contains(&format!("\"{base}")));
                if !runs_it {
                    problems.push(format!(
                        "fixture {name}: {run_by} does not run it (no string starting \"{base} in it); \
                         name the test that does, or remove the fixture"
                    ));
                }
            }
            Role::Bundled => {
                let used = format!("plugin = \"{name}\"");
                if !scenarios.iter().any(|text| text.contains(&used)) {
                    problems.push(format!(
                        "bundled plugin {name}: no scenarios/*.toml says {used}; \
                         ship a scenario for it or register it as a fixture"
                    ));
                }
            }
        }
    }
    if !problems.is_empty() {
        bail!(
            "the plugin registry disagrees with plugins/:\n  {}",
            problems.join("\n  ")
        );
    }
    Ok(())
}

/// `[workspace] members` of the plugins' Cargo.toml.
fn workspace_members(manifest: &Path) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(manifest)
        .with_context(|| format!("reading {}", manifest.display()))?;
    let parsed: toml::Table =
        toml::from_str(&text).with_context(|| format!("parsing {}", manifest.display()))?;
    let members = parsed
        .get("workspace")
        .and_then(|w| w.get("members"))
        .and_then(|m| m.as_array())
        .with_context(|| format!("{} has no [workspace] members", manifest.display()))?;
    Ok(members
        .iter()
        .filter_map(|m| m.as_str().map(str::to_string))
        .collect())
}

const WASM_TARGET: &str = "wasm32-wasip2";

/// Builds every plugin (release) and copies them to `plugins/dist/<name>.wasm`.
pub fn build(workspace: &Workspace) -> Result<()> {
    check_registry(&workspace.root)?;
    ensure_wasm_target()?;
    crate::run(
        crate::cargo()
            .args([
                "build",
                "--release",
                "--target",
                WASM_TARGET,
                "--manifest-path",
            ])
            .arg(workspace.root.join("plugins").join("Cargo.toml")),
    )?;
    let built = workspace.plugins_target.join(WASM_TARGET).join("release");
    let dist = workspace.plugin_dist();
    std::fs::create_dir_all(&dist).with_context(|| format!("creating {}", dist.display()))?;
    for plugin in rust_plugins(&workspace.root) {
        let from = built.join(format!("{}.wasm", plugin.replace('-', "_")));
        let to = dist.join(format!("{plugin}.wasm"));
        std::fs::copy(&from, &to)
            .with_context(|| format!("copying {} to {}", from.display(), to.display()))?;
    }
    eprintln!("plugins in {}", dist.display());
    Ok(())
}

fn ensure_wasm_target() -> Result<()> {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output();
    match installed {
        Ok(out)
            if String::from_utf8_lossy(&out.stdout)
                .lines()
                .any(|l| l.trim() == WASM_TARGET) =>
        {
            Ok(())
        }
        Ok(_) => crate::run(Command::new("rustup").args(["target", "add", WASM_TARGET])),
        Err(_) => {
            eprintln!("rustup not found: assuming the {WASM_TARGET} target is installed");
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_plugin_folder_is_registered_and_every_fixture_is_run_by_its_test() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        check_registry(root).unwrap();
    }

    #[test]
    fn an_unregistered_plugin_folder_fails_the_build_with_what_to_do() {
        let root = tempfile::tempdir().unwrap();
        let plugins = root.path().join("plugins");
        std::fs::create_dir_all(plugins.join("stray")).unwrap();
        std::fs::write(plugins.join("Cargo.toml"), "[workspace]\nmembers = []\n").unwrap();
        std::fs::create_dir_all(root.path().join("scenarios")).unwrap();
        let error = format!("{:#}", check_registry(root.path()).unwrap_err());
        assert!(
            error.contains("plugins/stray is not registered: add it to PLUGINS"),
            "{error}"
        );
        // and every registered plugin missing here is named
        assert!(
            error.contains("steady is registered but plugins/steady does not exist"),
            "{error}"
        );
    }

    #[test]
    fn a_fixture_no_test_runs_and_a_bundled_plugin_no_scenario_uses_fail_the_build() {
        let root = tempfile::tempdir().unwrap();
        let plugins = root.path().join("plugins");
        for name in ["orphan-py", "unused"] {
            std::fs::create_dir_all(plugins.join(name)).unwrap();
        }
        std::fs::write(plugins.join("Cargo.toml"), "[workspace]\nmembers = []\n").unwrap();
        std::fs::create_dir_all(root.path().join("scenarios")).unwrap();
        std::fs::create_dir_all(root.path().join("tests")).unwrap();
        std::fs::write(root.path().join("tests/t.rs"), "run(\"other\")").unwrap();
        let registry = [fixture("orphan-py", "tests/t.rs"), bundled("unused")];
        let error = format!("{:#}", check(root.path(), &registry).unwrap_err());
        assert!(
            error.contains("fixture orphan-py: tests/t.rs does not run it"),
            "{error}"
        );
        assert!(
            error.contains("bundled plugin unused: no scenarios/*.toml says plugin = \"unused\""),
            "{error}"
        );

        std::fs::write(root.path().join("tests/t.rs"), "run(\"orphan\")").unwrap();
        std::fs::write(
            root.path().join("scenarios/u.toml"),
            "plugin = \"unused\"\n",
        )
        .unwrap();
        check(root.path(), &registry).unwrap();
    }
}
