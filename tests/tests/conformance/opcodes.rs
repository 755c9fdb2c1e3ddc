//! Group 4, opcodes: the reserved non-control (0x3–0x7) and control
//! (0xB–0xF) opcodes fail the connection with 1002 (§5.2), with or without
//! payload, and after a valid message was answered.

use crate::peer::*;

fails!(case_4_1_1_opcode_3, 1002, frame(0x3, b""));
fails!(
    case_4_1_2_opcode_4_with_payload,
    1002,
    frame(0x4, b"reserved")
);
fails_after_ping!(
    case_4_1_3_opcode_5_after_a_valid_message,
    1002,
    frame(0x5, b"")
);
fails_after_ping!(
    case_4_1_4_opcode_6_with_payload_after_a_valid_message,
    1002,
    frame(0x6, b"reserved")
);
fails_after_ping!(
    case_4_1_5_opcode_7_with_payload_after_a_valid_message,
    1002,
    frame(0x7, b"reserved")
);
fails!(case_4_2_1_opcode_b, 1002, frame(0xB, b""));
fails!(
    case_4_2_2_opcode_c_with_payload,
    1002,
    frame(0xC, b"reserved")
);
fails_after_ping!(
    case_4_2_3_opcode_d_after_a_valid_message,
    1002,
    frame(0xD, b"")
);
fails_after_ping!(
    case_4_2_4_opcode_e_with_payload_after_a_valid_message,
    1002,
    frame(0xE, b"reserved")
);
fails_after_ping!(
    case_4_2_5_opcode_f_with_payload_after_a_valid_message,
    1002,
    frame(0xF, b"reserved")
);
