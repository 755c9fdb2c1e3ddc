//! Group 9, limits: messages up to `--max-message-size` (all fragments
//! together) are accepted; one byte more closes with 1009, judged from the
//! frame header before the payload is read.

use marketfeed_protocol::ErrorCode;

use crate::peer::*;

const MAX: usize = 1024;

fn limited() -> marketfeed_server::Config {
    let mut c = config();
    c.max_message_size = MAX;
    c
}

#[tokio::test]
async fn case_9_1_1_text_at_the_limit() {
    let mut p = Peer::with(limited()).await;
    p.send(&frame(OP_TEXT, &ping_json(91, MAX))).await;
    p.expect_app_pong(91).await;
}

#[tokio::test]
async fn case_9_1_2_text_one_byte_over_the_limit() {
    let mut p = Peer::with(limited()).await;
    p.send(&frame(OP_TEXT, &ping_json(92, MAX + 1))).await;
    p.expect_fail(1009).await;
}

#[tokio::test]
async fn case_9_2_1_binary_at_the_limit() {
    let mut p = Peer::with(limited()).await;
    p.send(&frame(OP_BINARY, &[0u8; MAX])).await;
    p.expect_error(ErrorCode::UnsupportedData).await;
    p.still_open().await;
}

#[tokio::test]
async fn case_9_2_2_binary_one_byte_over_the_limit() {
    let mut p = Peer::with(limited()).await;
    p.send(&frame(OP_BINARY, &[0u8; MAX + 1])).await;
    p.expect_fail(1009).await;
}

#[tokio::test]
async fn case_9_3_1_fragments_adding_up_to_the_limit() {
    let mut p = Peer::with(limited()).await;
    let msg = ping_json(93, MAX);
    let mut wire = fragment(OP_TEXT, &msg[..100]);
    for piece in msg[100..MAX - 100].chunks(64) {
        wire.extend_from_slice(&fragment(OP_CONT, piece));
    }
    wire.extend_from_slice(&frame(OP_CONT, &msg[MAX - 100..]));
    p.send(&wire).await;
    p.expect_app_pong(93).await;
}

#[tokio::test]
async fn case_9_3_2_fragments_adding_up_to_one_byte_over_the_limit() {
    let mut p = Peer::with(limited()).await;
    let msg = ping_json(94, MAX + 1);
    let wire = [
        fragment(OP_TEXT, &msg[..MAX / 2]),
        fragment(OP_CONT, &msg[MAX / 2..MAX]),
        frame(OP_CONT, &msg[MAX..]),
    ]
    .concat();
    p.send(&wire).await;
    p.expect_fail(1009).await;
}

/// A header announcing 2^40 bytes is refused at once: the payload is
/// never sent, so only a decision from the header can answer.
#[tokio::test]
async fn case_9_4_1_huge_announced_length_is_refused_from_the_header() {
    let mut p = Peer::with(limited()).await;
    let mut head = vec![0x82, 0x80 | 127];
    head.extend_from_slice(&(1u64 << 40).to_be_bytes());
    head.extend_from_slice(&[1, 2, 3, 4]);
    p.send(&head).await;
    p.expect_fail(1009).await;
}

#[tokio::test]
async fn case_9_7_1_a_thousand_small_messages_in_one_write() {
    let mut p = Peer::with(limited()).await;
    let mut wire = Vec::new();
    for id in 0..1000 {
        wire.extend_from_slice(&frame(OP_TEXT, &ping_json(id, 0)));
    }
    p.send(&wire).await;
    for id in 0..1000 {
        p.expect_app_pong(id).await;
    }
}
