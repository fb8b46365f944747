//! The 95 % interval of a change (candidate − baseline), by bootstrap: from the runs' own
//! spread when both sides were repeated, or, for a latency percentile of a single run, from the
//! values its histogram recorded. Every interval is drawn from a generator seeded with
//! [`SEED`], so the same results always get the same verdict.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Beta, Distribution};
use statrs::distribution::{ContinuousCDF, StudentsT};

use crate::result::HistogramResult;

/// Enough resamples for the 2.5 % and 97.5 % points to move by well under the interval's width
/// from one seed to another.
const RESAMPLES: usize = 2_000;

/// Any fixed value: what matters is that every comparison draws the same resamples.
const SEED: u64 = 0x6b73_6365_6e00_0017;

/// Where the change lies with 95 % confidence, in the rows' unit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interval {
    pub low: f64,
    pub high: f64,
}

impl Interval {
    /// Whether the interval lies wholly on the side of zero the change is on: the change is then
    /// more than the noise would make.
    pub fn excludes_zero_towards(&self, change: f64) -> bool {
        (change > 0.0 && self.low > 0.0) || (change < 0.0 && self.high < 0.0)
    }

    /// The 2.5 % and 97.5 % points of bootstrap replicates.
    fn of_replicates(mut replicates: Vec<f64>) -> Interval {
        replicates.sort_by(f64::total_cmp);
        let last = replicates.len() - 1;
        let at = |p: f64| replicates[((p * replicates.len() as f64) as usize).min(last)];
        Interval {
            low: at(0.025),
            high: at(0.975),
        }
    }
}

/// The difference of the sides' mean over their runs (each side two runs or more).
///
/// Means, not medians: with a handful of runs a resampled median can only be one of the runs' own
/// values, and its interval is then the min–max overlap test again, which calls two identical
/// 3-run cells different one time in ten. A bootstrap of so few runs is also too narrow (a
/// resample's spread is the runs' spread ÷ √n, never corrected by n − 1, and never the wider
/// tail of a spread estimated from 3 values); the interval is widened about the observed
/// difference to the width Welch's t interval gives, the way Hesterberg's "expanded percentile"
/// bootstrap does, which keeps identical cells "within noise" 95 % of the time or more.
pub fn between_runs(baseline: &[f64], candidate: &[f64]) -> Interval {
    let mut rng = StdRng::seed_from_u64(SEED);
    let mut resampled_mean = |values: &[f64]| {
        let sum: f64 = (0..values.len())
            .map(|_| values[rng.random_range(0..values.len())])
            .sum();
        sum / values.len() as f64
    };
    let replicates = (0..RESAMPLES)
        .map(|_| resampled_mean(candidate) - resampled_mean(baseline))
        .collect();
    let bootstrap = Interval::of_replicates(replicates);
    let observed = mean(candidate) - mean(baseline);
    let widen = small_sample_widening(baseline, candidate);
    Interval {
        low: observed - (observed - bootstrap.low) * widen,
        high: observed + (bootstrap.high - observed) * widen,
    }
}

/// How much wider Welch's 95 % t interval is than the bootstrap's: the unbiased variance over
/// the bootstrap's own (divided by n, not n − 1), times t over the normal 1.96.
fn small_sample_widening(baseline: &[f64], candidate: &[f64]) -> f64 {
    let unbiased = |values: &[f64]| variance(values) / values.len() as f64;
    let plug_in = |values: &[f64]| {
        let n = values.len() as f64;
        unbiased(values) * (n - 1.0) / n
    };
    let (base, cand) = (unbiased(baseline), unbiased(candidate));
    let bootstrap = plug_in(baseline) + plug_in(candidate);
    if bootstrap == 0.0 {
        // Both sides the same every run: the interval is the difference itself.
        return 1.0;
    }
    // Welch–Satterthwaite, rounded down: fewer degrees of freedom, a wider interval.
    let degrees = (base + cand).powi(2)
        / (base.powi(2) / (baseline.len() - 1) as f64
            + cand.powi(2) / (candidate.len() - 1) as f64);
    ((base + cand) / bootstrap).sqrt() * t_975(degrees.floor().max(1.0) as u32) / 1.96
}

/// Student's t at 97.5 % for `degrees` degrees of freedom.
fn t_975(degrees: u32) -> f64 {
    StudentsT::new(0.0, 1.0, degrees.into())
        .expect("degrees of freedom are 1 or more")
        .inverse_cdf(0.975)
}

fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len() as f64
}

fn variance(values: &[f64]) -> f64 {
    let mean = mean(values);
    values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (values.len() - 1) as f64
}

/// A run's recorded latencies by rank: what a bootstrap resamples.
pub struct Recorded {
    /// (values recorded up to and including this one, the value), in increasing value
    by_rank: Vec<(u64, u64)>,
    count: u64,
}

impl Recorded {
    /// None when the result kept only the summary (an imported run), or the histogram does not
    /// decode: then nothing is known of the values between the percentiles.
    pub fn of(histogram: &HistogramResult) -> Option<Recorded> {
        let decoded = crate::metrics::histogram::decode(histogram.hdr.as_deref()?)?;
        let mut count = 0;
        let by_rank: Vec<(u64, u64)> = decoded
            .iter_recorded()
            .map(|bucket| {
                count += bucket.count_at_value();
                // As the result's summary reads a percentile: the bucket's highest value.
                (
                    count,
                    decoded.highest_equivalent(bucket.value_iterated_to()),
                )
            })
            .collect();
        (count > 0).then_some(Recorded { by_rank, count })
    }

    /// The value of rank `rank` (1-based) in increasing order; the quantile q is rank ⌈q·n⌉, as
    /// the result's summary reads it.
    fn at_rank(&self, rank: u64) -> u64 {
        let rank = rank.clamp(1, self.count);
        let index = self.by_rank.partition_point(|(up_to, _)| *up_to < rank);
        self.by_rank[index].1
    }

    /// The quantile of a resample of all `count` values, drawn with replacement. Its k-th
    /// smallest value is the recorded value at the k-th smallest of `count` uniform draws, which
    /// is Beta(k, n + 1 − k): one draw of it replaces drawing n values, so a run of 10 million
    /// records costs what one of a hundred does, and the interval keeps the width of all n.
    fn resampled_quantile(&self, q: f64, rng: &mut StdRng) -> u64 {
        let n = self.count as f64;
        let k = (q * n).ceil().max(1.0);
        let uniform = Beta::new(k, n + 1.0 - k)
            .expect("both shapes are 1 or more")
            .sample(rng);
        self.at_rank((uniform * n).ceil() as u64)
    }
}

/// The difference of quantile `q` between the sides, from the values each run recorded: each
/// side's figure is the median of its runs' quantiles, as the comparison shows it. It covers
/// sampling only — how far the quantile of this many records moves by chance — not how one run
/// differs from the next.
pub fn sampling(baseline: &[Recorded], candidate: &[Recorded], q: f64) -> Interval {
    let mut rng = StdRng::seed_from_u64(SEED);
    let mut resampled = |runs: &[Recorded]| {
        let quantiles: Vec<f64> = runs
            .iter()
            .map(|run| run.resampled_quantile(q, &mut rng) as f64)
            .collect();
        median(&quantiles)
    };
    let replicates = (0..RESAMPLES)
        .map(|_| resampled(candidate) - resampled(baseline))
        .collect();
    Interval::of_replicates(replicates)
}

pub fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    if sorted.len().is_multiple_of(2) {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    } else {
        sorted[mid]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A run that recorded each of `values_us` `each` times, and its summary's p50 (µs).
    fn recorded(values_us: impl Iterator<Item = u64>, each: u64) -> (Recorded, u64) {
        let mut histogram = crate::metrics::histogram::new_latency_histogram();
        for us in values_us {
            histogram.record_n(us, each).unwrap();
        }
        let result = HistogramResult::of(&histogram);
        (Recorded::of(&result).unwrap(), result.summary.p50)
    }

    #[test]
    fn identical_runs_give_an_interval_around_zero() {
        let runs = [98.0, 100.0, 102.0];
        let interval = between_runs(&runs, &runs);
        assert!(interval.low < 0.0 && interval.high > 0.0, "{interval:?}");
        assert!(!interval.excludes_zero_towards(0.0));
    }

    #[test]
    fn a_fifth_more_over_three_runs_two_percent_apart_is_beyond_the_spread() {
        let interval = between_runs(&[98.0, 100.0, 102.0], &[117.6, 120.0, 122.4]);
        assert!(interval.excludes_zero_towards(20.0), "{interval:?}");
        // About Welch's 95 % t interval: 20 ± t(3 degrees) 3.18 · √(4/3 + 5.76/3), ±5.7.
        assert!(
            (interval.low - 14.3).abs() < 1.5 && (interval.high - 25.7).abs() < 1.5,
            "{interval:?}"
        );
    }

    #[test]
    fn cells_drawn_from_one_distribution_are_rarely_called_apart() {
        // What the min–max overlap test got wrong: 3 runs against 3 of the same setting parted
        // one time in ten. 400 such pairs, with a 2 % run-to-run spread.
        let mut rng = StdRng::seed_from_u64(7);
        let mut cell = || -> Vec<f64> {
            (0..3)
                .map(|_| 100.0 + 2.0 * rng.sample::<f64, _>(rand_distr::StandardNormal))
                .collect()
        };
        let apart = (0..400)
            .filter(|_| {
                let (baseline, candidate) = (cell(), cell());
                let change = mean(&candidate) - mean(&baseline);
                between_runs(&baseline, &candidate).excludes_zero_towards(change)
            })
            .count();
        assert!(apart <= 20, "{apart} of 400 identical pairs called apart");
    }

    #[test]
    fn the_same_results_always_get_the_same_interval() {
        let (baseline, candidate) = ([40.0, 44.0, 42.0], [35.0, 36.0, 37.0]);
        assert_eq!(
            between_runs(&baseline, &candidate),
            between_runs(&baseline, &candidate)
        );
        let histogram = || recorded(1..=1_000u64, 1).0;
        assert_eq!(
            sampling(&[histogram()], &[histogram()], 0.99),
            sampling(&[histogram()], &[histogram()], 0.99)
        );
    }

    #[test]
    fn a_percentiles_sampling_interval_has_the_width_its_record_count_gives() {
        // 100 000 values 1 µs apart: p50's rank varies by √(n·q·(1−q)) ≈ 158 ranks, 158 µs; the
        // difference of two such runs by √2 times that, so ±0.44 ms at 95 %.
        let run = || recorded(1..=100_000u64, 1);
        let interval = sampling(&[run().0], &[run().0], 0.5);
        let half_width_ms = (interval.high - interval.low) / 2.0 / 1000.0;
        assert!(
            (0.35..0.55).contains(&half_width_ms),
            "{interval:?}: ±{half_width_ms} ms"
        );
        // Ranks are read as the result's summary reads its percentiles.
        let (one, p50) = run();
        assert_eq!(one.at_rank(50_000), p50);
        // The same values 100 times each: 10 million records, a tenth of the width, at the cost
        // of a hundred.
        let long = || recorded(1..=100_000u64, 100).0;
        let interval = sampling(&[long()], &[long()], 0.5);
        let half_width_ms = (interval.high - interval.low) / 2.0 / 1000.0;
        assert!(
            (0.025..0.07).contains(&half_width_ms),
            "{interval:?}: ±{half_width_ms} ms"
        );
    }
}
