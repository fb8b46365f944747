//! Per-phase figures and the run's totals. A `kscen run` writes every figure; an imported run
//! writes what its tool printed and leaves the rest out.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};

use super::imported::ImportedFigures;
use crate::metrics::histogram::{self, LatencySummary};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PhaseResult {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_s: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_s: Option<f64>,
    /// sum of the load jobs' target rates; null when any ran unthrottled, absent when not known
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub target_rate: Option<Option<f64>>,
    /// sent ÷ scheduled window, summed over jobs
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub achieved_rate: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mb_per_s: Option<f64>,
    #[serde(flatten)]
    pub counts: Counts,
    /// latencies in µs
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule_lag_us: Option<HistogramResult>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_us: Option<HistogramResult>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub corrected_us: Option<HistogramResult>,
    /// seen on the target − intended send time; null when no load in the phase tracked replication
    #[serde(default)]
    pub replicated_us: Option<HistogramResult>,
    /// the plugin's own histograms, from the values recorded while this phase was open
    #[serde(default)]
    pub custom_histograms: BTreeMap<String, HistogramResult>,
    /// an imported run's figures, exactly as its tool printed them
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub imported: Option<ImportedFigures>,
}

impl PhaseResult {
    pub fn duration_s(&self) -> Option<f64> {
        Some(self.end_s? - self.start_s?)
    }
}

/// absent → None; null → Some(None); a value → Some(Some(v))
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistogramResult {
    #[serde(flatten)]
    pub summary: LatencySummary,
    /// HdrHistogram V2 + DEFLATE, base64; absent where only the summary is known
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hdr: Option<String>,
}

impl HistogramResult {
    pub fn of(histogram: &hdrhistogram::Histogram<u64>) -> HistogramResult {
        HistogramResult {
            summary: histogram::summarize(histogram),
            hdr: Some(histogram::encode(histogram)),
        }
    }
}

/// A phase's record counts, or the run's over every phase (its `totals`); each absent where it is
/// not known (an imported run's tool did not print it).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Counts {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acked: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_full: Option<u64>,
}

impl Counts {
    /// The sums over `phases`; a count is absent when some phase does not know it.
    pub fn over(phases: &[PhaseResult]) -> Counts {
        Counts::sum(phases.iter().map(|p| &p.counts))
    }

    /// The sums of `counts`; a count is absent when one of them does not know it.
    pub fn sum<'a>(counts: impl Iterator<Item = &'a Counts> + Clone) -> Counts {
        let sum = |count: fn(&Counts) -> Option<u64>| counts.clone().map(count).sum();
        Counts {
            sent: sum(|c| c.sent),
            acked: sum(|c| c.acked),
            failed: sum(|c| c.failed),
            bytes: sum(|c| c.bytes),
            queue_full: sum(|c| c.queue_full),
        }
    }
}
