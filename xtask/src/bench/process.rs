//! Runs one tool as a child process and measures it from the outside, the same way for every
//! tool: CPU time and memory from `/proc/<pid>`, timed actions (the broker stall) at fixed offsets
//! from the launch.
//!
//! CPU is read when the child has exited but is not reaped yet (a zombie): its
//! `/proc/<pid>/stat` then holds the final user + system time of all its threads, plus that of
//! any children it waited for.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
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
    let mut actions = actions.into_iter().peekable();
    let launched = Instant::now();
    let mut child = command
        .spawn()
        .with_context(|| format!("cannot start {command:?}"))?;
    let pid = child.id();
    let mut rss_kib = Vec::new();
    let mut peak_rss_kib = 0;
    let mut actions_run = Vec::new();
    let mut next_sample = Duration::ZERO;
    let cpu_s = loop {
        let now = launched.elapsed();
        match read_stat(pid) {
            Some(stat) if stat.state == 'Z' => break stat.cpu_s,
            Some(_) => {}
            // Gone without being a zombie first: only if something else reaped it.
            None => bail!("lost track of {command:?} (pid {pid})"),
        }
        if now >= next_sample {
            if let Some(memory) = read_memory(pid) {
                rss_kib.push((now.as_secs_f64(), memory.rss_kib));
                peak_rss_kib = peak_rss_kib.max(memory.hwm_kib);
            }
            next_sample = now + rss_every;
        }
        if now >= RUN_TIME_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            bail!(
                "{command:?} still ran after {} s and was killed: is the lab's source broker \
                 alive (its broker.log under ~/.cache/kscen/lab/bench/source-1)? The run's stderr \
                 is {}",
                RUN_TIME_LIMIT.as_secs(),
                stderr_path.display()
            );
        }
        while actions.peek().is_some_and(|a| a.at <= now) {
            let action = actions.next().expect("peeked");
            let began = launched.elapsed().as_secs_f64();
            (action.run)().with_context(|| format!("{} during {command:?}", action.name))?;
            actions_run.push((action.name, began, launched.elapsed().as_secs_f64()));
        }
        thread::sleep(TICK);
    };
    let status = child.wait()?;
    let wall_s = launched.elapsed().as_secs_f64();
    Ok(Measured {
        status,
        wall_s,
        cpu_s,
        peak_rss_kib,
        rss_kib,
        actions_run,
        stdout: std::fs::read_to_string(&stdout_path).unwrap_or_default(),
        stderr_path,
    })
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
