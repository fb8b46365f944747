//! `kscen report` on the results of real ramp-up and burst runs (embedded mock cluster): the
//! Markdown report with Mermaid diagrams a real renderer accepts and that draw only what the runs
//! used, the HTML page with every section of the Markdown, the same diagrams as inline SVG, and
//! visible charts and diagrams in headless Chromium, the CSV files in the seeds' layouts, and a
//! campaign's outcome in the summary.
//!
//! The renderer (mermaid-cli) and Chromium are external: without them these checks are skipped
//! with a message, except under `CI=true`, where a missing tool fails the test.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// A missing external tool: fatal under CI, a skip otherwise.
fn tool_missing(what: &str) {
    if in_ci() {
        panic!("CI=true and {what}");
    }
    eprintln!("SKIPPED (set CI=true to make this fatal): {what}");
}

/// The two runs and their report, made once for every test in this file.
struct Reported {
    _dir: tempfile::TempDir,
    markdown: PathBuf,
    html: PathBuf,
    csv: PathBuf,
}

fn kscen(args: &[&str]) -> std::process::Output {
    let dist = workspace_root().join("plugins/dist");
    assert!(
        dist.join("ramp-up.wasm").is_file(),
        "plugins are not built: run `cargo xtask build-plugins` first"
    );
    Command::new(env!("CARGO_BIN_EXE_kscen"))
        .args(args)
        .current_dir(workspace_root())
        .env("KSCEN_PLUGIN_PATH", dist)
        .output()
        .expect("kscen runs")
}

fn run_scenario(file: &str, json: &Path) {
    let output = kscen(&[
        "run",
        file,
        "--set",
        "time_scale=0.005",
        "--json",
        json.to_str().unwrap(),
    ]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "kscen run {file}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn reported() -> &'static Reported {
    static REPORTED: OnceLock<Reported> = OnceLock::new();
    REPORTED.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let ramp = dir.path().join("ramp.json");
        let burst = dir.path().join("burst.json");
        run_scenario("scenarios/perf-02-ramp-up.toml", &ramp);
        run_scenario("scenarios/perf-03-burst.toml", &burst);
        let out = dir.path().join("report");
        let output = kscen(&[
            "report",
            ramp.to_str().unwrap(),
            burst.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(
            output.status.success(),
            "kscen report: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        Reported {
            markdown: out.join("ramp-report.md"),
            html: out.join("ramp-report.html"),
            csv: out.join("ramp-csv"),
            _dir: dir,
        }
    })
}

fn mermaid_blocks(markdown: &str) -> Vec<String> {
    markdown
        .split("```mermaid\n")
        .skip(1)
        .map(|rest| rest.split("```").next().unwrap().to_string())
        .collect()
}

#[test]
fn markdown_report_has_the_seed_structure_and_both_runs() {
    let text = std::fs::read_to_string(&reported().markdown).unwrap();
    for heading in [
        "## 1. Executive summary",
        "## 2. Run: perf-02-ramp-up",
        "## 3. Run: perf-03-burst",
        "### 2.1 Run and exact parameters",
        "### 2.3 Test plan: steps as run",
        "### 2.4 Results",
        "### 2.5 Thresholds",
        "### 2.7 Observed",
        "### 2.8 Not measured",
        "### 3.9 Risks and issues",
        "## 4. Comparison with the first run",
        "### 4.1 Section 3 (perf-03-burst) against section 2",
        "## 5. Environment and security",
        "## 6. Next steps",
        "## 7. Diagrams",
    ] {
        assert!(text.contains(heading), "missing {heading:?} in\n{text}");
    }
    assert!(text.contains(
        "| phase | command | record size | records | target (msg/s) | obtained (msg/s) | MB/s | latency | avg (ms) | max (ms) | p50 (ms) | p95 (ms) | p99 (ms) | p99.9 (ms) | remarks |"
    ));
    for phase in ["step-1 1x", "step-6 max", "burst-1", "pause-3"] {
        assert!(
            text.contains(&format!("| {phase} | ")),
            "no row for {phase}"
        );
    }
    // No phase of the ramp-up is named as one of the burst's: the comparison says how to pair
    // them.
    assert!(text.contains(
        "- every phase: no baseline phase (step-1 1x, step-2 1.5x, step-3 2x, step-4 2.5x, \
         step-5 3x, step-6 max) has a candidate phase of its name"
    ));
    assert!(text.contains("| step-6 max | same as above | 1024 B |"));
    assert!(text.contains("| unthrottled |"));
    assert!(
        text.contains("PASSED ("),
        "the verdict comes from the thresholds"
    );
    assert!(text.contains("`achieved_rate >= 0.99 * target_rate` | step-1 1x | pass |"));
    // The mock cluster has no mirror: replication is stated as not measured, never as zero.
    assert!(text.contains("*Not measured*: no load in this run tracked its records"));
    let blocks = mermaid_blocks(&text);
    assert_eq!(
        blocks.len(),
        4,
        "a plan per run, the sequence and the architecture"
    );
    assert!(blocks.iter().any(|b| b.starts_with("sequenceDiagram")
        && b.contains("Producer (kscen load jobs)")
        && b.contains("Kafka source (embedded mock cluster)")));
    // The mock cluster is all these runs used: nothing else is drawn.
    for block in &blocks {
        for absent in ["Schema Registry", "MirrorMaker", "Prometheus", "Grafana"] {
            assert!(!block.contains(absent), "{absent} drawn in\n{block}");
        }
    }
}

/// The page's inline SVG diagrams, each from `<svg` to `</svg>`.
fn svg_diagrams(html: &str) -> Vec<&str> {
    html.match_indices("<figure class=\"diagram\"><svg ")
        .map(|(at, figure)| {
            let svg = &html[at + figure.len() - "<svg ".len()..];
            &svg[..svg.find("</svg>").expect("a closed svg") + "</svg>".len()]
        })
        .collect()
}

/// `<h2>2. Run: perf-02-ramp-up</h2>` for `## 2. Run: perf-02-ramp-up`.
fn html_heading(markdown_heading: &str) -> String {
    let level = markdown_heading.chars().take_while(|c| *c == '#').count();
    let text = markdown_heading[level..]
        .trim()
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    format!("<h{level}>{text}</h{level}>")
}

#[test]
fn html_page_has_every_section_of_the_markdown_report() {
    let markdown = std::fs::read_to_string(&reported().markdown).unwrap();
    let html = std::fs::read_to_string(&reported().html).unwrap();
    let headings: Vec<&str> = markdown.lines().filter(|l| l.starts_with('#')).collect();
    assert!(headings.len() >= 20, "{headings:?}");
    for heading in headings {
        let expected = html_heading(heading);
        assert!(html.contains(&expected), "no {expected} in the HTML page");
    }
    let diagrams = svg_diagrams(&html);
    assert_eq!(
        diagrams.len(),
        mermaid_blocks(&markdown).len(),
        "every Mermaid block is drawn in the page as inline SVG"
    );
    assert!(
        !html.contains("<pre class=\"mermaid\">"),
        "none is left as source"
    );
    for (present, drawn) in [
        ("<title>Producer (kscen load jobs)</title>", "the sequence"),
        (
            "<title>kscen host open-loop load jobs</title>",
            "the architecture",
        ),
        (">start: perf-02-ramp-up</text>", "the ramp-up's plan"),
        (">5. step-6 max</text>", "the ramp-up's last step"),
        (">start: perf-03-burst</text>", "the burst's plan"),
        (">end: completed</text>", "each plan's end"),
    ] {
        assert!(
            diagrams.iter().any(|svg| svg.contains(present)),
            "{drawn}: no {present:?} in any diagram"
        );
    }
    let clusters = "<title>Kafka source (embedded mock cluster)</title>";
    assert_eq!(
        diagrams.iter().filter(|svg| svg.contains(clusters)).count(),
        2,
        "the mock cluster in the sequence and the architecture"
    );
    for svg in &diagrams {
        for absent in ["Schema Registry", "MirrorMaker", "Prometheus", "Grafana"] {
            assert!(!svg.contains(absent), "{absent} drawn in\n{svg}");
        }
    }
    for run in 0..2 {
        assert!(html.contains(&format!("<div id=\"charts-{run}\">")));
    }
}

#[test]
fn a_campaign_reports_summary_names_its_matrix_outcome() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("steady.toml"),
        "plugin = \"steady\"\n[params]\nduration = \"1s\"\nrate = 400\n",
    )
    .unwrap();
    let plan = dir.path().join("plan.toml");
    std::fs::write(
        &plan,
        "name = \"matrix\"\nresults = \"results\"\n\n[[step]]\nname = \"linger\"\n\
         scenario = \"steady.toml\"\nrepeat = 2\nmatrix = { \"producer.linger.ms\" = [0, 20] }\n",
    )
    .unwrap();
    let output = kscen(&["campaign", "run", plan.to_str().unwrap()]);
    assert!(
        output.status.success(),
        "kscen campaign run: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let results = dir.path().join("results");
    let (markdown, html) = (dir.path().join("day.md"), dir.path().join("day.html"));
    let output = kscen(&[
        "report",
        results.to_str().unwrap(),
        "--markdown",
        markdown.to_str().unwrap(),
        "--html",
        html.to_str().unwrap(),
    ]);
    assert!(
        output.status.success(),
        "kscen report: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let markdown = std::fs::read_to_string(markdown).unwrap();
    let summary = &markdown[..markdown.find("\n## 2. ").unwrap()];
    assert!(
        summary.contains("- **Campaign matrix** (section 6): 4 step(s) recorded, 4 PASS."),
        "{summary}"
    );
    // Which outcome depends on the machine's noise; that the summary states it is what a reader
    // relies on.
    assert!(
        [
            "  - linger: recommended `producer.linger.ms=20` over `producer.linger.ms=0`",
            "  - linger: keep the baseline `producer.linger.ms=0`: ",
            "  - linger: undecided against `producer.linger.ms=0`: ",
        ]
        .iter()
        .any(|outcome| summary.contains(outcome)),
        "{summary}"
    );
    let html = std::fs::read_to_string(html).unwrap();
    assert!(html.contains("<h2>6. Campaign matrix</h2>"));
    assert!(html.contains("<strong>Campaign matrix</strong> (section 6)"));
}

#[test]
fn csv_files_use_the_seed_layouts() {
    let dir = &reported().csv;
    let ramp = std::fs::read_to_string(dir.join("perf-02-rampup-1-perf-02-ramp-up.csv")).unwrap();
    let lines: Vec<&str> = ramp.lines().collect();
    assert_eq!(
        lines[0],
        "palier,throughput_target,throughput_actual,latency_avg,latency_p99,records_sent"
    );
    assert_eq!(lines.len(), 7, "six steps: {ramp}");
    assert!(lines[1].starts_with("1,1000,"), "{}", lines[1]);
    assert!(
        lines[6].starts_with("6,-1,"),
        "the unthrottled step: {}",
        lines[6]
    );
    let phases = std::fs::read_to_string(dir.join("phases.csv")).unwrap();
    assert_eq!(phases.lines().count(), 1 + 6 + 6, "{phases}");
    assert!(!dir.join("perf-05-sizes-2-perf-03-burst.csv").exists());
}

/// mermaid-cli renders every Mermaid block of the report (it exits non-zero on a syntax error).
#[test]
fn mermaid_blocks_render_with_mermaid_cli() {
    let Some(chromium) = chromium() else {
        return tool_missing("no Chromium (apt-get install -y chromium) for mermaid-cli");
    };
    let Some(mmdc) = mermaid_cli() else {
        return tool_missing("mermaid-cli could not be installed with npm");
    };
    let report = &reported().markdown;
    let blocks = mermaid_blocks(&std::fs::read_to_string(report).unwrap());
    let out = tempfile::tempdir().unwrap();
    let config = out.path().join("puppeteer.json");
    std::fs::write(
        &config,
        serde_json::json!({
            "executablePath": chromium,
            "args": ["--no-sandbox", "--disable-gpu"],
        })
        .to_string(),
    )
    .unwrap();
    let output = Command::new(&mmdc)
        .arg("-i")
        .arg(report)
        .arg("-o")
        .arg(out.path().join("rendered.md"))
        .arg("-p")
        .arg(&config)
        .output()
        .expect("mmdc runs");
    assert!(
        output.status.success(),
        "mermaid-cli rejected the report's diagrams:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let svgs: Vec<_> = std::fs::read_dir(out.path())
        .unwrap()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "svg"))
        .collect();
    assert_eq!(svgs.len(), blocks.len(), "one SVG per Mermaid block");
    for svg in svgs {
        let text = std::fs::read_to_string(svg.path()).unwrap();
        assert!(!text.contains("Syntax error"), "{}", svg.path().display());
    }
}

/// The page opens from disk in headless Chromium, with no network, and draws its charts and the
/// first run's test plan.
#[test]
fn html_page_renders_charts_in_headless_chromium() {
    let html = &reported().html;
    let page = std::fs::read_to_string(html).unwrap();
    assert!(
        !page.contains("src=\"http"),
        "the page must not load anything"
    );
    assert!(page.contains("uPlot"), "uPlot is inlined");
    let Some(chromium) = chromium() else {
        return tool_missing("no Chromium (apt-get install -y chromium)");
    };
    let profile = tempfile::tempdir().unwrap();
    let png = screenshot_path();
    let output = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--virtual-time-budget=5000",
            // Tall enough for the first run's charts, which follow its parameters, plan and
            // results as in the Markdown report.
            "--window-size=1400,9000",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--screenshot={}", png.display()))
        .arg(format!("file://{}", html.display()))
        .output()
        .expect("chromium runs");
    assert!(
        png.is_file(),
        "no screenshot: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stats = colour_stats(&png);
    eprintln!("screenshot {}: {stats:?}", png.display());
    assert!(
        stats.distinct_colours >= 200,
        "the page looks empty: {stats:?}"
    );
    assert!(
        stats.white_share < 0.92,
        "the page is mostly white: {stats:?}"
    );
    assert!(
        stats.chart_blue_pixels >= 500,
        "no chart line drawn (series colour #1a73e8): {stats:?}"
    );
    assert!(
        stats.plan_green_pixels >= 500,
        "the ramp-up's test plan is not drawn (bar colour #34a853): {stats:?}"
    );
}

#[derive(Debug)]
#[allow(dead_code)]
struct ColourStats {
    distinct_colours: usize,
    white_share: f64,
    chart_blue_pixels: usize,
    plan_green_pixels: usize,
}

/// Decodes the screenshot (8-bit RGB or RGBA, not interlaced: what Chromium writes) and counts
/// what it shows.
fn colour_stats(png: &Path) -> ColourStats {
    let image = decode_png(&std::fs::read(png).unwrap());
    let mut colours = std::collections::HashSet::new();
    let (mut white, mut blue, mut green) = (0usize, 0usize, 0usize);
    for &(r, g, b) in &image {
        colours.insert((r, g, b));
        if r > 245 && g > 245 && b > 245 {
            white += 1;
        }
        // #1a73e8, the first series' stroke, give or take anti-aliasing.
        if r.abs_diff(0x1a) < 40 && g.abs_diff(0x73) < 40 && b.abs_diff(0xe8) < 40 {
            blue += 1;
        }
        // #34a853, the test plan's bars for a target rate.
        if r.abs_diff(0x34) < 30 && g.abs_diff(0xa8) < 30 && b.abs_diff(0x53) < 30 {
            green += 1;
        }
    }
    ColourStats {
        distinct_colours: colours.len(),
        white_share: white as f64 / image.len() as f64,
        chart_blue_pixels: blue,
        plan_green_pixels: green,
    }
}

/// The RGB pixels of a PNG: chunks, inflated IDAT, scanline filters undone.
fn decode_png(bytes: &[u8]) -> Vec<(u8, u8, u8)> {
    use std::io::Read as _;
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    let (mut width, mut height, mut channels) = (0usize, 0usize, 0usize);
    let mut compressed = Vec::new();
    let mut at = 8;
    while at + 8 <= bytes.len() {
        let length = u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        let kind = &bytes[at + 4..at + 8];
        let data = &bytes[at + 8..at + 8 + length];
        match kind {
            b"IHDR" => {
                width = u32::from_be_bytes(data[0..4].try_into().unwrap()) as usize;
                height = u32::from_be_bytes(data[4..8].try_into().unwrap()) as usize;
                assert_eq!(data[8], 8, "8-bit samples");
                channels = match data[9] {
                    2 => 3,
                    6 => 4,
                    other => panic!("PNG colour type {other} not handled"),
                };
                assert_eq!(data[12], 0, "not interlaced");
            }
            b"IDAT" => compressed.extend_from_slice(data),
            b"IEND" => break,
            _ => {}
        }
        at += 12 + length;
    }
    let mut raw = Vec::new();
    flate2::read::ZlibDecoder::new(compressed.as_slice())
        .read_to_end(&mut raw)
        .unwrap();
    let stride = width * channels;
    let mut previous = vec![0u8; stride];
    let mut pixels = Vec::with_capacity(width * height);
    for row in raw.chunks(stride + 1).take(height) {
        let (filter, line) = (row[0], &row[1..]);
        let mut current = vec![0u8; stride];
        for i in 0..stride {
            let left = if i >= channels {
                current[i - channels]
            } else {
                0
            };
            let up = previous[i];
            let up_left = if i >= channels {
                previous[i - channels]
            } else {
                0
            };
            let predictor = match filter {
                0 => 0,
                1 => left,
                2 => up,
                3 => ((left as u16 + up as u16) / 2) as u8,
                4 => paeth(left, up, up_left),
                other => panic!("PNG filter {other}"),
            };
            current[i] = line[i].wrapping_add(predictor);
        }
        pixels.extend(current.chunks(channels).map(|p| (p[0], p[1], p[2])));
        previous = current;
    }
    pixels
}

fn paeth(a: u8, b: u8, c: u8) -> u8 {
    let p = a as i16 + b as i16 - c as i16;
    let (pa, pb, pc) = (
        (p - a as i16).abs(),
        (p - b as i16).abs(),
        (p - c as i16).abs(),
    );
    if pa <= pb && pa <= pc {
        a
    } else if pb <= pc {
        b
    } else {
        c
    }
}

/// Kept after the test for a person to look at: `KSCEN_REPORT_SCREENSHOT`, else the temp dir.
fn screenshot_path() -> PathBuf {
    std::env::var_os("KSCEN_REPORT_SCREENSHOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("kscen-report-screenshot.png"))
}

fn chromium() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("KSCEN_CHROMIUM") {
        return Some(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH")?;
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .flat_map(|name| std::env::split_paths(&path).map(move |dir| dir.join(name)))
        .find(|candidate| candidate.is_file())
}

/// `mmdc` from the report-tools cache, installed there with npm when missing (see
/// xtask/src/report_tools.rs, which does the same for CI).
fn mermaid_cli() -> Option<PathBuf> {
    let dir = std::env::var_os("KSCEN_REPORT_TOOLS")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/kscen/report-tools"))
        })?;
    let mmdc = dir.join("node_modules/.bin/mmdc");
    if mmdc.is_file() {
        return Some(mmdc);
    }
    std::fs::create_dir_all(&dir).ok()?;
    if !dir.join("package.json").is_file() {
        std::fs::write(dir.join("package.json"), "{\"private\": true}\n").ok()?;
    }
    let status = Command::new("npm")
        .args(["install", "--no-audit", "--no-fund", "--prefix"])
        .arg(&dir)
        .arg("@mermaid-js/mermaid-cli@11.17.0")
        .env("PUPPETEER_SKIP_DOWNLOAD", "1")
        .status()
        .ok()?;
    (status.success() && mmdc.is_file()).then_some(mmdc)
}
