//! Lab processes at the OS level: launch through start.sh, PID files, liveness, signals, the
//! stray sweep of `down`, and who holds a port.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use super::topology::Process;
use crate::faults::procfs;

/// Runs the process's start.sh (which detaches the JVM and returns) and returns the JVM's PID.
pub async fn launch(p: &Process) -> Result<u32> {
    let script = p.start_script();
    if !script.is_file() {
        bail!(
            "{} has no launch script {}; run `kscen lab up` to generate it",
            p.name,
            script.display()
        );
    }
    let mut command = tokio::process::Command::new("/bin/sh");
    procfs::no_inherited_fds(&mut command);
    let out = command
        .arg(&script)
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .with_context(|| format!("running {}", script.display()))?;
    if !out.status.success() {
        bail!(
            "launching {} with {} failed: {}{}",
            p.name,
            script.display(),
            String::from_utf8_lossy(&out.stderr).trim(),
            String::from_utf8_lossy(&out.stdout).trim()
        );
    }
    procfs::read_pid(&p.pid_file()).with_context(|| format!("{} wrote no PID file", p.name))
}

/// The PID of the process if it is alive and is still ours (not a recycled PID).
pub fn running_pid(p: &Process) -> Option<u32> {
    let pid = procfs::read_pid(&p.pid_file())?;
    let cmdline = cmdline(pid)?;
    let ours = cmdline.split(' ').any(|word| word == p.marker())
        && cmdline.contains(&p.dir.display().to_string());
    (ours && is_alive(pid)).then_some(pid)
}

/// Alive and not a zombie (an unreaped zombie still answers `kill(pid, 0)`).
pub fn is_alive(pid: u32) -> bool {
    procfs::is_alive(pid)
}

fn cmdline(pid: u32) -> Option<String> {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    Some(String::from_utf8_lossy(&raw).replace('\0', " "))
}

pub fn signal(pid: u32, sig: libc::c_int) -> Result<()> {
    // A PID we verified belongs to the lab.
    procfs::send_signal(pid, sig)
        .with_context(|| format!("sending {} to pid {pid}", signal_name(sig)))
}

pub fn signal_name(sig: libc::c_int) -> &'static str {
    match sig {
        libc::SIGTERM => "SIGTERM",
        libc::SIGKILL => "SIGKILL",
        libc::SIGSTOP => "SIGSTOP",
        libc::SIGCONT => "SIGCONT",
        libc::SIGUSR1 => "SIGUSR1",
        libc::SIGUSR2 => "SIGUSR2",
        libc::SIGHUP => "SIGHUP",
        _ => "signal",
    }
}

/// SIGTERM to every running process of `procs`, wait up to `grace`, then SIGKILL the rest.
/// Returns how many were running.
pub async fn stop_all(procs: &[&Process], grace: Duration) -> Result<usize> {
    let mut pids = Vec::new();
    for p in procs {
        if let Some(pid) = running_pid(p) {
            // A paused (SIGSTOP) JVM cannot act on SIGTERM until continued.
            let _ = signal(pid, libc::SIGCONT);
            signal(pid, libc::SIGTERM)
                .with_context(|| format!("stopping {} (pid {pid})", p.name))?;
            println!("{:<17} SIGTERM (pid {pid})", p.name);
            pids.push((p.name.clone(), pid));
        }
    }
    terminate(&pids, grace).await;
    for p in procs {
        let _ = std::fs::remove_file(p.pid_file());
    }
    Ok(pids.len())
}

/// Waits for `pids` to exit, SIGKILLs those still alive after `grace`, and waits for them to go.
async fn terminate(pids: &[(String, u32)], grace: Duration) {
    let deadline = Instant::now() + grace;
    while pids.iter().any(|(_, pid)| is_alive(*pid)) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for (name, pid) in pids {
        if is_alive(*pid) {
            println!("{name:<9} still alive after {grace:?}: SIGKILL (pid {pid})");
            let _ = signal(*pid, libc::SIGKILL);
        }
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while pids.iter().any(|(_, pid)| is_alive(*pid)) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// PIDs of lab processes (JVMs, link proxies, Prometheus) whose command line names the state folder.
pub fn lab_pids(state: &Path) -> Vec<u32> {
    // The trailing slash keeps `/x/state` from matching `/x/state2`.
    let needle = format!("{}/", state.display());
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let me = std::process::id();
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| pid != me && is_alive(pid))
        .filter(|&pid| {
            cmdline(pid).is_some_and(|c| {
                let words: Vec<&str> = c.split(' ').collect();
                let exe = words.first().copied().unwrap_or_default();
                let java = exe.ends_with("java");
                let prometheus = exe.ends_with("prometheus");
                let proxy = words.get(1..3) == Some(&["lab", "proxy"][..]);
                (java || prometheus || proxy) && c.contains(&needle)
            })
        })
        .collect()
}

/// Stops lab processes that no PID file knows about.
pub async fn sweep(state: &Path, grace: Duration) -> Result<usize> {
    let strays: Vec<(String, u32)> = lab_pids(state)
        .into_iter()
        .map(|pid| (format!("pid {pid}"), pid))
        .collect();
    for (_, pid) in &strays {
        println!("stray lab process {pid}: SIGTERM");
        let _ = signal(*pid, libc::SIGCONT);
        let _ = signal(*pid, libc::SIGTERM);
    }
    terminate(&strays, grace).await;
    Ok(strays.len())
}

/// Fails with the port, its use and its holder when one of the process's ports is taken.
pub fn check_ports_free(p: &Process) -> Result<()> {
    for (port, what) in p.ports() {
        if let Err(e) = std::net::TcpListener::bind(("127.0.0.1", port)) {
            let holder = port_holder(port)
                .map(|h| format!(", held by {h}"))
                .unwrap_or_default();
            bail!(
                "port {port} ({what} of {}) is already taken on 127.0.0.1{holder}: {e}. \
                 Stop what holds it, or `kscen lab down` if it is an earlier lab \
                 (perhaps with another --state-dir)",
                p.name
            );
        }
    }
    Ok(())
}

/// Linux's range for outgoing connections' local ports (`net.ipv4.ip_local_port_range`).
pub fn ephemeral_port_range() -> Result<(u16, u16)> {
    let file = "/proc/sys/net/ipv4/ip_local_port_range";
    let text = std::fs::read_to_string(file).with_context(|| format!("reading {file}"))?;
    let mut bounds = text.split_whitespace().map(str::parse::<u16>);
    match (bounds.next(), bounds.next()) {
        (Some(Ok(low)), Some(Ok(high))) => Ok((low, high)),
        _ => bail!("{file} holds {text:?}, not two port numbers"),
    }
}

/// What holds `port` on loopback, from /proc (best effort): `pid N (command line)` listening on
/// it, else the connection that uses it as its local port (`connection 127.0.0.1:P ->
/// 127.0.0.1:Q (ESTABLISHED), pid N (...)`): a client the kernel gave that port to.
fn port_holder(port: u16) -> Option<String> {
    // (state, inode, remote) of every socket bound to `port`, listeners first.
    let mut sockets: Vec<(&'static str, String, String)> = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            // local_address and rem_address are HEXIP:HEXPORT; st is the TCP state; inode field 9
            if f.len() <= 9 || hex_port(f[1]) != Some(port) {
                continue;
            }
            sockets.push((tcp_state(f[3]), f[9].to_string(), hex_address(f[2])));
        }
    }
    sockets.sort_by_key(|(state, ..)| *state != "LISTEN");
    let (state, inode, remote) = sockets.into_iter().next()?;
    let owner = socket_owner(&inode);
    Some(match (state, owner) {
        ("LISTEN", Some(owner)) => owner,
        ("LISTEN", None) => "a listener of another user".to_string(),
        (state, owner) => format!(
            "connection 127.0.0.1:{port} -> {remote} ({state}){}",
            owner.map(|o| format!(", {o}")).unwrap_or_default()
        ),
    })
}

fn hex_port(address: &str) -> Option<u16> {
    u16::from_str_radix(address.rsplit(':').next()?, 16).ok()
}

/// `a.b.c.d:port` of an IPv4 `/proc/net/tcp` address (the kernel prints the address's bytes as
/// one native-endian word); an IPv6 one keeps its hex form.
fn hex_address(address: &str) -> String {
    let port = hex_port(address).unwrap_or_default();
    let ip = address.split_once(':').map_or(address, |(ip, _)| ip);
    match u32::from_str_radix(ip, 16) {
        Ok(word) if ip.len() == 8 => {
            format!("{}:{port}", std::net::Ipv4Addr::from(word.to_ne_bytes()))
        }
        _ => format!("[{ip}]:{port}"),
    }
}

/// The name of a `/proc/net/tcp` state code.
fn tcp_state(code: &str) -> &'static str {
    match code {
        "01" => "ESTABLISHED",
        "02" => "SYN_SENT",
        "03" => "SYN_RECV",
        "04" => "FIN_WAIT1",
        "05" => "FIN_WAIT2",
        "06" => "TIME_WAIT",
        "07" => "CLOSE",
        "08" => "CLOSE_WAIT",
        "09" => "LAST_ACK",
        "0A" => "LISTEN",
        "0B" => "CLOSING",
        _ => "unknown state",
    }
}

/// `pid N (command line)` of the process holding the socket `inode` (a TIME_WAIT socket has
/// inode 0 and no owner).
fn socket_owner(inode: &str) -> Option<String> {
    if inode == "0" {
        return None;
    }
    let needle = format!("socket:[{inode}]");
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            if std::fs::read_link(fd.path()).is_ok_and(|t| t.to_str() == Some(needle.as_str())) {
                let cmd = cmdline(pid).unwrap_or_default();
                let cmd = cmd.split_whitespace().collect::<Vec<_>>().join(" ");
                let cmd: String = cmd.chars().take(160).collect();
                return Some(format!("pid {pid} ({cmd})"));
            }
        }
    }
    None
}

/// The last `n` lines of a file. Reads only the end of it: logs are appended forever.
pub fn tail(path: &Path, n: usize) -> Result<String> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = std::fs::File::open(path).with_context(|| format!("reading {}", path.display()))?;
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    // Generous per-line budget (Connect's lines run long); fall back to the whole file.
    let budget = (n as u64 + 1).saturating_mul(1024).max(64 * 1024);
    let start = len.saturating_sub(budget);
    f.seek(SeekFrom::Start(start))
        .with_context(|| format!("reading {}", path.display()))?;
    let mut bytes = Vec::new();
    f.read_to_end(&mut bytes)
        .with_context(|| format!("reading {}", path.display()))?;
    let text = String::from_utf8_lossy(&bytes);
    let mut lines: Vec<&str> = text.lines().collect();
    if start > 0 && !lines.is_empty() {
        lines.remove(0); // probably a partial line
    }
    let first = lines.len().saturating_sub(n);
    let mut out = lines[first..].join("\n");
    out.push('\n');
    Ok(out)
}

/// Resident set size of a PID in bytes (from /proc/<pid>/status).
pub fn rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The failure the issue saw: a client's connection holds a lab port as its local port.
    #[test]
    fn a_port_held_by_a_connection_is_named_with_the_connection() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let server = listener.local_addr().unwrap();
        let client = std::net::TcpStream::connect(server).unwrap();
        let local = client.local_addr().unwrap().port();
        let holder = port_holder(local).expect("the connection is found");
        assert_eq!(
            holder,
            format!(
                "connection 127.0.0.1:{local} -> {server} (ESTABLISHED), pid {} ({})",
                std::process::id(),
                cmdline(std::process::id())
                    .unwrap()
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ")
                    .chars()
                    .take(160)
                    .collect::<String>()
            )
        );
        let listening = port_holder(server.port()).unwrap();
        assert!(
            listening.starts_with(&format!("pid {} (", std::process::id())),
            "{listening}"
        );
    }

    #[test]
    fn the_ephemeral_range_is_read() {
        let (low, high) = ephemeral_port_range().unwrap();
        assert!(low < high, "{low}-{high}");
    }
}
