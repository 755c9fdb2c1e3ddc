//! Connection limits, the slow-loris bound and the inbound message rate
//! limit, over real sockets: exact counts under concurrent connects,
//! slots released after abrupt drops, and nobody else disturbed.

#![allow(clippy::unwrap_used, missing_docs)]

mod common;
mod harden;

use std::time::Duration;

use common::*;
use futures_util::SinkExt;
use harden::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{timeout, Instant};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;

const WS: &str = "/ws/market";

/// Opens `n` handshakes at once; returns the 101 sockets and the refusals.
async fn connect_many(addr: std::net::SocketAddr, n: usize) -> (Vec<TcpStream>, Vec<Head>) {
    let tasks: Vec<_> = (0..n)
        .map(|_| tokio::spawn(async move { handshake(addr, WS, &[]).await }))
        .collect();
    let mut open = Vec::new();
    let mut refused = Vec::new();
    for t in tasks {
        let (head, s) = t.await.unwrap();
        if head.status == 101 {
            open.push(s);
        } else {
            refused.push(head);
        }
    }
    (open, refused)
}

#[tokio::test]
async fn per_ip_limit_is_exact_under_concurrent_connects_and_released_on_drop() {
    let mut config = config();
    config.max_connections_per_ip = 5;
    config.limit_loopback = true;
    let server = start(config).await;
    let addr = server.local_addr();

    for round in 0..3 {
        let (open, refused) = connect_many(addr, 40).await;
        assert_eq!(open.len(), 5, "round {round}");
        assert_eq!(refused.len(), 35, "round {round}");
        for head in &refused {
            assert_eq!(head.status, 429);
            assert_eq!(head.body.trim(), "too many connections from this address");
            assert_eq!(head.header("retry-after"), Some("5"));
        }
        assert_eq!(server.connection_slots(), 5);
        // Abrupt drops: no closing handshake, just the TCP close.
        drop(open);
        eventually(|| server.connection_slots() == 0 && server.stats().clients == 0).await;
    }
    server.shutdown().await;
}

#[tokio::test]
async fn loopback_is_exempt_from_the_per_ip_limit_by_default() {
    let mut config = config();
    config.max_connections_per_ip = 2;
    let server = start(config).await;
    let (open, refused) = connect_many(server.local_addr(), 10).await;
    assert_eq!((open.len(), refused.len()), (10, 0));
    server.shutdown().await;
}

#[tokio::test]
async fn global_limit_gives_503_and_is_released_on_every_kind_of_disconnect() {
    let mut config = config();
    config.max_connections = 8;
    let server = start(config).await;
    let addr = server.local_addr();

    let (mut open, refused) = connect_many(addr, 30).await;
    assert_eq!(open.len(), 8);
    assert_eq!(refused.len(), 22);
    for head in &refused {
        assert_eq!(head.status, 503);
        assert_eq!(head.body.trim(), "server is at its connection limit");
        assert_eq!(head.header("retry-after"), Some("5"));
    }
    // One leaves with a closing handshake, one with a protocol error, the
    // rest by dropping the socket.
    let mut polite = open.pop().unwrap();
    polite
        .write_all(&masked_frame(0x8, &1000u16.to_be_bytes()))
        .await
        .unwrap();
    let mut rude = open.pop().unwrap();
    rude.write_all(&[0x81, 0x05, b'h', b'e', b'l', b'l', b'o'])
        .await
        .unwrap(); // unmasked: 1002
    assert_eq!(
        raw_read_until_close(&mut rude).await.map(|c| c.0),
        Some(1002)
    );
    drop(open);
    drop(polite);
    drop(rude);
    eventually(|| server.connection_slots() == 0).await;

    // The slots are back: a full set connects again.
    let (open, refused) = connect_many(addr, 8).await;
    assert_eq!((open.len(), refused.len()), (8, 0));
    server.shutdown().await;
}

#[tokio::test]
async fn slowloris_is_dropped_within_the_request_timeout_while_others_receive() {
    let mut config = config();
    config.request_timeout = Duration::from_millis(500);
    let server = start(config).await;
    let addr = server.local_addr();
    let mut bystander = connect(addr).await;
    skip_greeting(&mut bystander).await;

    // One sends half a request head, one sends a byte at a time slowly,
    // one sends nothing at all.
    let mut half = TcpStream::connect(addr).await.unwrap();
    half.write_all(b"GET /ws/market HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let silent = TcpStream::connect(addr).await.unwrap();
    let trickle = TcpStream::connect(addr).await.unwrap();
    let started = Instant::now();
    let trickler = tokio::spawn(async move {
        let mut s = trickle;
        for b in b"GET /ws/market HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n".iter() {
            if s.write_all(&[*b]).await.is_err() {
                return (s, started.elapsed());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("a byte every 100 ms kept the connection open past the bound");
    });

    for (name, mut s) in [("half", half), ("silent", silent)] {
        let mut buf = [0u8; 256];
        let n = timeout(Duration::from_secs(3), s.read(&mut buf))
            .await
            .unwrap_or_else(|_| panic!("{name} connection still open"));
        // Either a plain close or a 408 answer then close; never a 101.
        if let Ok(n) = n {
            assert!(!buf[..n].starts_with(b"HTTP/1.1 101"), "{name}");
        }
        let waited = started.elapsed();
        assert!(
            waited < Duration::from_millis(1500),
            "{name} dropped after {waited:?}"
        );
    }
    let (mut trickle, cut) = trickler.await.unwrap();
    assert!(
        cut < Duration::from_millis(1500),
        "trickle cut after {cut:?}"
    );
    let mut buf = [0u8; 256];
    let n = timeout(Duration::from_secs(3), trickle.read(&mut buf))
        .await
        .expect("trickling connection dropped");
    if let Ok(n) = n {
        assert!(!buf[..n].starts_with(b"HTTP/1.1 101"));
    }
    // The bystander kept receiving every tick.
    let a = next_snapshot(&mut bystander).await.seq;
    assert_eq!(next_snapshot(&mut bystander).await.seq, a + 1);
    assert_eq!(server.stats().clients, 1);
    server.shutdown().await;
}

#[tokio::test]
async fn a_message_flood_closes_only_the_flooder_with_1008() {
    let server = start(config()).await;
    let addr = server.local_addr();
    let mut bystander = connect(addr).await;
    skip_greeting(&mut bystander).await;
    let mut polite = connect(addr).await;
    skip_greeting(&mut polite).await;
    let mut flooder = connect(addr).await;
    skip_greeting(&mut flooder).await;

    for id in 0..500u64 {
        let msg = Message::text(format!(r#"{{"type":"ping","id":{id}}}"#));
        if flooder.feed(msg).await.is_err() {
            break;
        }
    }
    let _ = flooder.flush().await;
    let (code, reason) = expect_close(&mut flooder).await;
    assert_eq!(code, CloseCode::Policy);
    assert_eq!(reason, "message rate limit exceeded");

    // A client within the rate is answered and stays.
    for id in 0..5 {
        send_text(&mut polite, &format!(r#"{{"type":"ping","id":{id}}}"#)).await;
    }
    let mut pongs = 0;
    while pongs < 5 {
        if let marketfeed_protocol::ServerMessage::Pong { .. } = next_msg(&mut polite).await {
            pongs += 1;
        }
    }
    let a = next_snapshot(&mut bystander).await.seq;
    assert_eq!(next_snapshot(&mut bystander).await.seq, a + 1);
    eventually(|| server.stats().clients == 2).await;
    server.shutdown().await;
}
