//! Compile cache: components compiled once, keyed by the component's sha256 and the engine's
//! compatibility hash, so a cached artifact is only ever loaded by an engine that can run it.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};
use wasmtime::component::Component;
use wasmtime::Engine;

use crate::result::LoadedFrom;

pub struct CompileCache {
    dir: PathBuf,
}

impl CompileCache {
    pub fn new(dir: PathBuf) -> CompileCache {
        CompileCache { dir }
    }

    pub fn load(
        &self,
        engine: &Engine,
        bytes: &[u8],
        origin: &Path,
    ) -> Result<(Component, LoadedFrom)> {
        let started = std::time::Instant::now();
        let sha256 = hex::encode(Sha256::digest(bytes));
        let mut hasher = DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        let artifact = self
            .dir
            .join(format!("{sha256}-{:016x}.cwasm", hasher.finish()));

        if artifact.is_file() {
            // SAFETY: the file is in kscen's own cache, written by `store` below from a
            // component this engine compiled, and named by that component's content hash.
            if let Ok(component) = unsafe { Component::deserialize_file(engine, &artifact) } {
                let loaded = LoadedFrom {
                    sha256,
                    from_cache: true,
                    load_ms: elapsed_ms(started),
                };
                return Ok((component, loaded));
            }
        }
        let component = Component::new(engine, bytes)
            .map_err(anyhow::Error::from)
            .with_context(|| {
                format!("{} is not a valid WebAssembly component", origin.display())
            })?;
        if let Err(error) = self.store(&component, &artifact) {
            tracing::warn!(
                "compile cache not written ({}): {error:#}",
                artifact.display()
            );
        }
        let loaded = LoadedFrom {
            sha256,
            from_cache: false,
            load_ms: elapsed_ms(started),
        };
        Ok((component, loaded))
    }

    fn store(&self, component: &Component, artifact: &Path) -> Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        let bytes = component.serialize()?;
        // Write then rename, so a concurrent run never reads half an artifact.
        let partial = artifact.with_extension(format!("{}.partial", std::process::id()));
        std::fs::write(&partial, bytes)?;
        std::fs::rename(&partial, artifact)?;
        Ok(())
    }
}

fn elapsed_ms(started: std::time::Instant) -> f64 {
    started.elapsed().as_secs_f64() * 1000.0
}
