//! Group 5, fragmentation (§5.4): a fragmented message is reassembled and
//! answered as one; control frames may come between fragments and are
//! answered at once; fragmented control frames, continuations without a
//! started message and new data frames inside one fail the connection.

use crate::peer::*;

/// `msg` split into `n` fragments (the first with `opcode`).
fn fragments(opcode: u8, msg: &[u8], n: usize) -> Vec<Vec<u8>> {
    let size = msg.len().div_ceil(n).max(1);
    let pieces: Vec<&[u8]> = msg.chunks(size).collect();
    let last = pieces.len() - 1;
    pieces
        .iter()
        .enumerate()
        .map(|(i, piece)| {
            let op = if i == 0 { opcode } else { OP_CONT };
            if i == last {
                frame(op, piece)
            } else {
                fragment(op, piece)
            }
        })
        .collect()
}

fails!(
    case_5_1_ping_in_two_fragments,
    1002,
    [fragment(OP_PING, b"frag"), frame(OP_CONT, b"ment")].concat()
);
fails!(
    case_5_2_pong_in_two_fragments,
    1002,
    [fragment(OP_PONG, b"frag"), frame(OP_CONT, b"ment")].concat()
);

#[tokio::test]
async fn case_5_3_text_in_two_fragments() {
    let mut p = Peer::new().await;
    p.send(&fragments(OP_TEXT, &ping_json(53, 40), 2).concat())
        .await;
    p.expect_app_pong(53).await;
}

#[tokio::test]
async fn case_5_5_text_in_two_fragments_written_bytewise() {
    let mut p = Peer::new().await;
    p.send_chopped(&fragments(OP_TEXT, &ping_json(55, 40), 2).concat(), 1)
        .await;
    p.expect_app_pong(55).await;
}

#[tokio::test]
async fn case_5_6_text_in_two_fragments_with_a_ping_between() {
    let mut p = Peer::new().await;
    let f = fragments(OP_TEXT, &ping_json(56, 40), 2);
    p.send(&[f[0].clone(), frame(OP_PING, b"between"), f[1].clone()].concat())
        .await;
    // The ping is answered first: it completed before the message did.
    p.expect_pong_frame(b"between").await;
    p.expect_app_pong(56).await;
}

#[tokio::test]
async fn case_5_8_text_in_two_fragments_with_a_ping_between_written_bytewise() {
    let mut p = Peer::new().await;
    let f = fragments(OP_TEXT, &ping_json(58, 40), 2);
    p.send_chopped(
        &[f[0].clone(), frame(OP_PING, b"between"), f[1].clone()].concat(),
        1,
    )
    .await;
    p.expect_pong_frame(b"between").await;
    p.expect_app_pong(58).await;
}

#[tokio::test]
async fn case_5_19_text_in_five_fragments_with_pings_between_sent_over_time() {
    let mut p = Peer::new().await;
    let f = fragments(OP_TEXT, &ping_json(519, 60), 5);
    for (i, piece) in f.iter().enumerate() {
        p.send(piece).await;
        if i < f.len() - 1 {
            let payload = format!("pongme {i}");
            p.send(&frame(OP_PING, payload.as_bytes())).await;
            p.expect_pong_frame(payload.as_bytes()).await;
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
    p.expect_app_pong(519).await;
}

#[tokio::test]
async fn case_5_20_binary_in_fragments_is_one_message() {
    let mut p = Peer::new().await;
    p.send(&fragments(OP_BINARY, &[0x5a; 90], 3).concat()).await;
    // One message: exactly one error, then the connection still works.
    p.expect_error(marketfeed_protocol::ErrorCode::UnsupportedData)
        .await;
    p.still_open().await;
}

fails!(
    case_5_9_continuation_without_a_started_message,
    1002,
    [
        frame(OP_CONT, b"fragment"),
        frame(OP_TEXT, &ping_json(1, 0))
    ]
    .concat()
);
fails!(
    case_5_10_continuation_without_a_started_message_bytewise_start,
    1002,
    [frame(OP_CONT, b""), frame(OP_TEXT, &ping_json(1, 0))].concat()
);
fails!(
    case_5_12_non_final_continuation_without_a_started_message,
    1002,
    fragment(OP_CONT, b"fragment")
);
#[tokio::test]
async fn case_5_15_continuation_after_a_completed_fragmented_message() {
    let mut p = Peer::new().await;
    p.send(
        &[
            fragment(OP_TEXT, b"{\"type\":"),
            frame(OP_CONT, b"\"ping\",\"id\":2}"),
            fragment(OP_CONT, b"fragment3"),
            frame(OP_CONT, b"fragment4"),
        ]
        .concat(),
    )
    .await;
    // The completed message is answered, the stray continuation fails.
    p.expect_app_pong(2).await;
    p.expect_fail(1002).await;
}

fails!(
    case_5_18_text_frame_inside_a_fragmented_message,
    1002,
    [
        fragment(OP_TEXT, b"fragment1"),
        frame(OP_TEXT, b"fragment2")
    ]
    .concat()
);
fails!(
    case_5_18_binary_frame_inside_a_fragmented_text_message,
    1002,
    [
        fragment(OP_TEXT, b"fragment1"),
        frame(OP_BINARY, b"fragment2")
    ]
    .concat()
);
