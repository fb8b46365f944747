//! Prometheus text served over HTTP on loopback (`GET /metrics`): `kscen run --metrics-addr`'s
//! live metrics and `kscen exporter`'s lags. Loopback only: the endpoint has no authentication.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use http_body_util::Full;
use hyper::body::Bytes;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

/// The server task; it stops when this is dropped.
pub struct MetricsServer {
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Resolves `addr` (HOST:PORT, given as `flag`) and refuses anything but a loopback address.
pub async fn resolve(addr: &str, flag: &str) -> Result<SocketAddr> {
    let resolved: Vec<SocketAddr> = tokio::net::lookup_host(addr)
        .await
        .with_context(|| format!("{flag} {addr:?}: expected HOST:PORT"))?
        .collect();
    let Some(first) = resolved.iter().find(|a| a.ip().is_loopback()) else {
        bail!(
            "{flag} {addr:?}: the metrics endpoint has no authentication and serves on \
             loopback only (e.g. 127.0.0.1:9464)"
        );
    };
    Ok(*first)
}

/// Serves what `exposition` returns at each scrape of `/metrics` (or `/`); `flag` names the
/// option that chose `addr`, for the error when it cannot be bound.
pub async fn serve(
    addr: SocketAddr,
    flag: &str,
    exposition: impl Fn() -> String + Send + Sync + 'static,
) -> Result<MetricsServer> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr} for {flag}"))?;
    let addr = listener.local_addr()?;
    let exposition = Arc::new(exposition);
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let exposition = exposition.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request: Request<_>| {
                    let response = respond(request.uri().path(), exposition.as_ref());
                    async move { Ok::<_, Infallible>(response) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok(MetricsServer { addr, task })
}

fn respond(path: &str, exposition: &dyn Fn() -> String) -> Response<Full<Bytes>> {
    let (status, content_type, body) = match path {
        "/metrics" | "/" => (
            200,
            "text/plain; version=0.0.4; charset=utf-8",
            exposition(),
        ),
        _ => (
            404,
            "text/plain",
            "not found: scrape /metrics\n".to_string(),
        ),
    };
    Response::builder()
        .status(status)
        .header("content-type", content_type)
        .body(Full::new(Bytes::from(body)))
        .expect("a static response is valid")
}

/// `text` as a label value of the text exposition format.
pub fn label_value(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
