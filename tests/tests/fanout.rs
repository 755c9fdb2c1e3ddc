//! One serialization per tick, shared by every client; none without clients.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::*;
use marketfeed_protocol::{decode_server, ServerMessage};

#[tokio::test]
async fn clients_receive_identical_payloads_with_consecutive_seq() {
    let server = start(config()).await;
    let mut clients = Vec::new();
    for _ in 0..5 {
        let mut ws = connect(server.local_addr()).await;
        skip_greeting(&mut ws).await;
        clients.push(ws);
    }
    let mut by_seq: BTreeMap<u64, Vec<String>> = BTreeMap::new();
    for ws in &mut clients {
        let mut prev = None;
        for _ in 0..10 {
            let text = next_text(ws).await;
            let ServerMessage::Snapshot(s) = decode_server(text.as_bytes()).unwrap() else {
                panic!("expected snapshots only");
            };
            if let Some(p) = prev {
                assert_eq!(s.seq, p + 1, "seq must be consecutive");
            }
            prev = Some(s.seq);
            by_seq.entry(s.seq).or_default().push(text);
        }
    }
    let shared = by_seq.values().filter(|v| v.len() == 5).count();
    assert!(
        shared >= 5,
        "clients should overlap on most ticks: {by_seq:?}"
    );
    for texts in by_seq.values() {
        assert!(
            texts.windows(2).all(|w| w[0] == w[1]),
            "payloads differ for one seq"
        );
    }
    let stats = server.stats();
    assert!(
        stats.serializations <= stats.ticks,
        "at most one serialization per tick: {stats:?}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn zero_clients_means_zero_serializations() {
    let mut config = config();
    config.tick_interval = Duration::from_millis(10);
    let server = start(config).await;
    eventually(|| server.stats().ticks >= 10).await;
    assert_eq!(server.stats().serializations, 0, "{:?}", server.stats());

    let mut ws = connect(server.local_addr()).await;
    let first = skip_greeting(&mut ws).await;
    let after_join = server.stats();
    assert!(after_join.serializations >= 1);
    // The joiner was served the newest tick, encoded on demand.
    assert!(first.seq >= 10);
    next_snapshot(&mut ws).await;
    drop(ws);
    eventually(|| server.stats().clients == 0).await;
    let idle = server.stats().serializations;
    let ticks = server.stats().ticks;
    eventually(|| server.stats().ticks >= ticks + 10).await;
    assert_eq!(
        server.stats().serializations,
        idle,
        "no work once everyone left"
    );
    server.shutdown().await;
}
