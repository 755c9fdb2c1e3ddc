//! Group 6, UTF-8 handling: valid text (every length of sequence, split
//! anywhere across fragments) is accepted; invalid text fails the
//! connection with 1007 (§8.1), as soon as the fragment carrying the bad
//! byte arrives ("fail fast"), not only at the end of the message.

use crate::peer::*;

/// A JSON ping whose padding is `text`.
fn ping_with(id: u64, text: &[u8]) -> Vec<u8> {
    let mut m = format!(r#"{{"type":"ping","id":{id},"p":""#).into_bytes();
    m.extend_from_slice(text);
    m.extend_from_slice(b"\"}");
    m
}

/// κόσμε, the Autobahn sample.
const KOSME: &[u8] = b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5";

async fn valid_in_fragments_of(chunk: usize) {
    let mut p = Peer::new().await;
    let msg = ping_with(6, "κόσμε Hello-µ@ßöäüàá-UTF-8!! 𝄞".as_bytes());
    let pieces: Vec<&[u8]> = msg.chunks(chunk).collect();
    let mut wire = Vec::new();
    for (i, piece) in pieces.iter().enumerate() {
        let op = if i == 0 { OP_TEXT } else { OP_CONT };
        if i == pieces.len() - 1 {
            wire.extend_from_slice(&frame(op, piece));
        } else {
            wire.extend_from_slice(&fragment(op, piece));
        }
    }
    p.send(&wire).await;
    p.expect_app_pong(6).await;
}

#[tokio::test]
async fn case_6_1_1_empty_text_fragments() {
    let mut p = Peer::new().await;
    p.send(
        &[
            fragment(OP_TEXT, b""),
            fragment(OP_CONT, b""),
            fragment(OP_CONT, &ping_json(61, 0)),
            frame(OP_CONT, b""),
        ]
        .concat(),
    )
    .await;
    p.expect_app_pong(61).await;
}

#[tokio::test]
async fn case_6_2_1_valid_utf8_in_one_frame() {
    let mut p = Peer::new().await;
    p.send(&frame(
        OP_TEXT,
        &ping_with(621, "Hello-µ@ßöäüàá-UTF-8!! 𝄞".as_bytes()),
    ))
    .await;
    p.expect_app_pong(621).await;
}

#[tokio::test]
async fn case_6_2_2_valid_utf8_split_in_two_fragments_inside_sequences() {
    for chunk in [15, 17, 19, 21] {
        valid_in_fragments_of(chunk).await;
    }
}

#[tokio::test]
async fn case_6_2_3_valid_utf8_one_byte_per_fragment() {
    valid_in_fragments_of(1).await;
}

#[tokio::test]
async fn case_6_5_1_kosme_one_byte_per_fragment() {
    let mut p = Peer::new().await;
    let msg = ping_with(65, KOSME);
    let mut wire = fragment(OP_TEXT, &msg[..1]);
    for b in &msg[1..msg.len() - 1] {
        wire.extend_from_slice(&fragment(OP_CONT, &[*b]));
    }
    wire.extend_from_slice(&frame(OP_CONT, &msg[msg.len() - 1..]));
    p.send(&wire).await;
    p.expect_app_pong(65).await;
}

#[tokio::test]
async fn case_6_7_boundary_code_points_are_accepted() {
    let mut p = Peer::new().await;
    for (id, s) in [
        "\u{7f}",
        "\u{80}",
        "\u{7ff}",
        "\u{800}",
        "\u{d7ff}",
        "\u{e000}",
        "\u{fffd}",
        "\u{ffff}",
        "\u{10000}",
        "\u{10ffff}",
    ]
    .iter()
    .enumerate()
    {
        p.send(&frame(OP_TEXT, &ping_with(id as u64, s.as_bytes())))
            .await;
        p.expect_app_pong(id as u64).await;
    }
}

macro_rules! invalid {
    ($name:ident, $bytes:expr) => {
        fails!($name, 1007, frame(OP_TEXT, &ping_with(1, $bytes)));
    };
}

invalid!(
    case_6_3_1_surrogate_in_kosme,
    b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited"
);
invalid!(
    case_6_6_1_lone_start_byte_0xce_at_the_end_of_a_frame,
    b"\xce"
);
invalid!(case_6_8_1_five_byte_sequence, b"\xf8\x88\x80\x80\x80");
invalid!(case_6_9_1_above_u10ffff, b"\xf4\x90\x80\x80");
invalid!(case_6_11_1_lone_continuation_byte, b"\x80");
invalid!(case_6_12_1_start_byte_followed_by_space, b"\xc0 ");
invalid!(case_6_18_1_overlong_slash, b"\xc0\xaf");
invalid!(case_6_18_2_overlong_nul, b"\xe0\x80\x80");
invalid!(case_6_19_1_single_utf16_surrogate, b"\xed\xa0\x80");
invalid!(
    case_6_20_1_paired_utf16_surrogates,
    b"\xed\xa0\x80\xed\xb0\x80"
);
invalid!(case_6_21_1_byte_0xfe, b"\xfe");
invalid!(case_6_21_2_byte_0xff, b"\xff");

fails!(
    case_6_6_2_incomplete_sequence_at_the_end_of_a_fragmented_message,
    1007,
    [
        fragment(OP_TEXT, b"{\"type\":\"ping\",\"id\":1,\"p\":\"\xce"),
        frame(OP_CONT, b"")
    ]
    .concat()
);

/// Fail fast: the invalid first fragment is refused before the message is
/// complete (the final fragment is never sent).
#[tokio::test]
async fn case_6_4_1_invalid_first_fragment_fails_before_the_message_ends() {
    let mut p = Peer::new().await;
    p.send(&fragment(OP_TEXT, &[KOSME, b"\xf4\x90\x80\x80"].concat()))
        .await;
    p.expect_fail(1007).await;
}

#[tokio::test]
async fn case_6_4_2_invalid_sequence_split_across_fragments_fails_at_its_second_half() {
    let mut p = Peer::new().await;
    // 0xF4 0x90 is already invalid: fail on the fragment completing it.
    p.send(
        &[
            fragment(OP_TEXT, b"\xf4"),
            fragment(OP_CONT, b"\x90\x80\x80"),
        ]
        .concat(),
    )
    .await;
    p.expect_fail(1007).await;
}
