//! Bad client input gets the documented answer; nobody else notices.

#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use futures_util::SinkExt;
use marketfeed_protocol::{ErrorCode, ServerMessage};
use tokio::io::AsyncWriteExt;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;

async fn expect_error(ws: &mut Ws, code: ErrorCode) -> String {
    loop {
        match next_msg(ws).await {
            ServerMessage::Error { code: got, message } => {
                assert_eq!(got, code, "{message}");
                return message;
            }
            ServerMessage::Snapshot(_) => continue,
            other => panic!("unexpected {other:?}"),
        }
    }
}

async fn expect_pong(ws: &mut Ws, id: u64) {
    loop {
        match next_msg(ws).await {
            ServerMessage::Pong { id: got } => return assert_eq!(got, id),
            ServerMessage::Snapshot(_) => continue,
            other => panic!("unexpected {other:?}"),
        }
    }
}

/// A bystander keeps receiving consecutive snapshots.
async fn still_receiving(ws: &mut Ws) {
    let a = next_snapshot(ws).await.seq;
    let b = next_snapshot(ws).await.seq;
    assert_eq!(b, a + 1);
}

#[tokio::test]
async fn app_ping_is_answered_with_pong() {
    let server = start(config()).await;
    let mut ws = connect(server.local_addr()).await;
    skip_greeting(&mut ws).await;
    send_text(&mut ws, r#"{"type":"ping","id":77}"#).await;
    expect_pong(&mut ws, 77).await;
    server.shutdown().await;
}

#[tokio::test]
async fn malformed_and_unknown_messages_get_errors_and_the_connection_stays() {
    let server = start(config()).await;
    let mut bystander = connect(server.local_addr()).await;
    skip_greeting(&mut bystander).await;
    let mut ws = connect(server.local_addr()).await;
    skip_greeting(&mut ws).await;

    send_text(&mut ws, "{not json").await;
    expect_error(&mut ws, ErrorCode::MalformedMessage).await;
    send_text(&mut ws, r#"{"type":"quote"}"#).await;
    let msg = expect_error(&mut ws, ErrorCode::UnknownMessageType).await;
    assert!(msg.contains("quote"), "{msg}");
    send_text(&mut ws, r#"{"type":"ping","id":"x"}"#).await;
    expect_error(&mut ws, ErrorCode::InvalidMessage).await;
    send_text(&mut ws, r#"{"type":"subscribe","symbols":["NOPE"]}"#).await;
    let msg = expect_error(&mut ws, ErrorCode::UnknownSymbol).await;
    assert!(msg.contains("NOPE"), "{msg}");
    ws.send(Message::binary(vec![1u8, 2, 3])).await.unwrap();
    expect_error(&mut ws, ErrorCode::UnsupportedData).await;

    // Still a working connection.
    send_text(&mut ws, r#"{"type":"ping","id":1}"#).await;
    expect_pong(&mut ws, 1).await;
    still_receiving(&mut ws).await;
    still_receiving(&mut bystander).await;
    server.shutdown().await;
}

#[tokio::test]
async fn oversize_message_closes_with_1009_only_that_client() {
    let server = start(config()).await;
    let mut bystander = connect(server.local_addr()).await;
    skip_greeting(&mut bystander).await;
    let mut ws = connect(server.local_addr()).await;
    skip_greeting(&mut ws).await;

    let big = format!(r#"{{"type":"ping","id":1,"pad":"{}"}}"#, "x".repeat(5000));
    send_text(&mut ws, &big).await;
    let (code, reason) = expect_close(&mut ws).await;
    assert_eq!(code, CloseCode::Size);
    assert!(!reason.is_empty());

    still_receiving(&mut bystander).await;
    eventually(|| server.stats().clients == 1).await;
    server.shutdown().await;
}

#[tokio::test]
async fn configured_inbound_limit_is_respected() {
    let mut config = config();
    config.max_message_size = 100;
    let server = start(config).await;
    let mut ws = connect(server.local_addr()).await;
    skip_greeting(&mut ws).await;
    send_text(
        &mut ws,
        &format!(r#"{{"type":"ping","id":1,"p":"{}"}}"#, "y".repeat(60)),
    )
    .await;
    expect_pong(&mut ws, 1).await;
    send_text(
        &mut ws,
        &format!(r#"{{"type":"ping","id":2,"p":"{}"}}"#, "y".repeat(120)),
    )
    .await;
    assert_eq!(expect_close(&mut ws).await.0, CloseCode::Size);
    server.shutdown().await;
}

#[tokio::test]
async fn framing_violations_close_with_protocol_codes() {
    let server = start(config()).await;
    let mut bystander = connect(server.local_addr()).await;
    skip_greeting(&mut bystander).await;

    // Invalid UTF-8 in a text frame: 1007.
    let mut raw = raw_connect(server.local_addr()).await;
    raw.write_all(&masked_frame(0x1, &[0x7b, 0xff, 0xfe, 0x7d]))
        .await
        .unwrap();
    assert_eq!(
        raw_read_until_close(&mut raw).await.map(|c| c.0),
        Some(1007)
    );

    // An unmasked client frame: 1002.
    let mut raw = raw_connect(server.local_addr()).await;
    raw.write_all(&[0x81, 0x02, b'{', b'}']).await.unwrap();
    assert_eq!(
        raw_read_until_close(&mut raw).await.map(|c| c.0),
        Some(1002)
    );

    still_receiving(&mut bystander).await;
    server.shutdown().await;
}

#[tokio::test]
async fn client_initiated_close_is_echoed() {
    let server = start(config()).await;
    let mut ws = connect(server.local_addr()).await;
    skip_greeting(&mut ws).await;
    ws.close(None).await.unwrap();
    let (code, _) = expect_close(&mut ws).await;
    assert_eq!(code, CloseCode::Normal);
    eventually(|| server.stats().clients == 0).await;
    server.shutdown().await;
}
