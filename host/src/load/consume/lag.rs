//! The group's lag on the job's topic, as `kafka-consumer-groups --describe` would show it,
//! sampled every second on a thread of its own while the job runs: what the plugin, the
//! timeline and thresholds (`group(NAME).lag_max`) read.

use std::sync::Arc;
use std::thread;
use std::time::Duration;

use rdkafka::consumer::BaseConsumer;

use super::ConsumeJob;
use crate::error::{HostError, HostResult};
use crate::groups::lag::describe_group;

const SAMPLE_EVERY: Duration = Duration::from_secs(1);

/// The last sample and the largest, summed over the topic's partitions that have a committed
/// offset.
#[derive(Debug, Default)]
pub struct LagTrack {
    pub last: Option<i64>,
    pub max: Option<i64>,
}

impl LagTrack {
    fn sampled(&mut self, lag: i64) {
        self.last = Some(lag);
        self.max = Some(self.max.map_or(lag, |max| max.max(lag)));
    }
}

pub fn start_sampler(job: &Arc<ConsumeJob>, config: rdkafka::ClientConfig) -> HostResult<()> {
    let consumer: BaseConsumer = config.create()?;
    let id = job.id;
    let job = job.clone();
    thread::Builder::new()
        .name(format!("kscen-lag-{id}"))
        .spawn(move || {
            let topics = [job.plan.reading.topic.clone()];
            while !job.is_done() {
                // A failed sample (the coordinator moving) leaves the last one standing.
                if let Ok(described) = describe_group(
                    &consumer,
                    &job.plan.reading.cluster,
                    &job.plan.reading.group,
                    Some(&topics),
                ) {
                    let committed = described.partitions.iter().any(|p| p.lag.is_some());
                    if committed {
                        job.lag.lock().unwrap().sampled(described.total_lag());
                    }
                }
                thread::sleep(SAMPLE_EVERY);
            }
        })
        .map(|_| ())
        .map_err(|e| HostError::Kafka(format!("cannot start the lag sampler of job {id}: {e}")))
}
