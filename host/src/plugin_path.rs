//! Finding plugin components by name: scenario files say `plugin = "ramp-up"`, the host finds
//! `ramp-up.wasm` in the plugin search path.

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};

/// Folders searched for `<name>.wasm`, first match wins:
/// `$KSCEN_PLUGIN_PATH` (colon-separated), `plugins/dist` beside the scenario's folder,
/// `plugins/dist` under the current folder (where `cargo xtask build-plugins` puts them), and the
/// plugins installed with kscen (`share/kscen/plugins`, see `bundle`).
pub fn search_path(scenario_dir: Option<&Path>) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("KSCEN_PLUGIN_PATH")
        .map(|value| std::env::split_paths(&value).collect())
        .unwrap_or_default();
    if let Some(dir) = scenario_dir {
        dirs.push(dir.join("..").join("plugins").join("dist"));
    }
    dirs.push(PathBuf::from("plugins").join("dist"));
    dirs.extend(crate::bundle::plugins_dir());
    dirs
}

/// A `.wasm` path (relative to the scenario file's folder `scenario_dir`; without one, to the
/// current folder), or a plugin name looked up in the search path.
pub fn resolve(plugin: &str, scenario_dir: Option<&Path>) -> Result<PathBuf> {
    if plugin.ends_with(".wasm") {
        let path = match scenario_dir {
            Some(dir) if Path::new(plugin).is_relative() => dir.join(plugin),
            _ => PathBuf::from(plugin),
        };
        if !path.is_file() {
            bail!("plugin file {} does not exist", path.display());
        }
        return Ok(path);
    }
    let dirs = search_path(scenario_dir);
    if let Some(found) = dirs
        .iter()
        .map(|dir| dir.join(format!("{plugin}.wasm")))
        .find(|p| p.is_file())
    {
        return Ok(found);
    }
    let looked: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
    bail!(
        "plugin {plugin:?} not found (looked for {plugin}.wasm in: {}); build the bundled plugins with \
         `cargo xtask build-plugins`, or set KSCEN_PLUGIN_PATH",
        looked.join(", ")
    )
}

/// Every `.wasm` in the search path, by name (first occurrence wins).
pub fn available(scenario_dir: Option<&Path>) -> Vec<(String, PathBuf)> {
    let mut found: Vec<(String, PathBuf)> = Vec::new();
    for dir in search_path(scenario_dir) {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        paths.sort();
        for path in paths {
            if path.extension().is_some_and(|e| e == "wasm") {
                let name = path
                    .file_stem()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned();
                if !found.iter().any(|(n, _)| *n == name) {
                    found.push((name, path));
                }
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_resolve_beside_the_scenarios_folder() {
        let root = tempfile::tempdir().unwrap();
        let dist = root.path().join("plugins").join("dist");
        std::fs::create_dir_all(&dist).unwrap();
        std::fs::write(dist.join("steady.wasm"), b"").unwrap();
        let scenarios = root.path().join("scenarios");
        std::fs::create_dir_all(&scenarios).unwrap();
        let found = resolve("steady", Some(&scenarios)).unwrap();
        assert!(found.ends_with("plugins/dist/steady.wasm"));
        let missing = resolve("nope", Some(&scenarios)).unwrap_err().to_string();
        assert!(missing.contains("cargo xtask build-plugins"), "{missing}");
        assert_eq!(available(Some(&scenarios))[0].0, "steady");
    }
}
