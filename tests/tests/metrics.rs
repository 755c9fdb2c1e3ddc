//! `/metrics`, `/healthz` and `/readyz` over real sockets: the numbers
//! after a scripted scenario match what happened, and readiness turns 503
//! while draining.

#![allow(clippy::unwrap_used, missing_docs)]

mod common;
mod harden;

use std::time::Duration;

use common::*;
use harden::*;

#[tokio::test]
async fn metric_values_match_a_scripted_scenario() {
    let mut config = auth_config();
    config.max_connections = 3;
    let server = start(config).await;
    let addr = server.local_addr();
    let t = token("scenario", Duration::from_secs(60));
    let target = format!("/ws/market?token={t}");

    // 3 accepted.
    let (a, mut stay) = handshake(addr, &target, &[]).await;
    let (b, leave) = handshake(addr, &target, &[]).await;
    let (c, drop_me) = handshake(addr, &target, &[]).await;
    assert_eq!((a.status, b.status, c.status), (101, 101, 101));
    // 2 rejected: one without a token, one over the limit.
    let (no_token, _) = handshake(addr, "/ws/market", &[]).await;
    assert_eq!(no_token.status, 401);
    let (full, _) = handshake(addr, &target, &[]).await;
    assert_eq!(full.status, 503);
    // 1 leaves with a closing handshake, 1 drops.
    let mut leave = leave;
    tokio::io::AsyncWriteExt::write_all(&mut leave, &masked_frame(0x8, &1000u16.to_be_bytes()))
        .await
        .unwrap();
    drop(drop_me);

    let text = metrics_until(addr, |m| {
        metric(m, r#"marketfeed_disconnects_total{reason="dropped"}"#) == Some(1.0)
            && metric(m, r#"marketfeed_disconnects_total{reason="client_closed"}"#) == Some(1.0)
            // A tick has been fanned out since the clients joined (the first
            // one may have been encoded on demand for a joiner instead).
            && metric(m, "marketfeed_fanouts_total").is_some_and(|f| f >= 1.0)
    })
    .await;
    let m = |s: &str| metric(&text, s).unwrap_or_else(|| panic!("{s} missing:\n{text}"));
    assert_eq!(m("marketfeed_connections_accepted_total"), 3.0);
    assert_eq!(
        m(r#"marketfeed_connections_rejected_total{reason="missing_token"}"#),
        1.0
    );
    assert_eq!(
        m(r#"marketfeed_connections_rejected_total{reason="server_full"}"#),
        1.0
    );
    assert_eq!(
        m(r#"marketfeed_connections_rejected_total{reason="ip_limit"}"#),
        0.0
    );
    assert_eq!(
        m(r#"marketfeed_disconnects_total{reason="rate_limited"}"#),
        0.0
    );
    assert_eq!(m("marketfeed_clients"), 1.0);
    assert_eq!(m("marketfeed_clients_peak"), 3.0);
    assert_eq!(m("marketfeed_connection_duration_seconds_count"), 2.0);
    assert_eq!(m("marketfeed_slow_client_drops_total"), 0.0);
    assert_eq!(m("marketfeed_ready"), 1.0);
    let ticks = m("marketfeed_ticks_total");
    let serializations = m("marketfeed_serializations_total");
    assert!(ticks >= 1.0);
    assert!(
        serializations >= 1.0 && serializations <= ticks,
        "{serializations} > {ticks}"
    );
    assert!(m("marketfeed_tick_encode_last_seconds") >= 0.0);
    assert!(m("marketfeed_tick_fanout_last_seconds") >= 0.0);
    assert!(m("marketfeed_tick_encode_seconds_total") > 0.0);
    assert!(m("marketfeed_tick_fanout_seconds_total") >= 0.0);
    // At least the three 101 clients' hello frames went out.
    assert!(m("marketfeed_bytes_sent_total") > 300.0);
    let fanouts = m("marketfeed_fanouts_total");
    assert!(
        fanouts >= 1.0 && fanouts <= ticks,
        "{fanouts} fan-outs, {ticks} ticks"
    );
    assert!(text.contains("# TYPE marketfeed_connection_duration_seconds histogram"));
    // The remaining client is still served.
    let mut buf = [0u8; 64];
    let n = tokio::time::timeout(WAIT, tokio::io::AsyncReadExt::read(&mut stay, &mut buf))
        .await
        .unwrap()
        .unwrap();
    assert!(n > 0);
    server.shutdown().await;
}

#[tokio::test]
async fn healthz_and_readyz() {
    let mut config = config();
    config.drain_delay = Duration::from_millis(1500);
    let server = start(config).await;
    let addr = server.local_addr();
    let mut client = connect(addr).await;
    skip_greeting(&mut client).await;

    let health = get(addr, "/healthz").await;
    assert_eq!((health.status, health.body.as_str()), (200, "ok\n"));
    eventually(|| server.stats().ticks > 0).await;
    let ready = get(addr, "/readyz").await;
    assert_eq!((ready.status, ready.body.as_str()), (200, "ready\n"));

    let stopping = tokio::spawn(server.shutdown());
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let r = get(addr, "/readyz").await;
        if r.status == 503 {
            assert_eq!(r.body.trim(), "draining");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "never draining");
    }
    // New clients are turned away while draining; existing ones still get ticks.
    let (head, _) = handshake(addr, "/ws/market", &[]).await;
    assert_eq!(head.status, 503);
    assert_eq!(head.body.trim(), "server is shutting down");
    assert_eq!(head.header("retry-after"), Some("5"));
    let a = next_snapshot(&mut client).await.seq;
    assert_eq!(next_snapshot(&mut client).await.seq, a + 1);
    assert_eq!(get(addr, "/healthz").await.status, 200);
    // Then the usual close.
    let (code, _) = expect_close(&mut client).await;
    assert_eq!(u16::from(code), 1001);
    let _ = futures_util::SinkExt::close(&mut client).await;
    stopping.await.unwrap();
}
