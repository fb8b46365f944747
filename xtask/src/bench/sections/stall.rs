//! Section 3, coordinated omission shown: kscen and perf-test each produce at the same fixed rate
//! while the source broker is frozen (SIGSTOP, then SIGCONT) for the same stretch at the same
//! offset from the tool's launch. kscen's corrected latency (from the intended send time) should
//! show the whole stall; its service latency (from the send call) and perf-test's figures are
//! printed beside it as they come.

use anyhow::Result;

use crate::bench::process::TimedAction;
use crate::bench::settings::{self, Acks, Workload, PARTITIONS};
use crate::bench::tools::kscen::{ClientProps, KscenRun, Set};
use crate::bench::tools::perf_test::{parse_final_line, PerfTest};
use crate::bench::tools::Latency;
use crate::bench::{signal, Bench};

pub struct Stall {
    pub rate: u64,
    pub records: u64,
    pub record_size: u32,
    /// When the broker was stopped and resumed in each tool's run, seconds after its launch.
    pub kscen_stall_s: (f64, f64),
    pub perf_test_stall_s: (f64, f64),
    pub kscen_corrected: Latency,
    pub kscen_service: Latency,
    pub perf_test: Latency,
    pub perf_test_line: String,
}

pub fn run(bench: &mut Bench, perf_test: &PerfTest, workload: &Workload) -> Result<Stall> {
    let lab = bench.lab()?;
    let (bootstrap, profile) = (lab.bootstrap(), lab.profile());
    let props = settings::java_properties(Acks::Leader);

    let topic = "bench-stall-kscen";
    bench.create_topic(topic)?;
    let sets = [
        Set::text("topic", topic),
        Set::number("rate", workload.stall_rate),
        Set::number("count", workload.stall_records),
        Set::number("record_size", workload.stall_record_size),
        Set::number("partitions", PARTITIONS),
    ];
    let kscen_run = bench.measure_kscen(
        "stall-kscen",
        KscenRun {
            plugin: "steady",
            profile: Some(&profile),
            sets: &sets,
            props: ClientProps::Producer(&props),
        },
        broker_stall(bench, workload)?,
    );
    resume_broker(bench)?;
    let (kscen_process, result) = kscen_run?;
    bench.delete_topic(topic)?;
    let phase = result.phase()?;

    let topic = "bench-stall-perf-test";
    bench.create_topic(topic)?;
    let command = perf_test.command(
        &bootstrap,
        topic,
        workload.stall_records,
        workload.stall_record_size,
        Some(workload.stall_rate),
        &props,
    );
    let perf_run = bench.measure("stall-perf-test", command, broker_stall(bench, workload)?);
    resume_broker(bench)?;
    let perf_process = perf_run?;
    bench.delete_topic(topic)?;
    let last = parse_final_line(&perf_process.stdout)?;

    Ok(Stall {
        rate: workload.stall_rate,
        records: workload.stall_records,
        record_size: workload.stall_record_size,
        kscen_stall_s: stall_times(&kscen_process.actions_run),
        perf_test_stall_s: stall_times(&perf_process.actions_run),
        kscen_corrected: phase.corrected,
        kscen_service: phase.service,
        perf_test: last.latency,
        perf_test_line: last.line,
    })
}

/// SIGSTOP to the source broker `stall_at` after launch, SIGCONT `stall_for` after the SIGSTOP
/// went out (one action, so a late start does not shorten the stall).
fn broker_stall(bench: &Bench, workload: &Workload) -> Result<Vec<TimedAction>> {
    let pid = bench.lab()?.source_pid()?;
    let stall_for = workload.stall_for;
    Ok(vec![TimedAction {
        at: workload.stall_at,
        name: "SIGSTOP source-1",
        run: Box::new(move || {
            signal(pid, "STOP")?;
            std::thread::sleep(stall_for);
            signal(pid, "CONT")
        }),
    }])
}

/// The broker must never stay frozen, also when a tool ended before its SIGCONT was due.
fn resume_broker(bench: &Bench) -> Result<()> {
    signal(bench.lab()?.source_pid()?, "CONT")
}

/// (stopped, resumed) in seconds after launch; NaN when the stall did not run (the tool had ended
/// before it).
fn stall_times(actions_run: &[(&'static str, f64, f64)]) -> (f64, f64) {
    actions_run
        .iter()
        .find(|(name, _, _)| name.starts_with("SIGSTOP"))
        .map_or((f64::NAN, f64::NAN), |(_, started, ended)| {
            (*started, *ended)
        })
}
