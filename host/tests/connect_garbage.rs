//! A Connect REST endpoint that answers garbage (not HTTP, HTML, JSON of the wrong shape, an
//! endless body, a refusal of the credentials, plain HTTP behind an https:// URL) gives one clear
//! error naming the endpoint and what to check; nothing panics or hangs.
//!
//! The endpoint is a raw TCP listener writing canned bytes: it stands for a misconfigured URL
//! (another service on that port), not for Kafka Connect, which the lab tests use for real.

use std::time::Duration;

use kscen::config::profile::Profile;
use kscen::connect::ConnectClient;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// What the fake endpoint writes on every connection, after reading the request head.
#[derive(Clone)]
enum Reply {
    Bytes(&'static [u8]),
    /// `200 OK` with a chunked body that never ends.
    Endless,
    /// `200 OK` with an empty list, a second late: an overloaded but working worker.
    Late,
}

/// Serves `reply` on a loopback port; returns `host:port`.
async fn endpoint(reply: Reply) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let reply = reply.clone();
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buf = [0u8; 4096];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                match reply {
                    Reply::Late => {
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        let answer = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n[]";
                        let _ = socket.write_all(answer).await;
                    }
                    Reply::Bytes(bytes) => {
                        let _ = socket.write_all(bytes).await;
                    }
                    Reply::Endless => {
                        let head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
                        if socket.write_all(head).await.is_err() {
                            return;
                        }
                        let chunk = format!("{:x}\r\n{}\r\n", 65536, "[".repeat(65536));
                        while socket.write_all(chunk.as_bytes()).await.is_ok() {}
                    }
                }
            });
        }
    });
    address
}

fn client(url: &str, extra: &str) -> ConnectClient {
    let profile: Profile =
        toml::from_str(&format!("[connect]\nurls = [{url:?}]\n{extra}")).unwrap();
    ConnectClient::builder(&profile)
        .unwrap()
        .unwrap()
        .request_timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

async fn error_from(reply: Reply) -> String {
    let address = endpoint(reply).await;
    let client = client(&format!("http://{address}"), "");
    let error = tokio::time::timeout(Duration::from_secs(20), client.connectors())
        .await
        .expect("a garbage answer must not hang the client")
        .expect_err("a garbage answer must be an error");
    let text = error.to_string();
    assert!(
        text.contains(&address),
        "the error names the endpoint: {text}"
    );
    text
}

#[tokio::test]
async fn html_instead_of_json_is_an_unexpected_answer_naming_the_call() {
    let text = error_from(Reply::Bytes(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 27\r\n\r\n<html>a web console</html>\n",
    ))
    .await;
    assert!(
        text.contains("unexpected answer to GET /connectors"),
        "{text}"
    );
    assert!(text.contains("<html>a web console</html>"), "{text}");
}

#[tokio::test]
async fn json_of_the_wrong_shape_is_an_unexpected_answer() {
    let text = error_from(Reply::Bytes(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 16\r\n\r\n{\"connectors\":5}",
    ))
    .await;
    assert!(
        text.contains("unexpected answer to GET /connectors"),
        "{text}"
    );
    assert!(text.contains("invalid type"), "{text}");
}

#[tokio::test]
async fn bytes_that_are_not_http_mean_no_worker_answered() {
    let text = error_from(Reply::Bytes(b"SSH-2.0-OpenSSH_9.2\r\n\x00\xff\xfe garbage")).await;
    assert!(
        text.contains("no Connect worker answered GET /connectors"),
        "{text}"
    );
    assert!(text.contains("check the workers are running"), "{text}");
}

#[tokio::test]
async fn an_endless_answer_is_cut_instead_of_filling_memory() {
    let text = error_from(Reply::Endless).await;
    assert!(text.contains("answered more than 16 MiB"), "{text}");
}

#[tokio::test]
async fn refused_credentials_point_at_the_profile() {
    let text = error_from(Reply::Bytes(
        b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 13\r\n\r\nUnauthorized\n",
    ))
    .await;
    assert!(
        text.contains("refused the credentials: check connect.basic_auth"),
        "{text}"
    );
}

#[tokio::test]
async fn https_to_a_plain_http_endpoint_fails_the_handshake_clearly() {
    let address = endpoint(Reply::Bytes(
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n[]",
    ))
    .await;
    let client = client(&format!("https://{address}"), "");
    let text = client.connectors().await.unwrap_err().to_string();
    assert!(text.contains(&address), "{text}");
    assert!(text.contains("no Connect worker answered"), "{text}");
}

/// Not garbage, but slow: when no worker passes the quick liveness probe (500 ms), one that took
/// the connection still gets the full request timeout instead of an immediate failure.
#[tokio::test]
async fn a_late_answer_from_the_only_worker_is_waited_for() {
    let address = endpoint(Reply::Late).await;
    let client = client(&format!("http://{address}"), "");
    let started = std::time::Instant::now();
    let connectors = client.connectors().await.expect("the late answer is taken");
    assert!(connectors.is_empty());
    assert!(started.elapsed() >= Duration::from_secs(1));
}

#[test]
fn a_ca_file_that_is_not_pem_is_refused_when_the_client_is_built() {
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, "not a certificate").unwrap();
    let profile: Profile = toml::from_str(&format!(
        "[connect]\nurls = [\"https://127.0.0.1:1\"]\nca_file = {:?}\n",
        ca.display().to_string()
    ))
    .unwrap();
    let error = ConnectClient::from_profile(&profile)
        .err()
        .expect("a CA file without a certificate is refused");
    let text = format!("{error:#}");
    assert!(
        text.contains("connect.ca_file") && text.contains("ca.pem"),
        "{text}"
    );
}
