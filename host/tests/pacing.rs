//! Open-loop pacing on the embedded mock cluster: the achieved rate over the scheduled window is
//! within 0.1 % of the target at 1k and 10k msg/s, and the generator keeps to its schedule.
//! One test, so the two rates are measured one after the other, not competing for the CPU.

use std::sync::Arc;
use std::time::{Duration, Instant};

use kscen::cluster::{Clusters, EMBEDDED_NAME};
use kscen::load::{job, KeyMode, LoadPlan, Rate};
use kscen::metrics::clock::RunClock;
use kscen::metrics::phases::PhaseBoard;

fn measure(rate: f64, seconds: u64) -> (f64, u64, u64, Duration) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let clusters = Clusters::embedded().unwrap();
    let topic = format!("pacing-{rate}");
    runtime
        .block_on(clusters.create_topic(EMBEDDED_NAME, &topic, 3, Some(1), &[]))
        .unwrap();
    let clock = RunClock::start();
    let board = Arc::new(PhaseBoard::default());
    board.begin("paced", 0);
    let plan = LoadPlan {
        cluster: EMBEDDED_NAME.into(),
        topic,
        rate: Rate::PerSecond(rate),
        count: None,
        duration: Some(Duration::from_secs(seconds)),
        record_sizes: vec![100],
        key_mode: KeyMode::None,
        replication: None,
    };
    let started = Instant::now();
    let load = job::spawn(
        1,
        0,
        plan,
        clusters.client_config(EMBEDDED_NAME).unwrap(),
        clock,
        board,
    )
    .unwrap();
    runtime.block_on(load.wait_done());
    let elapsed = started.elapsed();
    let recorder = load.recorder.lock().unwrap();
    let (_, phase) = recorder.phase_records().next().unwrap();
    let achieved = phase.sent as f64 / (phase.window_ns() as f64 / 1e9);
    (
        achieved,
        phase.acked,
        phase.schedule_lag.value_at_quantile(0.99),
        elapsed,
    )
}

#[test]
fn achieved_rate_is_within_a_tenth_of_a_percent_of_the_target() {
    for (rate, seconds) in [(1_000.0, 3), (10_000.0, 3)] {
        let (achieved, acked, lag_p99_us, elapsed) = measure(rate, seconds);
        let error = (achieved - rate).abs() / rate;
        println!("{rate} msg/s: achieved {achieved:.2} ({:.4} %), acked {acked}, schedule lag p99 {lag_p99_us} µs, {elapsed:?}", error * 100.0);
        assert!(error <= 0.001, "{rate} msg/s: achieved {achieved}");
        assert_eq!(
            acked,
            (rate as u64) * seconds,
            "every scheduled record acknowledged"
        );
        // Not a timing assertion on the machine: the run lasts its schedule plus the flush.
        assert!(elapsed < Duration::from_secs(seconds + 5));
    }
}
