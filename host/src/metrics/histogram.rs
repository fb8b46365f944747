//! Latency histograms: microseconds, 1 µs to 1 h, 3 significant figures; the plugins' own
//! histograms, in any unit; and the figures reports quote from them.

use base64::Engine as _;
use hdrhistogram::serialization::{Serializer as _, V2DeflateSerializer};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// The largest latency recorded exactly; larger values are recorded as this (and show as max).
pub const MAX_LATENCY_US: u64 = 3_600_000_000;

pub fn new_latency_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_LATENCY_US, 3).expect("static histogram bounds are valid")
}

/// A plugin's own histogram: any unit (its name says which), so no fixed range: it grows to the
/// largest value recorded and keeps 0, with the same 3 significant figures.
pub fn new_custom_histogram() -> Histogram<u64> {
    Histogram::new(3).expect("static histogram precision is valid")
}

/// Records one value of a custom histogram, growing it to fit (a value beyond what it can grow
/// to is clamped, so a sample is never lost).
pub fn record_custom(histogram: &mut Histogram<u64>, value: u64) {
    if histogram.record(value).is_err() {
        histogram.saturating_record(value);
    }
}

/// Records one value, clamped to the histogram's range so an outlier never loses a sample.
pub fn record(histogram: &mut Histogram<u64>, value_us: u64) {
    histogram.saturating_record(value_us.clamp(1, MAX_LATENCY_US));
}

/// The figures every report quotes, in microseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencySummary {
    pub count: u64,
    pub min: u64,
    pub mean: f64,
    pub p50: u64,
    pub p95: u64,
    pub p99: u64,
    pub p999: u64,
    pub max: u64,
}

pub fn summarize(histogram: &Histogram<u64>) -> LatencySummary {
    if histogram.is_empty() {
        return LatencySummary::default();
    }
    LatencySummary {
        count: histogram.len(),
        min: histogram.min(),
        mean: histogram.mean(),
        p50: histogram.value_at_quantile(0.50),
        p95: histogram.value_at_quantile(0.95),
        p99: histogram.value_at_quantile(0.99),
        p999: histogram.value_at_quantile(0.999),
        max: histogram.max(),
    }
}

/// HdrHistogram V2 + DEFLATE, base64: the interchange form other HdrHistogram tools read and
/// that merges losslessly.
pub fn encode(histogram: &Histogram<u64>) -> String {
    let mut bytes = Vec::new();
    V2DeflateSerializer::new()
        .serialize(histogram, &mut bytes)
        .expect("serialising into memory cannot fail");
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// What [`encode`] wrote; none when `text` is not such a histogram.
pub fn decode(text: &str) -> Option<Histogram<u64>> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .ok()?;
    hdrhistogram::serialization::Deserializer::new()
        .deserialize(&mut bytes.as_slice())
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_of_a_known_distribution() {
        let mut histogram = new_latency_histogram();
        for value in 1..=10_000u64 {
            record(&mut histogram, value);
        }
        let summary = summarize(&histogram);
        assert_eq!(summary.count, 10_000);
        assert_eq!(summary.min, 1);
        assert!((summary.mean - 5000.5).abs() < 5.0, "{}", summary.mean);
        // 3 significant figures: within 0.1 % of the exact quantile.
        for (got, exact) in [
            (summary.p50, 5000),
            (summary.p95, 9500),
            (summary.p99, 9900),
            (summary.p999, 9990),
        ] {
            assert!(got.abs_diff(exact) * 1000 <= exact, "{got} vs {exact}");
        }
        assert!(summary.max.abs_diff(10_000) <= 10);
    }

    #[test]
    fn outliers_are_clamped_not_lost() {
        let mut histogram = new_latency_histogram();
        record(&mut histogram, 0);
        record(&mut histogram, u64::MAX);
        assert_eq!(histogram.len(), 2);
        assert!(histogram.max() >= MAX_LATENCY_US);
    }

    #[test]
    fn encoding_round_trips_and_stays_small() {
        let mut histogram = new_latency_histogram();
        for value in 0..1_000_000u64 {
            record(&mut histogram, 100 + value % 50_000);
        }
        let text = encode(&histogram);
        assert!(text.len() < 40_000, "{} bytes", text.len());
        let back = decode(&text).unwrap();
        assert_eq!(summarize(&back), summarize(&histogram));
    }

    #[test]
    fn custom_histograms_keep_zero_and_values_beyond_an_hour_of_microseconds() {
        let mut histogram = new_custom_histogram();
        record_custom(&mut histogram, 0);
        record_custom(&mut histogram, 10 * MAX_LATENCY_US);
        let summary = summarize(&histogram);
        assert_eq!((summary.count, summary.min), (2, 0));
        assert!(summary.max.abs_diff(10 * MAX_LATENCY_US) * 1000 <= 10 * MAX_LATENCY_US);
        assert_eq!(summarize(&decode(&encode(&histogram)).unwrap()), summary);
        record_custom(&mut histogram, u64::MAX);
        assert_eq!(histogram.len(), 3);
    }

    #[test]
    fn empty_histogram_summarises_to_zero() {
        assert_eq!(
            summarize(&new_latency_histogram()),
            LatencySummary::default()
        );
    }
}
