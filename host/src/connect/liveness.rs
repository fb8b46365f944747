//! Whether a worker answers now: `GET /` within a short timeout. A SIGSTOPped JVM still accepts
//! TCP connections (the kernel completes the handshake), so the timeout covers the whole request,
//! not only the connect. Workers are probed concurrently and each answer is kept briefly, so a
//! status poll every 100–250 ms costs at most one timeout per dead worker.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use reqwest::Url;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Liveness {
    Alive,
    /// Why not: refused, HTTP 404 while the REST server starts…
    Dead(String),
    /// Took the connection but did not answer in time: SIGSTOPped, or overloaded. Skipped while
    /// another worker answers; given the full request timeout when none does.
    Silent(String),
}

impl Liveness {
    pub fn is_alive(&self) -> bool {
        matches!(self, Liveness::Alive)
    }
}

pub struct LivenessCache {
    http: reqwest::Client,
    timeout: Duration,
    ttl: Duration,
    answers: Mutex<HashMap<Url, (Instant, Liveness)>>,
}

impl LivenessCache {
    pub fn new(http: reqwest::Client, timeout: Duration, ttl: Duration) -> LivenessCache {
        LivenessCache {
            http,
            timeout,
            ttl,
            answers: Mutex::new(HashMap::new()),
        }
    }

    /// The liveness of each URL, in order: fresh cached answers, the rest probed concurrently.
    pub async fn check(&self, urls: &[Url]) -> Vec<Liveness> {
        let now = Instant::now();
        let mut known: HashMap<Url, Liveness> = HashMap::new();
        {
            let answers = self.answers.lock().expect("liveness cache");
            for url in urls {
                if let Some((at, liveness)) = answers.get(url) {
                    if now.duration_since(*at) <= self.ttl {
                        known.insert(url.clone(), liveness.clone());
                    }
                }
            }
        }
        let mut probes = tokio::task::JoinSet::new();
        for url in urls {
            if !known.contains_key(url) {
                // Placeholder so a URL listed twice is probed once; replaced below.
                known.insert(url.clone(), Liveness::Dead("probe pending".into()));
                let (http, timeout, url) = (self.http.clone(), self.timeout, url.clone());
                probes.spawn(async move {
                    let liveness = probe(&http, &url, timeout).await;
                    (url, liveness)
                });
            }
        }
        while let Some(done) = probes.join_next().await {
            let Ok((url, liveness)) = done else { continue };
            self.remember(&url, liveness.clone());
            known.insert(url, liveness);
        }
        urls.iter().map(|url| known[url].clone()).collect()
    }

    pub fn timeout(&self) -> std::time::Duration {
        self.timeout
    }

    /// Probes `url` now, whatever the cache holds, and remembers the answer.
    pub async fn probe_now(&self, url: &Url) -> Liveness {
        let liveness = probe(&self.http, url, self.timeout).await;
        self.remember(url, liveness.clone());
        liveness
    }

    /// Records what a real call learned (a worker that just failed is dead; one that answered is
    /// alive), so the next call does not wait on it again.
    pub fn remember(&self, url: &Url, liveness: Liveness) {
        self.answers
            .lock()
            .expect("liveness cache")
            .insert(url.clone(), (Instant::now(), liveness));
    }
}

async fn probe(http: &reqwest::Client, url: &Url, timeout: Duration) -> Liveness {
    match http.get(url.clone()).timeout(timeout).send().await {
        Ok(answer) => classify(answer.status().as_u16()),
        Err(error) if error.is_timeout() => {
            Liveness::Silent(format!("no answer within {} ms", timeout.as_millis()))
        }
        Err(error) => Liveness::Dead(super::error_chain(&error)),
    }
}

/// `GET /` answers 200 with the version once the REST server is up. While Jetty starts, the
/// worker answers 404 and cannot serve calls; behind Basic auth it answers 401/403 (it is up).
fn classify(status: u16) -> Liveness {
    match status {
        200..=299 | 401 | 403 => Liveness::Alive,
        other => Liveness::Dead(format!("GET / answered HTTP {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_starting_worker_is_not_alive_an_authenticating_one_is() {
        assert!(classify(200).is_alive());
        assert!(classify(401).is_alive());
        assert_eq!(
            classify(404),
            Liveness::Dead("GET / answered HTTP 404".into())
        );
        assert!(!classify(503).is_alive());
    }

    #[tokio::test]
    async fn answers_are_cached_for_the_ttl_only() {
        // Port 1 on loopback refuses at once: a dead worker without any wait.
        let cache = LivenessCache::new(
            reqwest::Client::new(),
            Duration::from_millis(500),
            Duration::from_millis(50),
        );
        let url = Url::parse("http://127.0.0.1:1/").unwrap();
        cache.remember(&url, Liveness::Alive);
        assert_eq!(
            cache.check(std::slice::from_ref(&url)).await,
            vec![Liveness::Alive],
            "cached"
        );
        tokio::time::sleep(Duration::from_millis(60)).await;
        let started = Instant::now();
        let fresh = cache.check(&[url.clone(), url]).await;
        assert!(!fresh[0].is_alive(), "{fresh:?}");
        assert_eq!(fresh[0], fresh[1], "a URL listed twice is probed once");
        assert!(
            started.elapsed() < Duration::from_millis(500),
            "refused is immediate"
        );
    }
}
