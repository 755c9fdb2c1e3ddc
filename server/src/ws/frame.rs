//! Encoding of server → client frames (RFC 6455 §5.2).
//!
//! Server frames are always final (FIN set) and never masked, so a frame
//! is just a 2–10 byte header followed by the payload; the one extension
//! bit used is RSV1, on a message compressed with permessage-deflate
//! ([`deflated`]). Every function here returns the whole frame in one contiguous
//! allocation of exactly the frame's size: the ticker encodes a snapshot once
//! with [`text`] and each socket writes a refcounted clone of the same
//! [`Bytes`] as-is.

use bytes::Bytes;

/// Largest payload a control frame (close, ping, pong) may carry.
pub const MAX_CONTROL_PAYLOAD: usize = 125;

/// Largest close reason in bytes: the control limit minus the 2-byte code.
pub const MAX_CLOSE_REASON: usize = MAX_CONTROL_PAYLOAD - 2;

/// Largest header a frame can have: 2 bytes, 8 bytes of extended length and
/// a 4-byte masking key (only client frames carry the key).
pub const MAX_HEADER_LEN: usize = 14;

/// Bit of the first header byte marking the final fragment of a message.
pub(crate) const FIN_BIT: u8 = 0x80;
/// Bit of the first header byte marking a compressed message (RSV1,
/// permessage-deflate, RFC 7692 §6).
pub(crate) const RSV1_BIT: u8 = 0x40;
/// Bit of the second header byte marking a masked payload.
pub(crate) const MASK_BIT: u8 = 0x80;
/// 7-bit length value announcing a 16-bit extended length.
pub(crate) const LEN_16: u8 = 126;
/// 7-bit length value announcing a 64-bit extended length.
pub(crate) const LEN_64: u8 = 127;

/// A frame opcode (the low nibble of the first header byte).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum OpCode {
    /// 0x0: a non-first fragment of a data message.
    Continuation = 0x0,
    /// 0x1: a UTF-8 text message (or its first fragment).
    Text = 0x1,
    /// 0x2: a binary message (or its first fragment).
    Binary = 0x2,
    /// 0x8: the closing handshake.
    Close = 0x8,
    /// 0x9: a ping, answered with a pong carrying the same payload.
    Ping = 0x9,
    /// 0xA: a pong (reply to a ping, or an unsolicited heartbeat).
    Pong = 0xA,
}

impl OpCode {
    /// Decodes an opcode nibble; `None` for the reserved values
    /// 0x3–0x7 and 0xB–0xF.
    pub const fn from_u8(value: u8) -> Option<Self> {
        match value {
            0x0 => Some(Self::Continuation),
            0x1 => Some(Self::Text),
            0x2 => Some(Self::Binary),
            0x8 => Some(Self::Close),
            0x9 => Some(Self::Ping),
            0xA => Some(Self::Pong),
            _ => None,
        }
    }

    /// The opcode nibble as sent on the wire.
    pub const fn as_u8(self) -> u8 {
        self as u8
    }

    /// Whether this is a control opcode (close, ping, pong): such frames must
    /// be final and carry at most [`MAX_CONTROL_PAYLOAD`] bytes.
    pub const fn is_control(self) -> bool {
        (self as u8) & 0x8 != 0
    }
}

/// Encodes one final, unmasked frame.
///
/// Control frames are limited to [`MAX_CONTROL_PAYLOAD`] bytes; a longer
/// payload for a control opcode is truncated so the result is always a
/// valid frame. A [`OpCode::Continuation`] frame is accepted for callers
/// that fragment messages themselves.
pub fn encode(opcode: OpCode, payload: &[u8]) -> Bytes {
    Bytes::from(encode_vec(opcode, payload))
}

/// A text frame. The caller guarantees `payload` is UTF-8 (typically
/// `serde_json` output); it is not re-validated here.
pub fn text(payload: &[u8]) -> Bytes {
    encode(OpCode::Text, payload)
}

/// A binary frame.
pub fn binary(payload: &[u8]) -> Bytes {
    encode(OpCode::Binary, payload)
}

/// A data frame (text or binary) whose payload is compressed with
/// permessage-deflate ([`super::deflate::compress`]), RSV1 set. The
/// compressed payload depends on `payload` alone (no context takeover), so
/// the frame can be shared by every client that negotiated the extension.
pub fn deflated(opcode: OpCode, payload: &[u8]) -> Bytes {
    let compressed = super::deflate::compress(payload);
    let mut frame = Vec::with_capacity(header_len(compressed.len()) + compressed.len());
    write_header(&mut frame, opcode, compressed.len());
    frame[0] |= RSV1_BIT;
    frame.extend_from_slice(&compressed);
    Bytes::from(frame)
}

/// A ping frame; the payload is truncated to [`MAX_CONTROL_PAYLOAD`] bytes.
pub fn ping(payload: &[u8]) -> Bytes {
    encode(OpCode::Ping, payload)
}

/// A pong frame; the payload is truncated to [`MAX_CONTROL_PAYLOAD`] bytes.
/// Answer a client ping by echoing its payload here.
pub fn pong(payload: &[u8]) -> Bytes {
    encode(OpCode::Pong, payload)
}

/// A close frame carrying `code` and `reason`.
///
/// The reason is cut to at most [`MAX_CLOSE_REASON`] bytes at a character
/// boundary, so the frame stays valid and the reason stays UTF-8. The code
/// is sent as given; see [`marketfeed_protocol::CloseCode`] for the ones to use.
pub fn close(code: impl Into<u16>, reason: &str) -> Bytes {
    let reason = truncate_at_char_boundary(reason, MAX_CLOSE_REASON);
    let mut payload = [0u8; MAX_CONTROL_PAYLOAD];
    payload[..2].copy_from_slice(&code.into().to_be_bytes());
    payload[2..2 + reason.len()].copy_from_slice(reason.as_bytes());
    encode(OpCode::Close, &payload[..2 + reason.len()])
}

/// A close frame without a status code (empty payload), which the peer reads
/// as "no status received" (1005).
pub fn close_empty() -> Bytes {
    encode(OpCode::Close, &[])
}

/// Size of the header of a server frame carrying `payload_len` bytes.
pub const fn header_len(payload_len: usize) -> usize {
    if payload_len <= MAX_CONTROL_PAYLOAD {
        2
    } else if payload_len <= u16::MAX as usize {
        4
    } else {
        10
    }
}

/// Builds the frame in a vector whose capacity is exactly the frame size.
fn encode_vec(opcode: OpCode, payload: &[u8]) -> Vec<u8> {
    let payload = if opcode.is_control() {
        &payload[..payload.len().min(MAX_CONTROL_PAYLOAD)]
    } else {
        payload
    };
    let mut frame = Vec::with_capacity(header_len(payload.len()) + payload.len());
    write_header(&mut frame, opcode, payload.len());
    frame.extend_from_slice(payload);
    frame
}

/// Appends a final, unmasked header using the shortest length form.
fn write_header(out: &mut Vec<u8>, opcode: OpCode, payload_len: usize) {
    out.push(FIN_BIT | opcode.as_u8());
    match header_len(payload_len) {
        2 => out.push(payload_len as u8),
        4 => {
            out.push(LEN_16);
            out.extend_from_slice(&(payload_len as u16).to_be_bytes());
        }
        _ => {
            out.push(LEN_64);
            out.extend_from_slice(&(payload_len as u64).to_be_bytes());
        }
    }
}

/// The longest prefix of `s` of at most `max` bytes that ends on a
/// character boundary.
fn truncate_at_char_boundary(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// Decodes a server frame header: (fin, opcode nibble, masked, len, header size).
    fn parse(frame: &[u8]) -> (bool, u8, bool, usize, usize) {
        let fin = frame[0] & FIN_BIT != 0;
        let opcode = frame[0] & 0x0F;
        let masked = frame[1] & MASK_BIT != 0;
        let (len, header) = match frame[1] & 0x7F {
            LEN_16 => (u16::from_be_bytes([frame[2], frame[3]]) as usize, 4),
            LEN_64 => (
                u64::from_be_bytes(frame[2..10].try_into().unwrap()) as usize,
                10,
            ),
            n => (n as usize, 2),
        };
        (fin, opcode, masked, len, header)
    }

    #[test]
    fn text_frames_use_the_shortest_length_form() {
        for (len, expected_header) in [(0, 2), (1, 2), (125, 2), (126, 4), (65535, 4), (65536, 10)]
        {
            let payload = vec![b'x'; len];
            let frame = text(&payload);
            assert_eq!(frame.len(), expected_header + len, "len {len}");
            let (fin, opcode, masked, decoded_len, header) = parse(&frame);
            assert!(fin);
            assert_eq!(opcode, 0x1);
            assert!(!masked);
            assert_eq!(decoded_len, len);
            assert_eq!(header, expected_header);
            assert_eq!(&frame[header..], &payload[..]);
        }
    }

    #[test]
    fn exact_header_bytes() {
        assert_eq!(&text(b"hi")[..], &[0x81, 0x02, b'h', b'i']);
        assert_eq!(&binary(&[])[..], &[0x82, 0x00]);
        assert_eq!(&text(&[b'a'; 126])[..4], &[0x81, 126, 0x00, 126]);
        assert_eq!(
            &text(&[b'a'; 65536])[..10],
            &[0x81, 127, 0, 0, 0, 0, 0, 1, 0, 0]
        );
    }

    #[test]
    fn frame_is_one_exact_allocation() {
        for len in [0, 125, 126, 65535, 65536] {
            let vec = encode_vec(OpCode::Text, &vec![0u8; len]);
            assert_eq!(vec.capacity(), vec.len(), "len {len}");
        }
    }

    #[test]
    fn clones_share_the_payload() {
        let frame = text(b"{\"type\":\"snapshot\"}");
        let clone = frame.clone();
        assert_eq!(frame.as_ptr(), clone.as_ptr());
    }

    #[test]
    fn deflated_frames_set_rsv1_and_inflate_back() {
        let text = "{\"type\":\"snapshot\"}".repeat(50);
        let frame = deflated(OpCode::Text, text.as_bytes());
        let (fin, opcode, masked, len, header) = parse(&frame);
        assert!(fin && !masked);
        assert_eq!(opcode, 0x1);
        assert_eq!(frame[0] & 0x70, RSV1_BIT);
        assert_eq!(frame.len(), header + len);
        assert!(len < text.len() / 5, "{len}");
        let out = crate::ws::deflate::inflate(&frame[header..], 1 << 20).unwrap();
        assert_eq!(&out[..], text.as_bytes());
    }

    #[test]
    fn control_frames() {
        assert_eq!(&ping(b"abc")[..], &[0x89, 3, b'a', b'b', b'c']);
        assert_eq!(&pong(b"")[..], &[0x8A, 0]);
        let long = ping(&[7u8; 300]);
        assert_eq!(long.len(), 2 + MAX_CONTROL_PAYLOAD);
        assert_eq!(long[1], 125);
    }

    #[test]
    fn close_frame_layout() {
        let frame = close(1001u16, "going away");
        assert_eq!(frame[0], 0x88);
        assert_eq!(frame[1] as usize, 2 + "going away".len());
        assert_eq!(&frame[2..4], &1001u16.to_be_bytes());
        assert_eq!(&frame[4..], b"going away");
        assert_eq!(&close_empty()[..], &[0x88, 0x00]);
        let typed = close(marketfeed_protocol::CloseCode::HEARTBEAT_TIMEOUT, "");
        assert_eq!(&typed[..], &[0x88, 2, 0x0F, 0xA0]);
    }

    #[test]
    fn close_reason_is_truncated_at_a_char_boundary() {
        // 'é' is 2 bytes: 61 of them make 122 bytes, one more would be 124.
        let reason = "é".repeat(80);
        let frame = close(1000u16, &reason);
        let body = &frame[4..];
        assert!(body.len() <= MAX_CLOSE_REASON);
        assert_eq!(body.len(), 122);
        assert!(std::str::from_utf8(body).is_ok());
        assert_eq!(frame[1] as usize, 2 + body.len());

        let ascii = "a".repeat(200);
        assert_eq!(close(1000u16, &ascii).len(), 2 + MAX_CONTROL_PAYLOAD);
    }

    #[test]
    fn opcode_round_trip_and_classes() {
        for value in 0u8..16 {
            match OpCode::from_u8(value) {
                Some(op) => assert_eq!(op.as_u8(), value),
                None => assert!(matches!(value, 0x3..=0x7 | 0xB..=0xF)),
            }
        }
        assert!(OpCode::Close.is_control());
        assert!(OpCode::Ping.is_control());
        assert!(OpCode::Pong.is_control());
        assert!(!OpCode::Text.is_control());
        assert!(!OpCode::Binary.is_control());
        assert!(!OpCode::Continuation.is_control());
    }
}
