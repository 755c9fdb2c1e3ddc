//! A client gets `hello` and at once the newest snapshot; late joiners too.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::*;
use marketfeed_protocol::{ServerMessage, PROTOCOL_VERSION};

#[tokio::test]
async fn hello_then_snapshot_without_waiting_for_a_tick() {
    let mut config = config();
    // The first tick fires at start; the next one would be an hour later.
    config.tick_interval = Duration::from_secs(3600);
    config.heartbeat_interval = Duration::from_secs(7);
    let server = start(config).await;
    eventually(|| server.stats().ticks == 1).await;

    let started = Instant::now();
    let mut ws = connect(server.local_addr()).await;
    let ServerMessage::Hello(hello) = next_msg(&mut ws).await else {
        panic!("first message must be hello");
    };
    assert_eq!(hello.protocol_version, PROTOCOL_VERSION);
    assert_eq!(hello.heartbeat_interval_ms, 7_000);
    assert_eq!(hello.tick_interval_ms, 3_600_000);
    assert_eq!(hello.symbols.len(), 30);

    let snap = next_snapshot(&mut ws).await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "snapshot must not wait for a tick"
    );
    assert_eq!(snap.seq, 1);
    assert_eq!(snap.quotes.len(), 30);
    assert_eq!(snap.indices.len(), 4);
    let symbols: Vec<_> = snap.quotes.iter().map(|q| q.symbol.clone()).collect();
    assert_eq!(symbols, hello.symbols);

    // A late joiner gets the same snapshot at once, encoded only once.
    let mut late = connect(server.local_addr()).await;
    let again = skip_greeting(&mut late).await;
    assert_eq!(again, snap);
    assert_eq!(server.stats().serializations, 1);
    server.shutdown().await;
}

#[tokio::test]
async fn snapshot_ts_is_server_time_in_microseconds() {
    let server = start(config()).await;
    let mut ws = connect(server.local_addr()).await;
    skip_greeting(&mut ws).await;
    let snap = next_snapshot(&mut ws).await;
    let now_us = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_micros() as u64;
    assert!(snap.ts <= now_us, "ts in the future");
    assert!(
        now_us - snap.ts < 2_000_000,
        "ts more than 2 s old: {}",
        now_us - snap.ts
    );
    server.shutdown().await;
}

#[tokio::test]
async fn plain_http_and_health() {
    let server = start(config()).await;
    let addr = server.local_addr();
    let get = |path: &'static str| async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(
            format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await
        .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        out
    };
    let health = get("/healthz").await;
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    assert!(health.ends_with("ok\n"));
    let not_ws = get("/ws/market").await;
    assert!(not_ws.starts_with("HTTP/1.1 400"), "{not_ws}");
    let missing = get("/nope").await;
    assert!(missing.starts_with("HTTP/1.1 404"), "{missing}");
    let page = get("/").await;
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    server.shutdown().await;
}
