//! The run's one monotonic clock: every intended time, acknowledgement and event is measured
//! on it, in nanoseconds since the run started.

use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy)]
pub struct RunClock {
    origin: Instant,
}

impl RunClock {
    pub fn start() -> RunClock {
        RunClock {
            origin: Instant::now(),
        }
    }

    pub fn now_ns(&self) -> u64 {
        self.origin.elapsed().as_nanos() as u64
    }

    pub fn instant_at(&self, t_ns: u64) -> Instant {
        self.origin + Duration::from_nanos(t_ns)
    }
}
