//! `probe`: metrics endpoints named in the profile (the seeds read lag, heap and CPU this way).

use crate::bindings::kscen::scenario::probe::{Host, Sample as WitSample};
use crate::bindings::WitError;
use crate::caps::PluginState;
use crate::probe::Sample;

fn to_wit(samples: Vec<Sample>) -> Vec<WitSample> {
    samples
        .into_iter()
        .map(|s| WitSample {
            name: s.name,
            labels: s.labels,
            value: s.value,
        })
        .collect()
}

impl Host for PluginState {
    async fn scrape(
        &mut self,
        probe: String,
        prefix: String,
    ) -> wasmtime::Result<Result<Vec<WitSample>, WitError>> {
        let run = self.run()?.clone();
        if let Err(denied) = run.grants.check_probe(&probe) {
            return Ok(Err(denied.into()));
        }
        Ok(run
            .probes
            .scrape(&probe, &prefix)
            .await
            .map(to_wit)
            .map_err(Into::into))
    }

    async fn query(
        &mut self,
        probe: String,
        promql: String,
    ) -> wasmtime::Result<Result<Vec<WitSample>, WitError>> {
        let run = self.run()?.clone();
        if let Err(denied) = run.grants.check_probe(&probe) {
            return Ok(Err(denied.into()));
        }
        Ok(run
            .probes
            .query(&probe, &promql)
            .await
            .map(to_wit)
            .map_err(Into::into))
    }
}
