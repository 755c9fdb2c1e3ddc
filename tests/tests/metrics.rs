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

/// The cumulative `_bucket` samples of histogram `name`: `(le, count)`.
fn buckets(text: &str, name: &str) -> Vec<(String, f64)> {
    let prefix = format!("{name}_bucket{{le=\"");
    text.lines()
        .filter_map(|l| l.strip_prefix(&prefix))
        .map(|rest| {
            let (le, value) = rest.split_once("\"} ").unwrap();
            (le.to_owned(), value.parse().unwrap())
        })
        .collect()
}

/// Checks the shape of one tick histogram and returns its `_count`.
fn check_tick_histogram(text: &str, name: &str) -> f64 {
    assert!(
        text.contains(&format!("# TYPE {name} histogram")),
        "{name} is not a histogram:\n{text}"
    );
    let b = buckets(text, name);
    let les: Vec<&str> = b.iter().map(|(le, _)| le.as_str()).collect();
    let mut want: Vec<String> = marketfeed_server::TICK_BUCKETS_US
        .iter()
        .map(|&us| (us as f64 / 1e6).to_string())
        .collect();
    want.push("+Inf".into());
    let want_f: Vec<f64> = want.iter().filter_map(|s| s.parse().ok()).collect();
    let got_f: Vec<f64> = les.iter().filter_map(|s| s.parse().ok()).collect();
    assert_eq!(got_f, want_f, "{name} bounds: {les:?}");
    assert_eq!(les.last(), Some(&"+Inf"), "{name}: {les:?}");
    assert!(
        b.windows(2).all(|w| w[0].1 <= w[1].1),
        "{name} buckets not cumulative: {b:?}"
    );
    let count = metric(text, &format!("{name}_count")).unwrap();
    assert_eq!(b.last().unwrap().1, count, "{name}: +Inf bucket != _count");
    let sum = metric(text, &format!("{name}_sum")).unwrap();
    assert!(
        sum >= 0.0 && sum <= count * 2.5,
        "{name}: sum {sum} for {count}"
    );
    count
}

#[tokio::test]
async fn tick_durations_are_histograms_and_bytes_are_counted_per_format() {
    let server = start(config()).await;
    let addr = server.local_addr();
    let mut ws = connect(addr).await;
    skip_greeting(&mut ws).await;
    let _ = next_snapshot(&mut ws).await;
    let text = metrics_until(addr, |m| {
        metric(m, "marketfeed_fanouts_total").is_some_and(|f| f >= 3.0)
    })
    .await;

    let fanouts = metric(&text, "marketfeed_fanouts_total").unwrap();
    let serializations = metric(&text, "marketfeed_serializations_total").unwrap();
    let fanout_count = check_tick_histogram(&text, "marketfeed_tick_fanout_duration_seconds");
    let encode_count = check_tick_histogram(&text, "marketfeed_tick_encode_duration_seconds");
    // Counted in the same call, read at one scrape: at most the fan-out
    // or encode under way in between.
    assert!(
        (fanouts..=fanouts + 1.0).contains(&fanout_count),
        "{fanout_count} fan-outs observed, {fanouts} counted"
    );
    assert!(
        (serializations..=serializations + 1.0).contains(&encode_count),
        "{encode_count} encodes observed, {serializations} counted"
    );
    // On loopback with one client, every fan-out is far below a 50 ms tick.
    let le_50ms = buckets(&text, "marketfeed_tick_fanout_duration_seconds")
        .into_iter()
        .find(|(le, _)| le == "0.05")
        .unwrap()
        .1;
    assert!(
        le_50ms >= fanouts,
        "{le_50ms} of {fanout_count} under 50 ms:\n{text}"
    );
    assert!(metric(&text, "marketfeed_tick_encode_duration_seconds_sum").unwrap() > 0.0);

    // Every byte is counted under the client's format; today that is v1.
    let by_format = |m: &str, f: &str| {
        metric(
            m,
            &format!(r#"marketfeed_bytes_sent_by_format_total{{format="{f}"}}"#),
        )
        .unwrap_or_else(|| panic!("{f} missing:\n{m}"))
    };
    let total = metric(&text, "marketfeed_bytes_sent_total").unwrap();
    assert!(total > 300.0, "{total}");
    assert_eq!(by_format(&text, "marketfeed.v1.json"), total);
    assert_eq!(by_format(&text, "marketfeed.v2.json"), 0.0);
    assert_eq!(by_format(&text, "marketfeed.v2.bin"), 0.0);

    // A client gone keeps its bytes under its format.
    drop(ws);
    let text = metrics_until(addr, |m| metric(m, "marketfeed_clients") == Some(0.0)).await;
    let total_after = metric(&text, "marketfeed_bytes_sent_total").unwrap();
    assert!(total_after >= total);
    assert_eq!(by_format(&text, "marketfeed.v1.json"), total_after);
    server.shutdown().await;
}
