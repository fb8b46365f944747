//! Open-loop pacing on the embedded mock cluster, at 1k and 10k msg/s: the schedule is exact (every
//! record, spaced one period apart), the generator never runs ahead of it, and it falls behind only
//! as far as the machine stalls it. How close it keeps to the target on a quiet machine (0.1 %) is
//! a figure of `cargo xtask bench`'s rate section, not a timing assertion here: CI runs this test
//! beside a lab's JVMs. One test, so the two rates are measured one after the other.

use std::sync::Arc;
use std::time::{Duration, Instant};

use kscen::cluster::{Clusters, EMBEDDED_NAME};
use kscen::load::{job, KeyMode, LoadPlan, Rate};
use kscen::metrics::clock::RunClock;
use kscen::metrics::phases::PhaseBoard;

struct Paced {
    achieved: f64,
    scheduled_ns: u64,
    sent: u64,
    acked: u64,
    lag_p99_us: u64,
    elapsed: Duration,
}

fn measure(rate: f64, seconds: u64) -> Paced {
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
        shard: kscen::shard::Shard::WHOLE,
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
    Paced {
        achieved: phase.sent as f64 / (phase.window_ns() as f64 / 1e9),
        scheduled_ns: phase.last_intended_ns + phase.last_period_ns - phase.first_intended_ns,
        sent: phase.sent,
        acked: phase.acked,
        lag_p99_us: phase.schedule_lag.value_at_quantile(0.99),
        elapsed,
    }
}

#[test]
fn the_schedule_is_exact_and_the_generator_never_runs_ahead_of_it() {
    for (rate, seconds) in [(1_000.0, 3), (10_000.0, 3)] {
        let paced = measure(rate, seconds);
        let error = (paced.achieved - rate) / rate;
        println!(
            "{rate} msg/s: achieved {:.2} ({:+.4} %), acked {}, schedule lag p99 {} µs, {:?}",
            paced.achieved,
            error * 100.0,
            paced.acked,
            paced.lag_p99_us,
            paced.elapsed
        );
        let expected = (rate as u64) * seconds;
        assert_eq!(paced.sent, expected, "every scheduled record sent");
        assert_eq!(paced.acked, expected, "every scheduled record acknowledged");
        let period_ns = 1e9 / rate;
        let schedule_error_ns = paced.scheduled_ns.abs_diff(seconds * 1_000_000_000);
        assert!(
            (schedule_error_ns as f64) < period_ns,
            "{rate} msg/s: the intended sends span {} ns, not {seconds} s",
            paced.scheduled_ns
        );
        // Open loop: a late send stretches the window, nothing may shorten it.
        assert!(error <= 0.001, "{rate} msg/s ran ahead: {}", paced.achieved);
        // A stall of the whole machine may delay the last sends by tens of ms, not a tenth of
        // the run: falling further behind is a pacer that does not catch up.
        assert!(
            error > -0.02,
            "{rate} msg/s fell behind: {}",
            paced.achieved
        );
        // Not a timing assertion on the machine: the run lasts its schedule plus the flush.
        assert!(paced.elapsed < Duration::from_secs(seconds + 5));
    }
}
