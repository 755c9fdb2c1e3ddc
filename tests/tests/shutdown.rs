//! Shutdown closes every client with 1001 "going away" and `run` returns.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::*;
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

#[tokio::test]
async fn shutdown_sends_going_away_to_all_and_run_returns() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(marketfeed_server::run(config(), listener, async {
        let _ = stop_rx.await;
    }));

    let mut clients = Vec::new();
    for _ in 0..3 {
        let mut ws = connect(addr).await;
        skip_greeting(&mut ws).await;
        clients.push(ws);
    }
    // One raw client that never reads: shutdown must not wait on it forever.
    let _stalled = raw_connect(addr).await;

    let started = Instant::now();
    stop_tx.send(()).unwrap();
    for ws in &mut clients {
        let (code, reason) = expect_close(ws).await;
        assert_eq!(code, CloseCode::Away);
        assert_eq!(reason, "going away");
    }
    let result = tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .expect("run returns within the drain bound")
        .unwrap();
    assert!(result.is_ok());
    assert!(started.elapsed() < Duration::from_secs(4));

    // The listener is gone.
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}
