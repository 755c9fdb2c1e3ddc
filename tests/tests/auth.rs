//! Token authentication and the Origin allow-list, over real sockets:
//! every refusal is an HTTP answer before the upgrade; a token that
//! expires while connected closes the connection with 4001.

#![allow(clippy::unwrap_used, missing_docs)]

mod common;
mod harden;

use std::time::Duration;

use common::*;
use harden::*;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

const WS: &str = "/ws/market";

async fn refused(addr: std::net::SocketAddr, target: &str, extra: &[&str]) -> Head {
    let (head, _s) = handshake(addr, target, extra).await;
    head
}

#[tokio::test]
async fn every_bad_token_gets_401_with_its_reason() {
    let server = start(auth_config()).await;
    let addr = server.local_addr();
    let mut bystander =
        connect_with_token(addr, &token("bystander", Duration::from_secs(60))).await;
    skip_greeting(&mut bystander).await;

    let other_secret = marketfeed_server::auth::Secret::new(vec![b'z'; 40]).unwrap();
    let forged =
        marketfeed_server::auth::mint(&other_secret, "mallory", Duration::from_secs(60)).unwrap();
    let cases: Vec<(String, Vec<String>, &str)> = vec![
        (WS.into(), vec![], "missing token"),
        (format!("{WS}?token="), vec![], "missing token"),
        (format!("{WS}?token=abc.def"), vec![], "malformed token"),
        (
            WS.into(),
            vec!["Authorization: Bearer not-a-jwt".into()],
            "malformed token",
        ),
        (
            format!("{WS}?token={forged}"),
            vec![],
            "invalid token signature",
        ),
        (
            WS.into(),
            vec![format!("Authorization: Bearer {forged}")],
            "invalid token signature",
        ),
    ];
    for (target, extra, reason) in cases {
        let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
        let head = refused(addr, &target, &extra).await;
        assert_eq!(head.status, 401, "{target} {extra:?}");
        assert_eq!(head.body.trim(), reason, "{target} {extra:?}");
        assert!(head
            .header("www-authenticate")
            .is_some_and(|v| v.starts_with("Bearer")));
    }
    assert_eq!(
        server.stats().connections,
        1,
        "no refused handshake registered"
    );
    // The bystander never noticed.
    let a = next_snapshot(&mut bystander).await.seq;
    assert_eq!(next_snapshot(&mut bystander).await.seq, a + 1);
    server.shutdown().await;
}

#[tokio::test]
async fn expired_token_gets_401() {
    let server = start(auth_config()).await;
    // `exp` one second ahead, floored to whole seconds: past after 2 s.
    let t = token("late", Duration::from_secs(1));
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let head = refused(server.local_addr(), &format!("{WS}?token={t}"), &[]).await;
    assert_eq!(head.status, 401);
    assert_eq!(head.body.trim(), "token expired");
    server.shutdown().await;
}

#[tokio::test]
async fn valid_token_in_query_or_bearer_header_is_accepted() {
    let server = start(auth_config()).await;
    let addr = server.local_addr();
    let t = token("alice", Duration::from_secs(60));
    let mut ws = connect_with_token(addr, &t).await;
    skip_greeting(&mut ws).await;

    let mut req = ws_url(addr).into_client_request().unwrap();
    req.headers_mut()
        .insert("authorization", format!("Bearer {t}").parse().unwrap());
    let (mut native, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    skip_greeting(&mut native).await;
    assert_eq!(server.stats().clients, 2);
    server.shutdown().await;
}

#[tokio::test]
async fn token_expiring_while_connected_closes_with_4001() {
    let server = start(auth_config()).await;
    let addr = server.local_addr();
    let mut bystander = connect_with_token(addr, &token("steady", Duration::from_secs(60))).await;
    skip_greeting(&mut bystander).await;

    let t = token("short", Duration::from_secs(2));
    let started = Instant::now();
    let mut ws = connect_with_token(addr, &t).await;
    skip_greeting(&mut ws).await;
    let (code, reason) = expect_close(&mut ws).await;
    assert_eq!(code, CloseCode::from(4001));
    assert_eq!(reason, "token expired");
    let lasted = started.elapsed();
    assert!(
        lasted >= Duration::from_millis(900) && lasted < Duration::from_secs(3),
        "closed after {lasted:?}"
    );
    // Only that connection.
    let a = next_snapshot(&mut bystander).await.seq;
    assert_eq!(next_snapshot(&mut bystander).await.seq, a + 1);
    server.shutdown().await;
}

#[tokio::test]
async fn origin_outside_the_allow_list_gets_403() {
    let mut config = config();
    config.allowed_origins = vec!["https://board.example.com".into()];
    let server = start(config).await;
    let addr = server.local_addr();

    let head = refused(addr, WS, &["Origin: https://evil.example.com"]).await;
    assert_eq!(head.status, 403);
    assert_eq!(head.body.trim(), "origin not allowed");
    let head = refused(addr, WS, &["Origin: null"]).await;
    assert_eq!(head.status, 403);

    let (ok, _listed) = handshake(addr, WS, &["Origin: https://board.example.com"]).await;
    assert_eq!(ok.status, 101);
    // Non-browser clients send no Origin: allowed.
    let (ok, _native) = handshake(addr, WS, &[]).await;
    assert_eq!(ok.status, 101);
    server.shutdown().await;
}

#[tokio::test]
async fn without_allow_list_any_origin_is_accepted() {
    let server = start(config()).await;
    let (ok, _s) = handshake(server.local_addr(), WS, &["Origin: https://anywhere.test"]).await;
    assert_eq!(ok.status, 101);
    server.shutdown().await;
}

async fn connect_with_token(addr: std::net::SocketAddr, token: &str) -> Ws {
    let url = format!("{}?token={token}", ws_url(addr));
    let (ws, _) = tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(url))
        .await
        .expect("connect in time")
        .expect("handshake");
    ws
}
