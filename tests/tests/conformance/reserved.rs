//! Group 3, reserved bits: with no extension negotiated, a frame with
//! RSV1, RSV2 or RSV3 set fails the connection with 1002 (§5.2), on data
//! and control frames alike, after whatever valid came first was answered.

use crate::peer::*;

const RSV1: u8 = 0x40;
const RSV2: u8 = 0x20;
const RSV3: u8 = 0x10;
const FIN: u8 = 0x80;

fails!(
    case_3_1_rsv1_on_a_text_frame,
    1002,
    frame_b0(FIN | RSV1 | OP_TEXT, &ping_json(1, 0))
);
fails_after_ping!(
    case_3_2_rsv2_on_a_text_frame_after_a_valid_one,
    1002,
    frame_b0(FIN | RSV2 | OP_TEXT, &ping_json(2, 0))
);
fails_after_ping!(
    case_3_3_rsv3_on_a_text_frame_after_a_valid_one,
    1002,
    frame_b0(FIN | RSV3 | OP_TEXT, &ping_json(2, 0))
);
fails!(
    case_3_4_rsv1_and_rsv3_on_a_text_frame,
    1002,
    frame_b0(FIN | RSV1 | RSV3 | OP_TEXT, &ping_json(1, 0))
);
fails!(
    case_3_5_rsv1_and_rsv2_on_a_binary_frame,
    1002,
    frame_b0(FIN | RSV1 | RSV2 | OP_BINARY, &[0xff; 8])
);
fails!(
    case_3_6_rsv2_and_rsv3_on_a_ping,
    1002,
    frame_b0(FIN | RSV2 | RSV3 | OP_PING, b"ping")
);
fails!(case_3_7_all_rsv_bits_on_a_close, 1002, {
    let mut p = 1000u16.to_be_bytes().to_vec();
    p.extend_from_slice(b"bye");
    frame_b0(FIN | RSV1 | RSV2 | RSV3 | OP_CLOSE, &p)
});
