//! Groups 12 and 13, permessage-deflate (RFC 7692).
//!
//! Group 12 sends compressed messages of Autobahn's sizes (16 B to
//! 128 KiB; the server runs with a 256 KiB message limit here) whole and
//! in fragments; where Autobahn expects an echo, a compressed JSON `ping`
//! is answered with its `pong`, and compressed binary data with an
//! `unsupportedData` error. The server's own messages are read back
//! through an independent inflater: every snapshot arrives compressed.
//!
//! Group 13 makes the offers of Autobahn's parameter combinations (the
//! default offer, `client_no_context_takeover`, `client_max_window_bits`
//! 8 and 15, both, several offers at once); the server accepts each with
//! `server_no_context_takeover; client_no_context_takeover`, then the
//! group-12 exchange is repeated. Offers it cannot honour are declined
//! (the connection upgrades uncompressed) and RSV1 misuse fails the
//! connection.

use marketfeed_protocol::ErrorCode;

use crate::common;
use crate::peer::*;

const FIN: u8 = 0x80;
const RSV1: u8 = 0x40;
const ANSWER: &str = "permessage-deflate; server_no_context_takeover; client_no_context_takeover";

fn roomy() -> marketfeed_server::Config {
    let mut c = config();
    c.max_message_size = 256 * 1024;
    c
}

/// A deflate peer with the browsers' offer, answered as expected.
async fn deflate_peer(offer: &str) -> Peer {
    let (p, answer) = Peer::offering(roomy(), offer).await;
    assert_eq!(answer.as_deref(), Some(ANSWER), "offer {offer:?}");
    p
}

/// A compressed text ping of `len` bytes, whole, answered; then the feed's
/// compressed snapshots are checked to have been seen.
async fn compressed_ping(p: &mut Peer, id: u64, len: usize) {
    let packed = common::deflate(&ping_json(id, len));
    p.send(&frame_b0(FIN | RSV1 | OP_TEXT, &packed)).await;
    p.expect_app_pong(id).await;
}

/// The same ping in fragments of `chunk` compressed bytes, RSV1 on the
/// first only.
async fn compressed_ping_fragmented(p: &mut Peer, id: u64, len: usize, chunk: usize) {
    let packed = common::deflate(&ping_json(id, len));
    let pieces: Vec<&[u8]> = packed.chunks(chunk).collect();
    let mut wire = Vec::new();
    for (i, piece) in pieces.iter().enumerate() {
        let fin = if i + 1 == pieces.len() { FIN } else { 0 };
        let b0 = if i == 0 { RSV1 | OP_TEXT } else { OP_CONT };
        wire.extend(frame_b0(fin | b0, piece));
    }
    p.send(&wire).await;
    p.expect_app_pong(id).await;
}

/// A case on a deflate connection with the default 4 KiB message limit
/// whose bytes must fail the connection with `code`.
macro_rules! fails_deflate {
    ($name:ident, $code:expr, $bytes:expr) => {
        #[tokio::test]
        async fn $name() {
            let (mut p, answer) = Peer::offering(config(), "permessage-deflate").await;
            assert!(answer.is_some());
            p.send(&$bytes).await;
            p.expect_fail($code).await;
        }
    };
}

macro_rules! text_case {
    ($name:ident, $len:expr) => {
        #[tokio::test]
        async fn $name() {
            let mut p = deflate_peer("permessage-deflate; client_max_window_bits").await;
            compressed_ping(&mut p, 12, $len).await;
            assert!(
                p.compressed_seen >= 1,
                "the feed's snapshot came compressed"
            );
            p.still_open().await;
        }
    };
}

text_case!(case_12_1_1_text_16_bytes, 16);
text_case!(case_12_1_2_text_64_bytes, 64);
text_case!(case_12_1_3_text_256_bytes, 256);
text_case!(case_12_1_4_text_1024_bytes, 1024);
text_case!(case_12_1_5_text_4096_bytes, 4096);
text_case!(case_12_1_6_text_8192_bytes, 8192);
text_case!(case_12_1_7_text_16384_bytes, 16384);
text_case!(case_12_1_8_text_32768_bytes, 32768);
text_case!(case_12_1_9_text_65536_bytes, 65536);
text_case!(case_12_1_10_text_131072_bytes, 131_072);

#[tokio::test]
async fn case_12_2_1_compressed_binary_gets_unsupported_data() {
    let mut p = deflate_peer("permessage-deflate").await;
    let packed = common::deflate(&[0xa5; 1024]);
    p.send(&frame_b0(FIN | RSV1 | OP_BINARY, &packed)).await;
    p.expect_error(ErrorCode::UnsupportedData).await;
    p.still_open().await;
}

#[tokio::test]
async fn case_12_5_1_text_in_fragments_of_64_compressed_bytes() {
    let mut p = deflate_peer("permessage-deflate; client_max_window_bits").await;
    compressed_ping_fragmented(&mut p, 125, 65536, 64).await;
}

#[tokio::test]
async fn case_12_5_2_text_chopped_into_1_byte_writes() {
    let mut p = deflate_peer("permessage-deflate; client_max_window_bits").await;
    let packed = common::deflate(&ping_json(1252, 2048));
    p.send_chopped(&frame_b0(FIN | RSV1 | OP_TEXT, &packed), 1)
        .await;
    p.expect_app_pong(1252).await;
}

#[tokio::test]
async fn case_12_5_3_compressed_and_plain_messages_interleaved() {
    let mut p = deflate_peer("permessage-deflate; client_max_window_bits").await;
    for id in 0..8u64 {
        if id % 2 == 0 {
            compressed_ping(&mut p, id, 300).await;
        } else {
            p.send(&frame(OP_TEXT, &ping_json(id, 300))).await;
            p.expect_app_pong(id).await;
        }
    }
}

#[tokio::test]
async fn case_12_5_4_final_block_message() {
    // A message ending with a BFINAL block (RFC 7692 §7.2.3.4): the tail
    // the receiver appends is ignored.
    use std::io::Write;
    let mut p = deflate_peer("permessage-deflate").await;
    let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(&ping_json(1254, 500)).unwrap();
    let packed = e.finish().unwrap();
    p.send(&frame_b0(FIN | RSV1 | OP_TEXT, &packed)).await;
    p.expect_app_pong(1254).await;
}

macro_rules! offer_case {
    ($name:ident, $offer:expr) => {
        #[tokio::test]
        async fn $name() {
            let mut p = deflate_peer($offer).await;
            compressed_ping(&mut p, 13, 1024).await;
            compressed_ping_fragmented(&mut p, 14, 8192, 512).await;
            assert!(p.compressed_seen >= 1);
        }
    };
}

offer_case!(case_13_1_1_default_offer, "permessage-deflate");
offer_case!(
    case_13_2_1_client_no_context_takeover,
    "permessage-deflate; client_no_context_takeover"
);
offer_case!(
    case_13_3_1_client_max_window_bits_8,
    "permessage-deflate; client_max_window_bits=8"
);
offer_case!(
    case_13_4_1_client_max_window_bits_15,
    "permessage-deflate; client_max_window_bits=15"
);
offer_case!(
    case_13_5_1_no_context_takeover_and_window_bits_8,
    "permessage-deflate; client_no_context_takeover; client_max_window_bits=8"
);
offer_case!(
    case_13_6_1_no_context_takeover_and_window_bits_15,
    "permessage-deflate; client_no_context_takeover; client_max_window_bits=15"
);
offer_case!(
    case_13_7_1_several_offers_the_first_honourable_wins,
    "permessage-deflate; server_max_window_bits=9, permessage-deflate; client_no_context_takeover; client_max_window_bits=15, permessage-deflate"
);

#[tokio::test]
async fn case_13_8_1_server_window_below_15_is_declined() {
    for offer in [
        "permessage-deflate; server_max_window_bits=8",
        "permessage-deflate; server_max_window_bits=14; client_max_window_bits",
    ] {
        let (mut p, answer) = Peer::offering(roomy(), offer).await;
        assert_eq!(answer, None, "{offer}");
        p.still_open().await;
        assert_eq!(p.compressed_seen, 0, "nothing compressed: {offer}");
        // RSV1 is then a protocol error.
        let packed = common::deflate(&ping_json(1, 0));
        p.send(&frame_b0(FIN | RSV1 | OP_TEXT, &packed)).await;
        p.expect_fail(1002).await;
    }
}

#[tokio::test]
async fn case_13_8_2_server_window_15_is_accepted_and_echoed() {
    let (mut p, answer) =
        Peer::offering(roomy(), "permessage-deflate; server_max_window_bits=15").await;
    assert_eq!(
        answer.as_deref(),
        Some("permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=15")
    );
    compressed_ping(&mut p, 1382, 100).await;
}

fails_deflate!(case_12_6_1_rsv1_on_a_continuation_frame, 1002, {
    let mut wire = frame_b0(RSV1 | OP_TEXT, &common::deflate(b"{\"type\""));
    wire.extend(frame_b0(FIN | RSV1 | OP_CONT, b"x"));
    wire
});
fails_deflate!(
    case_12_6_2_rsv1_on_a_ping,
    1002,
    frame_b0(FIN | RSV1 | OP_PING, &common::deflate(b"hb"))
);
fails_deflate!(
    case_12_6_3_invalid_deflate_data,
    1007,
    frame_b0(FIN | RSV1 | OP_TEXT, &[0xff, 0xff, 0xff, 0xff])
);
fails_deflate!(
    case_12_6_4_inflates_to_invalid_utf8,
    1007,
    frame_b0(FIN | RSV1 | OP_TEXT, &common::deflate(&[b'{', 0xc0, 0x80]))
);
fails_deflate!(case_12_6_5_inflates_past_the_message_limit, 1009, {
    // 1 MiB of spaces in about 1 KiB, against a 4 KiB limit.
    let mut text = ping_json(1, 0);
    text.resize(1 << 20, b' ');
    frame_b0(FIN | RSV1 | OP_TEXT, &common::deflate(&text))
});
