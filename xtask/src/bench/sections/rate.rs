//! Section 2, rate accuracy: kscen's steady load at each target rate for the same duration;
//! achieved rate over the scheduled window (what kscen reports) against the target, and the
//! schedule lag (enqueued − intended send time).

use anyhow::{Context, Result};

use crate::bench::settings::{Acks, Workload, PARTITIONS};
use crate::bench::tools::kscen::Set;
use crate::bench::Bench;

pub struct RatePoint {
    pub target: f64,
    pub sent: u64,
    pub achieved: f64,
    pub lag_p50_us: f64,
    pub lag_p99_us: f64,
}

impl RatePoint {
    /// (achieved − target) ÷ target, %.
    pub fn error_percent(&self) -> f64 {
        (self.achieved - self.target) / self.target * 100.0
    }
}

pub fn run(bench: &mut Bench, workload: &Workload) -> Result<Vec<RatePoint>> {
    let duration = format!("{}ms", workload.rate_duration.as_millis());
    let mut points = Vec::new();
    for target in workload.rate_targets {
        let name = format!("rate-{target}");
        let topic = format!("bench-{name}");
        bench.create_topic(&topic)?;
        let sets = [
            Set::text("topic", &topic),
            Set::number("rate", target),
            Set::text("duration", &duration),
            Set::number("record_size", workload.rate_record_size),
            Set::number("partitions", PARTITIONS),
        ];
        let (_, result) = bench.measure_steady(&name, &sets, Acks::Leader)?;
        bench.delete_topic(&topic)?;
        let phase = result.phase()?;
        let reported_target = phase
            .target_rate
            .with_context(|| format!("{name}: kscen reported no target rate"))?;
        points.push(RatePoint {
            target: reported_target,
            sent: phase.sent,
            achieved: phase.achieved_rate,
            lag_p50_us: phase.schedule_lag_p50_us,
            lag_p99_us: phase.schedule_lag_p99_us,
        });
    }
    Ok(points)
}
