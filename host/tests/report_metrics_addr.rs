//! `kscen run --metrics-addr`: a Prometheus scrape during a real (short) run shows the live
//! counters, rates, the current phase and the backlog.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn scrape(addr: &str) -> String {
    let mut stream = TcpStream::connect(addr).expect("the metrics endpoint accepts connections");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    write!(
        stream,
        "GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    response
}

/// The value of a sample `name{…} value` in a Prometheus text exposition.
fn sample(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(&format!("{name}{{")))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[test]
fn a_scrape_during_the_run_shows_live_metrics() {
    let dist = workspace_root().join("plugins/dist");
    assert!(
        dist.join("burst.wasm").is_file(),
        "plugins are not built: run `cargo xtask build-plugins` first"
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_kscen"))
        .args([
            "run",
            "scenarios/perf-03-burst.toml",
            "--set",
            "time_scale=0.01",
            "--metrics-addr",
            "127.0.0.1:0",
        ])
        .current_dir(workspace_root())
        .env("KSCEN_PLUGIN_PATH", &dist)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kscen starts");
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut addr = None;
    let mut seen = String::new();
    let mut line = String::new();
    while addr.is_none() && stderr.read_line(&mut line).unwrap() > 0 {
        if let Some(url) = line.trim().strip_prefix("Live metrics: http://") {
            addr = url.strip_suffix("/metrics").map(str::to_string);
        }
        seen.push_str(&line);
        line.clear();
    }
    let addr = addr.unwrap_or_else(|| panic!("no metrics address announced:\n{seen}"));
    // Drain stderr so the run never blocks on a full pipe.
    std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));

    let deadline = Instant::now() + Duration::from_secs(30);
    let text = loop {
        let text = scrape(&addr);
        let acked = sample(&text, "kscen_records_acked_total").unwrap_or(0.0);
        if acked > 0.0 && sample(&text, "kscen_acked_per_second").is_some() {
            break text;
        }
        assert!(
            Instant::now() < deadline,
            "no acknowledged record reported:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(300));
    };
    for name in [
        "kscen_records_sent_total",
        "kscen_records_failed_total",
        "kscen_backlog_records",
        "kscen_mb_per_second",
        "kscen_corrected_latency_p99_ms",
    ] {
        assert!(sample(&text, name).is_some(), "no {name} in\n{text}");
    }
    assert!(text.contains("# TYPE kscen_records_acked_total counter"));
    assert!(
        text.contains("kscen_phase_info{scenario=\"perf-03-burst\",phase=\""),
        "the current phase is shown:\n{text}"
    );
    assert!(
        sample(&text, "kscen_records_sent_total").unwrap()
            >= sample(&text, "kscen_records_acked_total").unwrap()
    );
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    assert!(
        TcpStream::connect(&addr).is_err(),
        "the endpoint closes with the run"
    );
}
