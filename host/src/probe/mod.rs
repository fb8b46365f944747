//! Probes: Prometheus text endpoints (`kind = "scrape"`, e.g. a JMX exporter) and Prometheus
//! servers (`kind = "prometheus"`, instant queries) named in the profile's `[probes.<name>]`.
//!
//! - `text`: the exposition-format parser;
//! - `promql`: the query API's JSON answers.

pub(crate) mod promql;
pub(crate) mod text;

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Context as _;
use reqwest::Url;

use crate::config::profile::Profile;
use crate::error::{HostError, HostResult};

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Sample {
    pub name: String,
    pub labels: Vec<(String, String)>,
    pub value: f64,
}

impl Sample {
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeKind {
    /// A Prometheus text endpoint, read whole.
    Scrape,
    /// A Prometheus server, asked PromQL instant queries.
    Prometheus,
}

impl ProbeKind {
    fn parse(kind: &str) -> Option<ProbeKind> {
        match kind {
            "scrape" => Some(ProbeKind::Scrape),
            "prometheus" => Some(ProbeKind::Prometheus),
            _ => None,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            ProbeKind::Scrape => "scrape",
            ProbeKind::Prometheus => "prometheus",
        }
    }
}

#[derive(Debug, Clone)]
struct Probe {
    kind: ProbeKind,
    url: Url,
}

/// A JMX exporter renders hundreds of MBeans per scrape: allow it time, but not a stalled JVM's.
const SCRAPE_TIMEOUT: Duration = Duration::from_secs(5);
const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);

/// Cheap to clone: the HTTP client is shared.
#[derive(Debug, Default, Clone)]
pub struct Probes {
    probes: BTreeMap<String, Probe>,
    http: reqwest::Client,
}

impl Probes {
    /// Every probe of the profile; an unknown kind or a malformed URL is an error naming the key.
    pub fn load(profile: &Profile) -> anyhow::Result<Probes> {
        let mut probes = BTreeMap::new();
        for (name, entry) in &profile.probes {
            probes.insert(name.clone(), parse_entry(name, &entry.kind, &entry.url)?);
        }
        Ok(Probes {
            probes,
            http: http_client()?,
        })
    }

    pub fn names(&self) -> Vec<&str> {
        self.probes.keys().map(String::as_str).collect()
    }

    /// Reads a `scrape` probe and keeps the samples whose name starts with `prefix`.
    pub async fn scrape(&self, probe: &str, prefix: &str) -> HostResult<Vec<Sample>> {
        let url = self.probe_url(probe, ProbeKind::Scrape)?;
        let body = self.get(probe, url.clone()).await?;
        text::parse(&body, prefix)
            .map_err(|why| HostError::Probe(format!("probe {probe:?} ({url}): {why}")))
    }

    /// Runs a PromQL instant query on a `prometheus` probe.
    pub async fn query(&self, probe: &str, promql: &str) -> HostResult<Vec<Sample>> {
        if promql.trim().is_empty() {
            return Err(HostError::Invalid("an empty PromQL query".into()));
        }
        let base = self.probe_url(probe, ProbeKind::Prometheus)?;
        let mut url = base.clone();
        url.path_segments_mut()
            .map_err(|_| HostError::Probe(format!("probe {probe:?}: {base} cannot take a path")))?
            .pop_if_empty()
            .extend(["api", "v1", "query"]);
        url.query_pairs_mut().append_pair("query", promql);
        // The API answers errors (400 bad_data, 422 execution) with a JSON body worth showing.
        let answer = self.send(probe, &url).await?;
        let status = answer.status();
        let body = answer
            .text()
            .await
            .map_err(|e| unreachable(probe, &url, &e))?;
        match promql::parse(&body, promql) {
            Ok(samples) if status.is_success() => Ok(samples),
            Ok(_) => Err(HostError::Probe(format!(
                "probe {probe:?} ({base}): HTTP {status}"
            ))),
            Err(why) if status.is_success() => {
                Err(HostError::Probe(format!("probe {probe:?} ({base}): {why}")))
            }
            Err(why) => Err(HostError::Probe(format!(
                "probe {probe:?} ({base}): HTTP {status}: {why}"
            ))),
        }
    }

    fn probe_url(&self, name: &str, wanted: ProbeKind) -> HostResult<&Url> {
        let probe = self.probes.get(name).ok_or_else(|| {
            HostError::NotFound(format!(
                "no probe {name:?} in the profile (known: {:?})",
                self.names()
            ))
        })?;
        if probe.kind != wanted {
            let call = if wanted == ProbeKind::Scrape {
                "scrape"
            } else {
                "query"
            };
            return Err(HostError::Invalid(format!(
                "probe {name:?} is of kind {:?}; `{call}` needs a {:?} probe",
                probe.kind.as_str(),
                wanted.as_str()
            )));
        }
        Ok(&probe.url)
    }

    async fn send(&self, probe: &str, url: &Url) -> HostResult<reqwest::Response> {
        self.http
            .get(url.clone())
            .send()
            .await
            .map_err(|e| unreachable(probe, url, &e))
    }

    async fn get(&self, probe: &str, url: Url) -> HostResult<String> {
        let answer = self.send(probe, &url).await?;
        let status = answer.status();
        if !status.is_success() {
            return Err(HostError::Probe(format!(
                "probe {probe:?} ({url}): HTTP {status}"
            )));
        }
        answer
            .text()
            .await
            .map_err(|e| unreachable(probe, &url, &e))
    }
}

fn unreachable(probe: &str, url: &Url, error: &reqwest::Error) -> HostError {
    let why = if error.is_timeout() {
        "timed out".to_string()
    } else {
        crate::connect::error_chain(error)
    };
    HostError::Probe(format!("probe {probe:?}: {url} unreachable: {why}"))
}

fn parse_entry(name: &str, kind: &str, url: &str) -> anyhow::Result<Probe> {
    let kind = ProbeKind::parse(kind).with_context(|| {
        format!("probes.{name}.kind: unknown kind {kind:?} (expected \"scrape\" or \"prometheus\")")
    })?;
    let url = Url::parse(url).with_context(|| format!("probes.{name}.url: invalid URL {url:?}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        anyhow::bail!("probes.{name}.url: {url} is not an http(s) URL");
    }
    Ok(Probe { kind, url })
}

fn http_client() -> anyhow::Result<reqwest::Client> {
    reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(SCRAPE_TIMEOUT)
        .build()
        .context("building the probes' HTTP client")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(probes: &str) -> Profile {
        toml::from_str(probes).unwrap()
    }

    #[test]
    fn unknown_kinds_and_bad_urls_name_the_key() {
        let bad_kind = profile("[probes.w1]\nkind = \"jmx\"\nurl = \"http://h:1/metrics\"\n");
        let error = format!("{:#}", Probes::load(&bad_kind).unwrap_err());
        assert!(
            error.contains("probes.w1.kind: unknown kind \"jmx\""),
            "{error}"
        );
        let bad_url = profile("[probes.p]\nkind = \"prometheus\"\nurl = \"localhost:9090\"\n");
        let error = format!("{:#}", Probes::load(&bad_url).unwrap_err());
        assert!(error.contains("probes.p.url"), "{error}");
    }

    #[tokio::test]
    async fn kinds_are_checked_and_errors_name_the_probe() {
        let probes = Probes::load(&profile(
            "[probes.prom]\nkind = \"prometheus\"\nurl = \"http://127.0.0.1:1/\"\n",
        ))
        .unwrap();
        assert_eq!(probes.names(), vec!["prom"]);
        let error = probes.scrape("prom", "").await.unwrap_err();
        assert!(
            matches!(&error, HostError::Invalid(m) if m.contains("needs a \"scrape\" probe")),
            "{error}"
        );
        let error = probes.query("nope", "up").await.unwrap_err();
        assert!(matches!(error, HostError::NotFound(_)));
        // Port 1 refuses: the error names the probe and its URL.
        let error = probes.query("prom", "up").await.unwrap_err();
        assert!(
            matches!(&error, HostError::Probe(m) if m.contains("\"prom\"") && m.contains("http://127.0.0.1:1/api/v1/query")),
            "{error}"
        );
    }
}
