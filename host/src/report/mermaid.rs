//! The Mermaid diagrams of a report: the data path as a sequence, the architecture the runs
//! used, and each run's test plan from its phases.

use std::collections::BTreeSet;

use crate::result::{LoadedResult, RunResult};

/// Text inside a quoted Mermaid label: quotes and `#` as entity codes, no line breaks.
fn label(text: &str) -> String {
    text.replace('#', "#35;")
        .replace('"', "#quot;")
        .replace(['\n', '\r'], " ")
}

fn uses_replication(runs: &[LoadedResult]) -> bool {
    runs.iter().any(|r| {
        !r.result.replication.is_empty()
            || r.result.phases.iter().any(|p| p.replicated_us.is_some())
    })
}

/// Producer → source → MM2 → target, with the monitoring that watches them.
pub fn sequence(runs: &[LoadedResult]) -> String {
    let replication = uses_replication(runs);
    let mut out = String::from(
        "sequenceDiagram\n    \
         participant P as Producer (kscen load job or perf-test)\n    \
         participant S as Kafka source cluster\n    \
         participant M as MirrorMaker 2 (Kafka Connect)\n    \
         participant T as Kafka target cluster\n    \
         participant O as Monitoring (kscen timeline, Prometheus, Grafana)\n    \
         P->>S: produce record (intended send time stamped)\n    \
         S-->>P: acknowledgement (service and corrected latency)\n    \
         P-)O: per-second timeline and live metrics\n",
    );
    out.push_str(
        "    M->>S: consume source topic\n    \
         M->>T: produce to the remote topic\n    \
         T-->>M: acknowledgement\n    \
         M-)O: connector status and lag\n    \
         O->>T: verify records (replicated, lost, duplicates)\n",
    );
    if !replication {
        out.push_str("    Note over M,T: not exercised by the runs in this report\n");
    }
    out
}

/// The components and flows the runs involved.
pub fn architecture(runs: &[LoadedResult]) -> String {
    let mut clusters: BTreeSet<String> = BTreeSet::new();
    let mut embedded = false;
    let mut imported = false;
    for run in runs {
        if let Some(env) = &run.result.environment {
            embedded |= env.embedded_cluster;
            clusters.extend(env.clusters.keys().cloned());
        }
        imported |= run.result.is_imported();
        for job in &run.result.replication {
            clusters.insert(job.target_cluster.clone());
        }
    }
    let mut out = String::from("flowchart LR\n");
    out.push_str("    subgraph load[\"Load\"]\n");
    if runs.iter().any(|r| !r.result.is_imported()) {
        out.push_str("        kscen[\"kscen host<br/>open-loop load jobs\"]\n");
        out.push_str("        plugin[\"scenario plugin<br/>WebAssembly sandbox\"]\n");
        out.push_str("        plugin -->|phases, rates, faults| kscen\n");
    }
    if imported {
        out.push_str("        perftest[\"kafka-producer-perf-test<br/>imported output\"]\n");
    }
    out.push_str("    end\n");
    if clusters.is_empty() {
        clusters.insert("source".into());
    }
    for (index, name) in clusters.iter().enumerate() {
        let kind = if embedded && name == "source" {
            " (embedded mock cluster)"
        } else {
            ""
        };
        out.push_str(&format!(
            "    c{index}[(\"Kafka {}{kind}\")]\n",
            label(name)
        ));
    }
    let source = clusters
        .iter()
        .position(|c| c == "source")
        .unwrap_or_default();
    if runs.iter().any(|r| !r.result.is_imported()) {
        out.push_str(&format!("    kscen -->|produce| c{source}\n"));
    }
    if imported {
        out.push_str(&format!("    perftest -->|produce| c{source}\n"));
    }
    out.push_str("    mm2[\"MirrorMaker 2<br/>on Kafka Connect\"]\n");
    out.push_str("    registry[\"Schema Registry\"]\n");
    out.push_str(&format!("    c{source} -->|consume| mm2\n"));
    for (index, name) in clusters.iter().enumerate() {
        if index != source {
            out.push_str(&format!(
                "    mm2 -->|replicate to {}| c{index}\n",
                label(name)
            ));
        }
    }
    out.push_str("    mon[\"Monitoring<br/>Prometheus, Grafana, kscen --metrics-addr\"]\n");
    out.push_str("    mon -.->|scrape| mm2\n");
    out.push_str(&format!("    mon -.->|scrape| c{source}\n"));
    out.push_str("    mon -.->|scrape| registry\n");
    if runs.iter().any(|r| !r.result.is_imported()) {
        out.push_str("    mon -.->|scrape| kscen\n");
    }
    out
}

/// The run's phases as the steps of its test plan.
pub fn plan(result: &RunResult) -> String {
    let mut out = String::from("flowchart TD\n");
    out.push_str(&format!(
        "    start([\"{}\"])\n",
        label(&format!("start: {}", result.scenario.name))
    ));
    let mut previous = "start".to_string();
    for (index, phase) in result.phases.iter().enumerate() {
        let id = format!("s{index}");
        let duration = match (phase.start_s, phase.end_s) {
            (Some(start), Some(end)) => Some(end - start),
            _ => phase.imported.as_ref().and_then(|i| i.elapsed_s),
        };
        let mut details = Vec::new();
        if let Some(duration) = duration {
            details.push(format!("{duration:.1} s"));
        }
        match phase.target_rate {
            Some(Some(rate)) => details.push(format!("target {rate:.0} msg/s")),
            Some(None) => details.push("unthrottled".into()),
            None => {}
        }
        let text = format!("{index}. {}", phase.name);
        let details = if details.is_empty() {
            String::new()
        } else {
            format!("<br/>{}", label(&details.join(", ")))
        };
        out.push_str(&format!("    {id}[\"{}{details}\"]\n", label(&text)));
        out.push_str(&format!("    {previous} --> {id}\n"));
        previous = id;
    }
    let end = match result.outcome.failure() {
        Some(failure) => format!("end: failed ({})", failure.kind()),
        None => "end: completed".to_string(),
    };
    out.push_str(&format!("    finish([\"{}\"])\n", label(&end)));
    out.push_str(&format!("    {previous} --> finish\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_escape_what_mermaid_reads_as_syntax() {
        assert_eq!(label("a \"b\" #1"), "a #quot;b#quot; #35;1");
    }
}
