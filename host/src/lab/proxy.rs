//! `kscen lab proxy`: the link between the Connect workers and one cluster, a TCP forwarder that
//! can be cut, with one route (a port of its own) per broker of the cluster. SIGUSR1 cuts every
//! route at once, SIGUSR2 restores them, SIGTERM/SIGINT exit.
//!
//! A cut is a blackhole, as `iptables -j DROP` on the workers' hosts (the seeds' tests 5.5/5.6):
//! no byte is forwarded in either direction and no new connection is accepted, but nothing is
//! closed — clients see no error, only silence, until their own timeouts fire. Connections held
//! during the cut carry on when the link is restored, with the bytes read before the cut delivered
//! first (as TCP retransmission delivers them once a DROP rule is removed); connections whose
//! client gave up meanwhile are closed when the proxy reads their end. Connections queued in the
//! listen backlog during the cut are accepted on restore.
//!
//! The proxy runs on a single-threaded runtime: when the signal task has flipped the gate, no
//! connection task is half-way through a write, so once the state file says `cut`, no further
//! byte leaves the proxy. `inject` waits on that state file (`faults::link_state`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use anyhow::{Context, Result};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::watch;

use crate::faults::link_state::{self, LinkState};

#[derive(clap::Args, Debug)]
pub struct ProxyArgs {
    /// The link's name (in logs; it also marks the process for `kscen lab down`).
    #[arg(long)]
    pub link: String,
    /// `LISTEN=UPSTREAM`, once per broker: the address the workers connect to, and the broker
    /// listener it forwards to.
    #[arg(long = "route", value_parser = parse_route, required = true)]
    pub routes: Vec<(SocketAddr, SocketAddr)>,
    /// Where to report `open`/`cut` after applying a signal.
    #[arg(long)]
    pub state_file: PathBuf,
}

fn parse_route(text: &str) -> Result<(SocketAddr, SocketAddr), String> {
    let (listen, upstream) = text
        .split_once('=')
        .ok_or_else(|| format!("{text:?} is not LISTEN=UPSTREAM"))?;
    let address = |a: &str| {
        a.parse::<SocketAddr>()
            .map_err(|e| format!("{a:?} in {text:?}: {e}"))
    };
    Ok((address(listen)?, address(upstream)?))
}

/// Runs the proxy until SIGTERM/SIGINT, on its own single-threaded runtime (see the module doc).
pub async fn run(args: ProxyArgs) -> Result<()> {
    tokio::task::spawn_blocking(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("starting the proxy's runtime")?
            .block_on(serve(args))
    })
    .await
    .context("the proxy thread panicked")?
}

/// `true` while the link is cut. Every forwarding step checks it.
type Gate = watch::Receiver<bool>;

#[derive(Default)]
struct Counters {
    open: AtomicU64,
    total: AtomicU64,
}

async fn serve(args: ProxyArgs) -> Result<()> {
    // Handlers first: SIGUSR1's default action would kill the proxy. The state file is written
    // after, and `inject` refuses to signal a proxy that has not written it.
    let mut cut = signal(SignalKind::user_defined1()).context("installing the SIGUSR1 handler")?;
    let mut restore =
        signal(SignalKind::user_defined2()).context("installing the SIGUSR2 handler")?;
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut interrupt = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    let (gate_tx, gate) = watch::channel(false);
    let counters = Arc::new(Counters::default());
    let mut routes = tokio::task::JoinSet::new();
    for &(listen, upstream) in &args.routes {
        let listener = TcpListener::bind(listen)
            .await
            .with_context(|| format!("link {}: listening on {listen}", args.link))?;
        routes.spawn(route(listener, upstream, gate.clone(), counters.clone()));
    }
    let pid = std::process::id();
    report(&args, pid, LinkState::Open)?;
    let described: Vec<String> = args
        .routes
        .iter()
        .map(|(listen, upstream)| format!("{listen} -> {upstream}"))
        .collect();
    log(&format!(
        "link {} up: {}; SIGUSR1 cuts, SIGUSR2 restores",
        args.link,
        described.join(", ")
    ));
    loop {
        tokio::select! {
            biased;
            _ = cut.recv() => {
                gate_tx.send_replace(true);
                report(&args, pid, LinkState::Cut)?;
                log(&format!(
                    "CUT: forwarding nothing, accepting nothing; {} connection(s) held open",
                    counters.open.load(Ordering::Relaxed)
                ));
            }
            _ = restore.recv() => {
                gate_tx.send_replace(false);
                report(&args, pid, LinkState::Open)?;
                log(&format!(
                    "RESTORED: forwarding again; {} held connection(s) resume",
                    counters.open.load(Ordering::Relaxed)
                ));
            }
            _ = term.recv() => break,
            _ = interrupt.recv() => break,
        }
    }
    routes.abort_all();
    let _ = std::fs::remove_file(&args.state_file);
    log(&format!("link {} stopping", args.link));
    Ok(())
}

fn report(args: &ProxyArgs, pid: u32, state: LinkState) -> Result<()> {
    link_state::write(&args.state_file, pid, state).with_context(|| {
        format!(
            "link {}: writing its state to {}",
            args.link,
            args.state_file.display()
        )
    })
}

fn log(line: &str) {
    eprintln!(
        "{} {line}",
        chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ")
    );
}

/// Accepts the workers' connections on one route's port and forwards each to `upstream`.
async fn route(listener: TcpListener, upstream: SocketAddr, gate: Gate, counters: Arc<Counters>) {
    loop {
        match accept_when_open(&listener, gate.clone()).await {
            Ok((client, from)) => {
                let number = counters.total.fetch_add(1, Ordering::Relaxed) + 1;
                counters.open.fetch_add(1, Ordering::Relaxed);
                tokio::spawn(connection(
                    client,
                    from,
                    number,
                    upstream,
                    gate.clone(),
                    counters.clone(),
                ));
            }
            Err(e) => log(&format!("accept on {upstream}'s route failed: {e}")),
        }
    }
}

/// Accepts only while the link is open: during a cut, new connections wait in the backlog.
async fn accept_when_open(
    listener: &TcpListener,
    mut gate: Gate,
) -> std::io::Result<(TcpStream, SocketAddr)> {
    loop {
        open(&mut gate).await;
        tokio::select! {
            biased;
            _ = closed(&mut gate) => continue,
            accepted = listener.accept() => return accepted,
        }
    }
}

/// Returns once the link is open (at once if it is).
async fn open(gate: &mut Gate) {
    // The sender lives as long as `serve`; if it is gone the runtime is shutting down.
    if gate.wait_for(|cut| !*cut).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// Returns once the link is cut.
async fn closed(gate: &mut Gate) {
    if gate.wait_for(|cut| *cut).await.is_err() {
        std::future::pending::<()>().await;
    }
}

async fn connection(
    client: TcpStream,
    from: SocketAddr,
    number: u64,
    upstream: SocketAddr,
    mut gate: Gate,
    counters: Arc<Counters>,
) {
    open(&mut gate).await;
    let result = async {
        let server = TcpStream::connect(upstream).await?;
        let _ = client.set_nodelay(true);
        let _ = server.set_nodelay(true);
        let (client_read, client_write) = client.into_split();
        let (server_read, server_write) = server.into_split();
        // Both directions until both ended; an error in one ends the other (both sockets drop).
        tokio::try_join!(
            pump(client_read, server_write, gate.clone()),
            pump(server_read, client_write, gate.clone())
        )
    }
    .await;
    counters.open.fetch_sub(1, Ordering::Relaxed);
    match result {
        Ok((up, down)) => log(&format!(
            "connection #{number} from {from} to {upstream} closed ({up} bytes up, {down} bytes down)"
        )),
        Err(e) => log(&format!(
            "connection #{number} from {from} to {upstream} ended: {e}"
        )),
    }
}

/// Copies `from` to `to` while the link is open; returns the byte count at end of stream (after
/// passing the half-close on). Never reads or writes while cut: a pending read or write is
/// dropped the moment the gate closes (both are cancel-safe: nothing is lost).
async fn pump(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    mut gate: Gate,
) -> std::io::Result<u64> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    loop {
        let n = loop {
            open(&mut gate).await;
            tokio::select! {
                biased;
                _ = closed(&mut gate) => continue,
                read = from.read(&mut buf) => break read?,
            }
        };
        if n == 0 {
            to.shutdown().await?;
            return Ok(total);
        }
        let mut written = 0;
        while written < n {
            open(&mut gate).await;
            tokio::select! {
                biased;
                _ = closed(&mut gate) => {}
                wrote = to.write(&buf[written..n]) => match wrote? {
                    0 => return Err(std::io::ErrorKind::WriteZero.into()),
                    k => written += k,
                },
            }
        }
        total += n as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::parse_route;

    #[test]
    fn routes_are_listen_equals_upstream() {
        let (listen, upstream) = parse_route("127.0.0.1:20115=127.0.0.1:20114").unwrap();
        assert_eq!((listen.port(), upstream.port()), (20115, 20114));
        let error = parse_route("127.0.0.1:20115").unwrap_err();
        assert!(error.contains("LISTEN=UPSTREAM"), "{error}");
        let error = parse_route("127.0.0.1:20115=broker:1").unwrap_err();
        assert!(error.contains("\"broker:1\""), "{error}");
    }
}
