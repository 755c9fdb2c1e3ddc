//! A client that stops reading never delays the others; its frames are
//! dropped by the slow-client policy and counted.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::*;
use marketfeed_server::SlowClientPolicy;

async fn stalled_client_does_not_delay_others(policy: SlowClientPolicy) {
    let mut config = config();
    config.tick_interval = Duration::from_millis(5);
    config.slow_client_policy = policy;
    config.client_queue = 8;
    let server = start(config).await;

    // Connects, completes the handshake, then never reads a byte.
    let stalled = raw_connect(server.local_addr()).await;
    socket_rcvbuf_small(&stalled);

    let mut healthy = connect(server.local_addr()).await;
    let mut prev = skip_greeting(&mut healthy).await.seq;
    // Until the stalled socket's kernel buffers are full and the policy has
    // dropped frames for it (a few seconds of 5 ms ticks), and a bit more.
    let mut extra = 100;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while extra > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "no drops: {:?}",
            server.stats()
        );
        if server.stats().dropped > 0 {
            extra -= 1;
        }
        let snap = next_snapshot(&mut healthy).await;
        assert_eq!(snap.seq, prev + 1, "healthy client missed a tick");
        prev = snap.seq;
        let age_us = now_us().saturating_sub(snap.ts);
        assert!(age_us < 1_000_000, "healthy client delayed by {age_us} µs");
    }
    let stats = server.stats();
    assert_eq!(stats.clients, 2);
    assert!(
        stats.dropped > 0,
        "the stalled client's frames must be dropped: {stats:?}"
    );
    drop(stalled);
    server.shutdown().await;
}

fn socket_rcvbuf_small(s: &tokio::net::TcpStream) {
    let _ = socket2::SockRef::from(s).set_recv_buffer_size(4096);
}

fn now_us() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_micros() as u64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conflate_policy() {
    stalled_client_does_not_delay_others(SlowClientPolicy::Conflate).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drop_oldest_policy() {
    stalled_client_does_not_delay_others(SlowClientPolicy::DropOldest).await;
}
