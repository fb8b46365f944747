//! The bench's own lab: state in `~/.cache/kscen/lab/bench`, ports shifted by 3000, no Prometheus.
//! Only the source broker is measured against, so the rest (Connect workers, whose MirrorMaker 2
//! would mirror the bench traffic, and the target broker) is stopped once the lab is up. The lab
//! is always taken down again, also when a section fails (drop guard).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

/// Shifts every lab port, beside the default lab (0), the test lab (1000) and the secure lab (2000).
const PORT_OFFSET: u16 = 3000;
/// The source broker's direct listener before the offset (lab/README.md; `broker_base_port` in
/// host/src/lab/topology.rs).
const SOURCE_PORT: u16 = 20112;
/// Stopped after `up`: they would add CPU load (and MM2 traffic) that is not the benchmark's.
const NOISE: [&str; 4] = ["worker-1", "worker-2", "worker-3", "target-1"];

pub struct BenchLab {
    kscen: PathBuf,
    state: PathBuf,
}

impl BenchLab {
    /// Brings the lab up from a clean state and stops what would add noise. `largest_run_bytes`
    /// is what the biggest run will write through the broker: the disk must have room for it.
    pub fn up(kscen: &Path, largest_run_bytes: u64) -> Result<BenchLab> {
        let home = std::env::var_os("HOME").context("HOME is not set")?;
        let lab = BenchLab {
            kscen: kscen.to_path_buf(),
            state: PathBuf::from(home).join(".cache/kscen/lab/bench"),
        };
        // A previous bench killed hard may have left processes or data behind.
        lab.down(&["--purge"]);
        lab.ensure_disk_room(largest_run_bytes)?;
        eprintln!("bench: starting the lab in {}", lab.state.display());
        let offset = PORT_OFFSET.to_string();
        lab.kscen_lab(&["up", "--port-offset", &offset, "--no-prometheus"])?;
        for process in NOISE {
            // SIGKILL: a worker's clean shutdown takes many seconds once the target is gone, and
            // nothing of theirs is needed afterwards.
            lab.kscen_lab(&["stop", process, "--kill"])?;
        }
        lab.write_source_profile()?;
        Ok(lab)
    }

    /// A profile naming the source cluster alone, which `up` writes: the lab's own profile names
    /// the target too, and kscen refuses to start a plugin granted a cluster that does not answer
    /// (`steady` asks for the target when there is one), while the bench has killed `target-1`.
    pub fn profile(&self) -> PathBuf {
        self.state.join("bench-profile.toml")
    }

    fn write_source_profile(&self) -> Result<()> {
        let profile = self.profile();
        let text = format!(
            "# written by cargo xtask bench: the lab's source broker only\nname = \"bench\"\n[clusters.source]\nbootstrap_servers = \"{}\"\n",
            self.bootstrap()
        );
        std::fs::write(&profile, text).with_context(|| format!("writing {}", profile.display()))
    }

    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", SOURCE_PORT + PORT_OFFSET)
    }

    /// The source broker's PID, for SIGSTOP / SIGCONT.
    pub fn source_pid(&self) -> Result<u32> {
        let file = self.state.join("source-1").join("pid");
        let text = std::fs::read_to_string(&file)
            .with_context(|| format!("reading {}", file.display()))?;
        text.trim()
            .parse()
            .with_context(|| format!("{} does not hold a PID", file.display()))
    }

    /// A broker whose disk fills shuts down mid-run ("all log dirs have failed") and the run
    /// hangs, so the bench refuses to start without room for three of its largest runs: the
    /// broker keeps a deleted topic's files a second longer, and the lab has data and logs of its
    /// own.
    fn ensure_disk_room(&self, largest_run_bytes: u64) -> Result<()> {
        let folder = self.state.parent().unwrap_or(&self.state);
        std::fs::create_dir_all(folder)
            .with_context(|| format!("creating {}", folder.display()))?;
        let output = Command::new("df")
            .args(["--output=avail", "-B1"])
            .arg(folder)
            .output()
            .with_context(|| format!("cannot run df on {}", folder.display()))?;
        let text = String::from_utf8_lossy(&output.stdout);
        let free: u64 = text
            .lines()
            .nth(1)
            .and_then(|line| line.trim().parse().ok())
            .with_context(|| format!("df {}: unexpected output {text:?}", folder.display()))?;
        let needed = 3 * largest_run_bytes;
        let gb = |bytes: u64| bytes as f64 / 1e9;
        if free < needed {
            bail!(
                "the bench needs {:.1} GB free under {} (three times its largest run, {:.1} GB \
                 through the broker) and only {:.1} GB are: free some (old lab states under that \
                 folder, cargo's target folder); `--quick` needs a tenth",
                gb(needed),
                folder.display(),
                gb(largest_run_bytes),
                gb(free)
            );
        }
        Ok(())
    }

    fn kscen_lab(&self, args: &[&str]) -> Result<()> {
        let mut command = Command::new(&self.kscen);
        command
            .arg("lab")
            .args(args)
            .arg("--state-dir")
            .arg(&self.state);
        let status = command
            .status()
            .with_context(|| format!("cannot run {command:?}"))?;
        if !status.success() {
            bail!(
                "{command:?} failed ({status}); logs under {}",
                self.state.display()
            );
        }
        Ok(())
    }

    fn down(&self, extra: &[&str]) {
        crate::lab::lab_down(&self.kscen, &self.state, extra);
    }
}

impl Drop for BenchLab {
    fn drop(&mut self) {
        // The broker must never stay stopped, whatever happened in the stall section.
        if let Ok(pid) = self.source_pid() {
            let _ = super::signal(pid, "CONT");
        }
        // Not purged, so the broker's log can be read after a failure; the next bench purges.
        self.down(&[]);
    }
}
