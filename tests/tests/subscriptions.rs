//! Subscriptions in every format: `subscribed` answers with the whole
//! set, quotes are restricted to it (indices and foreign flow always
//! come), v2 gets a keyframe of the new set next, and every refusal —
//! unknown symbols, too many symbols, malformed requests — is an `error`
//! that leaves the set unchanged.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::*;
use marketfeed_protocol::{apply, ErrorCode, MarketSnapshot, ServerMessage};

/// Next message that is neither the greeting nor a market message.
async fn next_reply(ws: &mut Ws) -> ServerMessage {
    loop {
        match next_any(ws).await.1 {
            ServerMessage::Hello(_) | ServerMessage::Snapshot(_) | ServerMessage::Delta(_) => {
                continue
            }
            other => return other,
        }
    }
}

fn symbols(s: &MarketSnapshot) -> Vec<&str> {
    s.quotes.iter().map(|q| q.symbol.as_str()).collect()
}

async fn subscribed(ws: &mut Ws, request: &str) -> Vec<String> {
    send_text(ws, request).await;
    match next_reply(ws).await {
        ServerMessage::Subscribed { symbols } => symbols,
        other => panic!("{request}: expected subscribed, got {other:?}"),
    }
}

async fn refused(ws: &mut Ws, request: &str) -> (ErrorCode, String) {
    send_text(ws, request).await;
    match next_reply(ws).await {
        ServerMessage::Error { code, message } => (code, message),
        other => panic!("{request}: expected an error, got {other:?}"),
    }
}

/// After a change: the next market message is the keyframe of the new set
/// (v2) or its snapshot (v1), and later ones stay within the set.
async fn market_follows(ws: &mut Ws, want: &[&str], v2: bool) {
    let (_, first) = next_any(ws).await;
    let ServerMessage::Snapshot(mut held) = first else {
        panic!("the message after subscribed is a keyframe, got {first:?}")
    };
    assert_eq!(symbols(&held), want);
    assert_eq!(held.indices.len(), 4, "indices always come");
    for _ in 0..5 {
        match next_any(ws).await.1 {
            ServerMessage::Snapshot(s) => {
                assert!(!v2 || s.seq % 60 == 0, "v2 sends deltas between keyframes");
                assert_eq!(symbols(&s), want);
                held = s;
            }
            ServerMessage::Delta(d) => {
                assert!(v2);
                assert!(d.quotes.iter().all(|q| want.contains(&q.symbol.as_str())));
                apply(&mut held, &d).unwrap();
                assert_eq!(symbols(&held), want);
            }
            other => panic!("{other:?}"),
        }
    }
}

#[tokio::test]
async fn subscribe_and_unsubscribe_restrict_quotes_in_every_format() {
    let mut config = config();
    config.tick_interval = Duration::from_millis(30);
    let server = start(config).await;
    for (offer, v2) in [
        (None, false),
        (Some("marketfeed.v2.json"), true),
        (Some("marketfeed.v2.bin"), true),
    ] {
        let (mut ws, _) = connect_as(server.local_addr(), offer, None).await;
        let got = subscribed(&mut ws, r#"{"type":"subscribe","symbols":["VNM","FPT"]}"#).await;
        assert_eq!(got, ["FPT", "VNM"], "whole set, in snapshot order");
        market_follows(&mut ws, &["FPT", "VNM"], v2).await;

        let got = subscribed(&mut ws, r#"{"type":"subscribe","symbols":["ACB"]}"#).await;
        assert_eq!(got, ["ACB", "FPT", "VNM"], "a later subscribe adds");
        market_follows(&mut ws, &["ACB", "FPT", "VNM"], v2).await;

        let got = subscribed(&mut ws, r#"{"type":"unsubscribe","symbols":["VNM","ACB"]}"#).await;
        assert_eq!(got, ["FPT"]);
        market_follows(&mut ws, &["FPT"], v2).await;

        let got = subscribed(&mut ws, r#"{"type":"unsubscribe","symbols":["FPT"]}"#).await;
        assert!(got.is_empty());
        market_follows(&mut ws, &[], v2).await;
    }
    server.shutdown().await;
}

#[tokio::test]
async fn unsubscribing_first_keeps_every_other_symbol() {
    let server = start(config()).await;
    let (mut ws, _) = connect_as(server.local_addr(), Some("marketfeed.v2.json"), None).await;
    let ServerMessage::Hello(hello) = next_any(&mut ws).await.1 else {
        panic!("hello")
    };
    let got = subscribed(&mut ws, r#"{"type":"unsubscribe","symbols":["ACB"]}"#).await;
    let want: Vec<&str> = hello.symbols.iter().skip(1).map(String::as_str).collect();
    assert_eq!(hello.symbols[0], "ACB");
    assert_eq!(got, want);
    market_follows(&mut ws, &want, true).await;
    server.shutdown().await;
}

#[tokio::test]
async fn every_refusal_is_an_error_and_leaves_the_set_unchanged() {
    let mut config = config();
    config.max_symbols_per_client = 3;
    let server = start(config).await;
    for offer in [None, Some("marketfeed.v2.json"), Some("marketfeed.v2.bin")] {
        let (mut ws, _) = connect_as(server.local_addr(), offer, None).await;
        subscribed(&mut ws, r#"{"type":"subscribe","symbols":["FPT","VNM"]}"#).await;

        let (code, message) = refused(
            &mut ws,
            r#"{"type":"subscribe","symbols":["FPT","NOPE","ZZZ"]}"#,
        )
        .await;
        assert_eq!(code, ErrorCode::UnknownSymbol);
        assert!(
            message.contains("NOPE") && message.contains("ZZZ") && !message.contains("FPT"),
            "{message}"
        );
        let (code, message) =
            refused(&mut ws, r#"{"type":"unsubscribe","symbols":["NOPE"]}"#).await;
        assert_eq!(code, ErrorCode::UnknownSymbol, "{message}");

        let (code, message) =
            refused(&mut ws, r#"{"type":"subscribe","symbols":["ACB","HPG"]}"#).await;
        assert_eq!(code, ErrorCode::TooManySymbols);
        assert!(message.contains('3'), "{message}");

        for malformed in [
            r#"{"type":"subscribe","symbols":"FPT"}"#,
            r#"{"type":"subscribe"}"#,
            r#"{"type":"unsubscribe","symbols":[1]}"#,
        ] {
            let (code, _) = refused(&mut ws, malformed).await;
            assert_eq!(code, ErrorCode::InvalidMessage, "{malformed}");
        }
        let (code, _) = refused(&mut ws, r#"{"type":"subscribe","symbols":["#).await;
        assert_eq!(code, ErrorCode::MalformedMessage);

        // Still exactly the set from before the refusals.
        let got = subscribed(&mut ws, r#"{"type":"subscribe","symbols":[]}"#).await;
        assert_eq!(got, ["FPT", "VNM"]);
    }
    server.shutdown().await;
}
