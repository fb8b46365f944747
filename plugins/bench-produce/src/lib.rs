//! `cargo xtask bench`, plugin overhead: what one single-record `produce` host call costs on top
//! of the produce itself.
//!
//! `produce` waits for the acknowledgement, so a call's wall time is mostly the broker round trip.
//! The host measures that part itself (send → delivery report, `delivery.latency-us`); what the
//! plugin sees beyond it is the price of the call: crossing the component boundary both ways,
//! copying the record in, the host's grant check and producer lookup. The measurement's own clock
//! calls are timed separately and taken out.

use kscen_sdk::prelude::*;
use kscen_sdk::{clock, kafka};

struct BenchProduce;

impl Scenario for BenchProduce {
    fn describe() -> ScenarioInfo {
        Describe::new(
            "bench-produce",
            "Cost of the single-record produce host call (cargo xtask bench)",
        )
        .description(
            "Calls produce `count` times after `warmup` calls and reports, as figures, the mean \
             wall time of a call, the acknowledgement wait the host measured inside it, the cost \
             of one clock host call, and the difference: the host call's own overhead per record.",
        )
        .param(spec::text(
            "topic",
            "kscen-bench-produce",
            "topic to produce to",
        ))
        .param(spec::size("record_size", "100", "record value size"))
        .param(spec::int("count", 20_000, "measured produce calls"))
        .param(spec::int("warmup", 1_000, "produce calls before measuring"))
        .cluster("source")
        .build()
    }

    fn run() -> Result<(), ScenarioError> {
        let topic = param::text("topic")?;
        let count = param::int("count")?.max(1) as u64;
        let value = vec![b'A'; param::size("record_size")? as usize];
        create_topic("source", &topic, 1)?;
        for _ in 0..param::int("warmup")? {
            kafka::produce("source", &topic, None, &value)?;
        }
        let clock_call_ns = clock_call_ns(count);
        let mut overheads_ns = Vec::with_capacity(count as usize);
        let (mut call_total_ns, mut ack_total_ns) = (0u64, 0u64);
        for _ in 0..count {
            let before = clock::monotonic_now_ns();
            let delivery = kafka::produce("source", &topic, None, &value)?;
            let call_ns = clock::monotonic_now_ns() - before;
            // latency-us is rounded down to whole microseconds: add back the half it loses on
            // average, so the difference below is not overstated by it.
            let ack_ns = delivery.latency_us * 1_000 + 500;
            call_total_ns += call_ns;
            ack_total_ns += ack_ns;
            overheads_ns.push(call_ns.saturating_sub(ack_ns + clock_call_ns));
        }
        overheads_ns.sort_unstable();
        let mean_us = |total_ns: u64| total_ns as f64 / count as f64 / 1_000.0;
        figure("produce_calls", count as f64, "records");
        figure("produce_call_us", mean_us(call_total_ns), "us");
        figure("produce_ack_wait_us", mean_us(ack_total_ns), "us");
        figure("clock_call_us", clock_call_ns as f64 / 1_000.0, "us");
        figure(
            "produce_overhead_us",
            mean_us(overheads_ns.iter().sum()),
            "us",
        );
        figure(
            "produce_overhead_p50_us",
            overheads_ns[overheads_ns.len() / 2] as f64 / 1_000.0,
            "us",
        );
        Ok(())
    }
}

/// Mean cost of one `monotonic-now-ns` host call: the timing of each produce call includes one.
fn clock_call_ns(calls: u64) -> u64 {
    let started = clock::monotonic_now_ns();
    for _ in 0..calls {
        clock::monotonic_now_ns();
    }
    (clock::monotonic_now_ns() - started) / calls
}

kscen_sdk::export_scenario!(BenchProduce);
