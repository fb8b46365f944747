//! A reading as Prometheus text, under the names the seeds read: `mm2_replication_lag` (seed 004
//! §11.2.2's lag monitor, labels `source_topic` and `partition`) and `kafka_consumer_group_lag`
//! (§11.3.3's consumer alerts, labels `group`, `topic`, `partition`). Each part's reading says
//! whether it worked, so a silent exporter cannot pass for a mirror without lag.

use std::fmt::Write as _;
use std::time::SystemTime;

use super::read::{Reading, ReplicationLag};
use crate::metrics_http::label_value;

pub fn exposition(reading: &Reading, read_at: SystemTime) -> String {
    fn header(out: &mut String, name: &str, help: &str) {
        let kind = if name.ends_with("_total") {
            "counter"
        } else {
            "gauge"
        };
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
    }
    let mut out = String::new();
    let mut read_ok: Vec<(String, bool)> = Vec::new();

    if let Some(replication) = &reading.replication {
        header(
            &mut out,
            "mm2_replication_lag",
            "Records of a source partition not on the target: the source partition's end offset \
             minus its remote partition's (negative: more on the target, duplicates).",
        );
        if let Ok(lags) = replication {
            for lag in lags {
                let _ = writeln!(
                    out,
                    "mm2_replication_lag{{{}}} {}",
                    replication_labels(lag),
                    lag.lag()
                );
            }
        }
        header(
            &mut out,
            "mm2_records_replicated_total",
            "Records the mirror has written to a remote partition: its end offset on the target.",
        );
        if let Ok(lags) = replication {
            for lag in lags {
                let _ = writeln!(
                    out,
                    "mm2_records_replicated_total{{{}}} {}",
                    replication_labels(lag),
                    lag.target_end
                );
            }
        }
        read_ok.push(("part=\"replication\"".to_string(), replication.is_ok()));
    }

    header(
        &mut out,
        "kafka_consumer_group_lag",
        "A consumer group's end offset minus its committed offset, per partition it committed.",
    );
    for (cluster, groups) in &reading.groups {
        if let Ok(groups) = groups {
            for group in groups {
                for partition in &group.partitions {
                    let Some(lag) = partition.lag else { continue };
                    let _ = writeln!(
                        out,
                        "kafka_consumer_group_lag{{cluster=\"{}\",group=\"{}\",topic=\"{}\",partition=\"{}\"}} {lag}",
                        label_value(cluster),
                        label_value(&group.group),
                        label_value(&partition.topic),
                        partition.partition
                    );
                }
            }
        }
        read_ok.push((
            format!("part=\"groups\",cluster=\"{}\"", label_value(cluster)),
            groups.is_ok(),
        ));
    }

    header(
        &mut out,
        "kafka_consumer_group_members",
        "Members of a consumer group that has committed offsets.",
    );
    for (cluster, groups) in &reading.groups {
        for group in groups.iter().flatten() {
            let _ = writeln!(
                out,
                "kafka_consumer_group_members{{cluster=\"{}\",group=\"{}\"}} {}",
                label_value(cluster),
                label_value(&group.group),
                group.members
            );
        }
    }

    header(
        &mut out,
        "kscen_exporter_read_ok",
        "1 when the last reading of this part worked; its error is on kscen exporter's stderr.",
    );
    for (labels, ok) in read_ok {
        let _ = writeln!(out, "kscen_exporter_read_ok{{{labels}}} {}", u8::from(ok));
    }
    header(
        &mut out,
        "kscen_exporter_read_seconds",
        "How long the last reading took.",
    );
    let _ = writeln!(
        out,
        "kscen_exporter_read_seconds {}",
        reading.took.as_secs_f64()
    );
    header(
        &mut out,
        "kscen_exporter_last_read_timestamp_seconds",
        "When the last reading ended (Unix time).",
    );
    let at = read_at
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "kscen_exporter_last_read_timestamp_seconds {}",
        at.as_secs_f64()
    );
    out
}

fn replication_labels(lag: &ReplicationLag) -> String {
    format!(
        "mirror=\"{}\",source_topic=\"{}\",remote_topic=\"{}\",partition=\"{}\"",
        label_value(&lag.mirror),
        label_value(&lag.source_topic),
        label_value(&lag.remote_topic),
        lag.partition
    )
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::groups::lag::{GroupLag, PartitionLag};

    fn reading() -> Reading {
        Reading {
            replication: Some(Ok(vec![ReplicationLag {
                mirror: "east->west".into(),
                source_topic: "orders".into(),
                remote_topic: "east_orders".into(),
                partition: 3,
                source_end: 120,
                target_end: 100,
            }])),
            groups: vec![
                (
                    "target".into(),
                    Ok(vec![GroupLag {
                        cluster: "target".into(),
                        group: "billing".into(),
                        state: "Stable".into(),
                        members: 1,
                        partitions: vec![
                            PartitionLag {
                                topic: "east_orders".into(),
                                partition: 0,
                                committed: Some(40),
                                end: 50,
                                lag: Some(10),
                            },
                            PartitionLag {
                                topic: "east_orders".into(),
                                partition: 1,
                                committed: None,
                                end: 7,
                                lag: None,
                            },
                        ],
                    }]),
                ),
                ("source".into(), Err("broker down".into())),
            ],
            took: Duration::from_millis(250),
        }
    }

    #[test]
    fn lags_carry_the_labels_the_seeds_queries_read() {
        let text = exposition(&reading(), SystemTime::UNIX_EPOCH);
        assert!(text.contains(
            "mm2_replication_lag{mirror=\"east->west\",source_topic=\"orders\",\
             remote_topic=\"east_orders\",partition=\"3\"} 20\n"
        ));
        assert!(text.contains(
            "kafka_consumer_group_lag{cluster=\"target\",group=\"billing\",topic=\"east_orders\",\
             partition=\"0\"} 10\n"
        ));
        // A partition the group never committed has no lag to report.
        assert!(!text.contains("partition=\"1\"}"), "{text}");
        assert!(text.contains(
            "mm2_records_replicated_total{mirror=\"east->west\",source_topic=\"orders\",\
             remote_topic=\"east_orders\",partition=\"3\"} 100\n"
        ));
        assert!(
            text.contains("kafka_consumer_group_members{cluster=\"target\",group=\"billing\"} 1\n")
        );
        assert!(text.contains("kscen_exporter_read_seconds 0.25\n"));
    }

    #[test]
    fn a_part_that_could_not_be_read_says_so() {
        let text = exposition(&reading(), SystemTime::UNIX_EPOCH);
        assert!(text.contains("kscen_exporter_read_ok{part=\"replication\"} 1\n"));
        assert!(text.contains("kscen_exporter_read_ok{part=\"groups\",cluster=\"target\"} 1\n"));
        assert!(text.contains("kscen_exporter_read_ok{part=\"groups\",cluster=\"source\"} 0\n"));
        let mut failed = reading();
        failed.replication = Some(Err("Connect down".into()));
        let text = exposition(&failed, SystemTime::UNIX_EPOCH);
        assert!(text.contains("kscen_exporter_read_ok{part=\"replication\"} 0\n"));
        assert!(!text.contains("mm2_replication_lag{"), "{text}");
    }

    #[test]
    fn without_a_mirror_there_is_no_replication_lag_at_all() {
        let mut plain = reading();
        plain.replication = None;
        let text = exposition(&plain, SystemTime::UNIX_EPOCH);
        assert!(!text.contains("mm2_replication_lag"), "{text}");
        assert!(!text.contains("part=\"replication\""), "{text}");
    }
}
