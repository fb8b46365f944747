//! Snapshots of a run's result while it goes on, so a kscen killed outright (SIGKILL, its machine
//! lost) leaves everything up to its last seconds on disk, marked `incomplete`. Each snapshot is
//! built and written on a blocking thread, never on the load's, and replaces the last one
//! atomically; the final result replaces the last snapshot.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use super::collect::{result_of, RunSetup, Stage};
use crate::caps::RunContext;
use crate::deployment::mirrors::Mirror;
use crate::result::write_json;

/// How often a snapshot is written, at most.
const SNAPSHOT_EVERY: Duration = Duration::from_secs(2);

/// A long run's snapshot costs more to build and write: the pause after one is at least this many
/// times what it took, so snapshots keep to about a tenth of the run's time.
const PAUSE_PER_WRITE_TIME: u32 = 10;

/// The task writing snapshots; stopped before the final result is written.
pub struct Snapshots {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl Snapshots {
    pub fn start(setup: Arc<RunSetup>, run: Arc<RunContext>, path: PathBuf) -> Snapshots {
        let (stop, mut stopped) = tokio::sync::oneshot::channel();
        let task = tokio::spawn(async move {
            let mut pause = SNAPSHOT_EVERY;
            let mut warned = false;
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(pause) => {}
                    _ = &mut stopped => return,
                }
                let started = Instant::now();
                let written = write_snapshot(setup.clone(), run.clone(), path.clone()).await;
                let took = started.elapsed();
                pause = SNAPSHOT_EVERY.max(took * PAUSE_PER_WRITE_TIME);
                match written {
                    Ok(()) => tracing::debug!(?took, path = %path.display(), "snapshot written"),
                    // Once: a full disk would otherwise repeat it every few seconds.
                    Err(error) if !std::mem::replace(&mut warned, true) => {
                        eprintln!("warning: {error:#}")
                    }
                    Err(_) => {}
                }
            }
        });
        Snapshots { stop, task }
    }

    /// Stops the snapshots, waiting for one being written: none may land after the final result.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

async fn write_snapshot(setup: Arc<RunSetup>, run: Arc<RunContext>, path: PathBuf) -> Result<()> {
    tokio::task::spawn_blocking(move || {
        let mirror = run.mirror.used().map(Mirror::summary);
        let mut snapshot = result_of(&setup, &run.metrics, mirror, Stage::Snapshot);
        crate::thresholds::judge_run(&mut snapshot, &setup.thresholds);
        write_json(&path, &snapshot).context("cannot write the run's snapshot")
    })
    .await
    .context("the snapshot writer stopped")?
}
