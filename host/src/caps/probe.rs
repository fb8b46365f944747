//! `probe`: metrics endpoints named in the profile (the seeds read lag, heap and CPU this way).

use crate::bindings::v0_1_0::kscen::scenario::probe::{Host, Sample as WitSample};
use crate::bindings::WitError;
use crate::caps::{Access, PluginState};
use crate::error::HostResult;
use crate::probe::Sample;

type WitSamples = Result<Vec<WitSample>, WitError>;

fn to_wit(samples: HostResult<Vec<Sample>>) -> WitSamples {
    Ok(samples?
        .into_iter()
        .map(|s| WitSample {
            name: s.name,
            labels: s.labels,
            value: s.value,
        })
        .collect())
}

impl Host for PluginState {
    async fn scrape(&mut self, probe: String, prefix: String) -> wasmtime::Result<WitSamples> {
        let run = self.run()?.clone();
        Ok(match run.permit(Access::Probe(&probe)) {
            Ok(()) => to_wit(run.probes.scrape(&probe, &prefix).await),
            Err(denied) => Err(denied.into()),
        })
    }

    async fn query(&mut self, probe: String, promql: String) -> wasmtime::Result<WitSamples> {
        let run = self.run()?.clone();
        Ok(match run.permit(Access::Probe(&probe)) {
            Ok(()) => to_wit(run.probes.query(&probe, &promql).await),
            Err(denied) => Err(denied.into()),
        })
    }
}
