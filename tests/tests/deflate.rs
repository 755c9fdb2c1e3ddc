//! permessage-deflate (RFC 7692) over real sockets: what the handshake
//! accepts and declines, `--compression off`, a native client that
//! inflates what it gets (flate2, independent of the server's codec) and
//! reads byte-identical JSON to a plain client for the same `seq`, one
//! compression per tick whatever the client count, compressed client
//! messages understood, and a decompression bomb closed with 1009 while
//! other clients keep receiving.

#![allow(clippy::unwrap_used, missing_docs)]

mod common;
mod harden;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::*;
use harden::*;
use marketfeed_protocol::ServerMessage;
use marketfeed_server::Compression;

const ANSWER: &str = "permessage-deflate; server_no_context_takeover; client_no_context_takeover";
const FIN: u8 = 0x80;
const RSV1: u8 = 0x40;

/// Upgrades with `extra` header lines; returns the answer's
/// `Sec-WebSocket-Extensions` and the client.
async fn open(addr: SocketAddr, extra: &[&str]) -> (Option<String>, RawWs) {
    let (head, s) = handshake(addr, "/ws/market", extra).await;
    assert_eq!(head.status, 101, "{}", head.body);
    let ext = head.header("sec-websocket-extensions").map(str::to_owned);
    (ext, RawWs::new(s))
}

/// The hello and the first snapshot, with their wire forms.
async fn greeting(ws: &mut RawWs) -> (WireMsg, WireMsg) {
    let (hello, hello_wire) = ws.next_text().await;
    assert!(matches!(hello, ServerMessage::Hello(_)), "{hello:?}");
    let (snap, snap_wire) = ws.next_text().await;
    assert!(matches!(snap, ServerMessage::Snapshot(_)), "{snap:?}");
    (hello_wire, snap_wire)
}

#[tokio::test]
async fn the_browser_offer_is_accepted_and_snapshots_arrive_compressed() {
    let server = start(config()).await;
    let (ext, mut ws) = open(server.local_addr(), &[CHROMIUM_OFFER]).await;
    assert_eq!(ext.as_deref(), Some(ANSWER));
    let (hello, snap) = greeting(&mut ws).await;
    assert!(!hello.rsv1, "hello goes out uncompressed");
    assert!(snap.rsv1, "snapshots go out compressed");
    assert!(
        snap.wire_len * 3 < snap.payload.len(),
        "{} bytes on the wire for {} of JSON",
        snap.wire_len,
        snap.payload.len()
    );
    let (next, wire) = ws.next_text().await;
    assert!(matches!(next, ServerMessage::Snapshot(_)));
    assert!(wire.rsv1);
}

#[tokio::test]
async fn offers_that_cannot_be_honoured_upgrade_without_compression() {
    let server = start(config()).await;
    let addr = server.local_addr();
    for offer in [
        "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=10",
        "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=16",
        "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover=yes",
        "Sec-WebSocket-Extensions: permessage-deflate; unknown_param",
        "Sec-WebSocket-Extensions: x-webkit-deflate-frame",
    ] {
        let (ext, mut ws) = open(addr, &[offer]).await;
        assert_eq!(ext, None, "{offer}");
        let (hello, snap) = greeting(&mut ws).await;
        assert!(!hello.rsv1 && !snap.rsv1, "{offer}");
    }
    // No offer at all: nothing negotiated either.
    let (ext, _) = open(addr, &[]).await;
    assert_eq!(ext, None);
}

#[tokio::test]
async fn several_offers_in_one_header_and_across_headers() {
    let server = start(config()).await;
    let addr = server.local_addr();
    let (ext, _) = open(
        addr,
        &["Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=8, permessage-deflate; client_max_window_bits"],
    )
    .await;
    assert_eq!(ext.as_deref(), Some(ANSWER));
    let (ext, mut ws) = open(
        addr,
        &[
            "Sec-WebSocket-Extensions: x-unknown",
            "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=15",
        ],
    )
    .await;
    assert_eq!(
        ext.as_deref(),
        Some("permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=15")
    );
    assert!(greeting(&mut ws).await.1.rsv1);
}

#[tokio::test]
async fn compression_off_never_negotiates() {
    let mut c = config();
    c.compression = Compression::Off;
    let server = start(c).await;
    let (ext, mut ws) = open(server.local_addr(), &[CHROMIUM_OFFER]).await;
    assert_eq!(ext, None);
    let (_, snap) = greeting(&mut ws).await;
    assert!(!snap.rsv1);
    // RSV1 from the client is then a protocol error, as without an offer.
    let packed = deflate(br#"{"type":"ping","id":1}"#);
    ws.send(&masked_frame_b0(FIN | RSV1 | 0x1, &packed)).await;
    assert_eq!(raw_read_until_close(&mut ws.s).await.unwrap().0, 1002);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(server.stats().deflations, 0);
}

/// Snapshot texts by `seq`.
fn by_seq(texts: &[Vec<u8>]) -> HashMap<u64, Vec<u8>> {
    texts
        .iter()
        .map(|t| {
            let v: serde_json::Value = serde_json::from_slice(t).unwrap();
            (v["seq"].as_u64().unwrap(), t.clone())
        })
        .collect()
}

#[tokio::test]
async fn an_inflated_snapshot_is_byte_identical_to_the_plain_one_for_each_seq() {
    let server = start(config()).await;
    let addr = server.local_addr();
    let (_, mut zipped) = open(addr, &[CHROMIUM_OFFER]).await;
    let (_, mut plain) = open(addr, &[]).await;
    let mut got = (Vec::new(), Vec::new());
    for _ in 0..12 {
        let (msg, wire) = zipped.next_text().await;
        if matches!(msg, ServerMessage::Snapshot(_)) {
            assert!(wire.rsv1);
            got.0.push(wire.payload);
        }
        let (msg, wire) = plain.next_text().await;
        if matches!(msg, ServerMessage::Snapshot(_)) {
            assert!(!wire.rsv1);
            got.1.push(wire.payload);
        }
    }
    let (zipped, plain) = (by_seq(&got.0), by_seq(&got.1));
    let mut common = 0;
    for (seq, text) in &zipped {
        if let Some(other) = plain.get(seq) {
            assert_eq!(text, other, "seq {seq}");
            common += 1;
        }
    }
    assert!(common >= 8, "only {common} seqs seen by both");
}

#[tokio::test]
async fn each_tick_is_compressed_once_whatever_the_number_of_deflate_clients() {
    let server = start(config()).await;
    let addr = server.local_addr();
    // Plain clients only: nothing is ever compressed.
    let (_, mut p) = open(addr, &[]).await;
    greeting(&mut p).await;
    for _ in 0..3 {
        p.next_text().await;
    }
    assert_eq!(server.stats().deflations, 0, "lazy: no deflate client");

    let mut clients = Vec::new();
    for _ in 0..6 {
        let (ext, mut ws) = open(addr, &[CHROMIUM_OFFER]).await;
        assert!(ext.is_some());
        greeting(&mut ws).await;
        clients.push(ws);
    }
    assert_eq!(server.stats().deflate_clients, 6);
    let before = server.stats();
    for ws in &mut clients {
        for _ in 0..8 {
            let (msg, wire) = ws.next_text().await;
            assert!(matches!(msg, ServerMessage::Snapshot(_)) && wire.rsv1);
        }
    }
    let after = server.stats();
    let ticks = after.serializations - before.serializations;
    let deflations = after.deflations - before.deflations;
    assert!(ticks >= 4, "{ticks}");
    // One compression per encoded tick, not one per client (6×); allow
    // the one in flight at either reading.
    assert!(
        deflations.abs_diff(ticks) <= 1,
        "{deflations} vs {ticks} ticks"
    );
    assert!(after.deflate_out_bytes * 3 < after.deflate_in_bytes);

    let text = server.metrics_text();
    assert_eq!(
        metric(&text, "marketfeed_deflate_clients"),
        Some(6.0),
        "{text}"
    );
    assert!(metric(&text, "marketfeed_deflations_total").unwrap() >= 5.0);
    assert!(metric(&text, "marketfeed_deflate_output_bytes_total").unwrap() > 0.0);
    drop(clients);
    eventually(|| server.stats().deflate_clients == 0).await;
}

#[tokio::test]
async fn compressed_client_messages_are_understood() {
    let server = start(config()).await;
    let (_, mut ws) = open(server.local_addr(), &[CHROMIUM_OFFER]).await;
    greeting(&mut ws).await;
    // Whole.
    let packed = deflate(br#"{"type":"ping","id":41}"#);
    ws.send(&masked_frame_b0(FIN | RSV1 | 0x1, &packed)).await;
    // Fragmented: RSV1 on the first fragment only.
    let packed = deflate(br#"{"type":"ping","id":42}"#);
    let (a, b) = packed.split_at(packed.len() / 2);
    let mut wire = masked_frame_b0(RSV1 | 0x1, a);
    wire.extend(masked_frame_b0(FIN, b));
    ws.send(&wire).await;
    // Uncompressed still works on the same connection.
    ws.send(&masked_frame(0x1, br#"{"type":"ping","id":43}"#))
        .await;
    let mut pongs = Vec::new();
    while pongs.len() < 3 {
        if let (ServerMessage::Pong { id }, wire) = ws.next_text().await {
            assert!(!wire.rsv1, "pong goes out uncompressed");
            pongs.push(id);
        }
    }
    assert_eq!(pongs, [41, 42, 43]);
}

#[tokio::test]
async fn a_decompression_bomb_closes_with_1009_and_others_keep_receiving() {
    let server = start(config()).await;
    let addr = server.local_addr();
    let (_, mut bystander) = open(addr, &[CHROMIUM_OFFER]).await;
    greeting(&mut bystander).await;
    let (_, mut bomber) = open(addr, &[CHROMIUM_OFFER]).await;
    greeting(&mut bomber).await;
    // 4 MiB of JSON-ish text in ~4 KiB: within the wire limit for a 4 KiB
    // message, 1000× past it inflated.
    let mut text = br#"{"type":"ping","id":1,"p":""#.to_vec();
    text.resize(4 << 20, b' ');
    let bomb = deflate(&text);
    assert!(bomb.len() < 4200, "{}", bomb.len());
    let sent = Instant::now();
    bomber.send(&masked_frame_b0(FIN | RSV1 | 0x1, &bomb)).await;
    let (code, reason) = raw_read_until_close(&mut bomber.s).await.unwrap();
    assert_eq!(code, 1009, "{reason}");
    assert!(
        sent.elapsed() < Duration::from_secs(1),
        "{:?}",
        sent.elapsed()
    );
    // The bystander goes on receiving fresh snapshots.
    let mut seqs = Vec::new();
    while seqs.len() < 3 {
        if let (ServerMessage::Snapshot(s), _) = bystander.next_text().await {
            seqs.push(s.seq);
        }
    }
    assert!(seqs.windows(2).all(|w| w[1] > w[0]), "{seqs:?}");
    eventually(|| server.stats().clients == 1).await;
}
