//! Which worker leads the Connect group. No REST call says; two sources do:
//!
//! - the worker logs: on every rebalance each member logs
//!   `[2026-11-21 08:07:46,438] INFO [Worker clientId=connect-127.0.0.1:38083, groupId=g] Joined group
//!   at generation 30 with protocol version 2 and got assignment: Assignment{error=0,
//!   leader='connect-127.0.0.1:38083-fa00…', leaderUrl='http://127.0.0.1:38083/', …}`;
//!   the newest such line across the workers' `log_file`s names the current leader;
//! - the JMX exporter's `kafka_connect_worker_rebalance_leader{leader="<leaderUrl>"}` (the lab maps
//!   `connect-worker-rebalance-metrics` `leader-name` to it), read from a live worker's probe.
//!
//! Both lag a crash: until the group notices (session.timeout.ms), a killed leader is still named.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use reqwest::Url;

/// What one "Joined group" line says.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Joined {
    /// `2026-11-21 08:07:46,438`: sorts chronologically, and compares across workers on one host
    /// (generations restart when the lab's Kafka data is wiped; a log may hold an old run).
    pub timestamp: String,
    pub generation: u64,
    pub leader_url: String,
}

const MARKER: &str = "Joined group at generation ";

pub fn parse_joined(line: &str) -> Option<Joined> {
    let at = line.find(MARKER)?;
    let generation = line[at + MARKER.len()..]
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()?;
    let timestamp = line.strip_prefix('[')?.split(']').next()?;
    if !timestamp.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    let timestamp = timestamp.to_string();
    let leader_url = between(line, "leaderUrl='", "'")?.to_string();
    Some(Joined {
        timestamp,
        generation,
        leader_url,
    })
}

fn between<'a>(text: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let from = text.find(start)? + start.len();
    let len = text[from..].find(end)?;
    Some(&text[from..from + len])
}

/// A log grows by every replicated record's chatter: read it backwards, a chunk at a time.
const CHUNK: u64 = 256 * 1024;
/// Past this much text without a rebalance line, the file does not tell.
const SCAN_LIMIT: u64 = 32 * 1024 * 1024;

/// The newest "Joined group" line of one log file.
pub fn newest_in_log(path: &Path) -> std::io::Result<Option<Joined>> {
    let mut file = File::open(path)?;
    let len = file.metadata()?.len();
    let mut end = len;
    while end > 0 && len - end < SCAN_LIMIT {
        // Overlap the chunks by one line's worth so a line cut at a boundary is seen whole.
        let start = end.saturating_sub(CHUNK);
        let read_to = (end + 8 * 1024).min(len);
        let mut buffer = vec![0; (read_to - start) as usize];
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(&mut buffer)?;
        let text = String::from_utf8_lossy(&buffer);
        // Mid-file, the chunk starts inside a line: drop that fragment (the next chunk has it).
        let text = match (start > 0, text.find('\n')) {
            (true, Some(newline)) => &text[newline + 1..],
            _ => &text[..],
        };
        if let Some(joined) = text.lines().rev().find_map(parse_joined) {
            return Ok(Some(joined));
        }
        end = start;
    }
    Ok(None)
}

/// `host:port` of a leader URL such as `http://127.0.0.1:38083/`.
pub fn leader_host_port(leader_url: &str) -> Option<String> {
    let url = Url::parse(leader_url).ok()?;
    super::endpoints::host_port(&url).ok()
}

/// The leader URL in a worker's scrape, when the exporter publishes it.
pub fn leader_from_metrics(body: &str) -> Option<String> {
    let samples = crate::probe::text::parse(body, "kafka_connect_worker_rebalance_leader").ok()?;
    samples
        .iter()
        .find_map(|s| s.label("leader").map(str::to_string))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINE: &str = "[2026-11-21 08:07:46,438] INFO [Worker clientId=connect-127.0.0.1:38085, groupId=kscen-lab-connect] \
        Joined group at generation 30 with protocol version 2 and got assignment: Assignment{error=0, \
        leader='connect-127.0.0.1:38083-fa004f05-a0d1-4337-ba32-c02091e390dd', leaderUrl='http://127.0.0.1:38083/', \
        offset=12, connectorIds=[mirror-source], taskIds=[mirror-source-1], revokedConnectorIds=[], revokedTaskIds=[], \
        delay=0} with rebalance delay: 0 (org.apache.kafka.connect.runtime.distributed.DistributedHerder)";

    #[test]
    fn a_real_join_line() {
        let joined = parse_joined(LINE).unwrap();
        assert_eq!(joined.timestamp, "2026-11-21 08:07:46,438");
        assert_eq!(joined.generation, 30);
        assert_eq!(
            leader_host_port(&joined.leader_url).as_deref(),
            Some("127.0.0.1:38083")
        );
        assert_eq!(
            parse_joined("[2026-11-21 08:07:46,438] INFO Rebalance started"),
            None
        );
    }

    #[test]
    fn the_newest_line_wins_even_far_back_in_a_big_log() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("worker.log");
        let older = LINE
            .replace("generation 30", "generation 29")
            .replace("38083/'", "38084/'");
        let noise =
            "[2026-11-21 08:07:47,000] INFO Resetting offset for partition x-1\n".repeat(20_000);
        std::fs::write(&path, format!("{older}\n{LINE}\n{noise}")).unwrap();
        let joined = newest_in_log(&path).unwrap().unwrap();
        assert_eq!(joined.generation, 30);
        assert_eq!(joined.leader_url, "http://127.0.0.1:38083/");
        std::fs::write(&path, noise).unwrap();
        assert_eq!(newest_in_log(&path).unwrap(), None);
    }

    #[test]
    fn the_metric_names_the_leader_url() {
        let body = "# TYPE kafka_connect_worker_rebalance_leader gauge\n\
                    kafka_connect_worker_rebalance_leader{leader=\"http://127.0.0.1:38084/\"} 1.0\n\
                    kafka_connect_worker_rebalance_metrics_epoch 7.0\n";
        assert_eq!(
            leader_from_metrics(body).as_deref(),
            Some("http://127.0.0.1:38084/")
        );
        assert_eq!(leader_from_metrics("jvm_threads_current 3\n"), None);
    }
}
