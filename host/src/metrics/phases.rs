//! Phases: named spans of a run that the plugin opens and closes. Every message is attributed
//! to the phase open at its intended send time.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PhaseSpan {
    pub index: usize,
    pub name: String,
    pub start_ns: u64,
    pub end_ns: Option<u64>,
}

impl PhaseSpan {
    fn contains(&self, t_ns: u64) -> bool {
        t_ns >= self.start_ns && self.end_ns.is_none_or(|end| t_ns < end)
    }
}

/// The run's phases. Writers are the plugin's calls; readers are load jobs, which re-read only
/// when the generation changes.
#[derive(Debug, Default)]
pub struct PhaseBoard {
    spans: Mutex<Vec<PhaseSpan>>,
    generation: AtomicU64,
}

impl PhaseBoard {
    /// Opens a phase at `now_ns`, closing the open one.
    pub fn begin(&self, name: &str, now_ns: u64) -> usize {
        let mut spans = self.spans.lock().unwrap();
        close_open(&mut spans, now_ns);
        let index = spans.len();
        spans.push(PhaseSpan {
            index,
            name: name.to_string(),
            start_ns: now_ns,
            end_ns: None,
        });
        self.generation.fetch_add(1, Ordering::Release);
        index
    }

    pub fn end(&self, now_ns: u64) {
        close_open(&mut self.spans.lock().unwrap(), now_ns);
        self.generation.fetch_add(1, Ordering::Release);
    }

    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    pub fn snapshot(&self) -> Vec<PhaseSpan> {
        self.spans.lock().unwrap().clone()
    }

    /// The name of the phase open now, if any.
    pub fn current_name(&self) -> Option<String> {
        self.current(|s| s.name.clone())
    }

    /// The index of the phase open now, if any.
    pub fn current_index(&self) -> Option<usize> {
        self.current(|s| s.index)
    }

    fn current<T>(&self, read: impl FnOnce(&PhaseSpan) -> T) -> Option<T> {
        let spans = self.spans.lock().unwrap();
        spans.last().filter(|s| s.end_ns.is_none()).map(read)
    }
}

fn close_open(spans: &mut [PhaseSpan], now_ns: u64) {
    if let Some(open) = spans.last_mut().filter(|s| s.end_ns.is_none()) {
        open.end_ns = Some(now_ns);
    }
}

/// A load job's cached view of the board, for attributing messages without locking.
#[derive(Debug, Default)]
pub struct PhaseCursor {
    generation: u64,
    spans: Vec<PhaseSpan>,
}

impl PhaseCursor {
    /// The phase containing `t_ns`, or `None` between phases.
    pub fn phase_at(&mut self, board: &PhaseBoard, t_ns: u64) -> Option<usize> {
        let generation = board.generation();
        if generation != self.generation {
            self.spans = board.snapshot();
            self.generation = generation;
        }
        // Messages are scheduled in time order, so the answer is nearly always the last span.
        self.spans
            .iter()
            .rev()
            .find(|s| s.contains(t_ns))
            .map(|s| s.index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_belong_to_the_phase_open_at_their_intended_time() {
        let board = PhaseBoard::default();
        let mut cursor = PhaseCursor::default();
        assert_eq!(cursor.phase_at(&board, 5), None);
        board.begin("step-1", 10);
        board.begin("step-2", 20);
        assert_eq!(cursor.phase_at(&board, 15), Some(0));
        assert_eq!(cursor.phase_at(&board, 20), Some(1));
        board.end(30);
        assert_eq!(cursor.phase_at(&board, 29), Some(1));
        assert_eq!(cursor.phase_at(&board, 30), None);
        assert_eq!(board.snapshot()[0].end_ns, Some(20));
        assert_eq!(board.current_name(), None);
        assert_eq!(board.current_index(), None);
        board.begin("step-3", 40);
        assert_eq!(board.current_index(), Some(2));
    }
}
