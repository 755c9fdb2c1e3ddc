//! Helpers for the hardening tests: raw HTTP handshakes that expose the
//! status and headers of a refusal, tokens, and metric lookups.

#![allow(dead_code, clippy::unwrap_used, missing_docs)]

use std::net::SocketAddr;
use std::time::Duration;

use marketfeed_server::auth::{self, Secret};
use marketfeed_server::Config;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

use crate::common::WAIT;

/// The secret every auth test uses.
pub fn secret() -> Secret {
    Secret::new(b"marketfeed-test-secret-0123456789abcdef".to_vec()).unwrap()
}

/// The test config with authentication on.
pub fn auth_config() -> Config {
    let mut c = crate::common::config();
    c.auth_secret = Some(secret());
    c
}

/// A token for `sub` valid for `ttl`.
pub fn token(sub: &str, ttl: Duration) -> String {
    auth::mint(&secret(), sub, ttl).unwrap()
}

/// A response head (and whatever body arrived with it).
#[derive(Debug)]
pub struct Head {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Head {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Sends a WebSocket handshake for `target` (path and query) with extra
/// header lines; returns the answer's head and the socket (open on 101).
pub async fn handshake(addr: SocketAddr, target: &str, extra: &[&str]) -> (Head, TcpStream) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let mut req = format!(
        "GET {target} HTTP/1.1\r\nHost: test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
    );
    for line in extra {
        req.push_str(line);
        req.push_str("\r\n");
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let head = read_head(&mut s).await;
    (head, s)
}

/// `GET target` on a fresh connection (closed after the answer).
pub async fn get(addr: SocketAddr, target: &str) -> Head {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let req = format!("GET {target} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut all = Vec::new();
    timeout(WAIT, s.read_to_end(&mut all))
        .await
        .expect("answer in time")
        .unwrap();
    parse_head(&all)
}

/// Reads a response head; for non-101 answers also the body
/// (Content-Length bytes).
pub async fn read_head(s: &mut TcpStream) -> Head {
    let mut buf = Vec::new();
    while !buf.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        let n = timeout(WAIT, s.read(&mut byte))
            .await
            .expect("answer in time")
            .unwrap();
        assert_eq!(n, 1, "connection closed before the head ended: {buf:?}");
        buf.push(byte[0]);
    }
    let mut head = parse_head(&buf);
    if head.status != 101 {
        let len: usize = head
            .header("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0u8; len];
        timeout(WAIT, s.read_exact(&mut body))
            .await
            .expect("body in time")
            .unwrap();
        head.body = String::from_utf8_lossy(&body).into_owned();
    }
    head
}

fn parse_head(raw: &[u8]) -> Head {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    Head {
        status,
        headers,
        body: body.to_owned(),
    }
}

/// The value of one sample line of the exposition, e.g.
/// `marketfeed_disconnects_total{reason="dropped"}`.
pub fn metric(text: &str, sample: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(sample)?.strip_prefix(' '))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

/// Reads `/metrics` until `f` holds for it, within the default bound.
pub async fn metrics_until(addr: SocketAddr, mut f: impl FnMut(&str) -> bool) -> String {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let text = get(addr, "/metrics").await.body;
        if f(&text) {
            return text;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "metrics never matched:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
