//! kscen as the bench drives it: `kscen run` of a one-line scenario file naming a plugin
//! (`steady` for load, `bench-consume` for a consume job, `bench-produce` and its Python and
//! JavaScript twins for the host-call cost),
//! parameters through `--set`, client settings through `--producer-props` / `--consumer-props`,
//! figures read back from its `--json` result; the same run as shards (`--shard`, `--start-at`)
//! and `kscen merge` of their results.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};
use serde_json::Value;

use super::Latency;

pub struct Kscen {
    binary: PathBuf,
    plugin_dir: PathBuf,
    work: PathBuf,
}

/// Client properties for a run, with Java names (kscen maps them to librdkafka).
#[derive(Debug, Clone, Copy)]
pub enum ClientProps<'a> {
    Producer(&'a [(String, String)]),
    Consumer(&'a [(String, String)]),
}

/// One `kscen run` of a bench plugin: what `Kscen::run_command` turns into a command line.
pub struct KscenRun<'a> {
    pub plugin: &'a str,
    pub profile: Option<&'a Path>,
    pub sets: &'a [Set],
    pub props: ClientProps<'a>,
}

/// A parameter for `--set`, already in TOML value syntax.
pub struct Set(pub &'static str, pub String);

impl Set {
    pub fn text(name: &'static str, value: &str) -> Set {
        Set(name, format!("{value:?}"))
    }

    pub fn number(name: &'static str, value: impl ToString) -> Set {
        Set(name, value.to_string())
    }
}

impl Kscen {
    /// Writes the scenario files the bench runs into `work`.
    pub fn new(binary: &Path, plugin_dir: &Path, work: &Path) -> Result<Kscen> {
        for plugin in [
            "steady",
            "bench-consume",
            "bench-produce",
            "bench-produce-py",
            "bench-produce-js",
        ] {
            let file = work.join(format!("{plugin}.toml"));
            std::fs::write(
                &file,
                format!(
                    "plugin = \"{plugin}\"\ndescription = \"cargo xtask bench: {plugin}, parameters from --set\"\n"
                ),
            )
            .with_context(|| format!("writing {}", file.display()))?;
        }
        Ok(Kscen {
            binary: binary.to_path_buf(),
            plugin_dir: plugin_dir.to_path_buf(),
            work: work.to_path_buf(),
        })
    }

    pub fn binary(&self) -> &Path {
        &self.binary
    }

    /// `kscen run <plugin>.toml [--profile P] --json RESULT --set ... --producer-props ...` (or
    /// `--consumer-props`); without a profile the run uses the embedded mock cluster.
    pub fn run_command(&self, run: &KscenRun<'_>, result: &Path) -> Command {
        let KscenRun {
            plugin,
            profile,
            sets,
            props,
        } = *run;
        let mut command = Command::new(&self.binary);
        command
            .env("KSCEN_PLUGIN_PATH", &self.plugin_dir)
            .arg("run")
            .arg(self.work.join(format!("{plugin}.toml")))
            .arg("--json")
            .arg(result);
        if let Some(profile) = profile {
            command.arg("--profile").arg(profile);
        }
        for Set(name, value) in sets {
            command.arg("--set").arg(format!("{name}={value}"));
        }
        let (flag, props) = match props {
            ClientProps::Producer(props) => ("--producer-props", props),
            ClientProps::Consumer(props) => ("--consumer-props", props),
        };
        if !props.is_empty() {
            command.arg(flag);
            command.args(props.iter().map(|(k, v)| format!("{k}={v}")));
        }
        command
    }

    /// `run_command` of shard `index` of `count`: `--shard index/count --start-at START_AT`.
    pub fn shard_command(
        &self,
        run: &KscenRun<'_>,
        result: &Path,
        index: u32,
        count: u32,
        start_at: &str,
    ) -> Command {
        let mut command = self.run_command(run, result);
        command
            .arg("--shard")
            .arg(format!("{index}/{count}"))
            .arg("--start-at")
            .arg(start_at);
        command
    }

    /// `kscen merge SHARD_RESULT... --json MERGED`.
    pub fn merge_command(&self, shard_results: &[PathBuf], merged: &Path) -> Command {
        let mut command = Command::new(&self.binary);
        command
            .arg("merge")
            .args(shard_results)
            .arg("--json")
            .arg(merged);
        command
    }
}

/// A `kscen.result/v1` file.
pub struct RunResult {
    json: Value,
    path: PathBuf,
}

/// The figures of the one phase a bench scenario opens.
#[derive(Debug, Clone)]
pub struct PhaseFigures {
    pub sent: u64,
    pub acked: u64,
    pub failed: u64,
    pub bytes: u64,
    /// phase start and end on the run clock: the load job's start to its last acknowledgement
    pub start_s: f64,
    pub end_s: f64,
    pub achieved_rate: f64,
    pub target_rate: Option<f64>,
    pub schedule_lag_p50_us: f64,
    pub schedule_lag_p99_us: f64,
    pub corrected: Latency,
    pub service: Latency,
}

/// The figures of the one consume job a `bench-consume` run starts.
#[derive(Debug, Clone)]
pub struct ConsumerFigures {
    pub records: u64,
    pub bytes: u64,
    /// from the job's start until its group held every partition
    pub join_ms: f64,
    /// records ÷ the fetch time (join → last record), as perf-test's fetch.nMsg.sec
    pub records_per_s: f64,
}

impl ConsumerFigures {
    /// The job's fetch time, back from its rate.
    pub fn fetch_s(&self) -> f64 {
        self.records as f64 / self.records_per_s
    }
}

impl RunResult {
    pub fn read(path: &Path) -> Result<RunResult> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading kscen's result {}", path.display()))?;
        let json = serde_json::from_str(&text)
            .with_context(|| format!("{} is not JSON", path.display()))?;
        Ok(RunResult {
            json,
            path: path.to_path_buf(),
        })
    }

    fn number(&self, value: &Value, field: &str) -> Result<f64> {
        value[field]
            .as_f64()
            .with_context(|| format!("{}: no number {field}", self.path.display()))
    }

    fn latency(&self, histogram: &Value) -> Result<Latency> {
        let ms = |field| Ok::<_, anyhow::Error>(self.number(histogram, field)? / 1000.0);
        Ok(Latency {
            p50_ms: ms("p50")?,
            p99_ms: ms("p99")?,
            p999_ms: ms("p999")?,
            max_ms: ms("max")?,
        })
    }

    /// The first phase (bench scenarios open exactly one).
    pub fn phase(&self) -> Result<PhaseFigures> {
        let phase = &self.json["phases"][0];
        anyhow::ensure!(
            phase.is_object(),
            "{}: the run recorded no phase",
            self.path.display()
        );
        let count = |field| self.number(phase, field).map(|v| v as u64);
        let lag = &phase["schedule_lag_us"];
        Ok(PhaseFigures {
            sent: count("sent")?,
            acked: count("acked")?,
            failed: count("failed")?,
            bytes: count("bytes")?,
            start_s: self.number(phase, "start_s")?,
            end_s: self.number(phase, "end_s")?,
            achieved_rate: self.number(phase, "achieved_rate")?,
            target_rate: phase["target_rate"].as_f64(),
            schedule_lag_p50_us: self.number(lag, "p50")?,
            schedule_lag_p99_us: self.number(lag, "p99")?,
            corrected: self.latency(&phase["corrected_us"])?,
            service: self.latency(&phase["service_us"])?,
        })
    }

    /// The first consume job (bench scenarios start exactly one).
    pub fn consumer(&self) -> Result<ConsumerFigures> {
        let job = &self.json["consumers"][0];
        anyhow::ensure!(
            job.is_object(),
            "{}: the run recorded no consume job",
            self.path.display()
        );
        let count = |field| self.number(job, field).map(|v| v as u64);
        Ok(ConsumerFigures {
            records: count("records")?,
            bytes: count("bytes")?,
            join_ms: self.number(job, "join_ms")?,
            records_per_s: self.number(job, "records_per_s")?,
        })
    }

    /// (from the compile cache?, milliseconds to load the component)
    pub fn plugin_load(&self) -> Result<(bool, f64)> {
        let plugin = &self.json["scenario"]["plugin"];
        let from_cache = plugin["from_cache"]
            .as_bool()
            .with_context(|| format!("{}: no scenario.plugin.from_cache", self.path.display()))?;
        Ok((from_cache, self.number(plugin, "load_ms")?))
    }

    /// A figure the plugin reported with `metrics.figure`.
    pub fn figure(&self, name: &str) -> Result<f64> {
        self.number(&self.json["figures"][name], "value")
            .with_context(|| format!("the plugin did not report {name}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bench reads kscen's results by field name, without the host's result types (xtask does
    /// not build wasmtime). The committed example, a real `kscen run` output that the host's own
    /// types read back unchanged, keeps those names the host's.
    #[test]
    fn the_bench_reads_the_figures_of_a_real_kscen_result() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let result = RunResult::read(&root.join("docs/examples/run.json")).unwrap();
        let phase = result.phase().unwrap();
        assert!(phase.acked > 0 && phase.acked <= phase.sent, "{phase:?}");
        assert!(phase.end_s > phase.start_s, "{phase:?}");
        assert!(
            phase.corrected.p99_ms >= phase.corrected.p50_ms,
            "{phase:?}"
        );
        let (_, load_ms) = result.plugin_load().unwrap();
        assert!(load_ms > 0.0);
    }
}
