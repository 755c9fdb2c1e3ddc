//! Group 1, framing: text and binary messages of every payload-length
//! encoding (7-bit, 16-bit, 64-bit), written whole and in small pieces.

use marketfeed_protocol::ErrorCode;

use crate::peer::*;

/// A config accepting the 64 KiB messages of this group.
fn big() -> marketfeed_server::Config {
    let mut c = config();
    c.max_message_size = 1 << 20;
    c
}

async fn text_of_len(len: usize) {
    let mut p = Peer::with(big()).await;
    let msg = ping_json(len as u64, len);
    assert_eq!(msg.len(), len);
    p.send(&frame(OP_TEXT, &msg)).await;
    p.expect_app_pong(len as u64).await;
}

async fn binary_of_len(len: usize) {
    let mut p = Peer::with(big()).await;
    p.send(&frame(OP_BINARY, &vec![0xfe; len])).await;
    p.expect_error(ErrorCode::UnsupportedData).await;
    p.still_open().await;
}

#[tokio::test]
async fn case_1_1_1_text_empty_payload() {
    let mut p = Peer::new().await;
    p.send(&frame(OP_TEXT, b"")).await;
    p.expect_error(ErrorCode::MalformedMessage).await;
    p.still_open().await;
}

#[tokio::test]
async fn case_1_1_2_text_125_bytes() {
    text_of_len(125).await;
}

#[tokio::test]
async fn case_1_1_3_text_126_bytes() {
    text_of_len(126).await;
}

#[tokio::test]
async fn case_1_1_4_text_127_bytes() {
    text_of_len(127).await;
}

#[tokio::test]
async fn case_1_1_5_text_128_bytes() {
    text_of_len(128).await;
}

#[tokio::test]
async fn case_1_1_6_text_65535_bytes() {
    text_of_len(65535).await;
}

#[tokio::test]
async fn case_1_1_7_text_65536_bytes() {
    text_of_len(65536).await;
}

#[tokio::test]
async fn case_1_1_8_text_65536_bytes_written_in_997_byte_chunks() {
    let mut p = Peer::with(big()).await;
    p.send_chopped(&frame(OP_TEXT, &ping_json(8, 65536)), 997)
        .await;
    p.expect_app_pong(8).await;
}

#[tokio::test]
async fn case_1_2_1_binary_empty_payload() {
    binary_of_len(0).await;
}

#[tokio::test]
async fn case_1_2_2_binary_125_bytes() {
    binary_of_len(125).await;
}

#[tokio::test]
async fn case_1_2_3_binary_126_bytes() {
    binary_of_len(126).await;
}

#[tokio::test]
async fn case_1_2_6_binary_65535_bytes() {
    binary_of_len(65535).await;
}

#[tokio::test]
async fn case_1_2_7_binary_65536_bytes() {
    binary_of_len(65536).await;
}

#[tokio::test]
async fn case_1_2_8_binary_65536_bytes_written_in_997_byte_chunks() {
    let mut p = Peer::with(big()).await;
    p.send_chopped(&frame(OP_BINARY, &vec![0x01; 65536]), 997)
        .await;
    p.expect_error(ErrorCode::UnsupportedData).await;
    p.still_open().await;
}

#[tokio::test]
async fn case_1_3_1_many_messages_in_one_write_are_answered_in_order() {
    let mut p = Peer::new().await;
    let mut wire = Vec::new();
    for id in 0..100 {
        wire.extend_from_slice(&frame(OP_TEXT, &ping_json(id, 0)));
    }
    p.send(&wire).await;
    for id in 0..100 {
        p.expect_app_pong(id).await;
    }
}

// RFC 6455 §5.1: a server MUST close the connection on an unmasked frame.
fails!(
    case_1_4_1_unmasked_text_frame,
    1002,
    [0x81u8, 0x02, b'{', b'}']
);
