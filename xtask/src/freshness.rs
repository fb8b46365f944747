//! Whether a built file is older than what it is built from, by modification times: the guest
//! language builds (Python, JavaScript) have no cargo to tell them.

use std::path::Path;
use std::time::SystemTime;

use anyhow::{Context, Result};

/// Folders a build writes beside its sources (componentize-py's interpreter leaves
/// `__pycache__`; npm fills `node_modules`): never inputs.
const GENERATED: &[&str] = &["__pycache__", "node_modules"];

/// Whether `out` exists and is at least as new as every file under `inputs`.
pub fn up_to_date(out: &Path, inputs: &[&Path]) -> Result<bool> {
    let Some(built) = modified(out) else {
        return Ok(false);
    };
    for input in inputs {
        if newest(input)? > built {
            return Ok(false);
        }
    }
    Ok(true)
}

pub fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// The latest modification time of `path` and, for a folder, of everything in it (symbolic links
/// followed: the WIT folder's `deps/` are links), generated folders aside.
fn newest(path: &Path) -> Result<SystemTime> {
    let metadata =
        std::fs::metadata(path).with_context(|| format!("reading {}", path.display()))?;
    let mut latest = metadata
        .modified()
        .with_context(|| format!("reading {}", path.display()))?;
    if metadata.is_dir() {
        for entry in
            std::fs::read_dir(path).with_context(|| format!("reading {}", path.display()))?
        {
            let entry = entry.with_context(|| format!("reading {}", path.display()))?;
            if !GENERATED.iter().any(|g| entry.file_name() == *g) {
                latest = latest.max(newest(&entry.path())?);
            }
        }
    }
    Ok(latest)
}
