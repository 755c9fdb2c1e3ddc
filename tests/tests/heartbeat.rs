//! Ping frames every interval; a client silent for interval + timeout is
//! closed with 4000 "heartbeat timeout". Clients that answer stay.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::*;

fn fast_heartbeat() -> marketfeed_server::Config {
    let mut c = config();
    c.tick_interval = Duration::from_secs(3600);
    c.heartbeat_interval = Duration::from_millis(200);
    c.heartbeat_timeout = Duration::from_millis(200);
    c.shutdown_drain = Duration::from_millis(300);
    c
}

#[tokio::test]
async fn silent_client_is_closed_within_interval_plus_timeout() {
    let server = start(fast_heartbeat()).await;
    let started = Instant::now();
    // Reads everything but never answers pings.
    let mut silent = raw_connect(server.local_addr()).await;
    let close = raw_read_until_close(&mut silent).await;
    let elapsed = started.elapsed();
    assert_eq!(close, Some((4000, "heartbeat timeout".into())));
    assert!(
        elapsed >= Duration::from_millis(400),
        "closed too early: {elapsed:?}"
    );
    assert!(
        elapsed < Duration::from_millis(1200),
        "closed too late: {elapsed:?}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn client_answering_pings_stays_connected() {
    let server = start(fast_heartbeat()).await;
    let mut ws = connect(server.local_addr()).await;
    skip_greeting(&mut ws).await;
    // tungstenite answers pings while the stream is polled.
    let mut pings = 0;
    let until = Instant::now() + Duration::from_millis(1500);
    while Instant::now() < until {
        if let Ok(Some(Ok(msg))) = tokio::time::timeout(
            Duration::from_millis(100),
            futures_util::StreamExt::next(&mut ws),
        )
        .await
        {
            match msg {
                tokio_tungstenite::tungstenite::Message::Ping(_) => pings += 1,
                tokio_tungstenite::tungstenite::Message::Close(c) => panic!("closed: {c:?}"),
                _ => {}
            }
        }
    }
    assert!(pings >= 5, "expected a ping every 200 ms, got {pings}");
    assert_eq!(server.stats().clients, 1);
    server.shutdown().await;
}
