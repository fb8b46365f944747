//! Test fixture: records custom histograms and figures with known values, so the host tests can
//! check percentiles, units, per-phase attribution and thresholds on them. Not a scenario to
//! ship.
//!
//! `roundtrip_us` holds 100 values of 0.8–1.2 ms in phase `fast`, 100 of 8–12 ms in phase `slow`,
//! and one of 50 ms recorded between phases (run-wide only). `batch_bytes` holds 512 and 1024 in
//! `fast`. Figures: `probes_sent` 100, `probes_seen` 95.

use kscen_sdk::metrics::record_value;
use kscen_sdk::prelude::*;

struct CustomHistograms;

impl Scenario for CustomHistograms {
    fn describe() -> ScenarioInfo {
        Describe::new(
            "custom-histograms",
            "Test fixture: records custom histograms with known values in two phases",
        )
        .build()
    }

    fn run() -> Result<(), ScenarioError> {
        record_value("roundtrip_us", 50_000)?;
        phase("fast");
        record_spread("roundtrip_us", 800, 1_200)?;
        record_value("batch_bytes", 512)?;
        record_value("batch_bytes", 1_024)?;
        phase("slow");
        record_spread("roundtrip_us", 8_000, 12_000)?;
        end_phase();
        figure("probes_sent", 100.0, "probes");
        figure("probes_seen", 95.0, "probes");
        Ok(())
    }
}

/// 100 values evenly spread over `from..to`.
fn record_spread(histogram: &str, from: u64, to: u64) -> Result<(), ScenarioError> {
    for step in 0..100 {
        record_value(histogram, from + (to - from) * step / 100)?;
    }
    Ok(())
}

kscen_sdk::export_scenario!(CustomHistograms);
