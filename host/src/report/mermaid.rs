//! The report's diagrams: the data path as a sequence, the architecture the runs used, and each
//! run's test plan from its phases. Each is built once, from what the results show, and rendered
//! twice: it displays as its Mermaid source (the Markdown report) and draws itself as SVG
//! (`diagram_svg`, for the HTML page, which ships no Mermaid script).

use std::collections::HashMap;
use std::fmt;

use super::seen::{join, Seen};
use crate::result::{LoadedResult, RunResult};

/// Text inside a Mermaid label: quotes, `#` and `;` (a statement's end in a sequence diagram)
/// as entity codes, no line breaks.
fn label(text: &str) -> String {
    // One pass: the entity codes' own `#` and `;` must stay as they are.
    text.chars()
        .map(|c| match c {
            '#' => "#35;".to_string(),
            '"' => "#quot;".to_string(),
            ';' => "#59;".to_string(),
            '\n' | '\r' => " ".to_string(),
            other => other.to_string(),
        })
        .collect()
}

/// Participants left to right, and what passes between them top to bottom.
#[derive(Default)]
pub struct Sequence {
    pub(super) participants: Vec<Participant>,
    pub(super) steps: Vec<Step>,
}

pub(super) struct Participant {
    id: String,
    pub(super) label: String,
}

pub(super) enum Step {
    /// `reply`: the answer to an earlier message, drawn dashed
    Message {
        from: usize,
        to: usize,
        text: String,
        reply: bool,
    },
    Note {
        over: usize,
        text: String,
    },
}

impl Sequence {
    fn participant(&mut self, id: impl Into<String>, label: String) -> usize {
        let id = id.into();
        self.participants.push(Participant { id, label });
        self.participants.len() - 1
    }

    fn message(&mut self, from: usize, to: usize, text: impl Into<String>) {
        let text = text.into();
        self.steps.push(Step::Message {
            from,
            to,
            text,
            reply: false,
        });
    }

    fn reply(&mut self, from: usize, to: usize, text: impl Into<String>) {
        let text = text.into();
        self.steps.push(Step::Message {
            from,
            to,
            text,
            reply: true,
        });
    }

    fn note(&mut self, over: usize, text: impl Into<String>) {
        let text = text.into();
        self.steps.push(Step::Note { over, text });
    }
}

impl fmt::Display for Sequence {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        writeln!(f, "sequenceDiagram")?;
        for p in &self.participants {
            writeln!(f, "    participant {} as {}", p.id, label(&p.label))?;
        }
        let id = |index: usize| &self.participants[index].id;
        for step in &self.steps {
            match step {
                Step::Message {
                    from,
                    to,
                    text,
                    reply,
                } => {
                    let arrow = if *reply { "-->>" } else { "->>" };
                    writeln!(f, "    {}{arrow}{}: {}", id(*from), id(*to), label(text))?
                }
                Step::Note { over, text } => {
                    writeln!(f, "    Note over {}: {}", id(*over), label(text))?
                }
            }
        }
        Ok(())
    }
}

/// Boxes and the arrows between them.
pub struct Flowchart {
    /// Mermaid's `LR` or `TD`; the SVG drawing always runs left to right
    direction: &'static str,
    pub(super) nodes: Vec<Node>,
    pub(super) edges: Vec<Edge>,
    /// nodes boxed together under a title (Mermaid's subgraph)
    pub(super) group: Option<Group>,
}

pub(super) struct Node {
    id: String,
    pub(super) lines: Vec<String>,
    pub(super) shape: Shape,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Shape {
    Box,
    /// a data store: a cluster
    Store,
    /// where a plan starts or ends
    Terminal,
}

pub(super) struct Edge {
    pub(super) from: usize,
    pub(super) to: usize,
    pub(super) label: Option<String>,
    /// a look or a poll rather than the data's own path
    pub(super) dashed: bool,
}

pub(super) struct Group {
    id: &'static str,
    pub(super) title: &'static str,
    pub(super) members: Vec<usize>,
}

impl Flowchart {
    fn new(direction: &'static str) -> Flowchart {
        Flowchart {
            direction,
            nodes: Vec::new(),
            edges: Vec::new(),
            group: None,
        }
    }

    fn node(&mut self, id: impl Into<String>, shape: Shape, lines: Vec<String>) -> usize {
        let id = id.into();
        self.nodes.push(Node { id, lines, shape });
        self.nodes.len() - 1
    }

    fn edge(&mut self, from: usize, to: usize, label: Option<String>, dashed: bool) {
        self.edges.push(Edge {
            from,
            to,
            label,
            dashed,
        });
    }

    fn write_node(&self, f: &mut fmt::Formatter, indent: &str, node: &Node) -> fmt::Result {
        let text = node
            .lines
            .iter()
            .map(|line| label(line))
            .collect::<Vec<_>>()
            .join("<br/>");
        let (open, close) = match node.shape {
            Shape::Box => ("[", "]"),
            Shape::Store => ("[(", ")]"),
            Shape::Terminal => ("([", "])"),
        };
        writeln!(f, "{indent}{}{open}\"{text}\"{close}", node.id)
    }

    fn write_edge(&self, f: &mut fmt::Formatter, indent: &str, edge: &Edge) -> fmt::Result {
        let arrow = if edge.dashed { "-.->" } else { "-->" };
        let text = match &edge.label {
            Some(text) => format!("|\"{}\"|", label(text)),
            None => String::new(),
        };
        let (from, to) = (&self.nodes[edge.from].id, &self.nodes[edge.to].id);
        writeln!(f, "{indent}{from} {arrow}{text} {to}")
    }
}

impl fmt::Display for Flowchart {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        writeln!(f, "flowchart {}", self.direction)?;
        let members: &[usize] = self.group.as_ref().map_or(&[], |g| &g.members);
        let inside = |edge: &Edge| members.contains(&edge.from) && members.contains(&edge.to);
        if let Some(group) = &self.group {
            writeln!(f, "    subgraph {}[\"{}\"]", group.id, label(group.title))?;
            for &index in members {
                self.write_node(f, "        ", &self.nodes[index])?;
            }
            for edge in self.edges.iter().filter(|e| inside(e)) {
                self.write_edge(f, "        ", edge)?;
            }
            writeln!(f, "    end")?;
        }
        for (index, node) in self.nodes.iter().enumerate() {
            if !members.contains(&index) {
                self.write_node(f, "    ", node)?;
            }
        }
        for edge in self.edges.iter().filter(|e| !inside(e)) {
            self.write_edge(f, "    ", edge)?;
        }
        Ok(())
    }
}

/// A run's phases in order, as its test plan.
pub struct Plan {
    pub(super) scenario: String,
    pub(super) steps: Vec<PlanStep>,
    /// `completed`, or `failed (kind)`
    pub(super) end: String,
    pub(super) failed: bool,
}

pub(super) struct PlanStep {
    pub(super) name: String,
    pub(super) start_s: Option<f64>,
    pub(super) duration_s: Option<f64>,
    /// `Some(None)`: unthrottled; `None`: the result does not say
    pub(super) target: Option<Option<f64>>,
}

impl PlanStep {
    /// Its duration and target rate, as both renderings write them; empty when neither is known.
    pub(super) fn details(&self) -> String {
        let mut details = Vec::new();
        if let Some(duration) = self.duration_s {
            details.push(format!("{duration:.1} s"));
        }
        match self.target {
            Some(Some(rate)) => details.push(format!("target {rate:.0} msg/s")),
            Some(None) => details.push("unthrottled".into()),
            None => {}
        }
        details.join(", ")
    }
}

impl Plan {
    /// The plan as Mermaid draws it: a column of steps between its start and its end.
    fn flowchart(&self) -> Flowchart {
        let mut chart = Flowchart::new("TD");
        let mut previous = chart.node(
            "start",
            Shape::Terminal,
            vec![format!("start: {}", self.scenario)],
        );
        for (index, step) in self.steps.iter().enumerate() {
            let mut lines = vec![format!("{index}. {}", step.name)];
            let details = step.details();
            if !details.is_empty() {
                lines.push(details);
            }
            let node = chart.node(format!("s{index}"), Shape::Box, lines);
            chart.edge(previous, node, None, false);
            previous = node;
        }
        let finish = chart.node(
            "finish",
            Shape::Terminal,
            vec![format!("end: {}", self.end)],
        );
        chart.edge(previous, finish, None, false);
        chart
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        self.flowchart().fmt(f)
    }
}

/// The producer, the clusters, and the mirror and monitoring where the runs used them.
pub fn sequence(runs: &[LoadedResult]) -> Sequence {
    let seen = Seen::of(runs);
    let clusters = seen.clusters();
    let mut diagram = Sequence::default();
    let producer = diagram.participant("P", seen.producer_label());
    let cluster: Vec<usize> = clusters
        .iter()
        .enumerate()
        .map(|(index, name)| diagram.participant(format!("C{index}"), seen.cluster_label(name)))
        .collect();
    let mirror = seen
        .mirrored
        .then(|| diagram.participant("M", seen.mirror_label()));
    let prometheus =
        (!seen.prometheus.is_empty()).then(|| diagram.participant("R", seen.prometheus_label()));
    let producing = cluster[0];
    if seen.kscen {
        diagram.message(
            producer,
            producing,
            "produce record (intended send time stamped)",
        );
        diagram.reply(
            producing,
            producer,
            "acknowledgement (service and corrected latency)",
        );
        diagram.note(producer, "kscen records a per-second timeline");
    }
    if seen.perf_test {
        diagram.message(producer, producing, "send()");
        diagram.reply(producing, producer, "callback (service latency)");
        diagram.note(producer, "perf-test prints a line per 5 s window");
    }
    let index_of = |name: &String| clusters.iter().position(|c| c.as_ref() == Some(name));
    if let Some(mirror) = mirror {
        diagram.message(mirror, producing, "consume the source topics");
        for target in seen.targets.iter().filter_map(index_of) {
            diagram.message(mirror, cluster[target], "produce to the remote topics");
            diagram.reply(cluster[target], mirror, "acknowledgement");
            if seen.tracked {
                diagram.message(
                    producer,
                    cluster[target],
                    "read the remote topics (replicated, lost, duplicates)",
                );
            }
        }
    }
    for (name, groups) in &seen.consumed {
        if let Some(index) = index_of(name) {
            let text = format!("consume jobs read (groups {})", join(groups));
            diagram.message(producer, cluster[index], text);
        }
    }
    if let (Some(prometheus), Some(mirror)) = (prometheus, mirror) {
        if seen.mm2_metrics {
            diagram.message(prometheus, mirror, "scrape MM2's exporters");
        }
    }
    if let Some(prometheus) = prometheus {
        diagram.message(
            producer,
            prometheus,
            "poll alerts and series during the run",
        );
    }
    diagram
}

/// The components and flows the runs involved.
pub fn architecture(runs: &[LoadedResult]) -> Flowchart {
    let seen = Seen::of(runs);
    let clusters = seen.clusters();
    let lines = |lines: &[&str]| lines.iter().map(|l| l.to_string()).collect::<Vec<_>>();
    let mut chart = Flowchart::new("LR");
    let kscen = seen.kscen.then(|| {
        let kscen = chart.node(
            "kscen",
            Shape::Box,
            lines(&["kscen host", "open-loop load jobs"]),
        );
        let plugin = chart.node(
            "plugin",
            Shape::Box,
            lines(&["scenario plugin", "WebAssembly sandbox"]),
        );
        chart.edge(plugin, kscen, Some("phases, rates, faults".into()), false);
        kscen
    });
    let perftest = seen.perf_test.then(|| {
        chart.node(
            "perftest",
            Shape::Box,
            lines(&["kafka-producer-perf-test", "imported output"]),
        )
    });
    chart.group = Some(Group {
        id: "load",
        title: "Load",
        members: (0..chart.nodes.len()).collect(),
    });
    let cluster: Vec<usize> = clusters
        .iter()
        .enumerate()
        .map(|(index, name)| {
            chart.node(
                format!("c{index}"),
                Shape::Store,
                vec![seen.cluster_label(name)],
            )
        })
        .collect();
    let producing = cluster[0];
    for producer in kscen.iter().chain(&perftest) {
        chart.edge(*producer, producing, Some("produce".into()), false);
    }
    let index_of = |name: &String| clusters.iter().position(|c| c.as_ref() == Some(name));
    let mirror = seen.mirrored.then(|| {
        let mirror = chart.node("mm2", Shape::Box, vec![seen.mirror_label()]);
        chart.edge(producing, mirror, Some("consume".into()), false);
        mirror
    });
    if let Some(mirror) = mirror {
        for target in seen.targets.iter().filter_map(index_of) {
            chart.edge(mirror, cluster[target], Some("replicate".into()), false);
            if let (true, Some(kscen)) = (seen.tracked, kscen) {
                let text = Some("remote records checked".into());
                chart.edge(cluster[target], kscen, text, true);
            }
        }
    }
    if let Some(kscen) = kscen {
        for (name, groups) in &seen.consumed {
            if let Some(index) = index_of(name) {
                let text = format!("consume jobs, groups {}", join(groups));
                chart.edge(cluster[index], kscen, Some(text), false);
            }
        }
        if !seen.prometheus.is_empty() {
            let prometheus = chart.node("prom", Shape::Box, vec![seen.prometheus_label()]);
            let text = Some("poll alerts and series".into());
            chart.edge(kscen, prometheus, text, true);
            if let (true, Some(mirror)) = (seen.mm2_metrics, mirror) {
                chart.edge(prometheus, mirror, Some("scrape".into()), true);
            }
        }
    }
    chart
}

/// The run's phases as the steps of its test plan.
pub fn plan(result: &RunResult) -> Plan {
    let steps = result
        .phases
        .iter()
        .map(|phase| PlanStep {
            name: phase.name.clone(),
            start_s: phase.start_s,
            duration_s: match (phase.start_s, phase.end_s) {
                (Some(start), Some(end)) => Some(end - start),
                _ => phase.imported.as_ref().and_then(|i| i.elapsed_s),
            },
            target: phase.target_rate,
        })
        .collect();
    let failure = result.outcome.failure();
    Plan {
        scenario: result.scenario.name.clone(),
        steps,
        end: match failure {
            Some(failure) => format!("failed ({})", failure.kind()),
            None => "completed".to_string(),
        },
        failed: failure.is_some(),
    }
}

/// The SVG of every diagram the report draws for `runs`, by its Mermaid source: the HTML page
/// draws the Markdown report's Mermaid blocks with it.
pub fn svg_by_source(runs: &[LoadedResult]) -> HashMap<String, String> {
    let sequence = sequence(runs);
    let architecture = architecture(runs);
    let mut drawn = HashMap::from([
        (sequence.to_string(), sequence.svg()),
        (architecture.to_string(), architecture.svg()),
    ]);
    for run in runs {
        let plan = plan(&run.result);
        drawn.insert(plan.to_string(), plan.svg());
    }
    drawn
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loaded(result: serde_json::Value) -> LoadedResult {
        LoadedResult {
            path: "r.json".into(),
            result: serde_json::from_value(result).unwrap(),
        }
    }

    /// The sequence and the architecture of `runs`, one after the other: as Mermaid source, and
    /// as SVG, checked to parse as XML.
    fn diagrams(runs: &[LoadedResult]) -> (String, String) {
        let (sequence, architecture) = (sequence(runs), architecture(runs));
        let svg = format!("{}{}", sequence.svg(), architecture.svg());
        assert_well_formed(&svg);
        (format!("{sequence}{architecture}"), svg)
    }

    fn assert_well_formed(svg: &str) {
        for event in svg::read(svg).unwrap() {
            if let svg::parser::Event::Error(error) = event {
                panic!("{error:?} in\n{svg}");
            }
        }
    }

    /// A run on real clusters; `extra` adds or replaces fields of its result.
    fn run_on_two_clusters(extra: serde_json::Value) -> LoadedResult {
        let mut result = serde_json::json!({
            "schema": "kscen.result/v1",
            "scenario": {"name": "5.4"},
            "environment": {"embedded_cluster": false,
                            "clusters": {"source": "s:9092", "target": "t:9092"}},
            "outcome": {"status": "completed"},
        });
        for (key, value) in extra.as_object().unwrap() {
            result[key] = value.clone();
        }
        loaded(result)
    }

    fn mirror(source: &str, target: &str) -> serde_json::Value {
        serde_json::json!({"label": "m", "source_alias": source, "target_alias": target,
                           "replication_policy": "default", "connectors": [], "pinned": false})
    }

    #[test]
    fn labels_escape_what_mermaid_reads_as_syntax() {
        assert_eq!(label("a \"b\" #1; c"), "a #quot;b#quot; #35;1#59; c");
    }

    #[test]
    fn an_embedded_run_draws_its_cluster_and_nothing_it_did_not_use() {
        let runs = [loaded(serde_json::json!({
            "schema": "kscen.result/v1",
            "scenario": {"name": "perf-02"},
            "environment": {"embedded_cluster": true, "clusters": {"source": "mock"}},
            "outcome": {"status": "completed"},
        }))];
        let (mermaid, svg) = diagrams(&runs);
        assert!(
            mermaid.contains("Kafka source (embedded mock cluster)"),
            "{mermaid}"
        );
        assert!(
            svg.contains("<title>Kafka source (embedded mock cluster)</title>"),
            "{svg}"
        );
        assert!(svg.contains("<title>Producer (kscen load jobs)</title>"));
        for text in [&mermaid, &svg] {
            for absent in [
                "Schema Registry",
                "MirrorMaker",
                "Prometheus",
                "Grafana",
                "target",
            ] {
                assert!(!text.contains(absent), "{absent} drawn in\n{text}");
            }
        }
    }

    #[test]
    fn a_tracked_mirror_and_the_prometheus_polled_are_drawn() {
        let runs = [run_on_two_clusters(serde_json::json!({
            "replication": [{"job": 1, "cluster": "source", "topic": "orders",
                             "target_cluster": "target", "remote_topic": "east.orders",
                             "sent": 10, "acked": 10, "failed": 0, "replicated": 10,
                             "duplicates": 0, "out_of_order": 0, "lost": 0,
                             "lag_records": 0, "lag_ms": 0}],
            "mirror": mirror("east", "west"),
            "mm2_metrics": {"probe": "prometheus", "poll_ms": 2000, "polls": 4,
                            "failed_polls": 0, "topics": [], "source_connector": null,
                            "series": []},
        }))];
        let (mermaid, svg) = diagrams(&runs);
        for present in [
            "participant M as MirrorMaker 2 (east to west)",
            "participant C1 as Kafka target",
            "M->>C1: produce to the remote topics",
            "P->>C1: read the remote topics",
            "participant R as Prometheus (probe prometheus)",
            "R->>M: scrape MM2's exporters",
            "mm2 -->|\"replicate\"| c1",
            "c1 -.->|\"remote records checked\"| kscen",
            "prom -.->|\"scrape\"| mm2",
        ] {
            assert!(mermaid.contains(present), "no {present:?} in\n{mermaid}");
        }
        for present in [
            "<title>MirrorMaker 2 (east to west)</title>",
            "<title>Kafka target</title>",
            "<title>Prometheus (probe prometheus)</title>",
            ">produce to the remote topics</text>",
            ">read the remote topics (replicated, lost, duplicates)</text>",
            ">scrape MM2&apos;s exporters</text>",
            ">replicate</text>",
            ">remote records checked</text>",
            ">scrape</text>",
        ] {
            let present = present.replace("&apos;", "'");
            assert!(svg.contains(&present), "no {present:?} in\n{svg}");
        }
        for text in [&mermaid, &svg] {
            assert!(!text.contains("Schema Registry") && !text.contains("Grafana"));
        }
    }

    #[test]
    fn a_mirror_only_when_a_run_followed_one_and_prometheus_only_when_polled() {
        let unmirrored = [run_on_two_clusters(serde_json::json!({}))];
        let (mermaid, svg) = diagrams(&unmirrored);
        for text in [&mermaid, &svg] {
            assert!(!text.contains("MirrorMaker") && !text.contains("Prometheus"));
            assert!(
                !text.contains("Kafka target"),
                "an unused cluster is not drawn"
            );
        }
        let mirrored = [run_on_two_clusters(
            serde_json::json!({"mirror": mirror("east", "west")}),
        )];
        let (mermaid, svg) = diagrams(&mirrored);
        assert!(mermaid.contains("mm2 -->|\"replicate\"| c1"), "{mermaid}");
        assert!(svg.contains("<title>MirrorMaker 2 (east to west)</title>"));
        for text in [&mermaid, &svg] {
            assert!(!text.contains("Prometheus"), "not polled, not drawn");
            assert!(!text.contains("remote records checked"), "not tracked");
        }
        let alerted = [run_on_two_clusters(serde_json::json!({
            "alerts": {"probe": "prom-1", "poll_ms": 1000, "polls": 3, "failed_polls": 0,
                       "alerts": []},
        }))];
        let (mermaid, svg) = diagrams(&alerted);
        assert!(mermaid.contains("P->>R: poll alerts and series during the run"));
        assert!(svg.contains("<title>Prometheus (probe prom-1)</title>"));
        for text in [&mermaid, &svg] {
            assert!(!text.contains("MirrorMaker") && !text.contains("scrape"));
        }
    }

    #[test]
    fn labels_are_escaped_in_both_renderings() {
        let runs = [run_on_two_clusters(
            serde_json::json!({"mirror": mirror("a<b>&\"c\"", "d;#e")}),
        )];
        let (mermaid, svg) = diagrams(&runs);
        assert!(
            mermaid.contains("MirrorMaker 2 (a<b>&#quot;c#quot; to d#59;#35;e)"),
            "{mermaid}"
        );
        assert!(
            svg.contains("<title>MirrorMaker 2 (a&lt;b&gt;&amp;\"c\" to d;#e)</title>"),
            "{svg}"
        );
        assert!(!svg.contains("a<b>"), "{svg}");
    }

    #[test]
    fn an_imported_log_names_no_cluster_it_does_not_hold() {
        let runs = [loaded(serde_json::json!({
            "schema": "kscen.result/v1",
            "origin": {"kind": "imported", "tool": "kafka-producer-perf-test"},
            "scenario": {"name": "perf-01.log"},
            "outcome": {"status": "completed"},
        }))];
        let (mermaid, svg) = diagrams(&runs);
        assert!(mermaid.contains("participant P as Producer (kafka-producer-perf-test)"));
        assert!(mermaid.contains("Kafka cluster (not named in the results)"));
        assert!(mermaid.contains("perftest -->|\"produce\"| c0"));
        assert!(svg.contains("<title>Kafka cluster (not named in the results)</title>"));
        assert!(svg.contains("<title>kafka-producer-perf-test imported output</title>"));
        for text in [&mermaid, &svg] {
            assert!(
                !text.contains("kscen host") && !text.contains("MirrorMaker"),
                "{text}"
            );
        }
    }

    #[test]
    fn a_plan_shows_each_phase_with_its_duration_and_target_in_both_renderings() {
        let run = run_on_two_clusters(serde_json::json!({
            "scenario": {"name": "ramp <1>"},
            "outcome": {"status": "failed", "failure": {"kind": "trapped", "message": "x"}},
            "phases": [
                {"name": "warm", "start_s": 0.0, "end_s": 10.0, "target_rate": 500.0,
                 "sent": 1, "acked": 1, "achieved_rate": 1.0},
                {"name": "max", "start_s": 10.0, "end_s": 15.0, "target_rate": null,
                 "sent": 1, "acked": 1, "achieved_rate": 1.0},
            ],
        }));
        let plan = plan(&run.result);
        let (mermaid, svg) = (plan.to_string(), plan.svg());
        assert_well_formed(&svg);
        for present in [
            "start([\"start: ramp <1>\"])",
            "s0[\"0. warm<br/>10.0 s, target 500 msg/s\"]",
            "s1[\"1. max<br/>5.0 s, unthrottled\"]",
            "s1 --> finish",
        ] {
            assert!(mermaid.contains(present), "no {present:?} in\n{mermaid}");
        }
        assert!(
            mermaid.contains("finish([\"end: failed (trapped)\"])"),
            "{mermaid}"
        );
        for present in [
            ">start: ramp &lt;1&gt;</text>",
            ">0. warm</text>",
            ">10.0 s, target 500 msg/s</text>",
            ">1. max</text>",
            ">5.0 s, unthrottled</text>",
            ">15 s</text>",
            "fill=\"#f29900\"",
            "fill=\"#c5221f\"",
        ] {
            assert!(svg.contains(present), "no {present:?} in\n{svg}");
        }
    }
}
