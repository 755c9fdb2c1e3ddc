//! Group 7, the closing handshake (§5.5.1, §7) and the close-code table of
//! §7.4: a client Close is echoed with its code and TCP is closed; nothing
//! after a Close is processed; invalid close payloads (one byte, a code the
//! peer may not send, a reason that is not UTF-8, over 125 bytes) fail the
//! connection with 1002.
//!
//! Close codes: 1000–1003, 1007–1011 and 3000–4999 are valid; 1012–1014
//! are accepted too (registered with IANA after the RFC; Autobahn, older,
//! counts them as invalid); below 1000, 1004–1006, 1015, 1016–2999 and
//! from 5000 up fail the connection.

use std::time::Duration;

use crate::peer::*;

#[tokio::test]
async fn case_7_1_1_close_is_echoed_and_tcp_closed() {
    let mut p = Peer::new().await;
    p.still_open().await;
    p.close_and_expect_echo(1000, b"").await;
}

#[tokio::test]
async fn case_7_1_2_second_close_is_ignored() {
    let mut p = Peer::new().await;
    p.send(&[close(1000, b""), close(1000, b"")].concat()).await;
    let (code, _) = p.expect_close().await;
    assert_eq!(code, Some(1000));
    p.expect_tcp_closed_within(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn case_7_1_3_ping_after_close_is_not_answered() {
    let mut p = Peer::new().await;
    p.send(&[close(1000, b""), frame(OP_PING, b"after close")].concat())
        .await;
    let (code, _) = p.expect_close().await;
    assert_eq!(code, Some(1000));
    p.expect_tcp_closed_within(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn case_7_1_4_text_after_close_is_not_answered() {
    let mut p = Peer::new().await;
    p.send(&[close(1000, b""), frame(OP_TEXT, &ping_json(1, 0))].concat())
        .await;
    let (code, _) = p.expect_close().await;
    assert_eq!(code, Some(1000));
    p.expect_tcp_closed_within(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn case_7_1_5_fragment_then_close_then_rest_is_not_answered() {
    let mut p = Peer::new().await;
    p.send(
        &[
            fragment(OP_TEXT, b"{\"type\":\"ping\","),
            close(1000, b""),
            frame(OP_CONT, b"\"id\":1}"),
        ]
        .concat(),
    )
    .await;
    let (code, _) = p.expect_close().await;
    assert_eq!(code, Some(1000));
    p.expect_tcp_closed_within(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn case_7_1_6_messages_before_close_are_answered_first() {
    let mut p = Peer::new().await;
    let mut wire = Vec::new();
    for id in 0..20 {
        wire.extend_from_slice(&frame(OP_TEXT, &ping_json(id, 0)));
    }
    wire.extend_from_slice(&close(1000, b""));
    p.send(&wire).await;
    for id in 0..20 {
        p.expect_app_pong(id).await;
    }
    let (code, _) = p.expect_close().await;
    assert_eq!(code, Some(1000));
    p.expect_tcp_closed_within(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn case_7_3_1_empty_close_payload() {
    let mut p = Peer::new().await;
    p.send(&frame(OP_CLOSE, b"")).await;
    // §5.5.1: the reply may be empty or carry 1000 (no status received).
    let (code, _) = p.expect_close().await;
    assert!(matches!(code, None | Some(1000)), "{code:?}");
    p.expect_tcp_closed_within(Duration::from_secs(1)).await;
}

fails!(
    case_7_3_2_one_byte_close_payload,
    1002,
    frame(OP_CLOSE, b"\x03")
);

#[tokio::test]
async fn case_7_3_3_close_with_code_only() {
    Peer::new().await.close_and_expect_echo(1000, b"").await;
}

#[tokio::test]
async fn case_7_3_4_close_with_code_and_reason() {
    Peer::new()
        .await
        .close_and_expect_echo(1000, b"Hello World!")
        .await;
}

#[tokio::test]
async fn case_7_3_5_close_with_123_byte_reason() {
    Peer::new()
        .await
        .close_and_expect_echo(1000, &[b'*'; 123])
        .await;
}

fails!(
    case_7_3_6_close_with_124_byte_reason,
    1002,
    close(1000, &[b'*'; 124])
);

#[tokio::test]
async fn case_7_5_1_close_reason_not_utf8() {
    let mut p = Peer::new().await;
    p.send(&close(
        1000,
        b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited",
    ))
    .await;
    // Autobahn accepts either code for this case.
    let (code, _) = p.expect_close().await;
    assert!(matches!(code, Some(1002 | 1007)), "{code:?}");
    p.expect_tcp_closed_within(super::common::WAIT).await;
}

macro_rules! valid_code {
    ($name:ident, $code:expr) => {
        #[tokio::test]
        async fn $name() {
            Peer::new().await.close_and_expect_echo($code, b"").await;
        }
    };
}

valid_code!(case_7_7_1_code_1000, 1000);
valid_code!(case_7_7_2_code_1001, 1001);
valid_code!(case_7_7_3_code_1002, 1002);
valid_code!(case_7_7_4_code_1003, 1003);
valid_code!(case_7_7_5_code_1007, 1007);
valid_code!(case_7_7_6_code_1008, 1008);
valid_code!(case_7_7_7_code_1009, 1009);
valid_code!(case_7_7_8_code_1010, 1010);
valid_code!(case_7_7_9_code_1011, 1011);
valid_code!(case_7_7_10_code_3000, 3000);
valid_code!(case_7_7_11_code_3999, 3999);
valid_code!(case_7_7_12_code_4000, 4000);
valid_code!(case_7_7_13_code_4999, 4999);
valid_code!(case_7_7_iana_code_1012, 1012);
valid_code!(case_7_7_iana_code_1013, 1013);
valid_code!(case_7_7_iana_code_1014, 1014);

macro_rules! invalid_code {
    ($name:ident, $code:expr) => {
        fails!($name, 1002, close($code, b""));
    };
}

invalid_code!(case_7_9_1_code_0, 0);
invalid_code!(case_7_9_2_code_999, 999);
invalid_code!(case_7_9_3_code_1004, 1004);
invalid_code!(case_7_9_4_code_1005, 1005);
invalid_code!(case_7_9_5_code_1006, 1006);
invalid_code!(case_7_9_9_code_1015, 1015);
invalid_code!(case_7_9_10_code_1016, 1016);
invalid_code!(case_7_9_11_code_1100, 1100);
invalid_code!(case_7_9_12_code_2000, 2000);
invalid_code!(case_7_9_13_code_2999, 2999);
invalid_code!(case_7_13_1_code_5000, 5000);
invalid_code!(case_7_13_2_code_65535, 65535);

/// §7.1.7: after failing the connection the server must not wait for the
/// peer: TCP is closed promptly (Autobahn allows about a second), here
/// with the default close wait of 5 s.
#[tokio::test]
async fn case_7_x_failure_closes_tcp_within_1s_without_a_reply() {
    let mut c = config();
    c.shutdown_drain = marketfeed_server::defaults::SHUTDOWN_DRAIN;
    let mut p = Peer::with(c).await;
    p.send(&frame(0x3, b"")).await;
    let (code, _) = p.expect_close().await;
    assert_eq!(code, Some(1002));
    p.expect_tcp_closed_within(Duration::from_secs(1)).await;
}

/// After a violation the client's close reply completes the handshake:
/// the server closes TCP at once instead of waiting out its close wait.
#[tokio::test]
async fn case_7_x_close_reply_after_a_violation_ends_the_connection_at_once() {
    let mut c = config();
    c.shutdown_drain = marketfeed_server::defaults::SHUTDOWN_DRAIN;
    let mut p = Peer::with(c).await;
    p.send(&frame_b0(0xC1, b"{}")).await;
    let (code, _) = p.expect_close().await;
    assert_eq!(code, Some(1002));
    p.send(&close(1002, b"")).await;
    p.expect_tcp_closed_within(Duration::from_secs(1)).await;
}
