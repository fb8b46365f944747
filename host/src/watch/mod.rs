//! What the deployment's own monitoring says while a run goes on, read through the profile's
//! Prometheus probe: its alerts (`alerts`) and MirrorMaker 2's own metrics (`mm2_metrics`), each
//! polled by a [`Poller`] and summed up in the run's result beside kscen's own figures.

pub mod alerts;
pub mod mm2_metrics;

use std::future::Future;
use std::time::Duration;

use crate::probe::{Probes, Sample};

/// How often a watch asks the deployment's Prometheus, unless the scenario says otherwise.
pub const DEFAULT_POLL: Duration = Duration::from_secs(2);

/// Asks a watch's first query: a misnamed or silent Prometheus is an error naming the option and
/// the probe, before the run, not a run whose figures are all "not measured".
pub async fn first_answer(
    probes: &Probes,
    option: &str,
    probe: &str,
    query: &str,
) -> anyhow::Result<Vec<Sample>> {
    probes.query(probe, query).await.map_err(|e| {
        anyhow::anyhow!(
            "{option}: cannot read probe {probe:?}: {e}. Name a kind = \"prometheus\" probe of the \
             profile that answers"
        )
    })
}

/// Calls `poll` every `every` until stopped, and once more when stopped: the last reading is
/// taken after the run's load has ended.
pub struct Poller {
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Poller {
    pub fn spawn<F, Fut>(every: Duration, mut poll: F) -> Poller
    where
        F: FnMut() -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send,
    {
        let (stop, mut stopped) = tokio::sync::watch::channel(false);
        let task = tokio::spawn(async move {
            let mut interval = tokio::time::interval(every);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            interval.tick().await;
            loop {
                tokio::select! {
                    _ = interval.tick() => {}
                    _ = stopped.changed() => {}
                }
                poll().await;
                if *stopped.borrow() {
                    return;
                }
            }
        });
        Poller { stop, task }
    }

    /// Polls one last time, then returns.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::Arc;

    use super::*;

    #[tokio::test]
    async fn polls_after_each_interval_and_once_more_when_stopped() {
        let polls = Arc::new(AtomicU32::new(0));
        let counted = polls.clone();
        let poller = Poller::spawn(Duration::from_secs(3600), move || {
            let counted = counted.clone();
            async move {
                counted.fetch_add(1, Ordering::SeqCst);
            }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(
            polls.load(Ordering::SeqCst),
            0,
            "not before the first interval"
        );
        poller.stop().await;
        assert_eq!(polls.load(Ordering::SeqCst), 1, "the last reading, on stop");
    }
}
