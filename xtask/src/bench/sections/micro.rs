//! Section 6, microbenchmarks: the criterion benches of the load engine's and the verifiers' hot
//! paths (host/benches/load_hot_paths.rs), run in the bench profile; their estimates are read back
//! from criterion's own files.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde_json::Value;

/// The criterion groups of host/benches/load_hot_paths.rs.
const GROUPS: [&str; 3] = ["pacing", "recording", "verify"];
/// The verify group's benchmarks of the per-record checks: their ceiling is reported on its own.
pub const VERIFIER_CHECKS: [(&str, &str); 2] = [
    ("verify/replicated_in_order", "ReplicationState::replicated"),
    ("verify/group_ledger_read_in_order", "GroupLedger::read"),
];

pub struct Microbenchmark {
    /// criterion's `group/function`
    pub id: String,
    pub mean_ns: f64,
    pub median_ns: f64,
}

impl Microbenchmark {
    /// One iteration is one record: records per second one core does this at (mean).
    pub fn per_core_per_s(&self) -> f64 {
        1e9 / self.mean_ns
    }
}

pub fn run(target: &Path) -> Result<Vec<Microbenchmark>> {
    let criterion = target.join("criterion");
    // Only this run's estimates are read back.
    for group in GROUPS {
        let _ = std::fs::remove_dir_all(criterion.join(group));
    }
    crate::run(crate::cargo().args(["bench", "-p", "kscen", "--bench", "load_hot_paths"]))?;
    let mut found = Vec::new();
    for group in GROUPS {
        let dir = criterion.join(group);
        let entries = std::fs::read_dir(&dir)
            .with_context(|| format!("criterion wrote nothing under {}", dir.display()))?;
        let mut benches: Vec<PathBuf> = entries.flatten().map(|e| e.path().join("new")).collect();
        benches.sort();
        for new in benches.into_iter().filter(|p| p.is_dir()) {
            found.push(read(&new)?);
        }
    }
    Ok(found)
}

fn read(new: &Path) -> Result<Microbenchmark> {
    let json = |name: &str| -> Result<Value> {
        let path = new.join(name);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))
    };
    let benchmark = json("benchmark.json")?;
    let estimates = json("estimates.json")?;
    let estimate = |which: &str| {
        estimates[which]["point_estimate"]
            .as_f64()
            .with_context(|| format!("{}: no {which} estimate", new.display()))
    };
    Ok(Microbenchmark {
        id: benchmark["full_id"]
            .as_str()
            .with_context(|| format!("{}: no full_id", new.display()))?
            .to_string(),
        mean_ns: estimate("mean")?,
        median_ns: estimate("median")?,
    })
}
