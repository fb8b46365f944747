//! A plugin crate written outside this workspace, depending only on kscen-sdk, compiles to a
//! component and runs in the already built kscen binary — the path a team takes to ship its own
//! scenario. The plugin exercises single-record produce, end offsets, a consumer, gauges and a
//! custom histogram, and fails its run if any figure is off.

mod support;

use std::path::Path;
use std::process::Command;

use support::{run_scenario, u64_of, workspace_root};

const PLUGIN: &str = r#"
use kscen_sdk::kafka::{self, StartFrom};
use kscen_sdk::prelude::*;

struct Outside;

impl Scenario for Outside {
    fn describe() -> ScenarioInfo {
        Describe::new("outside", "built outside the kscen workspace")
            .param(spec::int("records", 100, "records in the load job"))
            .cluster("source")
            .build()
    }

    fn run() -> Result<(), ScenarioError> {
        let records = param::int("records")? as u64;
        create_topic("source", "outside", 2)?;
        phase("single");
        for i in 0..5u8 {
            let delivery = kafka::produce("source", "outside", Some(&[i]), b"hello")?;
            kscen_sdk::metrics::record_value("single-produce-us", delivery.latency_us)?;
        }
        phase("load");
        let status = Load::to("source", "outside").rate(500.0).count(records).record_size(64).start()?.wait()?;
        end_phase();
        gauge("acked", status.acked as f64);
        let total: i64 = kafka::end_offsets("source", "outside")?.iter().map(|p| p.offset).sum();
        if total != records as i64 + 5 {
            return Err(format!("end offsets add up to {total}, expected {}", records + 5).into());
        }
        let consumer = kafka::subscribe("source", "outside", StartFrom::Earliest)?;
        let mut seen = 0;
        let deadline = monotonic_now() + Duration::from_secs(20);
        while seen < total && monotonic_now() < deadline {
            seen += consumer.poll(1000, 500)?.len() as i64;
        }
        if seen != total {
            return Err(format!("consumed {seen} of {total} records").into());
        }
        event("verified", &format!("{seen} records produced and consumed"));
        Ok(())
    }
}

kscen_sdk::export_scenario!(Outside);
"#;

fn build_outside_plugin(dir: &Path) -> std::path::PathBuf {
    let sdk = workspace_root().join("sdk");
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(
        dir.join("Cargo.toml"),
        format!(
            "[package]\nname = \"outside\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[lib]\ncrate-type = [\"cdylib\"]\n\n\
             [dependencies]\nkscen-sdk = {{ path = {:?} }}\n\n[workspace]\n",
            sdk.display().to_string()
        ),
    )
    .unwrap();
    std::fs::write(dir.join("src").join("lib.rs"), PLUGIN).unwrap();
    // A target folder of its own, kept between runs (inside the shared cache when there is one).
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || dir.join("target"),
        |t| Path::new(&t).join("external-plugin-test"),
    );
    let status = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args(["build", "--release", "--target", "wasm32-wasip2"])
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", &target)
        .status()
        .expect("cargo runs");
    assert!(status.success(), "the outside plugin did not build");
    target
        .join("wasm32-wasip2")
        .join("release")
        .join("outside.wasm")
}

#[test]
fn a_plugin_built_outside_the_workspace_runs_in_the_built_host() {
    let dir = tempfile::tempdir().unwrap();
    let wasm = build_outside_plugin(dir.path());
    let run = run_scenario(
        &format!(
            "plugin = {:?}\n[params]\nrecords = 200\n",
            wasm.display().to_string()
        ),
        &[],
    );
    assert_eq!(run.code(), 0, "stderr:\n{}", run.stderr());
    assert_eq!(run.phase_names(), ["single", "load"]);
    assert_eq!(u64_of(&run.phase("load")["acked"]), 200);
    let result = run.result();
    assert_eq!(
        u64_of(&result["custom_histograms"]["single-produce-us"]["count"]),
        5
    );
    assert!(result["events"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["kind"] == "verified"));
    assert_eq!(
        result["timeline"].as_array().unwrap().last().unwrap()["gauges"]["acked"],
        200.0
    );
}
