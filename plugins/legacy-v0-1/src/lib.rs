//! Test fixture: a plugin pinned to `kscen:scenario@0.1.0`, as plugins built before 0.2.0 are, so
//! the host tests can check that it still loads, describes and runs. Not a scenario to ship.

wit_bindgen::generate!({
    path: "../../wit/scenario@0.1.0",
    world: "scenario",
});

use kscen::scenario::kafka::{self, KeyMode, LoadSpec, Rate};
use kscen::scenario::metrics;
use kscen::scenario::params::{self, ParamValue};
use kscen::scenario::types::{Capability, Error, ParamKind, ParamSpec};

const TOPIC: &str = "kscen-legacy";

struct Legacy;

impl Guest for Legacy {
    fn describe() -> ScenarioInfo {
        ScenarioInfo {
            name: "legacy-v0-1".into(),
            summary: "Test fixture: a kscen:scenario@0.1.0 plugin".into(),
            description: String::new(),
            params: vec![ParamSpec {
                name: "records".into(),
                kind: ParamKind::Int,
                default: Some("50".into()),
                help: "records in the load job".into(),
            }],
            capabilities: vec![Capability::Cluster("source".into())],
        }
    }

    fn run() -> Result<(), String> {
        run_legacy().map_err(|error| format!("{error:?}"))
    }
}

fn run_legacy() -> Result<(), Error> {
    let ParamValue::Int(records) = params::get("records")? else {
        return Err(Error::Invalid("records is not an int".into()));
    };
    kafka::create_topic("source", TOPIC, 1, 1, &[])?;
    metrics::phase_begin("legacy");
    let load = kafka::start_load(&LoadSpec {
        cluster: "source".into(),
        topic: TOPIC.into(),
        rate: Rate::PerSecond(500.0),
        count: Some(records as u64),
        duration_ms: None,
        record_sizes: vec![64],
        key_mode: KeyMode::None,
        producer_config: Vec::new(),
        replication: None,
    })?;
    let status = load.wait(Some(30_000))?;
    metrics::phase_end();
    metrics::figure("legacy_acked", status.acked as f64, "records");
    Ok(())
}

export!(Legacy);
