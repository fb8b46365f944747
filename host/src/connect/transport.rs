//! Sending one REST call to a worker that answers: the last good worker first, then the others
//! in profile order, skipping any that failed a liveness probe; rebalance refusals are retried
//! with backoff; error answers become typed errors naming the call and the worker.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode, Url};

use super::endpoints::Endpoint;
use super::liveness::{Liveness, LivenessCache};
use super::retry::RebalanceRetry;
use crate::error::{HostError, HostResult};

/// One REST call, described independently of the worker it goes to.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: Method,
    /// Path segments, unescaped (a connector name is encoded when the URL is built).
    pub path: Vec<String>,
    pub query: Vec<(&'static str, String)>,
    pub body: Option<serde_json::Value>,
    /// The connector the call is about: a 404 becomes `NotFound` naming it.
    pub connector: Option<String>,
}

impl Call {
    pub fn new(method: Method, path: &[&str]) -> Call {
        Call {
            method,
            path: path.iter().map(|s| s.to_string()).collect(),
            query: Vec::new(),
            body: None,
            connector: None,
        }
    }

    /// `/connectors/<name>/<rest...>`.
    pub fn on_connector(method: Method, connector: &str, rest: &[&str]) -> Call {
        let mut path = vec!["connectors", connector];
        path.extend_from_slice(rest);
        Call {
            connector: Some(connector.to_string()),
            ..Call::new(method, &path)
        }
    }

    pub fn query(mut self, key: &'static str, value: impl ToString) -> Call {
        self.query.push((key, value.to_string()));
        self
    }

    pub fn json(mut self, body: serde_json::Value) -> Call {
        self.body = Some(body);
        self
    }

    fn describe(&self) -> String {
        let mut text = format!("{} /{}", self.method, self.path.join("/"));
        for (i, (key, value)) in self.query.iter().enumerate() {
            text.push(if i == 0 { '?' } else { '&' });
            text.push_str(&format!("{key}={value}"));
        }
        text
    }

    fn url(&self, base: &Url) -> Url {
        let mut url = base.clone();
        if let Ok(mut segments) = url.path_segments_mut() {
            segments.pop_if_empty().extend(&self.path);
        }
        if !self.query.is_empty() {
            url.query_pairs_mut().extend_pairs(&self.query);
        }
        url
    }
}

/// A successful (2xx) answer.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: String,
    /// The worker that answered, for errors about the answer.
    pub worker: String,
}

impl Answer {
    pub fn json<T: serde::de::DeserializeOwned>(&self, call_name: &str) -> HostResult<T> {
        serde_json::from_str(&self.body).map_err(|e| HostError::Connect {
            status: self.status,
            message: format!(
                "unexpected answer to {call_name} from {} ({e}): {}",
                self.worker,
                excerpt(&self.body)
            ),
        })
    }
}

pub struct Transport {
    pub http: reqwest::Client,
    pub rest: Vec<Endpoint>,
    pub liveness: LivenessCache,
    pub retry: RebalanceRetry,
    pub request_timeout: Duration,
    /// Index in `rest` of the worker that answered last: calls stick to it while it lives.
    last_good: AtomicUsize,
}

impl Transport {
    pub fn new(
        http: reqwest::Client,
        rest: Vec<Endpoint>,
        liveness: LivenessCache,
        retry: RebalanceRetry,
        request_timeout: Duration,
    ) -> Transport {
        Transport {
            http,
            rest,
            liveness,
            retry,
            request_timeout,
            last_good: AtomicUsize::new(0),
        }
    }

    /// Sends `call`, retrying rebalance refusals within the retry budget; any other non-2xx is
    /// an error.
    pub async fn send(&self, call: &Call) -> HostResult<Answer> {
        let started = Instant::now();
        let mut retries = 0;
        loop {
            let (status, body, worker) = self.send_once(call).await?;
            if status.is_success() {
                return Ok(Answer {
                    status: status.as_u16(),
                    body,
                    worker,
                });
            }
            let rebalancing = refused_for_rebalance(status, &body);
            if rebalancing {
                if let Some(pause) = self.retry.delay(retries, started.elapsed()) {
                    tracing::debug!(call = %call.describe(), worker, %status, ?pause, "Connect refused during a rebalance: retrying");
                    tokio::time::sleep(pause).await;
                    retries += 1;
                    continue;
                }
            }
            let mut error = error_for(call, status.as_u16(), &body, &worker);
            if let HostError::Connect { message, .. } = &mut error {
                if rebalancing {
                    message.push_str(&format!(
                        "; still conflicting after {retries} retries over {:.0?}",
                        started.elapsed()
                    ));
                }
            }
            return Err(error);
        }
    }

    /// One attempt on the first worker that answers; a transport failure moves to the next.
    async fn send_once(&self, call: &Call) -> HostResult<(StatusCode, String, String)> {
        let bases: Vec<Url> = self.rest.iter().map(|e| e.base.clone()).collect();
        let liveness = self.liveness.check(&bases).await;
        let first = self
            .last_good
            .load(Ordering::Relaxed)
            .min(self.rest.len() - 1);
        let order = std::iter::once(first).chain((0..self.rest.len()).filter(|&i| i != first));
        let mut failures = Vec::new();
        let mut silent = Vec::new();
        for index in order {
            let endpoint = &self.rest[index];
            match &liveness[index] {
                Liveness::Alive => {}
                Liveness::Dead(why) => {
                    failures.push(format!("{} ({}): {why}", endpoint.name, endpoint.base));
                    continue;
                }
                Liveness::Silent(why) => {
                    failures.push(format!("{} ({}): {why}", endpoint.name, endpoint.base));
                    silent.push(index);
                    continue;
                }
            }
            match self.watched_attempt(call, &endpoint.base).await {
                Ok((status, body)) => {
                    self.last_good.store(index, Ordering::Relaxed);
                    return Ok((status, body, endpoint.name.clone()));
                }
                // The worker took the call but did not answer in time. Another worker would most
                // likely wait on the same thing (writes are forwarded to the leader), so say so
                // rather than multiply the wait.
                Err(Failure::TimedOut) => {
                    return Err(HostError::Timeout(format!(
                        "{} got no answer within {:.0?} from {} ({}), which still answers GET /; \
                         a write waits on the group leader: is it stopped or rebalancing?",
                        call.describe(),
                        self.request_timeout,
                        endpoint.name,
                        endpoint.base
                    )))
                }
                Err(Failure::Unreachable(why)) => {
                    // It passed the probe moments ago and is gone since: skip it for a while.
                    self.liveness
                        .remember(&endpoint.base, Liveness::Dead(why.clone()));
                    failures.push(format!("{} ({}): {why}", endpoint.name, endpoint.base));
                }
                Err(Failure::Silent(why)) => {
                    failures.push(format!("{} ({}): {why}", endpoint.name, endpoint.base));
                    silent.push(index);
                }
            }
        }
        // No worker answered quickly. A worker that takes connections but answers slowly may only
        // be overloaded (a survivor taking over every task): give it the full request timeout
        // rather than fail at once.
        for index in silent {
            let endpoint = &self.rest[index];
            match self.attempt(call, &endpoint.base).await {
                Ok((status, body)) => {
                    self.liveness.remember(&endpoint.base, Liveness::Alive);
                    self.last_good.store(index, Ordering::Relaxed);
                    return Ok((status, body, endpoint.name.clone()));
                }
                Err(Failure::TimedOut) => failures.push(format!(
                    "{} ({}): no answer within {:.0?} either",
                    endpoint.name, endpoint.base, self.request_timeout
                )),
                Err(Failure::Unreachable(why) | Failure::Silent(why)) => {
                    failures.push(format!("{} ({}): {why}", endpoint.name, endpoint.base));
                }
            }
        }
        Err(HostError::Connect {
            status: 0,
            message: format!(
                "no Connect worker answered {}: {}; check the workers are running (`kscen lab status` for the lab) \
                 and the profile's connect.urls",
                call.describe(),
                failures.join("; ")
            ),
        })
    }

    /// An attempt abandoned as soon as its worker stops answering `GET /`: a worker SIGSTOPped
    /// after its last liveness check still accepts the connection, and the call would otherwise
    /// wait for the whole request timeout. A slow call on a live worker (a write forwarded to a
    /// busy leader) is left to finish.
    async fn watched_attempt(
        &self,
        call: &Call,
        base: &Url,
    ) -> Result<(StatusCode, String), Failure> {
        let attempt = self.attempt(call, base);
        tokio::pin!(attempt);
        // Half the liveness timeout: a stopped worker is left after about 1.5 × that timeout.
        let check_every = self.liveness.timeout() / 2;
        loop {
            tokio::select! {
                answer = &mut attempt => return answer,
                () = tokio::time::sleep(check_every) => {
                    match self.liveness.probe_now(base).await {
                        Liveness::Alive => {}
                        Liveness::Dead(why) => {
                            return Err(Failure::Unreachable(format!("stopped answering during the call ({why})")));
                        }
                        Liveness::Silent(why) => {
                            return Err(Failure::Silent(format!("stopped answering during the call ({why})")));
                        }
                    }
                }
            }
        }
    }

    async fn attempt(&self, call: &Call, base: &Url) -> Result<(StatusCode, String), Failure> {
        let mut request = self
            .http
            .request(call.method.clone(), call.url(base))
            .timeout(self.request_timeout);
        if let Some(body) = &call.body {
            request = request.json(body);
        }
        let classify = |e: reqwest::Error| {
            // A connect timeout (SYNs dropped) is unreachable too; only a taken call times out.
            if e.is_timeout() && !e.is_connect() {
                Failure::TimedOut
            } else {
                Failure::Unreachable(super::error_chain(&e))
            }
        };
        let mut answer = request.send().await.map_err(classify)?;
        let status = answer.status();
        // Read by chunks so an endpoint that streams without end cannot exhaust memory.
        let mut body = Vec::new();
        while let Some(chunk) = answer.chunk().await.map_err(classify)? {
            if body.len() + chunk.len() > MAX_ANSWER_BYTES {
                return Err(Failure::Unreachable(format!(
                    "answered more than {} MiB to {}: not a Connect REST API?",
                    MAX_ANSWER_BYTES >> 20,
                    call.describe()
                )));
            }
            body.extend_from_slice(&chunk);
        }
        Ok((status, String::from_utf8_lossy(&body).into_owned()))
    }
}

/// Connect's largest answers (statuses of hundreds of connectors with traces) stay far below.
const MAX_ANSWER_BYTES: usize = 16 << 20;

enum Failure {
    /// Connection refused or reset: the worker is gone, try another.
    Unreachable(String),
    /// Stopped answering its liveness probe during the call: stopped or overloaded.
    Silent(String),
    TimedOut,
}

/// Whether Connect refused the call because of a rebalance, which passes: 409 Conflict while one
/// is under way, and 500 with the herder's `RebalanceNeededException` when one is about to start
/// (seen right after a config PUT, on the next GET of that config).
fn refused_for_rebalance(status: StatusCode, body: &str) -> bool {
    status == StatusCode::CONFLICT
        || (status == StatusCode::INTERNAL_SERVER_ERROR
            && connect_message(status.as_u16(), body)
                .contains("Request cannot be completed because a rebalance is expected"))
}

/// Connect's `{"error_code","message"}`, or a plain-text body (Basic auth's 401).
fn connect_message(status: u16, body: &str) -> String {
    #[derive(serde::Deserialize)]
    struct ErrorBody {
        message: Option<String>,
    }
    match serde_json::from_str::<ErrorBody>(body) {
        Ok(ErrorBody {
            message: Some(message),
        }) => message,
        _ if body.trim().is_empty() => StatusCode::from_u16(status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("no message")
            .to_string(),
        _ => excerpt(body),
    }
}

fn error_for(call: &Call, status: u16, body: &str, worker: &str) -> HostError {
    let mut message = connect_message(status, body);
    if status == 401 || status == 403 {
        message.push_str(
            "; the worker refused the credentials: check connect.basic_auth in the profile",
        );
    }
    match (status, &call.connector) {
        (404, Some(connector)) => {
            HostError::NotFound(format!("connector {connector:?}: {message}"))
        }
        _ => HostError::Connect {
            status,
            message: format!("{message} ({} via {worker})", call.describe()),
        },
    }
}

/// The start of a body for an error message (an HTML error page can be long).
fn excerpt(body: &str) -> String {
    let trimmed = body.trim();
    match trimmed.char_indices().nth(300) {
        Some((cut, _)) => format!("{}…", &trimmed[..cut]),
        None => trimmed.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_encode_connector_names_and_keep_a_base_path() {
        let call =
            Call::on_connector(Method::POST, "a b/c", &["restart"]).query("includeTasks", true);
        let url = call.url(&Url::parse("https://gw.example/connect/").unwrap());
        assert_eq!(
            url.as_str(),
            "https://gw.example/connect/connectors/a%20b%2Fc/restart?includeTasks=true"
        );
        assert_eq!(
            call.describe(),
            "POST /connectors/a b/c/restart?includeTasks=true"
        );
        let plain =
            Call::new(Method::GET, &["connectors"]).url(&Url::parse("http://h:8083").unwrap());
        assert_eq!(plain.as_str(), "http://h:8083/connectors");
    }

    #[test]
    fn rebalance_refusals_are_told_from_other_errors() {
        let expected = r#"{"error_code":500,"message":"Request cannot be completed because a rebalance is expected"}"#;
        assert!(refused_for_rebalance(
            StatusCode::INTERNAL_SERVER_ERROR,
            expected
        ));
        let conflict = r#"{"error_code":409,"message":"Cannot complete request because of a conflicting operation (e.g. worker rebalance)"}"#;
        assert!(refused_for_rebalance(StatusCode::CONFLICT, conflict));
        let timeout = r#"{"error_code":500,"message":"Request timed out"}"#;
        assert!(!refused_for_rebalance(
            StatusCode::INTERNAL_SERVER_ERROR,
            timeout
        ));
        assert!(!refused_for_rebalance(StatusCode::NOT_FOUND, expected));
    }

    #[test]
    fn errors_carry_connect_messages_and_name_the_connector() {
        let call = Call::on_connector(Method::GET, "nope", &["status"]);
        let body = r#"{"error_code":404,"message":"No status found for connector nope"}"#;
        assert_eq!(
            error_for(&call, 404, body, "worker-1"),
            HostError::NotFound("connector \"nope\": No status found for connector nope".into())
        );
        let body = r#"{"error_code":500,"message":"Request timed out"}"#;
        assert_eq!(
            error_for(&call, 500, body, "worker-2"),
            HostError::Connect {
                status: 500,
                message: "Request timed out (GET /connectors/nope/status via worker-2)".into()
            }
        );
        // Basic auth's 401 is plain text; an empty body falls back to the reason phrase.
        let list = Call::new(Method::GET, &["connectors"]);
        assert!(
            matches!(error_for(&list, 401, "Unauthorized\n", "w"), HostError::Connect { status: 401, message }
                if message.starts_with("Unauthorized; the worker refused the credentials: check connect.basic_auth")
                && message.ends_with("(GET /connectors via w)"))
        );
        assert!(
            matches!(error_for(&list, 503, "", "w"), HostError::Connect { message, .. } if message.starts_with("Service Unavailable"))
        );
    }
}
