//! `kscen merge`: the shards' result files in, the merged result file out, and the exit code a
//! single run with those figures would have had.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::exit::EXIT_PLUGIN_FAILED;
use crate::report::console::{replication_lines, summary_table, threshold_lines};
use crate::result::{Outcome, RunResult};
use crate::run::RunEnd;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Example, four shards started together:\n  for i in 0 1 2 3; do kscen run perf-01-nominal --profile lab --shard $i/4 --start-at $AT --json shard-$i.json & done; wait\n  kscen merge shard-*.json --json merged.json\n\nHistograms are added (merged percentiles are exactly those of one process that recorded every\nshard's values), counts, rates and replication verdicts summed, timelines aligned on the shared\nstart, and the thresholds judged once on the merged figures. Exit code as for `kscen run`."
)]
pub struct MergeArgs {
    /// The result files of every shard of one run (`kscen run --shard I/N --json FILE`), in any order.
    #[arg(required = true, num_args = 1..)]
    pub results: Vec<PathBuf>,
    /// Write the merged result here.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

pub fn run(args: MergeArgs) -> Result<u8> {
    let mut shards = Vec::new();
    for path in &args.results {
        let loaded = crate::result::load(path)
            .with_context(|| format!("reading shard result {}", path.display()))?;
        shards.push((path.display().to_string(), loaded.result));
    }
    conclude(shards, args.json.as_deref())
}

/// The shards' results (each named by where it came from) merged, summed up on the console,
/// written to `json`; the exit code one run with the merged figures would have had.
pub fn conclude(shards: Vec<(String, RunResult)>, json: Option<&Path>) -> Result<u8> {
    let (names, shards): (Vec<String>, Vec<RunResult>) = shards.into_iter().unzip();
    let merged = super::merge::merge(shards, &names)
        .map_err(|error| anyhow::anyhow!("cannot merge the shards: {error}"))?;
    print!("{}", summary_table(&merged.phases));
    print!("{}", replication_lines(&merged.replication));
    print!("{}", threshold_lines(&merged.thresholds));
    if let Some(path) = json {
        crate::result::write_json(path, &merged)?;
        eprintln!("Merged result written to {}", path.display());
    }
    let end = match &merged.outcome {
        Outcome::Completed => RunEnd::Completed,
        Outcome::Failed { failure } => RunEnd::PluginFailed(failure.clone()),
        Outcome::Aborted { reason } => RunEnd::Aborted(reason.clone()),
        Outcome::Running => {
            eprintln!("error: a shard never finished: its result is a snapshot");
            return Ok(EXIT_PLUGIN_FAILED);
        }
    };
    Ok(crate::run::command::exit_code(&end, &merged))
}
