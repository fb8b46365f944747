//! Test fixture: a plugin that misbehaves on purpose while a load job runs, so the host's guard
//! rails (CPU budget, memory cap, trap handling) can be tested. Not a scenario to ship.

use kscen_sdk::kafka;
use kscen_sdk::prelude::*;

struct Misbehave;

impl Scenario for Misbehave {
    fn describe() -> ScenarioInfo {
        Describe::new(
            "misbehave",
            "Test fixture: spins, hoards memory or panics under load",
        )
        .param(spec::text(
            "mode",
            "spin",
            "spin | hoard | panic | fail | escape | consumers",
        ))
        .param(spec::duration(
            "after",
            "500ms",
            "how long the load runs before misbehaving",
        ))
        .param(spec::int(
            "port",
            0,
            "escape: a loopback port the host listens on",
        ))
        .cluster("source")
        .build()
    }

    fn run() -> Result<(), ScenarioError> {
        let mode = param::text("mode")?;
        create_topic("source", "misbehave", 1)?;
        phase("before");
        let _load = Load::to("source", "misbehave")
            .rate(1000.0)
            .record_size(100)
            .start()?;
        sleep(param::duration("after")?);
        match mode.as_str() {
            "spin" => spin(),
            "hoard" => hoard(),
            "panic" => panic!("misbehave fixture panicked on purpose"),
            "fail" => Err("misbehave fixture failed on purpose".into()),
            "escape" => escape(),
            "consumers" => hold_consumers(),
            other => Err(format!("unknown mode {other:?}").into()),
        }
    }
}

fn spin() -> Result<(), ScenarioError> {
    let mut counter: u64 = 0;
    loop {
        counter = std::hint::black_box(counter.wrapping_add(1));
    }
}

/// Tries to reach outside the sandbox; the run fails if anything gets through.
fn escape() -> Result<(), ScenarioError> {
    let mut escaped = Vec::new();
    if std::env::vars().next().is_some() {
        escaped.push("read the environment");
    }
    if std::fs::read_dir("/").is_ok() || std::fs::read("/etc/hostname").is_ok() {
        escaped.push("read the file system");
    }
    let port = param::int("port")?;
    if std::net::TcpStream::connect(("127.0.0.1", port as u16)).is_ok() {
        escaped.push("opened a socket");
    }
    if escaped.is_empty() {
        event("sandbox", "no environment, no files, no sockets");
        Ok(())
    } else {
        Err(format!("the plugin {}", escaped.join(", ")).into())
    }
}

/// Opens consumers without dropping any, until the host refuses one.
fn hold_consumers() -> Result<(), ScenarioError> {
    let mut held = Vec::new();
    loop {
        match kafka::subscribe("source", "misbehave", kafka::StartFrom::Earliest) {
            Ok(consumer) => held.push(consumer),
            Err(error) => {
                return Err(format!(
                    "after {} consumers: {}",
                    held.len(),
                    ScenarioError::from(error)
                )
                .into())
            }
        }
    }
}

fn hoard() -> Result<(), ScenarioError> {
    let mut hoard: Vec<Vec<u8>> = Vec::new();
    loop {
        hoard.push(vec![1u8; 1024 * 1024]);
        std::hint::black_box(&hoard);
    }
}

kscen_sdk::export_scenario!(Misbehave);
