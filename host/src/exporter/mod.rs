//! `kscen exporter`: a deployment's replication lag and consumer-group lag as Prometheus metrics,
//! under the names the seeds' alert rules and scripts read, for a Prometheus to scrape beside
//! MirrorMaker 2's own exporters. The lags are read every `--every` on a task of their own and
//! served from memory: a scrape never waits on Kafka.
//!
//! Module map: `read` (one reading of the clusters and the mirror), `exposition` (a reading as
//! Prometheus text).

mod exposition;
mod read;

use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result};

use crate::cluster::Clusters;
use crate::config::profile::Profile;
use crate::deployment::mirrors::{self, Mirror};

#[derive(Debug, clap::Args)]
#[command(after_help = "\
Metrics (labels in brackets):
  mm2_replication_lag{mirror,source_topic,remote_topic,partition}
      the source partition's end offset minus its remote partition's on the target, for every
      topic the mirror's filter replicates (seed 004's lag monitor)
  kafka_consumer_group_lag{cluster,group,topic,partition}
      every consumer group's end offset minus its committed offset, on every cluster
  kscen_exporter_read_ok{part[,cluster]}, kscen_exporter_read_seconds,
  kscen_exporter_last_read_timestamp_seconds
      whether and when each part was last read (errors go to stderr)

Examples:
  kscen exporter --profile prod.toml --listen 127.0.0.1:9308
  kscen exporter --profile lab --once | grep mm2_replication_lag")]
pub struct ExporterArgs {
    /// The deployment's profile (a file, or `lab`): its clusters `source` and `target`, and the
    /// Connect cluster or `[mm2]` pins its mirror is found through.
    #[arg(long)]
    pub profile: String,
    /// The mirror, by one of its connectors' names or its alias pair SOURCE->TARGET, when the
    /// deployment runs several.
    #[arg(long)]
    pub mirror: Option<String>,
    /// Where to serve GET /metrics; loopback only (no authentication).
    #[arg(long, default_value = "127.0.0.1:9308")]
    pub listen: String,
    /// How often to read the lags (e.g. 5s, 500ms).
    #[arg(long, default_value = "5s", value_parser = crate::config::units::parse_duration)]
    pub every: Duration,
    /// Read once, print the metrics and exit: 0 when every part was read, 1 otherwise.
    #[arg(long)]
    pub once: bool,
}

/// The flag that names the endpoint's address.
const FLAG: &str = "--listen";

pub async fn run(args: ExporterArgs) -> Result<u8> {
    let profile = Profile::load(&args.profile)?;
    let reader = read::Reader::new(Clusters::from_profile(&profile));
    let source = Source {
        name: args.profile.clone(),
        describes_a_mirror: profile.connect.is_some() || profile.mm2.is_some(),
        profile,
        choice: args.mirror.clone(),
    };
    if args.once {
        let reading = reader.read(source.mirror().await).await;
        print!("{}", exposition::exposition(&reading, SystemTime::now()));
        let failed = report_errors(&reading, None);
        return Ok(u8::from(failed.is_some()));
    }

    let addr = crate::metrics_http::resolve(&args.listen, FLAG).await?;
    let served = Arc::new(RwLock::new(String::new()));
    let server = crate::metrics_http::serve(addr, FLAG, {
        let served = served.clone();
        move || served.read().expect("not poisoned").clone()
    })
    .await?;
    eprintln!(
        "kscen exporter: http://{}/metrics, read every {}{}",
        server.addr,
        humantime::format_duration(args.every),
        if source.describes_a_mirror {
            ""
        } else {
            " (the profile has no [connect] nor [mm2]: consumer-group lag only)"
        }
    );
    let mut last_error = None;
    loop {
        let reading = reader.read(source.mirror().await).await;
        *served.write().expect("not poisoned") =
            exposition::exposition(&reading, SystemTime::now());
        last_error = report_errors(&reading, last_error.as_deref());
        tokio::select! {
            _ = tokio::time::sleep(args.every) => {}
            () = crate::interrupt::interrupted() => return Ok(0),
        }
    }
}

/// Where the mirror is found, again at each reading: Connect may have restarted or the
/// connectors changed.
struct Source {
    name: String,
    profile: Profile,
    describes_a_mirror: bool,
    choice: Option<String>,
}

impl Source {
    async fn mirror(&self) -> Option<Result<Mirror, String>> {
        if !self.describes_a_mirror {
            return None;
        }
        let found = crate::deployment::mirrors(&self.name, &self.profile)
            .await
            .map_err(|e| format!("{e:#}"));
        Some(found.and_then(|all| self.choose(&all).map_err(|e| format!("{e:#}"))))
    }

    fn choose(&self, all: &[Mirror]) -> Result<Mirror> {
        match (&self.choice, all) {
            (Some(choice), _) => Ok(mirrors::choose(all, choice)?.clone()),
            (None, [only]) => Ok(only.clone()),
            (None, []) => anyhow::bail!(
                "profile {}: Connect runs no MirrorMaker 2 connector and [mm2] pins none",
                self.name
            ),
            (None, several) => {
                let labels: Vec<String> = several.iter().map(Mirror::label).collect();
                Err(anyhow::anyhow!(
                    "profile {}: {} mirrors ({}): choose one with --mirror",
                    self.name,
                    several.len(),
                    labels.join(", ")
                ))
            }
        }
        .with_context(|| "finding the mirror to read the replication lag of".to_string())
    }
}

/// Prints the reading's errors to stderr, once each while they last; returns them (`None` when
/// every part was read).
fn report_errors(reading: &read::Reading, last: Option<&str>) -> Option<String> {
    let mut errors = Vec::new();
    if let Some(Err(why)) = &reading.replication {
        errors.push(format!("replication lag: {why}"));
    }
    for (cluster, groups) in &reading.groups {
        if let Err(why) = groups {
            errors.push(format!("consumer groups of cluster {cluster}: {why}"));
        }
    }
    let errors = (!errors.is_empty()).then(|| errors.join("\n"));
    match (&errors, last) {
        (Some(now), Some(before)) if now == before => {}
        (Some(now), _) => eprintln!("kscen exporter: {now}"),
        (None, Some(_)) => eprintln!("kscen exporter: every part read again"),
        (None, None) => {}
    }
    errors
}
