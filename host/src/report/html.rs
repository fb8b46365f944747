//! The HTML report: one self-contained page (uPlot 1.6.32, MIT, inlined) that renders the
//! Markdown report — every section of it, from the same text — and adds, after each run's
//! results, its charts: throughput, latency percentiles, replication lag or backlog, with phases
//! shaded and events marked. Imported perf-test runs chart their periodic lines. The Markdown's
//! Mermaid diagrams are drawn as inline SVG, from the same diagrams (no Mermaid script: several
//! MB), their source kept under them for copying.

use std::collections::HashMap;

use pulldown_cmark::{CodeBlockKind, CowStr, Event, Options, Parser, Tag, TagEnd};
use serde_json::{json, Value};

use super::campaign::CampaignReport;
use super::markdown::{parts, Part};
use super::mermaid;
use crate::result::{LoadedResult, RunResult};

const UPLOT_JS: &str = include_str!("../../assets/uPlot.iife.min.js");
const UPLOT_CSS: &str = include_str!("../../assets/uPlot.min.css");
const REPORT_JS: &str = include_str!("../../assets/report.js");

const STYLE: &str =
    "body{font-family:system-ui,sans-serif;margin:24px;color:#202124;background:#fff}\
table{border-collapse:collapse;margin:8px 0 16px;font-size:13px}\
th,td{border:1px solid #dadce0;padding:4px 8px;text-align:right}\
th:first-child,td:first-child{text-align:left}\
.nm{color:#80868b}.chart{margin:12px 0 20px}\
h2{border-top:2px solid #dadce0;margin-top:28px;padding-top:12px}\
pre{background:#f8f9fa;border:1px solid #dadce0;padding:8px;overflow-x:auto;font-size:12px}\
figure.diagram{margin:12px 0 20px}figure.diagram svg{max-width:100%;height:auto;display:block}\
figure.diagram summary{color:#80868b;font-size:12px;cursor:pointer}";

/// JSON inside `<script>`: `<` escaped so no `</script>` can end it early.
fn script_json(value: &Value) -> String {
    value.to_string().replace('<', "\\u003c")
}

pub fn render(runs: &[LoadedResult], campaigns: &[CampaignReport]) -> String {
    let data: Vec<Value> = runs.iter().map(|r| chart_data(&r.result)).collect();
    let drawings = mermaid::svg_by_source(runs);
    let mut body = String::new();
    for part in parts(runs, campaigns) {
        match part {
            Part::Markdown(markdown) => body.push_str(&markdown_html(&markdown, &drawings)),
            Part::Charts(index) => body.push_str(&charts(index, &runs[index].result)),
        }
    }
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>kscen report</title>\n\
         <style>{UPLOT_CSS}</style>\n<style>{STYLE}</style>\n</head><body>\n{body}\
         <script id=\"kscen-data\" type=\"application/json\">{}</script>\n\
         <script>{UPLOT_JS}</script>\n<script>{REPORT_JS}</script>\n</body></html>\n",
        script_json(&Value::Array(data))
    )
}

/// Where the page's script draws the run's charts.
fn charts(index: usize, result: &RunResult) -> String {
    let mut out = String::new();
    if result.timeline.is_empty() && !result.is_imported() {
        out.push_str("<p class=\"nm\">No per-second timeline in this result: not measured.</p>\n");
    }
    out.push_str(&format!("<div id=\"charts-{index}\"></div>\n"));
    out
}

/// Markdown as HTML. Raw HTML in it (a step or setting named `<b>`) is shown as text, never
/// interpreted. A Mermaid block is drawn with its SVG in `drawings` (by its source), the source
/// folded under it; a block with none keeps its source in `<pre class="mermaid">`.
fn markdown_html(markdown: &str, drawings: &HashMap<String, String>) -> String {
    let mut mermaid: Option<String> = None;
    let events = Parser::new_ext(markdown, Options::ENABLE_TABLES).flat_map(|event| match event {
        Event::Html(raw) | Event::InlineHtml(raw) => vec![Event::Text(raw)],
        Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(lang))) if &*lang == "mermaid" => {
            mermaid = Some(String::new());
            vec![]
        }
        Event::Text(text) if mermaid.is_some() => {
            mermaid.as_mut().unwrap().push_str(&text);
            vec![]
        }
        Event::End(TagEnd::CodeBlock) if mermaid.is_some() => {
            diagram(mermaid.take().unwrap(), drawings)
        }
        other => vec![other],
    });
    let mut html = String::new();
    pulldown_cmark::html::push_html(&mut html, events);
    html
}

/// A Mermaid block's events: its drawing with the source folded under it, or the source alone.
fn diagram<'a>(source: String, drawings: &HashMap<String, String>) -> Vec<Event<'a>> {
    let (open, close) = match drawings.get(&source) {
        Some(svg) => (
            format!(
                "<figure class=\"diagram\">{svg}\n<details><summary>Mermaid source</summary><pre>"
            ),
            "</pre></details></figure>\n",
        ),
        None => ("<pre class=\"mermaid\">".to_string(), "</pre>\n"),
    };
    vec![
        Event::Html(open.into()),
        Event::Text(source.into()),
        Event::Html(CowStr::Borrowed(close)),
    ]
}

/// What the page's script draws for one run: columns, phases and events.
fn chart_data(result: &RunResult) -> Value {
    let timeline = (!result.timeline.is_empty()).then(|| {
        let t = &result.timeline;
        let target: Vec<Option<f64>> = t
            .iter()
            .map(|p| {
                let phase = result.phases.iter().find(|ph| Some(&ph.name) == p.phase.as_ref())?;
                phase.target_rate.flatten()
            })
            .collect();
        let lag = t.iter().any(|p| p.replication_lag_ms.is_some());
        json!({
            "t": t.iter().map(|p| p.t_s).collect::<Vec<_>>(),
            "acked_per_s": t.iter().map(|p| p.acked_per_s).collect::<Vec<_>>(),
            "target": target,
            "corrected_p99_ms": t.iter().map(|p| p.corrected_p99_ms).collect::<Vec<_>>(),
            "service_avg_ms": t.iter().map(|p| p.service_avg_ms).collect::<Vec<_>>(),
            "service_max_ms": t.iter().map(|p| p.service_max_ms).collect::<Vec<_>>(),
            "backlog": t.iter().map(|p| p.backlog).collect::<Vec<_>>(),
            "replication_lag_ms": lag.then(|| t.iter().map(|p| p.replication_lag_ms).collect::<Vec<_>>()),
            "replication_lag_records": lag.then(|| t.iter().map(|p| p.replication_lag_records).collect::<Vec<_>>()),
        })
    });
    let phases: Vec<Value> = result
        .phases
        .iter()
        .filter_map(|p| Some(json!({"name": p.name, "start": p.start_s?, "end": p.end_s?})))
        .collect();
    let events: Vec<Value> = result
        .events
        .iter()
        .filter(|e| e.kind != "rate" && e.kind != "phase")
        .map(|e| json!({"t": e.t_ms / 1000.0, "label": format!("{}: {}", e.kind, e.message)}))
        .collect();
    let imported: Vec<Value> = result
        .phases
        .iter()
        .filter_map(|p| {
            let imported = p.imported.as_ref()?;
            let intervals = &imported.intervals;
            (!intervals.is_empty()).then(|| {
                json!({
                    "name": p.name,
                    "index": (1..=intervals.len()).collect::<Vec<_>>(),
                    "records_per_s": intervals.iter().map(|i| i.records_per_s).collect::<Vec<_>>(),
                    "avg_ms": intervals.iter().map(|i| i.avg_ms).collect::<Vec<_>>(),
                    "max_ms": intervals.iter().map(|i| i.max_ms).collect::<Vec<_>>(),
                    "elisions": intervals.iter().enumerate().filter(|(_, i)| i.after_elision)
                        .map(|(n, _)| json!({"t": n as f64 + 0.5, "label": "lines elided in the log"}))
                        .collect::<Vec<_>>(),
                })
            })
        })
        .collect();
    json!({
        "name": result.scenario.name,
        "timeline": timeline,
        "phases": phases,
        "events": events,
        "imported": imported,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::markdown;

    fn embedded_run(name: &str) -> LoadedResult {
        let result = serde_json::from_value(json!({
            "schema": "kscen.result/v1",
            "scenario": {"name": name},
            "environment": {"embedded_cluster": true, "clusters": {"source": "mock"}},
            "outcome": {"status": "completed"},
            "phases": [{"name": "steady", "start_s": 0.0, "end_s": 10.0, "sent": 100,
                        "acked": 100, "achieved_rate": 10.0}],
            "thresholds": [],
        }))
        .unwrap();
        LoadedResult {
            path: format!("{name}.json").into(),
            result,
        }
    }

    #[test]
    fn the_page_carries_every_section_of_the_markdown_report() {
        let runs = [embedded_run("ramp"), embedded_run("burst")];
        let text = markdown::render(&runs, &[]);
        let page = render(&runs, &[]);
        let headings: Vec<&str> = text.lines().filter(|l| l.starts_with('#')).collect();
        assert!(headings.len() > 20, "{headings:?}");
        for heading in headings {
            let html = markdown_html(heading, &HashMap::new());
            assert!(page.contains(html.trim()), "{html} is not in the page");
        }
        let mermaid_blocks = text.matches("```mermaid").count();
        assert_eq!(mermaid_blocks, 4);
        assert_eq!(
            page.matches("<figure class=\"diagram\"><svg ").count(),
            mermaid_blocks,
            "every Mermaid block is drawn"
        );
        assert!(
            !page.contains("<pre class=\"mermaid\">"),
            "none left as source"
        );
        assert!(page.contains("<summary>Mermaid source</summary><pre>sequenceDiagram\n"));
    }

    #[test]
    fn each_runs_charts_come_after_its_results() {
        let runs = [embedded_run("ramp"), embedded_run("burst")];
        let page = render(&runs, &[]);
        for (index, number) in [(0, 2), (1, 3)] {
            let results = page.find(&format!("<h3>{number}.4 Results</h3>")).unwrap();
            let charts = page.find(&format!("<div id=\"charts-{index}\">")).unwrap();
            let thresholds = page
                .find(&format!("<h3>{number}.5 Thresholds</h3>"))
                .unwrap();
            assert!(results < charts && charts < thresholds, "run {index}");
        }
    }

    #[test]
    fn raw_html_shows_as_text_and_an_undrawn_mermaid_block_keeps_its_source() {
        let html = markdown_html(
            "### 5.1 Steps\n\n| # | step |\n|---|---|\n| 1 | <script>alert(1)</script> |\n\n<b>bold</b>\n\n\
             ```mermaid\nflowchart LR\n    a -->|x| b\n```\n",
            &HashMap::new(),
        );
        assert!(html.contains("<h3>5.1 Steps</h3>"), "{html}");
        assert!(
            html.contains("<table>") && html.contains("<td>1</td>"),
            "{html}"
        );
        assert!(
            !html.contains("<script>") && !html.contains("<b>"),
            "{html}"
        );
        assert!(html.contains("&lt;script&gt;"), "{html}");
        assert!(
            html.contains("<pre class=\"mermaid\">flowchart LR\n    a --&gt;|x| b\n</pre>"),
            "{html}"
        );
    }

    #[test]
    fn a_drawn_mermaid_block_shows_its_svg_and_folds_its_source() {
        let source = "flowchart LR\n    a -->|\"<x>\"| b\n";
        let drawings = HashMap::from([(source.to_string(), "<svg>drawn</svg>".to_string())]);
        let html = markdown_html(&format!("```mermaid\n{source}```\n"), &drawings);
        assert_eq!(
            html,
            "<figure class=\"diagram\"><svg>drawn</svg>\n<details><summary>Mermaid source</summary>\
             <pre>flowchart LR\n    a --&gt;|\"&lt;x&gt;\"| b\n</pre></details></figure>\n"
        );
    }
}
