//! Runs one tool as a child process, or several at once (the shards of one run), and measures
//! each from the outside, the same way for every tool: CPU time and memory from `/proc/<pid>`,
//! timed actions (the broker stall) at fixed offsets from the launch.
//!
//! CPU is read when the child has exited but is not reaped yet (a zombie): its
//! `/proc/<pid>/stat` then holds the final user + system time of all its threads, plus that of
//! any children it waited for.

use std::iter::Peekable;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// How often the child's state is checked: the resolution of timed actions.
const TICK: Duration = Duration::from_millis(5);
/// No run takes more than a few minutes, even on a slow machine (the longest is the memory
/// section's 100 s). Past this, a tool is stuck, typically retrying against a broker that died,
/// and the bench fails instead of hanging.
const RUN_TIME_LIMIT: Duration = Duration::from_secs(15 * 60);

/// Something to do while the child runs, `at` after its launch.
pub struct TimedAction {
    pub at: Duration,
    pub name: &'static str,
    pub run: Box<dyn FnOnce() -> Result<()>>,
}

/// A child to run: its command, where its output goes, what to do meanwhile.
pub struct Launch {
    pub command: Command,
    /// `<log>.out` and `<log>.err` receive stdout and stderr.
    pub log: PathBuf,
    pub rss_every: Duration,
    pub actions: Vec<TimedAction>,
}

#[derive(Debug, Clone)]
pub struct Measured {
    pub status: ExitStatus,
    pub wall_s: f64,
    /// user + system time of the process and its reaped children
    pub cpu_s: f64,
    /// `VmHWM`: the largest resident set the process had, KiB
    pub peak_rss_kib: u64,
    /// (seconds since launch, `VmRSS` KiB)
    pub rss_kib: Vec<(f64, u64)>,
    /// (action name, seconds since launch when it began, and when it ended)
    pub actions_run: Vec<(&'static str, f64, f64)>,
    pub stdout: String,
    pub stderr_path: PathBuf,
}

impl Measured {
    /// Fails with the tail of stderr unless the child exited with 0.
    pub fn check_success(&self, what: &str) -> Result<()> {
        if self.status.success() {
            return Ok(());
        }
        let stderr = std::fs::read_to_string(&self.stderr_path).unwrap_or_default();
        let tail: Vec<&str> = stderr.lines().rev().take(15).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        bail!(
            "{what} failed ({}); last lines of {}:\n{}",
            self.status,
            self.stderr_path.display(),
            tail.join("\n")
        )
    }
}

pub fn run(launch: Launch) -> Result<Measured> {
    let mut measured = run_together(vec![launch])?;
    Ok(measured.remove(0))
}

/// Launches every child at once (one after the other, without waiting) and measures each as
/// `run` measures one, until all have exited; the figures in launch order. If one cannot be
/// launched or watched, the others are killed.
pub fn run_together(launches: Vec<Launch>) -> Result<Vec<Measured>> {
    let mut children = Vec::new();
    for launch in launches {
        children.push(Watched::launch(launch)?);
    }
    loop {
        let mut running = false;
        for child in &mut children {
            running |= !child.check()?;
        }
        if !running {
            break;
        }
        thread::sleep(TICK);
    }
    children.iter_mut().map(Watched::finish).collect()
}

/// A launched child, sampled until it exits. Dropped while it still runs (the bench failed), it
/// is killed.
struct Watched {
    command: String,
    child: Child,
    pid: u32,
    launched: Instant,
    rss_every: Duration,
    next_sample: Duration,
    rss_kib: Vec<(f64, u64)>,
    peak_rss_kib: u64,
    actions: Peekable<std::vec::IntoIter<TimedAction>>,
    actions_run: Vec<(&'static str, f64, f64)>,
    stdout_path: PathBuf,
    stderr_path: PathBuf,
    exited: Option<Exited>,
}

/// Read when the child is seen to have exited.
#[derive(Clone, Copy)]
struct Exited {
    cpu_s: f64,
    wall_s: f64,
}

impl Watched {
    fn launch(launch: Launch) -> Result<Watched> {
        let Launch {
            mut command,
            log,
            rss_every,
            mut actions,
        } = launch;
        let stdout_path = PathBuf::from(format!("{}.out", log.display()));
        let stderr_path = PathBuf::from(format!("{}.err", log.display()));
        command
            .stdin(Stdio::null())
            .stdout(create(&stdout_path)?)
            .stderr(create(&stderr_path)?);
        actions.sort_by_key(|a| a.at);
        let launched = Instant::now();
        let child = command
            .spawn()
            .with_context(|| format!("cannot start {command:?}"))?;
        Ok(Watched {
            command: format!("{command:?}"),
            pid: child.id(),
            child,
            launched,
            rss_every,
            next_sample: Duration::ZERO,
            rss_kib: Vec::new(),
            peak_rss_kib: 0,
            actions: actions.into_iter().peekable(),
            actions_run: Vec::new(),
            stdout_path,
            stderr_path,
            exited: None,
        })
    }

    /// One look at the child: its CPU once it has exited, else a memory sample when one is due
    /// and the actions whose time has come. Whether it has exited.
    fn check(&mut self) -> Result<bool> {
        if self.exited.is_some() {
            return Ok(true);
        }
        let (pid, command) = (self.pid, &self.command);
        let now = self.launched.elapsed();
        match read_stat(pid) {
            Some(stat) if stat.state == 'Z' => {
                self.exited = Some(Exited {
                    cpu_s: stat.cpu_s,
                    wall_s: now.as_secs_f64(),
                });
                return Ok(true);
            }
            Some(_) => {}
            // Gone without being a zombie first: only if something else reaped it.
            None => bail!("lost track of {command} (pid {pid})"),
        }
        if now >= self.next_sample {
            if let Some(memory) = read_memory(pid) {
                self.rss_kib.push((now.as_secs_f64(), memory.rss_kib));
                self.peak_rss_kib = self.peak_rss_kib.max(memory.hwm_kib);
            }
            self.next_sample = now + self.rss_every;
        }
        if now >= RUN_TIME_LIMIT {
            bail!(
                "{command} still ran after {} s and was killed: is the lab's source broker \
                 alive (its broker.log under ~/.cache/kscen/lab/bench/source-1)? The run's stderr \
                 is {}",
                RUN_TIME_LIMIT.as_secs(),
                self.stderr_path.display()
            );
        }
        while self.actions.peek().is_some_and(|a| a.at <= now) {
            let action = self.actions.next().expect("peeked");
            let began = self.launched.elapsed().as_secs_f64();
            (action.run)().with_context(|| format!("{} during {command}", action.name))?;
            self.actions_run
                .push((action.name, began, self.launched.elapsed().as_secs_f64()));
        }
        Ok(false)
    }

    /// Reaps the exited child and hands over what was measured.
    fn finish(&mut self) -> Result<Measured> {
        let Exited { cpu_s, wall_s } = self.exited.context("finish before the child exited")?;
        let status = self.child.wait()?;
        Ok(Measured {
            status,
            wall_s,
            cpu_s,
            peak_rss_kib: self.peak_rss_kib,
            rss_kib: std::mem::take(&mut self.rss_kib),
            actions_run: std::mem::take(&mut self.actions_run),
            stdout: std::fs::read_to_string(&self.stdout_path).unwrap_or_default(),
            stderr_path: self.stderr_path.clone(),
        })
    }
}

impl Drop for Watched {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn create(path: &Path) -> Result<std::fs::File> {
    std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))
}

struct Stat {
    state: char,
    cpu_s: f64,
}

/// `/proc/<pid>/stat`: state (field 3) and utime, stime, cutime, cstime (fields 14–17), in clock
/// ticks. The command name (field 2) may hold spaces, so fields are counted after its `)`.
fn read_stat(pid: u32) -> Option<Stat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let state = fields.first()?.chars().next()?;
    let ticks: u64 = fields
        .get(11..15)?
        .iter()
        .map(|f| f.parse::<u64>().ok())
        .sum::<Option<u64>>()?;
    Some(Stat {
        state,
        cpu_s: ticks as f64 / clock_ticks_per_second(),
    })
}

struct Memory {
    rss_kib: u64,
    hwm_kib: u64,
}

fn read_memory(pid: u32) -> Option<Memory> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| -> Option<u64> {
        let line = text.lines().find(|l| l.starts_with(name))?;
        line[name.len()..].split_whitespace().next()?.parse().ok()
    };
    Some(Memory {
        rss_kib: field("VmRSS:")?,
        hwm_kib: field("VmHWM:")?,
    })
}

/// `getconf CLK_TCK` (100 on Linux unless the kernel says otherwise).
fn clock_ticks_per_second() -> f64 {
    static TICKS: OnceLock<f64> = OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|out| String::from_utf8_lossy(&out.stdout).trim().parse().ok())
            .unwrap_or(100.0)
    })
}
