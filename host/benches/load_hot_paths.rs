//! The load engine's per-record hot paths, measured alone (`cargo bench -p kscen --bench
//! load_hot_paths`; `cargo xtask bench` runs it as its section 6). Each iteration is one record:
//! what the job thread does for it besides librdkafka's own `send` and `poll`, and what the
//! verifiers do for each record read back (the replication check on the target, a consume job's
//! group ledger): their ceiling in records per second on one core.

use std::hint::black_box;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use kscen::load::recorder::{Enqueue, JobRecorder};
use kscen::load::schedule::{Rate, Schedule};
use kscen::metrics::clock::RunClock;
use kscen::metrics::phases::{PhaseBoard, PhaseCursor};
use kscen::verify::group_ledger::GroupLedger;
use kscen::verify::ReplicationState;

/// librdkafka's default `queue.buffering.max.messages`: the job's in-flight table size.
const IN_FLIGHT: u32 = 100_000;
/// Records per hold of the recorder's lock, as the job thread batches them.
const BATCH: u64 = 64;
/// Partitions of the topic the verifiers read (the bench's topics have six).
const PARTITIONS: u64 = 6;

fn pacing(c: &mut Criterion) {
    let mut group = c.benchmark_group("pacing");
    let paced = Schedule::new(0, Rate::PerSecond(100_000.0));
    let mut index = 0u64;
    group.bench_function("intended_time_and_due_count", |b| {
        b.iter(|| {
            index += 1;
            let intended = paced.intended_ns(black_box(index));
            black_box((intended, paced.due_count(intended.unwrap_or(0))))
        })
    });
    // A load whose rate changed a few times keeps a few segments until sending passes them.
    let mut stepped = Schedule::new(0, Rate::PerSecond(1_000.0));
    for (step, rate) in [2_000.0, 5_000.0, 10_000.0].into_iter().enumerate() {
        stepped.set_rate((step as u64 + 1) * 1_000_000_000, 0, Rate::PerSecond(rate));
    }
    let mut index = 0u64;
    group.bench_function("intended_time_after_rate_changes", |b| {
        b.iter(|| {
            index += 1;
            black_box(stepped.intended_ns(black_box(index)))
        })
    });
    let clock = RunClock::start();
    group.bench_function("run_clock_now", |b| b.iter(|| black_box(clock.now_ns())));
    let board = PhaseBoard::default();
    board.begin("steady", 0);
    let mut cursor = PhaseCursor::default();
    let mut t = 0u64;
    group.bench_function("phase_of_record", |b| {
        b.iter(|| {
            t += 10_000;
            black_box(cursor.phase_at(&board, black_box(t)))
        })
    });
    group.finish();
}

fn enqueue(seq: u64) -> Enqueue {
    Enqueue {
        seq,
        intended_ns: seq * 10_000,
        enqueued_ns: seq * 10_000 + 700,
        phase: 0,
        bytes: 100,
        period_ns: 10_000,
        target_rate: Some(100_000.0),
    }
}

fn recording(c: &mut Criterion) {
    let mut group = c.benchmark_group("recording");
    let mut recorder = JobRecorder::new(IN_FLIGHT, false);
    let mut seq = 0u64;
    group.bench_function("enqueue_and_acknowledge", |b| {
        b.iter(|| {
            seq += 1;
            let slot = recorder.begin(black_box(enqueue(seq))).expect("room");
            recorder.complete(slot, seq * 10_000 + 2_500_000, None);
        })
    });
    // As the job thread does it: the recorder is shared with the host behind a mutex, locked
    // once per batch of sends and once per batch of delivery reports (host/src/load/job.rs).
    let shared = Mutex::new(JobRecorder::new(IN_FLIGHT, false));
    let mut seq = 0u64;
    let mut slots = Vec::with_capacity(BATCH as usize);
    group.bench_function("enqueue_and_acknowledge_locked_per_batch", |b| {
        b.iter_custom(|records| {
            let started = Instant::now();
            let mut left = records;
            while left > 0 {
                let batch = left.min(BATCH);
                left -= batch;
                let mut recorder = shared.lock().unwrap();
                slots.extend((0..batch).map(|_| {
                    seq += 1;
                    recorder.begin(black_box(enqueue(seq))).expect("room")
                }));
                drop(recorder);
                let mut recorder = shared.lock().unwrap();
                for slot in slots.drain(..) {
                    recorder.complete(slot, seq * 10_000 + 2_500_000, None);
                }
            }
            started.elapsed()
        })
    });
    group.finish();
}

/// Sequences in order, the best case: every insert extends the one range the sets hold. Records
/// that arrive out of order (partitions read in turn) keep a few more ranges open until the gaps
/// fill; the sets' cost then grows with the log of the number of open gaps.
fn verify(c: &mut Criterion) {
    let mut group = c.benchmark_group("verify");
    let mut state = ReplicationState::default();
    let mut seq = 0u64;
    group.bench_function("replicated_in_order", |b| {
        b.iter(|| {
            seq += 1;
            black_box(state.replicated(black_box(seq), (seq % PARTITIONS) as i32))
        })
    });
    let mut ledger = GroupLedger::default();
    ledger.reads("source", "bench");
    let mut seq = 0u64;
    group.bench_function("group_ledger_read_in_order", |b| {
        b.iter(|| {
            seq += 1;
            black_box(ledger.read(1, black_box(seq)))
        })
    });
    group.finish();
}

fn short() -> Criterion {
    // Each iteration takes nanoseconds: a second per benchmark is plenty of samples.
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
}

criterion_group! {
    name = hot_paths;
    config = short();
    targets = pacing, recording, verify
}
criterion_main!(hot_paths);
