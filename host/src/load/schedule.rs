//! Open-loop pacing: every message has an intended send time on an absolute schedule, so a
//! stall shows up as lateness instead of silently lowering the offered load.

use std::collections::VecDeque;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Rate {
    Unthrottled,
    PerSecond(f64),
}

impl Rate {
    pub fn per_second(self) -> Option<f64> {
        match self {
            Rate::Unthrottled => None,
            Rate::PerSecond(rate) => Some(rate),
        }
    }
}

/// One stretch of the schedule at one rate, starting with message `first_index` at `origin_ns`.
#[derive(Debug, Clone, Copy)]
struct Segment {
    first_index: u64,
    origin_ns: u64,
    rate: Rate,
}

impl Segment {
    fn intended_ns(&self, index: u64) -> Option<u64> {
        let rate = self.rate.per_second()?;
        let offset = (index - self.first_index) as f64 * 1e9 / rate;
        Some(self.origin_ns + offset.round() as u64)
    }

    /// The first index of this segment whose intended time is at or after `t_ns`.
    fn first_index_at_or_after(&self, t_ns: u64) -> u64 {
        match self.rate.per_second() {
            None => self.first_index,
            Some(rate) => {
                let elapsed = t_ns.saturating_sub(self.origin_ns) as f64;
                let mut index = self.first_index + (elapsed * rate / 1e9).floor() as u64;
                while self.intended_ns(index).is_some_and(|t| t < t_ns) {
                    index += 1;
                }
                index
            }
        }
    }
}

#[derive(Debug, Clone)]
pub struct Schedule {
    /// Oldest first; segments are dropped once every index in them has been sent.
    segments: VecDeque<Segment>,
}

impl Schedule {
    pub fn new(start_ns: u64, rate: Rate) -> Schedule {
        Schedule {
            segments: VecDeque::from([Segment {
                first_index: 0,
                origin_ns: start_ns,
                rate,
            }]),
        }
    }

    /// Callers only ask about messages not sent yet, which are never in a dropped segment.
    fn segment_for(&self, index: u64) -> &Segment {
        self.segments
            .iter()
            .rev()
            .find(|s| s.first_index <= index)
            .unwrap_or(&self.segments[0])
    }

    /// The intended send time of message `index`; `None` when unthrottled (send at once).
    pub fn intended_ns(&self, index: u64) -> Option<u64> {
        self.segment_for(index).intended_ns(index)
    }

    /// The rate in force for message `index`.
    pub fn rate_at(&self, index: u64) -> Rate {
        self.segment_for(index).rate
    }

    /// Nanoseconds between message `index` and the next, 0 when unthrottled.
    pub fn period_ns(&self, index: u64) -> u64 {
        self.rate_at(index)
            .per_second()
            .map_or(0, |rate| (1e9 / rate).round() as u64)
    }

    /// How many messages are due by `now_ns` (all of them, as far as the schedule goes, when
    /// unthrottled).
    pub fn due_count(&self, now_ns: u64) -> u64 {
        let last = self.segments.back().expect("never empty");
        match last.rate {
            Rate::Unthrottled => u64::MAX,
            Rate::PerSecond(_) => last.first_index_at_or_after(now_ns + 1),
        }
    }

    /// From `now_ns` on, messages go out at `rate`. Messages already due under the old rate keep
    /// their intended times; `next_index` is the first message not sent yet.
    pub fn set_rate(&mut self, now_ns: u64, next_index: u64, rate: Rate) {
        let last = *self.segments.back().expect("never empty");
        let first_index = last.first_index_at_or_after(now_ns).max(next_index);
        while self
            .segments
            .back()
            .is_some_and(|s| s.first_index >= first_index)
            && self.segments.len() > 1
        {
            self.segments.pop_back();
        }
        if self.segments.len() == 1 && self.segments[0].first_index >= first_index {
            self.segments[0] = Segment {
                first_index,
                origin_ns: now_ns,
                rate,
            };
        } else {
            self.segments.push_back(Segment {
                first_index,
                origin_ns: now_ns,
                rate,
            });
        }
        // Once sending reaches a segment, the ones before it are no longer needed.
        while self.segments.len() > 1 && self.segments[1].first_index <= next_index {
            self.segments.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intended_times_follow_an_absolute_grid() {
        let schedule = Schedule::new(1_000, Rate::PerSecond(1000.0));
        assert_eq!(schedule.intended_ns(0), Some(1_000));
        assert_eq!(schedule.intended_ns(1), Some(1_001_000));
        assert_eq!(schedule.intended_ns(1_000_000), Some(1_000_000_001_000));
        assert_eq!(schedule.period_ns(5), 1_000_000);
    }

    #[test]
    fn fractional_rates_do_not_drift() {
        let schedule = Schedule::new(0, Rate::PerSecond(3.0));
        assert_eq!(schedule.intended_ns(3), Some(1_000_000_000));
        assert_eq!(schedule.intended_ns(3_000_000), Some(1_000_000_000_000_000));
    }

    #[test]
    fn due_count_counts_messages_whose_time_has_come() {
        let schedule = Schedule::new(0, Rate::PerSecond(1000.0));
        assert_eq!(schedule.due_count(0), 1);
        assert_eq!(schedule.due_count(999_999), 1);
        assert_eq!(schedule.due_count(1_000_000), 2);
        assert_eq!(schedule.due_count(1_000_000_000), 1001);
    }

    #[test]
    fn a_rate_change_applies_from_now_and_keeps_late_messages_in_place() {
        let mut schedule = Schedule::new(0, Rate::PerSecond(1000.0));
        // At t = 10 ms only 5 messages were sent: 5..=9 are late and keep their times.
        schedule.set_rate(10_000_000, 5, Rate::PerSecond(2000.0));
        assert_eq!(schedule.intended_ns(7), Some(7_000_000));
        assert_eq!(schedule.intended_ns(10), Some(10_000_000));
        assert_eq!(schedule.intended_ns(11), Some(10_500_000));
        schedule.set_rate(20_000_000, 31, Rate::Unthrottled);
        assert_eq!(schedule.intended_ns(31), None);
        assert_eq!(schedule.rate_at(31), Rate::Unthrottled);
        assert_eq!(schedule.due_count(20_000_000), u64::MAX);
    }

    #[test]
    fn from_unthrottled_back_to_a_rate() {
        let mut schedule = Schedule::new(0, Rate::Unthrottled);
        schedule.set_rate(5_000, 100, Rate::PerSecond(1.0));
        assert_eq!(schedule.intended_ns(100), Some(5_000));
        assert_eq!(schedule.intended_ns(101), Some(1_000_005_000));
        assert_eq!(schedule.rate_at(100), Rate::PerSecond(1.0));
    }
}
