//! Topic setup for `cargo xtask bench`: every tool gets a fresh topic of the same layout, created
//! here (and deleted after its case) so no tool pays for, or benefits from, creating its own.
//!
//! `bench-topic create --bootstrap B --topic T --partitions N` returns once every partition has a
//! leader, so the first send of the tool that follows never waits for one.
//! `bench-topic delete --bootstrap B --topic T` frees the broker's disk between cases.

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::producer::{BaseProducer, Producer};
use rdkafka::ClientConfig;

const ADMIN_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Parser)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create a topic and wait until every partition has a leader.
    Create {
        #[arg(long)]
        bootstrap: String,
        #[arg(long)]
        topic: String,
        #[arg(long)]
        partitions: i32,
    },
    /// Delete a topic.
    Delete {
        #[arg(long)]
        bootstrap: String,
        #[arg(long)]
        topic: String,
    },
}

fn main() -> Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    match Args::parse().command {
        Command::Create {
            bootstrap,
            topic,
            partitions,
        } => {
            runtime.block_on(create(&bootstrap, &topic, partitions))?;
            wait_for_leaders(&bootstrap, &topic, partitions)
        }
        Command::Delete { bootstrap, topic } => runtime.block_on(delete(&bootstrap, &topic)),
    }
}

fn admin(bootstrap: &str) -> Result<AdminClient<DefaultClientContext>> {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .context("creating the admin client")
}

async fn create(bootstrap: &str, topic: &str, partitions: i32) -> Result<()> {
    let new_topic = NewTopic::new(topic, partitions, TopicReplication::Fixed(1));
    let options = AdminOptions::new().operation_timeout(Some(ADMIN_TIMEOUT));
    let results = admin(bootstrap)?
        .create_topics([&new_topic], &options)
        .await
        .with_context(|| format!("creating {topic}"))?;
    for result in results {
        if let Err((name, code)) = result {
            bail!("creating {name}: {code}");
        }
    }
    Ok(())
}

async fn delete(bootstrap: &str, topic: &str) -> Result<()> {
    let options = AdminOptions::new().operation_timeout(Some(ADMIN_TIMEOUT));
    let results = admin(bootstrap)?
        .delete_topics(&[topic], &options)
        .await
        .with_context(|| format!("deleting {topic}"))?;
    for result in results {
        if let Err((name, code)) = result {
            bail!("deleting {name}: {code}");
        }
    }
    Ok(())
}

fn wait_for_leaders(bootstrap: &str, topic: &str, partitions: i32) -> Result<()> {
    let client: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .context("creating the metadata client")?;
    let started = Instant::now();
    loop {
        let metadata = client
            .client()
            .fetch_metadata(Some(topic), Duration::from_secs(5))
            .with_context(|| format!("reading the metadata of {topic}"))?;
        let led = metadata
            .topics()
            .iter()
            .filter(|t| t.name() == topic && t.error().is_none())
            .flat_map(|t| t.partitions())
            .filter(|p| p.leader() >= 0)
            .count();
        if led == partitions as usize {
            return Ok(());
        }
        if started.elapsed() > ADMIN_TIMEOUT {
            bail!(
                "{topic}: {led} of {partitions} partitions have a leader after {ADMIN_TIMEOUT:?}"
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
