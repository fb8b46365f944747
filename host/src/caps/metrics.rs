//! `metrics`: phases, events, gauges and custom histograms.

use crate::bindings::v0_1_0::kscen::scenario::metrics::Host;
use crate::bindings::WitError;
use crate::caps::PluginState;

impl Host for PluginState {
    async fn phase_begin(&mut self, name: String) -> wasmtime::Result<()> {
        let metrics = &self.run()?.metrics;
        let now = metrics.clock.now_ns();
        metrics.phases.begin(&name, now);
        metrics.events.push(now, "phase", &format!("begin {name}"));
        Ok(())
    }

    async fn phase_end(&mut self) -> wasmtime::Result<()> {
        let metrics = &self.run()?.metrics;
        metrics.phases.end(metrics.clock.now_ns());
        Ok(())
    }

    async fn event(&mut self, kind: String, message: String) -> wasmtime::Result<()> {
        let metrics = &self.run()?.metrics;
        metrics.events.push(metrics.clock.now_ns(), &kind, &message);
        Ok(())
    }

    async fn figure(&mut self, name: String, value: f64, unit: String) -> wasmtime::Result<()> {
        self.run()?.metrics.set_figure(&name, value, &unit);
        Ok(())
    }

    async fn gauge(&mut self, name: String, value: f64) -> wasmtime::Result<()> {
        self.run()?.metrics.set_gauge(&name, value);
        Ok(())
    }

    async fn record_value(
        &mut self,
        histogram: String,
        value: u64,
    ) -> wasmtime::Result<Result<(), WitError>> {
        if histogram.is_empty() {
            return Ok(Err(WitError::Invalid("histogram name is empty".into())));
        }
        // The value is kept as recorded; its unit is the name's suffix (`roundtrip_us`), read by
        // `metrics::unit::Unit::of_histogram` wherever it is shown or compared.
        self.run()?.metrics.record_custom(&histogram, value);
        Ok(Ok(()))
    }
}
