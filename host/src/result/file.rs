//! Reading a result file, and writing one (or any JSON document kscen keeps, such as a campaign's
//! ledger) so that a kill mid-write never leaves a torn file.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::Serialize;

use super::{RunResult, SCHEMA};

/// One result file, loaded.
#[derive(Debug, Clone)]
pub struct LoadedResult {
    pub path: PathBuf,
    pub result: RunResult,
}

pub fn load(path: &Path) -> Result<LoadedResult> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read result {}", path.display()))?;
    let result: RunResult = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a kscen result", path.display()))?;
    if result.schema != SCHEMA {
        bail!(
            "{}: schema {:?}, this kscen reads {:?}",
            path.display(),
            result.schema,
            SCHEMA
        );
    }
    Ok(LoadedResult {
        path: path.to_path_buf(),
        result,
    })
}

/// Writes `value` to a file beside `path` and renames it over `path`: a kill mid-write leaves the
/// previous file whole, never a torn one.
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(value)?;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let name = path
        .file_name()
        .with_context(|| format!("{} names no file", path.display()))?;
    let temporary = dir.join(format!(
        ".{}.{}.tmp",
        name.to_string_lossy(),
        std::process::id()
    ));
    write_synced(&temporary, text.as_bytes())
        .with_context(|| format!("cannot write {}", temporary.display()))?;
    std::fs::rename(&temporary, path).with_context(|| format!("cannot write {}", path.display()))
}

/// Written through to the disk before the rename, so a machine lost just after it finds the new
/// content, not an empty file.
fn write_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut file = std::fs::File::create(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_replaced_whole_and_nothing_is_left_beside_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("result.json");
        std::fs::write(&path, "a snapshot").unwrap();
        write_json(
            &path,
            &serde_json::json!({"outcome": {"status": "completed"}}),
        )
        .unwrap();
        let written: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(written["outcome"]["status"], "completed");
        let files: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect();
        assert_eq!(files, ["result.json"]);
    }

    #[test]
    fn another_schema_is_refused_with_the_file_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.json");
        std::fs::write(
            &path,
            r#"{"schema": "kscen.result/v0", "scenario": {"name": "x"}, "outcome": {"status": "completed"}}"#,
        )
        .unwrap();
        let error = format!("{:#}", load(&path).unwrap_err());
        assert!(
            error.contains("old.json") && error.contains("kscen.result/v0"),
            "{error}"
        );
    }
}
