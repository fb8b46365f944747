//! `probe`: metrics endpoints named in the profile (the seeds read lag, heap and CPU this way).

use crate::bindings::v0_1_0::kscen::scenario::probe::{Host, Sample as WitSample};
use crate::bindings::WitError;
use crate::caps::{Access, PluginState, RunContext};
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

impl RunContext {
    /// A granted probe's samples: its exposition (`scrape`, names starting with `prefix`) or a
    /// PromQL query's answer (`query`).
    async fn read_probe(&self, probe: &str, read: ProbeRead<'_>) -> HostResult<Vec<Sample>> {
        self.permit(Access::Probe(probe))?;
        match read {
            ProbeRead::Scrape { prefix } => self.probes.scrape(probe, prefix).await,
            ProbeRead::Query { promql } => self.probes.query(probe, promql).await,
        }
    }
}

/// What a plugin reads from a probe.
enum ProbeRead<'a> {
    Scrape { prefix: &'a str },
    Query { promql: &'a str },
}

impl Host for PluginState {
    async fn scrape(&mut self, probe: String, prefix: String) -> wasmtime::Result<WitSamples> {
        let run = self.run()?.clone();
        let read = ProbeRead::Scrape { prefix: &prefix };
        Ok(to_wit(run.read_probe(&probe, read).await))
    }

    async fn query(&mut self, probe: String, promql: String) -> wasmtime::Result<WitSamples> {
        let run = self.run()?.clone();
        let read = ProbeRead::Query { promql: &promql };
        Ok(to_wit(run.read_probe(&probe, read).await))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::caps::testing::{context, events};
    use crate::error::HostError;
    use crate::policy::Request;

    const QUERY: ProbeRead = ProbeRead::Query { promql: "up" };

    #[tokio::test]
    async fn a_probe_not_asked_for_is_refused_before_it_is_read() {
        let (run, _cancel) = context(&[], &[]);
        let refused = run.read_probe("prometheus", QUERY).await;
        assert!(matches!(refused, Err(HostError::Denied(_))), "{refused:?}");
        assert_eq!(events(&run, "probe-denied").len(), 1);
    }

    #[tokio::test]
    async fn a_read_the_probe_cannot_answer_says_why() {
        let (run, _cancel) = context(&[Request::Probe("prometheus".into())], &[]);
        // A Prometheus probe has no exposition to scrape.
        let scrape = ProbeRead::Scrape { prefix: "kafka_" };
        let wrong_kind = run.read_probe("prometheus", scrape).await.unwrap_err();
        assert!(matches!(wrong_kind, HostError::Invalid(_)), "{wrong_kind}");
        assert!(
            wrong_kind.to_string().contains("prometheus"),
            "{wrong_kind}"
        );
        // Nothing listens on its port: the error names the probe and its address.
        let unreachable = run.read_probe("prometheus", QUERY).await.unwrap_err();
        assert!(
            unreachable.to_string().contains("127.0.0.1:4"),
            "{unreachable}"
        );
        assert!(events(&run, "probe-denied").is_empty());
    }
}
