//! A shutdown with more clients than half the listen backlog closes them
//! with a 1001 whose reason carries the reconnect spread the server sized
//! from its client count and measured accept rate; the web client's state
//! machine, fed that close as the browser reports it, schedules its first
//! reconnect within the spread. With fewer clients the reason stays plain
//! `going away`.

#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use marketfeed_protocol::close::reconnect_spread_ms;
use marketfeed_web_client::backoff::BackoffConfig;
use marketfeed_web_client::connection::{Action, Input, Machine, Timing};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

async fn close_reasons(clients: usize, backlog: u32) -> (u64, Vec<String>) {
    let mut config = config();
    config.listen_backlog = backlog;
    let server = start(config).await;
    let mut ws = Vec::new();
    for _ in 0..clients {
        let mut c = connect(server.local_addr()).await;
        skip_greeting(&mut c).await;
        ws.push(c);
    }
    eventually(|| server.stats().clients == clients).await;
    let announced = u64::try_from(server.reconnect_spread().as_millis()).unwrap();
    let shutdown = tokio::spawn(server.shutdown());
    let mut reasons = Vec::new();
    for c in &mut ws {
        let (code, reason) = expect_close(c).await;
        assert_eq!(code, CloseCode::Away);
        reasons.push(reason);
    }
    shutdown.await.unwrap();
    (announced, reasons)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn going_away_carries_the_reconnect_spread_beyond_half_the_backlog() {
    // Backlog 8: 4 may come back at once, the other 36 are spread.
    let (announced, reasons) = close_reasons(40, 8).await;
    assert!(announced > 0, "40 clients, burst 4: a spread is needed");
    assert!(announced <= 60_000);
    for reason in &reasons {
        assert_eq!(
            reconnect_spread_ms(reason),
            Some(announced),
            "reason {reason:?}"
        );
    }

    // The web client's machine, handed that close, waits random × spread.
    for random in [0.0, 0.3, 0.999] {
        let mut m = Machine::new(BackoffConfig::default(), Timing::default()).unwrap();
        m.handle(Input::Start { online: true }, 0.0, 0.5);
        m.handle(
            Input::Hello {
                protocol_version: marketfeed_protocol::PROTOCOL_VERSION,
                heartbeat_interval_ms: 1_000,
            },
            1.0,
            0.5,
        );
        let actions = m.handle(
            Input::SocketClosed {
                code: 1001,
                reason: reasons[0].clone(),
            },
            2.0,
            random,
        );
        let delay = actions
            .iter()
            .find_map(|a| match a {
                Action::ScheduleRetry(d) => Some(*d),
                _ => None,
            })
            .unwrap();
        let want = random * announced as f64;
        assert!((delay - want).abs() < 1e-6, "{delay} vs {want}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn going_away_is_plain_while_half_the_backlog_holds_every_client() {
    let (announced, reasons) = close_reasons(4, 8).await;
    assert_eq!(announced, 0);
    assert!(reasons.iter().all(|r| r == "going away"), "{reasons:?}");
}
