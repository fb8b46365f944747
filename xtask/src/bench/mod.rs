//! `cargo xtask bench`: kscen against kafka-producer-perf-test and a bare rdkafka loop on the
//! lab's source broker, plus pacing accuracy, a broker stall, memory over time, the plugin
//! boundary's cost, microbenchmarks of the load engine's and the verifier's hot paths, and
//! consumer throughput against kafka-consumer-perf-test and a bare rdkafka consumer loop, and one
//! kscen process against four shards of the same run. One invocation prints a table and writes
//! `bench/results/<date>-<commit>.json`; docs/bench.md says what each figure is.
//!
//! Module map: `options` (command line), `settings` (client settings, workloads), `process`
//! (launch a tool or several at once, measure CPU / RSS from /proc, timed actions), `lab` (the
//! bench's own lab), `tools` (the three tools, producing and consuming), `sections` (one module
//! per section), `report` (targets, table, JSON).

mod lab;
mod options;
mod process;
mod report;
mod sections;
mod settings;
mod tools;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context, Result};

use self::lab::BenchLab;
use self::options::{Options, Section};
use self::process::{Launch, Measured};
use self::settings::Workload;
use self::tools::kscen::{ClientProps, Kscen, KscenRun, RunResult, Set};
use self::tools::native::Native;
use self::tools::perf_test::PerfTest;
use crate::workspace::Workspace;

/// RSS is sampled this often in every run (and reported per second for the long run).
const RSS_EVERY: Duration = Duration::from_millis(250);

pub fn run(workspace: &Workspace, args: &[String]) -> Result<()> {
    let root = &workspace.root;
    let options = Options::parse(args)?;
    let measured = report::Measured::describe(root)?;
    build(workspace)?;
    let release = workspace.target.join("release");
    let work = workspace.target.join("bench");
    // Fresh logs and results for this run only.
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).with_context(|| format!("creating {}", work.display()))?;
    let kscen = Kscen::new(&release.join("kscen"), &workspace.plugin_dist(), &work)?;
    let workload = Workload::new(options.quick);
    let mut findings = report::Findings::default();

    // Without the lab first, so its JVMs do not compete with these.
    if options.runs(Section::Micro) {
        findings.micro = Some(sections::micro::run(&workspace.target)?);
    }
    if options.runs(Section::Plugin) {
        let mut bench = Bench::new(&kscen, None, &release, &work);
        findings.plugin = Some(sections::plugin::run(
            &mut bench,
            &workload,
            &workspace.plugin_dist(),
            options.repeat,
        )?);
        findings.plugin_loads.extend(bench.plugin_loads);
    }
    if options.needs_lab() {
        let lab = BenchLab::up(
            kscen.binary(),
            workload.largest_run_bytes(&options.sections),
        )?;
        let perf_test = PerfTest::new(&work)?;
        let mut bench = Bench::new(&kscen, Some(&lab), &release, &work);
        if options.runs(Section::Throughput) {
            findings.throughput = Some(sections::throughput::run(
                &mut bench,
                &perf_test,
                &workload,
                options.repeat,
            )?);
        }
        if options.runs(Section::Rate) {
            findings.rate = Some(sections::rate::run(&mut bench, &workload)?);
        }
        if options.runs(Section::Stall) {
            findings.stall = Some(sections::stall::run(&mut bench, &perf_test, &workload)?);
        }
        if options.runs(Section::Memory) {
            findings.memory = Some(sections::memory::run(&mut bench, &workload)?);
        }
        if options.runs(Section::Consume) {
            findings.consume = Some(sections::consume::run(
                &mut bench,
                &perf_test,
                &workload,
                options.repeat,
            )?);
        }
        if options.runs(Section::Shards) {
            findings.shards = Some(sections::shards::run(
                &mut bench,
                &workload,
                options.repeat,
            )?);
        }
        findings.plugin_loads.extend(bench.plugin_loads);
    }

    let document = report::document(&measured, &options, &workload, &findings);
    let out = options.out.clone().unwrap_or_else(|| {
        root.join("bench")
            .join("results")
            .join(measured.file_name())
    });
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(&out, serde_json::to_string_pretty(&document)? + "\n")
        .with_context(|| format!("writing {}", out.display()))?;
    println!(
        "{}",
        report::table(&measured, &options, &workload, &findings)
    );
    println!("JSON: {}", out.display());
    Ok(())
}

/// Release builds of everything the bench launches: kscen, the native loops and topic helper, the
/// plugins in every language.
fn build(workspace: &Workspace) -> Result<()> {
    crate::run(crate::cargo().args([
        "build",
        "--release",
        "-p",
        "kscen",
        "-p",
        "native-producer",
        "-p",
        "native-consumer",
    ]))?;
    crate::build_plugins(workspace)
}

/// What every section needs: the tools, the lab (when the section runs on it), a place for logs.
pub struct Bench<'a> {
    pub kscen: &'a Kscen,
    pub lab: Option<&'a BenchLab>,
    pub native: Native,
    bench_topic: PathBuf,
    work: PathBuf,
    runs: u32,
    /// (from the compile cache?, load ms) of every kscen run: the plugin section reports them.
    pub plugin_loads: Vec<(bool, f64)>,
}

impl<'a> Bench<'a> {
    fn new(kscen: &'a Kscen, lab: Option<&'a BenchLab>, release: &Path, work: &Path) -> Bench<'a> {
        Bench {
            kscen,
            lab,
            native: Native::new(release),
            bench_topic: release.join("bench-topic"),
            work: work.to_path_buf(),
            runs: 0,
            plugin_loads: Vec::new(),
        }
    }

    pub fn lab(&self) -> Result<&'a BenchLab> {
        self.lab.context("this section runs on the lab")
    }

    /// A new log path (and result path) for a run named `label`.
    pub fn next_log(&mut self, label: &str) -> PathBuf {
        self.runs += 1;
        self.work.join(format!("{:03}-{label}", self.runs))
    }

    /// Runs a tool and fails unless it exits with 0.
    pub fn measure(
        &mut self,
        label: &str,
        command: Command,
        actions: Vec<process::TimedAction>,
    ) -> Result<Measured> {
        let launch = self.launch(label, command, actions);
        let measured = process::run(launch)?;
        measured.check_success(label)?;
        Ok(measured)
    }

    /// Runs the (label, command) tools at the same time, each measured as `measure` measures one;
    /// fails unless every one exits with 0.
    pub fn measure_together(&mut self, tools: Vec<(String, Command)>) -> Result<Vec<Measured>> {
        let labels: Vec<String> = tools.iter().map(|(label, _)| label.clone()).collect();
        let launches = tools
            .into_iter()
            .map(|(label, command)| self.launch(&label, command, Vec::new()))
            .collect();
        let measured = process::run_together(launches)?;
        for (process, label) in measured.iter().zip(&labels) {
            process.check_success(label)?;
        }
        Ok(measured)
    }

    fn launch(
        &mut self,
        label: &str,
        command: Command,
        actions: Vec<process::TimedAction>,
    ) -> Launch {
        eprintln!("bench: {label}");
        Launch {
            command,
            log: self.next_log(label),
            rss_every: RSS_EVERY,
            actions,
        }
    }

    /// Runs `kscen run` and reads its result, keeping the component's load time.
    /// A `steady` run on the bench's lab with `sets`, at `acks` with section 1's producer
    /// settings: how the producer sections run kscen.
    pub fn measure_steady(
        &mut self,
        label: &str,
        sets: &[Set],
        acks: settings::Acks,
    ) -> Result<(Measured, RunResult)> {
        let profile = self.lab()?.profile();
        let props = settings::java_properties(acks);
        self.measure_kscen(
            label,
            KscenRun {
                plugin: "steady",
                profile: Some(&profile),
                sets,
                props: ClientProps::Producer(&props),
            },
            Vec::new(),
        )
    }

    pub fn measure_kscen(
        &mut self,
        label: &str,
        run: KscenRun<'_>,
        actions: Vec<process::TimedAction>,
    ) -> Result<(Measured, RunResult)> {
        let (measured, result) = self.run_kscen(label, &run, None, actions)?;
        self.plugin_loads.push(result.plugin_load()?);
        Ok((measured, result))
    }

    /// Runs `kscen run`, with its compile cache in `compile_cache` (else the user's), and reads
    /// its result; the component's load time is the caller's to report.
    pub fn run_kscen(
        &mut self,
        label: &str,
        run: &KscenRun<'_>,
        compile_cache: Option<&Path>,
        actions: Vec<process::TimedAction>,
    ) -> Result<(Measured, RunResult)> {
        let result_path = self.work.join(format!("{:03}-{label}.json", self.runs + 1));
        let mut command = self.kscen.run_command(run, &result_path);
        if let Some(cache) = compile_cache {
            command.env("KSCEN_CACHE_DIR", cache);
        }
        let measured = self.measure(label, command, actions)?;
        Ok((measured, RunResult::read(&result_path)?))
    }

    /// Runs every shard of one sharded `kscen run` at the same time (`--shard i/count`, all
    /// starting at `start_at`, RFC 3339), measured each; their result files, in shard order. The
    /// shards' component loads are not kept for the plugin section: four processes loading at
    /// once on a small machine time the contention, not the compile cache.
    pub fn run_kscen_shards(
        &mut self,
        label: &str,
        run: &KscenRun<'_>,
        count: u32,
        start_at: &str,
    ) -> Result<(Vec<Measured>, Vec<PathBuf>)> {
        let mut tools = Vec::new();
        let mut results = Vec::new();
        for index in 0..count {
            let shard_label = format!("{label}-shard-{index}");
            // The result beside the log `measure_together` will give this shard.
            let result = self
                .work
                .join(format!("{:03}-{shard_label}.json", self.runs + 1 + index));
            let command = self
                .kscen
                .shard_command(run, &result, index, count, start_at);
            tools.push((shard_label, command));
            results.push(result);
        }
        Ok((self.measure_together(tools)?, results))
    }

    /// `kscen merge` of shard results into one, measured; the merged result.
    pub fn merge_kscen(
        &mut self,
        label: &str,
        shard_results: &[PathBuf],
    ) -> Result<(Measured, RunResult)> {
        let merged = self.work.join(format!("{:03}-{label}.json", self.runs + 1));
        let command = self.kscen.merge_command(shard_results, &merged);
        let measured = self.measure(label, command, Vec::new())?;
        Ok((measured, RunResult::read(&merged)?))
    }

    /// One unrecorded native run of `records` records of `record_size` bytes, acks=1: warms a
    /// freshly started broker up (its JIT, its page cache), which would otherwise slow whichever
    /// run went first.
    pub fn warm_up_broker(&mut self, record_size: u32, records: u64) -> Result<()> {
        let bootstrap = self.lab()?.bootstrap();
        let name = format!("warm-up-{record_size}b");
        let topic = format!("bench-{name}");
        self.create_topic(&topic)?;
        let command = self.native.command(
            &bootstrap,
            &topic,
            records,
            record_size,
            &settings::librdkafka_properties(settings::Acks::Leader),
        );
        self.measure(&name, command, Vec::new())?;
        self.delete_topic(&topic)
    }

    /// An empty folder under the bench's work folder.
    pub fn fresh_folder(&self, name: &str) -> Result<PathBuf> {
        let folder = self.work.join(name);
        let _ = std::fs::remove_dir_all(&folder);
        std::fs::create_dir_all(&folder)
            .with_context(|| format!("creating {}", folder.display()))?;
        Ok(folder)
    }

    /// A fresh topic on the lab's source, `PARTITIONS` partitions, leaders elected.
    pub fn create_topic(&self, topic: &str) -> Result<()> {
        let bootstrap = self.lab()?.bootstrap();
        let partitions = settings::PARTITIONS.to_string();
        crate::run(Command::new(&self.bench_topic).args([
            "create",
            "--bootstrap",
            &bootstrap,
            "--topic",
            topic,
            "--partitions",
            &partitions,
        ]))
    }

    /// Deletes a topic once its case is over, so the broker's disk does not fill up.
    pub fn delete_topic(&self, topic: &str) -> Result<()> {
        let bootstrap = self.lab()?.bootstrap();
        crate::run(Command::new(&self.bench_topic).args([
            "delete",
            "--bootstrap",
            &bootstrap,
            "--topic",
            topic,
        ]))
    }
}

/// `kill -<name> <pid>`.
pub fn signal(pid: u32, name: &str) -> Result<()> {
    let status = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .status()
        .context("cannot run kill")?;
    if !status.success() {
        bail!("kill -{name} {pid} failed ({status})");
    }
    Ok(())
}
