//! Section 5, plugin overhead: the single-record `produce` host call, measured by the
//! `bench-produce` plugin on the embedded mock cluster (no network between the call and its
//! acknowledgement to blur the difference). The component load times come from every kscen run of
//! the bench (see `Bench::plugin_loads`).

use anyhow::Result;

use crate::bench::settings::Workload;
use crate::bench::tools::kscen::{ClientProps, KscenRun, Set};
use crate::bench::Bench;

/// Record size of the produce calls, bytes.
const RECORD_SIZE: u32 = 100;

pub struct ProduceCall {
    pub calls: u64,
    pub record_size: u32,
    /// mean wall time of one call, as the plugin sees it
    pub call_us: f64,
    /// mean send → delivery report time the host measured inside the call
    pub ack_wait_us: f64,
    /// one clock host call, taken out of each call's timing
    pub clock_call_us: f64,
    /// call − ack wait − clock call: the host call's own cost per record (mean, median)
    pub overhead_us: f64,
    pub overhead_p50_us: f64,
}

pub fn run(bench: &mut Bench, workload: &Workload) -> Result<ProduceCall> {
    let sets = [
        Set::number("count", workload.produce_calls),
        Set::number("record_size", RECORD_SIZE),
    ];
    // Sent at once: the default 5 ms linger would make every call wait for it.
    let props = [("linger.ms".to_string(), "0".to_string())];
    let (_, result) = bench.measure_kscen(
        "plugin-produce",
        KscenRun {
            plugin: "bench-produce",
            profile: None,
            sets: &sets,
            props: ClientProps::Producer(&props),
        },
        Vec::new(),
    )?;
    Ok(ProduceCall {
        calls: result.figure("produce_calls")? as u64,
        record_size: RECORD_SIZE,
        call_us: result.figure("produce_call_us")?,
        ack_wait_us: result.figure("produce_ack_wait_us")?,
        clock_call_us: result.figure("clock_call_us")?,
        overhead_us: result.figure("produce_overhead_us")?,
        overhead_p50_us: result.figure("produce_overhead_p50_us")?,
    })
}
