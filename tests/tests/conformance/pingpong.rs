//! Group 2, ping/pong: every Ping is answered by a Pong with the same
//! payload (§5.5.2, §5.5.3), unsolicited Pongs are ignored, control frames
//! over 125 bytes fail the connection (§5.5).

use crate::peer::*;

#[tokio::test]
async fn case_2_1_ping_without_payload() {
    let mut p = Peer::new().await;
    p.send(&frame(OP_PING, b"")).await;
    p.expect_pong_frame(b"").await;
}

#[tokio::test]
async fn case_2_2_ping_with_small_text_payload() {
    let mut p = Peer::new().await;
    p.send(&frame(OP_PING, b"Hello, world!")).await;
    p.expect_pong_frame(b"Hello, world!").await;
}

#[tokio::test]
async fn case_2_3_ping_with_small_binary_payload() {
    let mut p = Peer::new().await;
    p.send(&frame(
        OP_PING,
        &[0x00, 0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0x00, 0xff],
    ))
    .await;
    p.expect_pong_frame(&[0x00, 0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0x00, 0xff])
        .await;
}

#[tokio::test]
async fn case_2_4_ping_with_125_byte_payload() {
    let mut p = Peer::new().await;
    p.send(&frame(OP_PING, &[0xfe; 125])).await;
    p.expect_pong_frame(&[0xfe; 125]).await;
}

fails!(
    case_2_5_ping_with_126_byte_payload,
    1002,
    frame(OP_PING, &[0xfe; 126])
);

#[tokio::test]
async fn case_2_6_ping_with_125_byte_payload_written_bytewise() {
    let mut p = Peer::new().await;
    p.send_chopped(&frame(OP_PING, &[0xfe; 125]), 1).await;
    p.expect_pong_frame(&[0xfe; 125]).await;
}

#[tokio::test]
async fn case_2_7_unsolicited_pong_without_payload_is_ignored() {
    let mut p = Peer::new().await;
    p.send(&frame(OP_PONG, b"")).await;
    p.still_open().await;
}

#[tokio::test]
async fn case_2_8_unsolicited_pong_with_payload_is_ignored() {
    let mut p = Peer::new().await;
    p.send(&frame(OP_PONG, b"unsolicited pong payload")).await;
    p.still_open().await;
}

#[tokio::test]
async fn case_2_9_unsolicited_pong_then_ping_gets_one_pong() {
    let mut p = Peer::new().await;
    let mut wire = frame(OP_PONG, b"unsolicited pong payload");
    wire.extend_from_slice(&frame(OP_PING, b"ping payload"));
    p.send(&wire).await;
    p.expect_pong_frame(b"ping payload").await;
    p.still_open().await;
}

#[tokio::test]
async fn case_2_10_ten_pings_get_ten_pongs_in_order() {
    let mut p = Peer::new().await;
    let mut wire = Vec::new();
    for i in 0..10 {
        wire.extend_from_slice(&frame(OP_PING, format!("payload-{i}").as_bytes()));
    }
    p.send(&wire).await;
    for i in 0..10 {
        p.expect_pong_frame(format!("payload-{i}").as_bytes()).await;
    }
}

#[tokio::test]
async fn case_2_11_ten_pings_written_bytewise_get_ten_pongs() {
    let mut p = Peer::new().await;
    let mut wire = Vec::new();
    for i in 0..10 {
        wire.extend_from_slice(&frame(OP_PING, format!("payload-{i}").as_bytes()));
    }
    p.send_chopped(&wire, 1).await;
    for i in 0..10 {
        p.expect_pong_frame(format!("payload-{i}").as_bytes()).await;
    }
}
