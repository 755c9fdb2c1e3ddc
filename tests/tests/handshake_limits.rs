//! Bounds on what a connection may cost before it is a WebSocket client:
//! the size of its request head (`--max-request-head`, 431 beyond) and the
//! number of connections waiting for their upgrade at once
//! (`--max-pending-handshakes`, closed at once beyond), over real sockets.

#![allow(clippy::unwrap_used, missing_docs)]

mod common;
mod harden;

use std::net::SocketAddr;
use std::time::Duration;

use common::*;
use harden::*;
use marketfeed_server::defaults;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

const UPGRADE: &str = "GET /ws/market HTTP/1.1\r\nHost: test\r\nUpgrade: websocket\r\n\
    Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
    Sec-WebSocket-Version: 13\r\n";

/// An upgrade request head of exactly `size` bytes, padded with one
/// `X-Pad` header.
fn head_of(size: usize) -> Vec<u8> {
    let fixed = UPGRADE.len() + "X-Pad: \r\n\r\n".len();
    assert!(size > fixed);
    format!("{UPGRADE}X-Pad: {}\r\n\r\n", "p".repeat(size - fixed)).into_bytes()
}

/// An upgrade request head with `n` extra small headers.
fn many_headers(n: usize) -> Vec<u8> {
    let mut h = UPGRADE.to_owned();
    for i in 0..n {
        h.push_str(&format!("X-H{i}: v\r\n"));
    }
    h.push_str("\r\n");
    h.into_bytes()
}

/// Sends `head` and returns the status of the answer (0 when the server
/// closed without one).
async fn status_of(addr: SocketAddr, head: &[u8]) -> u16 {
    let mut s = TcpStream::connect(addr).await.unwrap();
    // The server may answer (and close) before reading all of a big head.
    let _ = s.write_all(head).await;
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
        match timeout(WAIT, s.read(&mut buf))
            .await
            .expect("an answer in time")
        {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    let text = String::from_utf8_lossy(&got);
    text.strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn request_head_over_the_limit_gets_431_and_under_it_upgrades() {
    let server = start(config()).await;
    let addr = server.local_addr();
    let limit = defaults::MAX_REQUEST_HEAD;
    assert_eq!(limit, 16 * 1024, "the README documents 16 KiB");

    assert_eq!(status_of(addr, &head_of(limit - 512)).await, 101);
    assert_eq!(status_of(addr, &head_of(limit + 512)).await, 431);
    assert_eq!(status_of(addr, &head_of(64 * 1024)).await, 431);
    // Many small headers: hyper's header count limit, also 431.
    assert_eq!(status_of(addr, &many_headers(1000)).await, 431);

    let text = metrics_until(addr, |t| {
        metric(
            t,
            r#"marketfeed_connections_rejected_total{reason="head_too_large"}"#,
        ) == Some(3.0)
    })
    .await;
    assert_eq!(
        metric(&text, "marketfeed_connections_accepted_total"),
        Some(1.0)
    );
    server.shutdown().await;
}

#[tokio::test]
async fn configured_request_head_limit_is_applied() {
    let mut config = config();
    config.max_request_head = 4096;
    let server = start(config).await;
    let addr = server.local_addr();
    assert_eq!(status_of(addr, &head_of(3500)).await, 101);
    assert_eq!(status_of(addr, &head_of(5000)).await, 431);
    server.shutdown().await;
}

/// Raises the soft descriptor limit to the hard one when it is too low for
/// `needed` sockets (both ends of every loopback connection live here).
fn ensure_descriptors(needed: u64) {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
    if soft < needed {
        assert!(
            hard >= needed,
            "this test needs {needed} descriptors; the hard limit is {hard}"
        );
        setrlimit(Resource::RLIMIT_NOFILE, hard, hard).unwrap();
    }
}

/// Whether the server closed `s` (end of stream or reset) within `wait`;
/// `false` when it is still open and silent.
async fn closed_within(s: &mut TcpStream, wait: Duration) -> bool {
    let mut buf = [0u8; 64];
    match timeout(wait, s.read(&mut buf)).await {
        Ok(Ok(0)) | Ok(Err(_)) => true,
        Ok(Ok(n)) => panic!("a pending connection got an answer: {:?}", &buf[..n]),
        Err(_) => false,
    }
}

#[tokio::test]
async fn slowloris_of_5000_connections_is_capped_while_clients_connect_and_receive() {
    const FLOOD: usize = 5000;
    let limit = defaults::MAX_PENDING_HANDSHAKES;
    assert!(limit < FLOOD);
    ensure_descriptors(2 * FLOOD as u64 + 512);

    let mut config = config();
    // Long enough that no pending connection times out during the test.
    config.request_timeout = Duration::from_secs(60);
    let server = start(config).await;
    let addr = server.local_addr();
    let mut upgraded = connect(addr).await;
    skip_greeting(&mut upgraded).await;

    // The flood: every connection sends half a request head and stalls.
    let mut flood = Vec::with_capacity(FLOOD);
    for _ in 0..FLOOD {
        let mut s = TcpStream::connect(addr).await.unwrap();
        // Refused ones may already be closed: a failed write is fine.
        let _ = s.write_all(b"GET /ws/market HTTP/1.1\r\nHost: x\r\n").await;
        flood.push(s);
    }

    // Beyond the limit, connections were closed at once; the rest wait.
    // (Read the metrics in-process: a /metrics request is a connection too,
    // and it would be refused while the limit is reached.)
    let rejected = |server: &marketfeed_server::Server| {
        metric(
            &server.metrics_text(),
            r#"marketfeed_connections_rejected_total{reason="pending_limit"}"#,
        )
    };
    let deadline = tokio::time::Instant::now() + WAIT;
    while rejected(&server) != Some((FLOOD - limit) as f64) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "refusals: {:?}",
            rejected(&server)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Every refused socket was closed before it was counted.
    let mut still_open = Vec::new();
    let mut closed = 0;
    for s in flood {
        if is_closed(&s) {
            closed += 1;
        } else {
            still_open.push(s);
        }
    }
    assert_eq!(closed, FLOOD - limit, "refused connections");
    assert_eq!(still_open.len(), limit, "pending connections held");

    // The upgraded client kept receiving every tick through the flood.
    let a = next_snapshot(&mut upgraded).await.seq;
    assert_eq!(next_snapshot(&mut upgraded).await.seq, a + 1);

    // While the limit is reached a newcomer is closed at once.
    let mut newcomer = TcpStream::connect(addr).await.unwrap();
    assert!(closed_within(&mut newcomer, WAIT).await);

    // Slots freed by the flood are available again to legitimate clients,
    // and an upgraded client no longer counts as pending.
    let freed = 100;
    still_open.truncate(limit - freed);
    let mut first = None;
    let deadline = tokio::time::Instant::now() + WAIT;
    while first.is_none() {
        let (head, s) = handshake_or_closed(addr).await;
        if head == Some(101) {
            first = Some(s);
        } else {
            assert!(tokio::time::Instant::now() < deadline, "no slot came back");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let mut clients = vec![first.unwrap()];
    for _ in 1..freed {
        let (head, s) = handshake_or_closed(addr).await;
        assert_eq!(head, Some(101), "a connect within the limit was refused");
        clients.push(s);
    }
    eventually(|| server.stats().clients == freed + 1).await;
    let b = next_snapshot(&mut upgraded).await.seq;
    assert!(b > a);
    drop(still_open);
    drop(clients);
    server.shutdown().await;
}

/// Whether the server has closed `s` (end of stream or reset), without
/// waiting; a pending connection is open and has nothing to read.
fn is_closed(s: &TcpStream) -> bool {
    let mut buf = [0u8; 64];
    match s.try_read(&mut buf) {
        Ok(0) => true,
        Ok(n) => panic!("a pending connection got an answer: {:?}", &buf[..n]),
        Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
    }
}

/// A WebSocket handshake: `Some(status)` of the answer, `None` when the
/// server closed the connection without one.
async fn handshake_or_closed(addr: SocketAddr) -> (Option<u16>, TcpStream) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let _ = s.write_all(format!("{UPGRADE}\r\n").as_bytes()).await;
    let mut got = Vec::new();
    let mut byte = [0u8; 1];
    while !got.ends_with(b"\r\n\r\n") {
        match timeout(WAIT, s.read(&mut byte))
            .await
            .expect("answer in time")
        {
            Ok(1) => got.push(byte[0]),
            _ => return (None, s),
        }
    }
    let status = String::from_utf8_lossy(&got)
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok());
    (status, s)
}
