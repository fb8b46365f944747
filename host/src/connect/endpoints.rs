//! Who the client talks to, from the profile: the REST endpoints to send calls to
//! (`connect.urls`, else the workers' `url`s) and the named workers (for liveness, `workers()`,
//! and to turn a status's `worker_id` or a leader URL into a logical name).

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use reqwest::Url;

use crate::config::profile::Profile;

#[derive(Debug, Clone, PartialEq)]
pub struct Endpoint {
    /// The profile's worker name; for a URL no worker claims, its `host:port`.
    pub name: String,
    /// REST base URL, e.g. `http://127.0.0.1:38083/`.
    pub base: Url,
    /// `host:port` as Connect reports it in statuses (`rest.advertised.host.name:port`).
    pub worker_id: String,
    /// The worker's log, where Connect writes which member leads the group.
    pub log_file: Option<PathBuf>,
    /// A `scrape` probe on the worker's JVM (same name as the worker), for the leader metric.
    pub metrics_url: Option<Url>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Endpoints {
    /// Where calls go, in the profile's order.
    pub rest: Vec<Endpoint>,
    /// The Connect workers as `workers()` lists them.
    pub workers: Vec<Endpoint>,
}

impl Endpoints {
    pub fn from_profile(profile: &Profile) -> Result<Option<Endpoints>> {
        let Some(connect) = &profile.connect else {
            return Ok(None);
        };
        let mut workers = Vec::new();
        for (name, worker) in &profile.workers {
            let key = format!("workers.{name}.url");
            let Some(url) = &worker.url else {
                continue; // a worker only fault actions know (no REST): nothing to call or probe
            };
            let base = parse_base(url).with_context(|| key.clone())?;
            let worker_id = match &worker.worker_id {
                Some(id) => id.clone(),
                None => host_port(&base).with_context(|| key.clone())?,
            };
            let metrics_url = match profile.probes.get(name) {
                Some(probe) if probe.kind == "scrape" => Url::parse(&probe.url).ok(),
                _ => None,
            };
            workers.push(Endpoint {
                name: name.clone(),
                base,
                worker_id,
                log_file: worker.log_file.clone(),
                metrics_url,
            });
        }
        let mut rest = Vec::new();
        for (index, url) in connect.urls.iter().enumerate() {
            let base = parse_base(url).with_context(|| format!("connect.urls[{index}]"))?;
            let endpoint = match workers.iter().find(|w| same_authority(&w.base, &base)) {
                Some(worker) => Endpoint {
                    base,
                    ..worker.clone()
                },
                None => {
                    let id = host_port(&base).with_context(|| format!("connect.urls[{index}]"))?;
                    Endpoint {
                        name: id.clone(),
                        base,
                        worker_id: id,
                        log_file: None,
                        metrics_url: None,
                    }
                }
            };
            rest.push(endpoint);
        }
        if rest.is_empty() {
            rest = workers.clone();
        }
        if rest.is_empty() {
            bail!("[connect] has no urls and no [workers.<name>] has a url: nothing to send Connect calls to");
        }
        if workers.is_empty() {
            workers = rest.clone();
        }
        Ok(Some(Endpoints { rest, workers }))
    }

    /// The named worker a Connect `worker_id` (or a URL's `host:port`) designates.
    pub fn worker_by_id(&self, worker_id: &str) -> Option<&Endpoint> {
        self.workers
            .iter()
            .find(|w| w.worker_id == worker_id)
            .or_else(|| {
                self.workers
                    .iter()
                    .find(|w| host_port(&w.base).ok().as_deref() == Some(worker_id))
            })
    }

    /// Where to ask whether `worker_id` is up: the profile worker's URL, else `<scheme>://<id>/`
    /// (Connect advertises its REST listener as the worker_id) with the scheme of the first URL.
    pub fn liveness_url(&self, worker_id: &str) -> Option<Url> {
        if let Some(worker) = self.worker_by_id(worker_id) {
            return Some(worker.base.clone());
        }
        let scheme = self.rest.first().map_or("http", |e| e.base.scheme());
        Url::parse(&format!("{scheme}://{worker_id}/")).ok()
    }
}

fn parse_base(url: &str) -> Result<Url> {
    let base = Url::parse(url).with_context(|| format!("invalid URL {url:?}"))?;
    if !matches!(base.scheme(), "http" | "https") || base.host_str().is_none() {
        bail!("{url:?} is not an http(s) URL with a host");
    }
    Ok(base)
}

/// `host:port` with the scheme's default port made explicit, as Connect spells worker ids.
pub fn host_port(url: &Url) -> Result<String> {
    let host = url.host_str().context("URL without a host")?;
    let port = url.port_or_known_default().context("URL without a port")?;
    Ok(format!("{host}:{port}"))
}

fn same_authority(a: &Url, b: &Url) -> bool {
    a.host_str() == b.host_str() && a.port_or_known_default() == b.port_or_known_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoints(toml_text: &str) -> Result<Option<Endpoints>> {
        Endpoints::from_profile(&toml::from_str(toml_text).unwrap())
    }

    #[test]
    fn no_connect_section_means_no_client() {
        assert_eq!(
            endpoints("[workers.w]\nurl = \"http://h:1\"\n").unwrap(),
            None
        );
    }

    #[test]
    fn urls_are_matched_to_named_workers() {
        let e = endpoints(
            r#"
            [connect]
            urls = ["http://127.0.0.1:38083", "http://connect.example:8083/"]
            [workers.worker-1]
            url = "http://127.0.0.1:38083/"
            worker_id = "10.0.0.1:38083"
            log_file = "/tmp/w1.log"
            [workers.worker-2]
            url = "http://127.0.0.1:38084"
            [probes.worker-1]
            kind = "scrape"
            url = "http://127.0.0.1:39404/metrics"
            "#,
        )
        .unwrap()
        .unwrap();
        assert_eq!(e.rest.len(), 2);
        assert_eq!(e.rest[0].name, "worker-1");
        assert_eq!(e.rest[0].worker_id, "10.0.0.1:38083");
        assert_eq!(e.rest[0].metrics_url.as_ref().unwrap().port(), Some(39404));
        assert_eq!(e.rest[1].name, "connect.example:8083");
        assert_eq!(e.workers.len(), 2);
        assert_eq!(e.workers[1].worker_id, "127.0.0.1:38084");
        // By the profile's worker_id, or by the host:port of the worker's URL.
        assert_eq!(e.worker_by_id("10.0.0.1:38083").unwrap().name, "worker-1");
        assert_eq!(e.worker_by_id("127.0.0.1:38083").unwrap().name, "worker-1");
        assert_eq!(
            e.liveness_url("127.0.0.1:38084").unwrap().as_str(),
            "http://127.0.0.1:38084/"
        );
        assert_eq!(
            e.liveness_url("10.9.9.9:8083").unwrap().as_str(),
            "http://10.9.9.9:8083/"
        );
    }

    #[test]
    fn without_urls_the_workers_are_the_endpoints() {
        let e = endpoints("[connect]\nurls = []\n[workers.a]\nurl = \"https://a.example\"\n")
            .unwrap()
            .unwrap();
        assert_eq!(e.rest[0].name, "a");
        assert_eq!(e.rest[0].worker_id, "a.example:443");
        let error = endpoints("[connect]\nurls = []\n").unwrap_err();
        assert!(error.to_string().contains("nothing to send"), "{error}");
    }

    #[test]
    fn malformed_urls_name_the_profile_key() {
        let error = endpoints("[connect]\nurls = [\"127.0.0.1:38083\"]\n").unwrap_err();
        assert!(
            format!("{error:#}").starts_with("connect.urls[0]: "),
            "{error:#}"
        );
        let error =
            endpoints("[connect]\nurls = []\n[workers.w1]\nurl = \"http//x\"\n").unwrap_err();
        assert!(
            format!("{error:#}").starts_with("workers.w1.url: "),
            "{error:#}"
        );
    }
}
