//! Where kscen keeps its caches and installed plugins.

use std::path::PathBuf;

use anyhow::{Context, Result};

/// `$KSCEN_CACHE_DIR`, else the user's cache folder (`~/.cache/kscen`).
pub fn cache_dir() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("KSCEN_CACHE_DIR") {
        return Ok(PathBuf::from(dir));
    }
    let dirs =
        directories::BaseDirs::new().context("cannot find the home directory for the cache")?;
    Ok(dirs.cache_dir().join("kscen"))
}
