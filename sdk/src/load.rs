//! Native load jobs: describe the load, the host paces, produces and measures it.

use std::time::Duration;

use crate::kafka::{self, KeyMode, LoadSpec, LoadStatus, Rate, Replication};
use crate::ScenarioError;

/// A load job running in the host. Dropping it stops the job.
pub struct Load {
    handle: kafka::Load,
}

/// Builder for a load job; start it with [`LoadBuilder::start`].
pub struct LoadBuilder {
    spec: LoadSpec,
}

impl Load {
    /// Load to `topic` on the cluster with this logical name. Defaults: unthrottled, 1 KiB
    /// records, no key, runs until stopped.
    pub fn to(cluster: &str, topic: &str) -> LoadBuilder {
        LoadBuilder {
            spec: LoadSpec {
                cluster: cluster.into(),
                topic: topic.into(),
                rate: Rate::Unthrottled,
                count: None,
                duration_ms: None,
                record_sizes: vec![1024],
                key_mode: KeyMode::None,
                producer_config: Vec::new(),
                replication: None,
            },
        }
    }

    pub fn status(&self) -> LoadStatus {
        self.handle.status()
    }

    pub fn set_rate(&self, per_second: f64) -> Result<(), ScenarioError> {
        Ok(self.handle.set_rate(Rate::PerSecond(per_second))?)
    }

    pub fn unthrottle(&self) -> Result<(), ScenarioError> {
        Ok(self.handle.set_rate(Rate::Unthrottled)?)
    }

    /// Stops scheduling, flushes what is in flight and returns the final status.
    pub fn stop(&self) -> LoadStatus {
        self.handle.stop()
    }

    /// Stops scheduling at once and lets the job go, as an application that lost its cluster
    /// does: records in flight are still delivered (or fail) and, for a tracked load, followed to
    /// the target in the background; the run's result has the job's final figures. Unlike
    /// [`Load::stop`], it does not wait for the mirror, which may never catch up while a fault
    /// lasts.
    pub fn abandon(self) {
        // Dropping the handle stops the job without waiting for it.
        drop(self.handle);
    }

    /// Waits for the job's count or duration to be reached.
    pub fn wait(&self) -> Result<LoadStatus, ScenarioError> {
        Ok(self.handle.wait(None)?)
    }

    pub fn wait_timeout(&self, timeout: Duration) -> Result<LoadStatus, ScenarioError> {
        Ok(self.handle.wait(Some(timeout.as_millis() as u64))?)
    }
}

impl LoadBuilder {
    pub fn rate(mut self, per_second: f64) -> Self {
        self.spec.rate = Rate::PerSecond(per_second);
        self
    }

    pub fn unthrottled(mut self) -> Self {
        self.spec.rate = Rate::Unthrottled;
        self
    }

    pub fn count(mut self, records: u64) -> Self {
        self.spec.count = Some(records);
        self
    }

    pub fn duration(mut self, duration: Duration) -> Self {
        self.spec.duration_ms = Some(duration.as_millis() as u64);
        self
    }

    pub fn record_size(mut self, bytes: u32) -> Self {
        self.spec.record_sizes = vec![bytes];
        self
    }

    /// Sizes used in turn, one per record.
    pub fn record_sizes(mut self, sizes: Vec<u32>) -> Self {
        self.spec.record_sizes = sizes;
        self
    }

    pub fn keys(mut self, mode: KeyMode) -> Self {
        self.spec.key_mode = mode;
        self
    }

    /// A producer property (Java or librdkafka name) for this job only.
    pub fn producer(mut self, key: &str, value: &str) -> Self {
        self.spec.producer_config.push((key.into(), value.into()));
        self
    }

    /// Follows every record to `cluster` (the remote topic defaults to `<source alias>.<topic>`)
    /// and verifies it there: replicated latency, lag, lost / duplicated / out-of-order records.
    /// Records must be at least 32 bytes. A record not seen within the grace period (default
    /// 60 s after its acknowledgement) counts as lost.
    pub fn replicate_to(mut self, cluster: &str) -> Self {
        self.spec.replication = Some(Replication {
            cluster: cluster.into(),
            topic: None,
            grace_ms: 60_000,
        });
        self
    }

    /// The remote topic, when the mirror does not use `<source alias>.<topic>`.
    pub fn remote_topic(mut self, topic: &str) -> Self {
        if let Some(replication) = &mut self.spec.replication {
            replication.topic = Some(topic.into());
        }
        self
    }

    pub fn grace(mut self, grace: Duration) -> Self {
        if let Some(replication) = &mut self.spec.replication {
            replication.grace_ms = grace.as_millis() as u64;
        }
        self
    }

    pub fn start(self) -> Result<Load, ScenarioError> {
        Ok(Load {
            handle: kafka::start_load(&self.spec)?,
        })
    }
}
