//! How long to keep retrying a call Connect refuses for a rebalance (409 Conflict, or 500 "a
//! rebalance is expected"): during a rebalance the herder has no leader to forward to ("no known
//! leader URL") or cannot change configs yet. A rebalance lasts seconds; a scenario should see it
//! as latency, not as a failure.

use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RebalanceRetry {
    pub first_delay: Duration,
    pub max_delay: Duration,
    /// Give up (and surface the refusal) once this much time has passed since the first attempt.
    pub budget: Duration,
}

impl Default for RebalanceRetry {
    fn default() -> Self {
        // Kafka's rebalance.timeout.ms is 60 s: a rebalance still going after that is a failure.
        RebalanceRetry {
            first_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(2),
            budget: Duration::from_secs(60),
        }
    }
}

impl RebalanceRetry {
    /// The pause before retry number `retry` (0 for the first), given the time spent so far;
    /// `None` when the budget is spent. The last pause is cut to end on the budget.
    pub fn delay(&self, retry: u32, elapsed: Duration) -> Option<Duration> {
        let remaining = self.budget.checked_sub(elapsed).filter(|r| !r.is_zero())?;
        let doubled = self
            .first_delay
            .saturating_mul(2u32.saturating_pow(retry.min(31)));
        Some(doubled.min(self.max_delay).min(remaining))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn doubles_from_100_ms_up_to_2_s() {
        let policy = RebalanceRetry::default();
        let delays: Vec<u128> = (0..7)
            .map(|n| policy.delay(n, ms(0)).unwrap().as_millis())
            .collect();
        assert_eq!(delays, [100, 200, 400, 800, 1600, 2000, 2000]);
        assert_eq!(
            policy.delay(200, ms(0)),
            Some(ms(2000)),
            "no overflow on long rebalances"
        );
    }

    #[test]
    fn stops_at_the_budget_with_a_fake_clock() {
        let policy = RebalanceRetry::default();
        // Simulate the retries: sum the pauses as the clock would.
        let mut elapsed = Duration::ZERO;
        let mut retries = 0;
        while let Some(pause) = policy.delay(retries, elapsed) {
            elapsed += pause;
            retries += 1;
        }
        assert_eq!(
            elapsed,
            Duration::from_secs(60),
            "waits the whole budget, not beyond"
        );
        assert_eq!(
            retries,
            5 + 28 + 1,
            "5 ramp-up pauses, 2 s pauses, then the cut last one"
        );
        assert_eq!(policy.delay(3, ms(59_900)), Some(ms(100)));
        assert_eq!(policy.delay(0, ms(60_000)), None);
    }
}
