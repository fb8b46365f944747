//! Test fixture: a `kscen:scenario@0.2.0` plugin that declares the topics it needs on `source`
//! and then names a topic outside them in every kind of topic call, so the host tests can check
//! that each is denied (a typed `denied`) and nothing is created. Not a scenario to ship.

use kscen_sdk::kafka::{self, StartFrom};
use kscen_sdk::prelude::*;
use kscen_sdk::types::Error;

const DECLARED: &str = "kscen-declared-*";
const INSIDE: &str = "kscen-declared-ok";

struct DeclaredTopics;

impl Scenario for DeclaredTopics {
    fn describe() -> ScenarioInfo {
        Describe::new(
            "declared-topics",
            "Test fixture: names a topic outside the ones it declares",
        )
        .param(spec::text(
            "outside",
            "payments",
            "a topic the declared pattern does not cover",
        ))
        .cluster("source")
        .topic("source", DECLARED)
        .build()
    }

    fn run() -> Result<(), ScenarioError> {
        let outside = param::text("outside")?;
        let attempts: [(&str, Result<(), Error>); 6] = [
            (
                "create-topic",
                kafka::create_topic("source", &outside, 1, 1, &[]),
            ),
            (
                "produce",
                kafka::produce("source", &outside, None, b"x").map(drop),
            ),
            (
                "start-load",
                Load::to("source", &outside)
                    .count(1)
                    .start()
                    .map(drop)
                    .map_err(host_error),
            ),
            (
                "subscribe",
                kafka::subscribe("source", &outside, StartFrom::Earliest).map(drop),
            ),
            (
                "end-offsets",
                kafka::end_offsets("source", &outside).map(drop),
            ),
            ("delete-topic", kafka::delete_topic("source", &outside)),
        ];
        let mut denied = 0;
        for (call, outcome) in attempts {
            match outcome {
                Err(Error::Denied(message)) => {
                    denied += 1;
                    event("denied", &format!("{call}: {message}"));
                }
                other => {
                    return Err(format!("{call} on {outside:?} was not denied: {other:?}").into())
                }
            }
        }
        figure("denied_calls", denied as f64, "");
        // Inside the declared pattern, the same calls work.
        create_topic("source", INSIDE, 1)?;
        kafka::produce("source", INSIDE, None, b"x")?;
        Ok(())
    }
}

/// The SDK's load builder wraps host errors; the typed error is what this fixture checks.
fn host_error(error: ScenarioError) -> Error {
    match error {
        ScenarioError::Host(error) => error,
        ScenarioError::Failed(message) => Error::Invalid(message),
    }
}

kscen_sdk::export_scenario!(DeclaredTopics);
