//! MirrorMaker 2's own figures during a run, as its workers' JMX exporters report them through the
//! profile's Prometheus: replication latency and record age, record and byte rates, checkpoint
//! latency, and the mirror producers' errors and buffer exhaustion. Each poll sets `mm2_*` gauges
//! (so the timeline carries them), the run ends with `mm2_*` figures (thresholds read them:
//! `mm2_replication_latency_max_ms < 5s`), and the result sets MM2's replication latency beside
//! kscen's, measured per record on one clock.
//!
//! The source series are narrowed to the remote topics of the run's tracked loads (all topics
//! before one starts), the producers to the tasks of the run's source connector (every Connect
//! source task's producer, `connector-producer-*`, when the run uses no mirror).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::metrics::RunMetrics;
use crate::probe::Probes;

use super::Poller;

/// What `--mm2-metrics PROBE` (or the scenario file's `[mm2_metrics]`) asks for.
#[derive(Debug, Clone, PartialEq)]
pub struct Mm2MetricsWatch {
    /// the profile's `kind = "prometheus"` probe
    pub probe: String,
    pub poll: Duration,
}

/// How a series' polls are summed up in its figure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Summary {
    Mean,
    Max,
    /// last − first: a counter's increase over the run
    Increase,
}

/// Which series a query is narrowed to, from what the run uses.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Narrowing {
    /// remote topics of the run's tracked loads
    pub topics: Vec<String>,
    /// the run's mirror's source connector
    pub source_connector: Option<String>,
}

impl Narrowing {
    fn topics(&self) -> String {
        if self.topics.is_empty() {
            return String::new();
        }
        let names: Vec<String> = self.topics.iter().map(|t| regex_literal(t)).collect();
        format!("topic=~\"{}\"", names.join("|"))
    }

    fn producers(&self) -> String {
        match &self.source_connector {
            Some(name) => format!(
                "client_id=~\"connector-producer-{}-[0-9]+\"",
                regex_literal(name)
            ),
            None => "client_id=~\"connector-producer-.*\"".into(),
        }
    }
}

/// `text` matched literally by a PromQL regex (RE2 inside a double-quoted string, where a
/// backslash is written twice).
fn regex_literal(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if r"\.+*?()|[]{}^$".contains(c) {
            out.push_str(r"\\");
        }
        if c == '"' {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

struct Series {
    name: &'static str,
    unit: &'static str,
    summary: Summary,
    query: fn(&Narrowing) -> String,
}

/// Exporter names as the lab's rules (and the seeds' dashboards) write them. MM2's windowed
/// averages and maxima are NaN for a partition without records in the window: `>= 0` leaves
/// those out of the aggregation instead of making it NaN.
const SERIES: [Series; 8] = [
    Series {
        name: "mm2_replication_latency_ms",
        unit: "ms",
        summary: Summary::Mean,
        query: |n| {
            format!(
                "avg(kafka_connect_mirror_source_connector_replication_latency_ms_avg{{{}}} >= 0)",
                n.topics()
            )
        },
    },
    Series {
        name: "mm2_replication_latency_max_ms",
        unit: "ms",
        summary: Summary::Max,
        query: |n| {
            format!(
                "max(kafka_connect_mirror_source_connector_replication_latency_ms_max{{{}}} >= 0)",
                n.topics()
            )
        },
    },
    Series {
        name: "mm2_record_age_ms",
        unit: "ms",
        summary: Summary::Mean,
        query: |n| {
            format!(
                "avg(kafka_connect_mirror_source_connector_record_age_ms_avg{{{}}} >= 0)",
                n.topics()
            )
        },
    },
    Series {
        name: "mm2_record_rate",
        unit: "records/s",
        summary: Summary::Mean,
        query: |n| {
            format!(
                "sum(kafka_connect_mirror_source_connector_record_rate{{{}}})",
                n.topics()
            )
        },
    },
    Series {
        name: "mm2_byte_rate",
        unit: "B/s",
        summary: Summary::Mean,
        query: |n| {
            format!(
                "sum(kafka_connect_mirror_source_connector_byte_rate{{{}}})",
                n.topics()
            )
        },
    },
    Series {
        name: "mm2_checkpoint_latency_max_ms",
        unit: "ms",
        summary: Summary::Max,
        query: |_| {
            "max(kafka_connect_mirror_checkpoint_connector_checkpoint_latency_ms_max >= 0)".into()
        },
    },
    Series {
        name: "mm2_producer_record_errors",
        unit: "records",
        summary: Summary::Increase,
        query: |n| {
            format!(
                "sum(kafka_producer_producer_metrics_record_error_total{{{}}})",
                n.producers()
            )
        },
    },
    Series {
        name: "mm2_producer_buffer_exhausted",
        unit: "",
        summary: Summary::Increase,
        query: |n| {
            format!(
                "sum(kafka_producer_producer_metrics_buffer_exhausted_total{{{}}})",
                n.producers()
            )
        },
    },
];

/// One series over the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeriesResult {
    pub name: String,
    pub unit: String,
    pub summary: Summary,
    /// the PromQL asked, as last asked
    pub query: String,
    pub samples: u64,
    pub first: f64,
    pub last: f64,
    pub mean: f64,
    pub max: f64,
}

impl SeriesResult {
    /// The run's figure for the series.
    pub fn figure(&self) -> f64 {
        match self.summary {
            Summary::Mean => self.mean,
            Summary::Max => self.max,
            Summary::Increase => self.last - self.first,
        }
    }
}

/// MM2's replication latency beside kscen's, over the whole run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LatencyComparison {
    /// MM2's mean of `replication-latency-ms-avg` and largest `replication-latency-ms-max`
    pub mm2_mean_ms: f64,
    pub mm2_max_ms: f64,
    /// kscen's replicated latency: intended send time → seen on the target, one clock
    pub kscen_mean_ms: f64,
    pub kscen_p99_ms: f64,
    pub kscen_max_ms: f64,
    /// kscen − MM2: what MM2's figure leaves out (the producer's wait before the source broker
    /// stamps the record, and reading it on the target)
    pub mean_difference_ms: f64,
    pub max_difference_ms: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Mm2MetricsResult {
    pub probe: String,
    pub poll_ms: u64,
    pub polls: u64,
    /// polls where a query was not answered (each is a `mm2-metrics-unreadable` event)
    pub failed_polls: u64,
    pub topics: Vec<String>,
    pub source_connector: Option<String>,
    /// series with at least one sample
    pub series: Vec<SeriesResult>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency: Option<LatencyComparison>,
}

impl Mm2MetricsResult {
    fn series(&self, name: &str) -> Option<&SeriesResult> {
        self.series.iter().find(|s| s.name == name)
    }

    /// Sets `latency` from kscen's replicated latency over the run (µs), when both sides
    /// measured it.
    pub fn compare_with(&mut self, kscen: &hdrhistogram::Histogram<u64>) {
        let (Some(mean), Some(max)) = (
            self.series("mm2_replication_latency_ms"),
            self.series("mm2_replication_latency_max_ms"),
        ) else {
            return;
        };
        if kscen.is_empty() {
            return;
        }
        let ms = |us: f64| us / 1000.0;
        let kscen_mean_ms = ms(kscen.mean());
        let kscen_max_ms = ms(kscen.max() as f64);
        self.latency = Some(LatencyComparison {
            mm2_mean_ms: mean.mean,
            mm2_max_ms: max.max,
            kscen_mean_ms,
            kscen_p99_ms: ms(kscen.value_at_quantile(0.99) as f64),
            kscen_max_ms,
            mean_difference_ms: kscen_mean_ms - mean.mean,
            max_difference_ms: kscen_max_ms - max.max,
        });
    }
}

/// Every poll's readings, per series.
#[derive(Debug, Default)]
struct Readings {
    values: Vec<Vec<f64>>,
    queries: Vec<String>,
    polls: u64,
    failed_polls: u64,
    narrowing: Narrowing,
}

impl Readings {
    fn new() -> Readings {
        Readings {
            values: vec![Vec::new(); SERIES.len()],
            queries: vec![String::new(); SERIES.len()],
            ..Readings::default()
        }
    }

    fn finish(self, watch: &Mm2MetricsWatch) -> Mm2MetricsResult {
        let series = SERIES
            .iter()
            .zip(self.values)
            .zip(self.queries)
            .filter(|((_, values), _)| !values.is_empty())
            .map(|((series, values), query)| SeriesResult {
                name: series.name.into(),
                unit: series.unit.into(),
                summary: series.summary,
                query,
                samples: values.len() as u64,
                first: values[0],
                last: values[values.len() - 1],
                mean: values.iter().sum::<f64>() / values.len() as f64,
                max: values.iter().copied().fold(f64::MIN, f64::max),
            })
            .collect();
        Mm2MetricsResult {
            probe: watch.probe.clone(),
            poll_ms: watch.poll.as_millis() as u64,
            polls: self.polls,
            failed_polls: self.failed_polls,
            topics: self.narrowing.topics,
            source_connector: self.narrowing.source_connector,
            series,
            latency: None,
        }
    }
}

/// Whether the watch can work, before anything of the run starts.
pub async fn check(watch: &Mm2MetricsWatch, probes: &Probes) -> anyhow::Result<()> {
    let query = (SERIES[0].query)(&Narrowing::default());
    super::first_answer(probes, "mm2_metrics", &watch.probe, &query)
        .await
        .map(drop)
}

/// Polls MM2's series until stopped.
pub struct Mm2MetricsWatcher {
    readings: Arc<Mutex<Readings>>,
    poller: Poller,
    watch: Mm2MetricsWatch,
}

impl Mm2MetricsWatcher {
    /// `source_connector` says, once the run has found its mirror, whose producers to read.
    pub fn start(
        watch: Mm2MetricsWatch,
        probes: Probes,
        metrics: Arc<RunMetrics>,
        source_connector: impl Fn() -> Option<String> + Send + Sync + 'static,
    ) -> Mm2MetricsWatcher {
        let readings = Arc::new(Mutex::new(Readings::new()));
        let poller = {
            let (readings, watch) = (readings.clone(), watch.clone());
            let (probes, source_connector) = (Arc::new(probes), Arc::new(source_connector));
            Poller::spawn(watch.poll, move || {
                let narrowing = Narrowing {
                    topics: tracked_remote_topics(&metrics),
                    source_connector: source_connector(),
                };
                let (readings, watch, probes, metrics) = (
                    readings.clone(),
                    watch.clone(),
                    probes.clone(),
                    metrics.clone(),
                );
                async move { poll_once(&watch, &probes, &metrics, &readings, narrowing).await }
            })
        };
        Mm2MetricsWatcher {
            readings,
            poller,
            watch,
        }
    }

    /// One last poll; the series' figures go to the run's figures.
    pub async fn finish(self, metrics: &RunMetrics) -> Mm2MetricsResult {
        self.poller.stop().await;
        let readings = std::mem::take(&mut *self.readings.lock().unwrap());
        let result = readings.finish(&self.watch);
        for series in &result.series {
            metrics.set_figure(&series.name, series.figure(), &series.unit);
        }
        result
    }
}

fn tracked_remote_topics(metrics: &RunMetrics) -> Vec<String> {
    let mut topics: Vec<String> = metrics
        .jobs()
        .iter()
        .filter_map(|job| Some(job.replication_target.as_ref()?.1.clone()))
        .collect();
    topics.sort();
    topics.dedup();
    topics
}

async fn poll_once(
    watch: &Mm2MetricsWatch,
    probes: &Probes,
    metrics: &RunMetrics,
    readings: &Mutex<Readings>,
    narrowing: Narrowing,
) {
    let mut answers = Vec::with_capacity(SERIES.len());
    let mut failure = None;
    for series in &SERIES {
        let query = (series.query)(&narrowing);
        match probes.query(&watch.probe, &query).await {
            // An aggregation over no series answers nothing: not a zero.
            Ok(samples) => answers.push((query, samples.first().map(|s| s.value))),
            Err(why) => {
                failure = Some(why);
                answers.push((query, None));
            }
        }
    }
    let mut readings = readings.lock().unwrap();
    readings.polls += 1;
    if let Some(why) = failure {
        readings.failed_polls += 1;
        metrics.events.push(
            metrics.clock.now_ns(),
            "mm2-metrics-unreadable",
            &why.to_string(),
        );
    }
    for (index, (query, value)) in answers.into_iter().enumerate() {
        readings.queries[index] = query;
        if let Some(value) = value.filter(|v| v.is_finite()) {
            readings.values[index].push(value);
            metrics.set_gauge(SERIES[index].name, value);
        }
    }
    readings.narrowing = narrowing;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_narrowed_to_the_runs_topics_and_connector_literally() {
        let narrowing = Narrowing {
            topics: vec!["east_orders.v2".into(), "east_(pay)".into()],
            source_connector: Some("dc-east.to.west".into()),
        };
        assert_eq!(
            (SERIES[0].query)(&narrowing),
            r#"avg(kafka_connect_mirror_source_connector_replication_latency_ms_avg{topic=~"east_orders\\.v2|east_\\(pay\\)"} >= 0)"#
        );
        assert_eq!(
            (SERIES[6].query)(&narrowing),
            r#"sum(kafka_producer_producer_metrics_record_error_total{client_id=~"connector-producer-dc-east\\.to\\.west-[0-9]+"})"#
        );
        let everything = Narrowing::default();
        assert_eq!(
            (SERIES[3].query)(&everything),
            "sum(kafka_connect_mirror_source_connector_record_rate{})"
        );
        assert!((SERIES[7].query)(&everything).contains(r#"client_id=~"connector-producer-.*""#));
    }

    fn result_of(polls: &[[Option<f64>; 8]]) -> Mm2MetricsResult {
        let mut readings = Readings::new();
        for poll in polls {
            readings.polls += 1;
            for (index, value) in poll.iter().enumerate() {
                if let Some(value) = value {
                    readings.values[index].push(*value);
                }
            }
        }
        readings.finish(&Mm2MetricsWatch {
            probe: "prom".into(),
            poll: Duration::from_secs(2),
        })
    }

    #[test]
    fn each_series_is_summed_up_its_own_way_and_unanswered_ones_are_left_out() {
        let some = |v: f64| Some(v);
        let result = result_of(&[
            [
                some(20.0),
                some(50.0),
                some(30.0),
                some(400.0),
                some(4e5),
                None,
                some(3.0),
                some(0.0),
            ],
            [
                some(40.0),
                some(90.0),
                some(50.0),
                some(600.0),
                some(6e5),
                None,
                some(7.0),
                some(0.0),
            ],
        ]);
        let figure = |name: &str| result.series(name).map(SeriesResult::figure);
        assert_eq!(figure("mm2_replication_latency_ms"), Some(30.0), "mean");
        assert_eq!(figure("mm2_replication_latency_max_ms"), Some(90.0), "max");
        assert_eq!(figure("mm2_record_rate"), Some(500.0));
        assert_eq!(figure("mm2_producer_record_errors"), Some(4.0), "increase");
        assert_eq!(
            figure("mm2_checkpoint_latency_max_ms"),
            None,
            "never answered"
        );
        assert_eq!(result.series.len(), 7);
    }

    #[test]
    fn the_comparison_needs_both_sides() {
        let some = |v: f64| Some(v);
        let mut result = result_of(&[[some(20.0), some(50.0), None, None, None, None, None, None]]);
        let mut replicated = crate::metrics::histogram::new_latency_histogram();
        for us in [30_000, 40_000, 80_000] {
            replicated.record(us).unwrap();
        }
        result.compare_with(&crate::metrics::histogram::new_latency_histogram());
        assert_eq!(result.latency, None, "no tracked load");
        result.compare_with(&replicated);
        let latency = result.latency.unwrap();
        assert_eq!((latency.mm2_mean_ms, latency.mm2_max_ms), (20.0, 50.0));
        assert!((latency.kscen_max_ms - 80.0).abs() < 0.1, "{latency:?}");
        assert!(
            (latency.max_difference_ms - 30.0).abs() < 0.1,
            "{latency:?}"
        );
        assert!((latency.kscen_mean_ms - 50.0).abs() < 0.1, "{latency:?}");
    }
}
