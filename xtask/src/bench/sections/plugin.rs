//! Section 5, plugin overhead, per language a scenario is written in (Rust, Python, JavaScript):
//! the component's size, its first compile, its load from the compile cache, and the
//! single-record `produce` host call, measured by the `bench-produce` plugin and its Python and
//! JavaScript twins on the embedded mock cluster (no network between the call and its
//! acknowledgement to blur the difference), the median of `--repeat` runs. The load times of every other kscen run of the bench
//! come from `Bench::plugin_loads`.

use std::path::Path;

use anyhow::{ensure, Context, Result};

use crate::bench::sections::median;
use crate::bench::settings::Workload;
use crate::bench::tools::kscen::{ClientProps, KscenRun, RunResult, Set};
use crate::bench::Bench;

/// Record size of the produce calls, bytes.
const RECORD_SIZE: u32 = 100;

/// (language, plugin): the Rust plugin and its twins, which report the same figures.
const LANGUAGES: [(&str, &str); 3] = [
    ("Rust", "bench-produce"),
    ("Python", "bench-produce-py"),
    ("JavaScript", "bench-produce-js"),
];

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

/// What a scenario written in one language costs before and during its run.
pub struct LanguageCost {
    pub language: &'static str,
    pub plugin: &'static str,
    pub component_bytes: u64,
    /// load time of the first run, on an empty compile cache: compiling the component
    pub compiled_ms: f64,
    /// median load time of the next runs, from the compile cache the first one filled
    pub cached_load_ms: f64,
    /// the host call, as the median run (by overhead) of the next ones measured it
    pub call: ProduceCall,
    /// runs from the compile cache
    pub runs: usize,
}

/// Each language's plugin runs on a compile cache of its own: once cold, then `repeat` times
/// from the cache.
pub fn run(
    bench: &mut Bench,
    workload: &Workload,
    plugin_dist: &Path,
    repeat: usize,
) -> Result<Vec<LanguageCost>> {
    let sets = [
        Set::number("count", workload.produce_calls),
        Set::number("record_size", RECORD_SIZE),
    ];
    // Sent at once: the default 5 ms linger would make every call wait for it.
    let props = [("linger.ms".to_string(), "0".to_string())];
    let mut costs = Vec::new();
    for (language, plugin) in LANGUAGES {
        let component = plugin_dist.join(format!("{plugin}.wasm"));
        let component_bytes = std::fs::metadata(&component)
            .with_context(|| format!("reading {}", component.display()))?
            .len();
        let cache = bench.fresh_folder(&format!("compile-cache-{plugin}"))?;
        let run = KscenRun {
            plugin,
            profile: None,
            sets: &sets,
            props: ClientProps::Producer(&props),
        };
        let label = format!("plugin-{plugin}");
        let (_, cold) =
            bench.run_kscen(&format!("{label}-cold"), &run, Some(&cache), Vec::new())?;
        let (from_cache, compiled_ms) = cold.plugin_load()?;
        ensure!(
            !from_cache,
            "{plugin}: the first run on an empty compile cache loaded from it"
        );
        let mut loads = Vec::new();
        let mut calls = Vec::new();
        for _ in 0..repeat {
            let (_, warm) = bench.run_kscen(&label, &run, Some(&cache), Vec::new())?;
            let (from_cache, load_ms) = warm.plugin_load()?;
            ensure!(from_cache, "{plugin}: a run after the first compiled again");
            loads.push(load_ms);
            calls.push(produce_call(&warm)?);
        }
        if language == "Rust" {
            // The Rust plugin's loads count toward the compile-cache target with every other
            // run of the bench; the other languages' are reported on their own.
            bench.plugin_loads.push((false, compiled_ms));
            bench
                .plugin_loads
                .extend(loads.iter().map(|ms| (true, *ms)));
        }
        calls.sort_by(|a, b| a.overhead_us.total_cmp(&b.overhead_us));
        costs.push(LanguageCost {
            language,
            plugin,
            component_bytes,
            compiled_ms,
            cached_load_ms: median(loads),
            call: calls.swap_remove(calls.len() / 2),
            runs: repeat,
        });
    }
    Ok(costs)
}

fn produce_call(result: &RunResult) -> Result<ProduceCall> {
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
