//! The wire formats chosen by `Sec-WebSocket-Protocol`: negotiation, the
//! 400 for unknown-only offers, v2 deltas that rebuild exactly the v1
//! snapshots of the same run (JSON and binary), resync after a gap, a
//! stalled v2 client that catches up through a keyframe, and encodes that
//! stay within the distinct (format, subscription set) pairs.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::*;
use futures_util::StreamExt;
use marketfeed_protocol::{apply, MarketSnapshot, ServerMessage, Subprotocol};
use marketfeed_server::SlowClientPolicy;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const V1: &str = "marketfeed.v1.json";
const V2_JSON: &str = "marketfeed.v2.json";
const V2_BIN: &str = "marketfeed.v2.bin";

#[test]
fn the_names_here_are_the_protocol_crate_s() {
    assert_eq!(
        [V1, V2_JSON, V2_BIN],
        Subprotocol::ALL.map(Subprotocol::name)
    );
}

/// Raw upgrade request with `offer` as `Sec-WebSocket-Protocol`; returns
/// the response head and what follows it so far.
async fn raw_upgrade(addr: std::net::SocketAddr, offer: &str) -> String {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(
        format!(
            "GET /ws/market HTTP/1.1\r\nHost: test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
             Sec-WebSocket-Protocol: {offer}\r\n\r\n"
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(WAIT, s.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

#[tokio::test]
async fn each_format_is_negotiated_echoed_and_announced_in_hello() {
    let server = start(config()).await;
    let addr = server.local_addr();
    let cases: [(Option<&str>, Option<&str>, &str); 5] = [
        (None, None, V1),
        (Some(V1), Some(V1), V1),
        (Some(V2_JSON), Some(V2_JSON), V2_JSON),
        (Some(V2_BIN), Some(V2_BIN), V2_BIN),
        // The first known name in the client's order wins.
        (
            Some("chat, marketfeed.v2.bin, marketfeed.v2.json"),
            Some(V2_BIN),
            V2_BIN,
        ),
    ];
    for (offer, echoed, format) in cases {
        let (mut ws, chosen) = connect_as(addr, offer, None).await;
        assert_eq!(chosen.as_deref(), echoed, "offer {offer:?}");
        let ServerMessage::Hello(hello) = next_any(&mut ws).await.1 else {
            panic!("hello first")
        };
        assert_eq!(hello.format, format);
        // The first market message is a snapshot; the next one a snapshot
        // again in v1 and a delta in v2, in the format's frame type.
        let (binary, first) = next_any(&mut ws).await;
        assert!(matches!(first, ServerMessage::Snapshot(_)), "{first:?}");
        assert_eq!(binary, format == V2_BIN);
        let (binary, second) = next_any(&mut ws).await;
        assert_eq!(binary, format == V2_BIN);
        match (format, second) {
            (V1, ServerMessage::Snapshot(_)) => {}
            (V2_JSON | V2_BIN, ServerMessage::Delta(_)) => {}
            (f, m) => panic!("{f}: unexpected {m:?}"),
        }
    }
    server.shutdown().await;
}

#[tokio::test]
async fn only_unknown_subprotocols_get_400_naming_the_supported_ones() {
    let server = start(config()).await;
    let addr = server.local_addr();
    let refused = raw_upgrade(addr, "chat, superchat").await;
    assert!(refused.starts_with("HTTP/1.1 400"), "{refused}");
    for name in [V1, V2_JSON, V2_BIN] {
        assert!(refused.contains(name), "body names {name}: {refused}");
    }
    // Names are case-sensitive tokens.
    let refused = raw_upgrade(addr, "MARKETFEED.V2.BIN").await;
    assert!(refused.starts_with("HTTP/1.1 400"), "{refused}");
    let accepted = raw_upgrade(addr, "chat, marketfeed.v2.json").await;
    assert!(accepted.starts_with("HTTP/1.1 101"), "{accepted}");
    assert!(
        accepted
            .to_ascii_lowercase()
            .contains("sec-websocket-protocol: marketfeed.v2.json\r\n"),
        "{accepted}"
    );
    let metrics = http_get(addr, "/metrics").await;
    assert!(
        metrics.contains(r#"reason="unsupported_subprotocol"} 2"#),
        "{metrics}"
    );
    server.shutdown().await;
}

/// Reads market messages until the client holds tick `until`; returns the
/// snapshot it held at every `seq` (applying deltas for v2).
async fn hold_until(ws: &mut Ws, until: u64) -> BTreeMap<u64, MarketSnapshot> {
    let mut held: Option<MarketSnapshot> = None;
    let mut seen = BTreeMap::new();
    while held.as_ref().is_none_or(|h| h.seq < until) {
        match next_any(ws).await.1 {
            ServerMessage::Snapshot(s) => held = Some(s),
            ServerMessage::Delta(d) => {
                let state = held.as_mut().expect("a keyframe before any delta");
                apply(state, &d).expect("every delta applies to the state held");
            }
            _ => continue,
        }
        if let Some(h) = &held {
            seen.insert(h.seq, h.clone());
        }
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_clients_hold_exactly_the_v1_snapshot_at_every_seq() {
    let mut config = config();
    config.tick_interval = Duration::from_millis(20);
    // Crosses periodic keyframes as well as deltas.
    config.keyframe_interval = 16;
    let server = start(config).await;
    let addr = server.local_addr();
    let (mut v1, _) = connect_as(addr, Some(V1), None).await;
    let (mut json, _) = connect_as(addr, Some(V2_JSON), None).await;
    let (mut bin, _) = connect_as(addr, Some(V2_BIN), None).await;
    let until = server.stats().last_seq + 50;
    let (a, b, c) = tokio::join!(
        hold_until(&mut v1, until),
        hold_until(&mut json, until),
        hold_until(&mut bin, until)
    );
    let mut compared = 0;
    for (seq, full) in &a {
        for (name, other) in [("v2.json", &b), ("v2.bin", &c)] {
            if let Some(held) = other.get(seq) {
                assert_eq!(held, full, "{name} at seq {seq}");
                compared += 1;
            }
        }
    }
    assert!(compared >= 60, "compared only {compared} ticks");
    // v2 clients saw every tick of the run.
    for m in [&b, &c] {
        let seqs: Vec<u64> = m.keys().copied().collect();
        assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "{seqs:?}");
    }
    server.shutdown().await;
}

#[tokio::test]
async fn a_client_that_misses_a_delta_resyncs_and_gets_a_keyframe_next() {
    for format in [V2_JSON, V2_BIN] {
        let mut config = config();
        // Room to answer between ticks: the keyframe must come before the
        // next delta.
        config.tick_interval = Duration::from_millis(400);
        let server = start(config).await;
        let (mut ws, _) = connect_as(server.local_addr(), Some(format), None).await;
        assert!(matches!(next_any(&mut ws).await.1, ServerMessage::Hello(_)));
        let ServerMessage::Snapshot(mut held) = next_any(&mut ws).await.1 else {
            panic!("keyframe first")
        };
        // The injected gap: the next delta is lost.
        let ServerMessage::Delta(lost) = next_any(&mut ws).await.1 else {
            panic!("a delta")
        };
        assert_eq!(lost.base, held.seq);
        let ServerMessage::Delta(after) = next_any(&mut ws).await.1 else {
            panic!("a delta")
        };
        assert!(apply(&mut held, &after).is_err(), "base mismatch detected");
        send_text(&mut ws, r#"{"type":"resync"}"#).await;
        let (binary, next) = next_any(&mut ws).await;
        let ServerMessage::Snapshot(key) = next else {
            panic!("{format}: the message after resync is a keyframe, got {next:?}")
        };
        assert_eq!(binary, format == V2_BIN);
        assert_eq!(key.seq, after.seq, "the newest tick");
        let mut held = key;
        let ServerMessage::Delta(d) = next_any(&mut ws).await.1 else {
            panic!("deltas resume")
        };
        apply(&mut held, &d).expect("the chain continues from the keyframe");
        server.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_v2_client_catches_up_through_a_keyframe_never_a_broken_chain() {
    for policy in [SlowClientPolicy::Conflate, SlowClientPolicy::DropOldest] {
        let mut config = config();
        config.tick_interval = Duration::from_millis(5);
        config.slow_client_policy = policy;
        config.client_queue = 8;
        config.keyframe_interval = 1_000_000;
        let server = start(config).await;
        let (mut ws, _) = connect_as(server.local_addr(), Some(V2_JSON), Some(4096)).await;
        // Not read until the outbox has had to give up deltas.
        eventually(|| server.stats().dropped > 0).await;
        let dropped = server.stats().dropped;
        let mut held: Option<MarketSnapshot> = None;
        let mut keyframes = 0;
        let mut deltas_after_keyframe = 0;
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        // Read what the kernel buffers still hold of the old chain, then
        // the catch-up keyframe, until the client is live again: several
        // deltas in a row after it.
        while keyframes < 2 || deltas_after_keyframe < 20 {
            assert!(
                std::time::Instant::now() < deadline,
                "{policy:?}: never caught up ({keyframes} keyframes)"
            );
            match next_any(&mut ws).await.1 {
                ServerMessage::Snapshot(s) => {
                    keyframes += 1;
                    deltas_after_keyframe = 0;
                    held = Some(s);
                }
                ServerMessage::Delta(d) => {
                    let state = held.as_mut().expect("keyframe first");
                    apply(state, &d).unwrap_or_else(|e| panic!("{policy:?}: broken chain: {e}"));
                    deltas_after_keyframe += 1;
                }
                _ => {}
            }
        }
        assert!(dropped > 0);
        server.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encodes_per_tick_stay_within_the_distinct_format_and_set_pairs() {
    let mut config = config();
    config.tick_interval = Duration::from_millis(20);
    let server = start(config).await;
    let addr = server.local_addr();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(server.stats().encodes, 0, "an idle server encodes nothing");

    let sets = [r#"["FPT","VNM"]"#, r#"["ACB"]"#, r#"["HPG","VCB","VIC"]"#];
    let mut clients = Vec::new();
    for format in [V2_JSON, V2_BIN] {
        for set in sets {
            for _ in 0..2 {
                let (mut ws, _) = connect_as(addr, Some(format), None).await;
                send_text(
                    &mut ws,
                    &format!(r#"{{"type":"subscribe","symbols":{set}}}"#),
                )
                .await;
                loop {
                    if let ServerMessage::Subscribed { .. } = next_any(&mut ws).await.1 {
                        break;
                    }
                }
                clients.push(ws);
            }
        }
    }
    // Every client reads along in the background.
    let readers: Vec<_> = clients
        .into_iter()
        .map(|mut ws| tokio::spawn(async move { while ws.next().await.is_some() {} }))
        .collect();
    let before = server.stats();
    tokio::time::sleep(Duration::from_millis(600)).await;
    let after = server.stats();
    let ticks = after.ticks - before.ticks;
    let encodes = after.encodes - before.encodes;
    assert!(ticks >= 10, "{ticks} ticks");
    assert!(
        encodes <= 6 * ticks,
        "{encodes} encodes in {ticks} ticks for 6 (format, set) pairs"
    );
    assert!(encodes >= 6 * (ticks - 1), "each pair encoded each tick");
    let metrics = http_get(addr, "/metrics").await;
    assert!(metrics.contains("marketfeed_encodes_total "), "{metrics}");
    for r in readers {
        r.abort();
    }
    server.shutdown().await;
}
