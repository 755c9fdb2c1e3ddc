//! A minimal WebSocket frame codec for the client side (RFC 6455 §5).
//!
//! Server → client frames arrive unmasked and are parsed in place from a
//! byte slice; client → server frames (pongs, close) are built masked.

/// Opcode of a continuation frame.
pub const OP_CONTINUATION: u8 = 0x0;
/// Opcode of a text frame.
pub const OP_TEXT: u8 = 0x1;
/// Opcode of a binary frame.
pub const OP_BINARY: u8 = 0x2;
/// Opcode of a close frame.
pub const OP_CLOSE: u8 = 0x8;
/// Opcode of a ping frame.
pub const OP_PING: u8 = 0x9;
/// Opcode of a pong frame.
pub const OP_PONG: u8 = 0xA;

/// Why a byte stream is not a valid server → client frame sequence.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The server masked a frame, which RFC 6455 forbids.
    #[error("server frame is masked")]
    Masked,
    /// A frame announces more payload than the configured limit.
    #[error("frame of {len} bytes exceeds the {max} byte limit")]
    TooLarge {
        /// Announced payload length.
        len: u64,
        /// The limit.
        max: usize,
    },
    /// Reserved bits set without a negotiated extension.
    #[error("reserved bits set in frame header")]
    Reserved,
}

/// One parsed frame, borrowing its payload from the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    /// FIN bit: last fragment of a message.
    pub fin: bool,
    /// The opcode (low four bits of the first byte).
    pub opcode: u8,
    /// The (unmasked) payload.
    pub payload: &'a [u8],
}

/// Parses one frame from the start of `buf`.
///
/// Returns `Ok(None)` when `buf` holds only part of a frame, otherwise the
/// frame and the number of bytes it occupies.
pub fn parse(buf: &[u8], max_payload: usize) -> Result<Option<(Frame<'_>, usize)>, FrameError> {
    Ok(parse_ext(buf, max_payload, false)?.map(|(f, used, _)| (f, used)))
}

/// [`parse`] that, with `allow_rsv1` (permessage-deflate negotiated),
/// accepts RSV1 and reports it: `(frame, bytes used, rsv1)`.
pub fn parse_ext(
    buf: &[u8],
    max_payload: usize,
    allow_rsv1: bool,
) -> Result<Option<(Frame<'_>, usize, bool)>, FrameError> {
    let [b0, b1, rest @ ..] = buf else {
        return Ok(None);
    };
    let reserved = if allow_rsv1 { 0x30 } else { 0x70 };
    if b0 & reserved != 0 {
        return Err(FrameError::Reserved);
    }
    let rsv1 = b0 & 0x40 != 0;
    if b1 & 0x80 != 0 {
        return Err(FrameError::Masked);
    }
    let (len, header) = match b1 & 0x7f {
        126 => match rest {
            [a, b, ..] => (u64::from(u16::from_be_bytes([*a, *b])), 4),
            _ => return Ok(None),
        },
        127 => match rest.get(..8) {
            Some(bytes) => {
                let mut be = [0u8; 8];
                be.copy_from_slice(bytes);
                (u64::from_be_bytes(be), 10)
            }
            None => return Ok(None),
        },
        short => (u64::from(short), 2),
    };
    let len = usize::try_from(len)
        .ok()
        .filter(|l| *l <= max_payload)
        .ok_or(FrameError::TooLarge {
            len,
            max: max_payload,
        })?;
    let end = header + len;
    match buf.get(header..end) {
        Some(payload) => Ok(Some((
            Frame {
                fin: b0 & 0x80 != 0,
                opcode: b0 & 0x0f,
                payload,
            },
            end,
            rsv1,
        ))),
        None => Ok(None),
    }
}

/// Whether `opcode` is a control opcode (close, ping, pong).
pub fn is_control(opcode: u8) -> bool {
    opcode & 0x08 != 0
}

/// Builds a masked client → server frame (FIN set) with a control-sized or
/// larger payload.
pub fn build_masked(opcode: u8, payload: &[u8], mask: [u8; 4]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 14);
    out.push(0x80 | (opcode & 0x0f));
    match payload.len() {
        n @ 0..=125 => out.push(0x80 | n as u8),
        n @ 126..=0xffff => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(0x80 | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(&mask);
    out.extend(payload.iter().zip(mask.iter().cycle()).map(|(b, m)| b ^ m));
    out
}

/// A cheap, non-cryptographic source of masking keys (xorshift64).
///
/// RFC 6455 asks for unpredictable keys to defeat cache poisoning by
/// intermediaries; a loopback load generator has none.
#[derive(Debug, Clone)]
pub struct MaskSource(u64);

impl MaskSource {
    /// A source seeded from `seed` (any value; zero is remapped).
    pub fn new(seed: u64) -> Self {
        Self(seed | 1)
    }

    /// The next masking key.
    pub fn next_mask(&mut self) -> [u8; 4] {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        (x as u32).to_be_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unmasked(opcode: u8, payload: &[u8]) -> Vec<u8> {
        let mut f = build_masked(opcode, payload, [0; 4]);
        // Clear the mask bit and drop the zero key.
        f[1] &= 0x7f;
        let key_at = match payload.len() {
            0..=125 => 2,
            126..=0xffff => 4,
            _ => 10,
        };
        f.drain(key_at..key_at + 4);
        f
    }

    #[test]
    fn parses_all_length_forms_and_partial_input() {
        for len in [0usize, 5, 125, 126, 5_500, 70_000] {
            let payload = vec![b'x'; len];
            let wire = unmasked(OP_TEXT, &payload);
            for cut in [0, 1, wire.len() / 2, wire.len() - 1] {
                if cut < wire.len() {
                    assert_eq!(
                        parse(&wire[..cut], 1 << 20),
                        Ok(None),
                        "len {len} cut {cut}"
                    );
                }
            }
            let (frame, used) = parse(&wire, 1 << 20).ok().flatten().expect("whole frame");
            assert_eq!(used, wire.len());
            assert!(frame.fin);
            assert_eq!(frame.opcode, OP_TEXT);
            assert_eq!(frame.payload, payload.as_slice());
        }
    }

    #[test]
    fn rejects_masked_oversize_and_reserved() {
        let masked = build_masked(OP_TEXT, b"hi", [1, 2, 3, 4]);
        assert_eq!(parse(&masked, 100), Err(FrameError::Masked));
        let big = unmasked(OP_TEXT, &[0; 300]);
        assert!(matches!(parse(&big, 100), Err(FrameError::TooLarge { .. })));
        assert_eq!(parse(&[0xC1, 0], 100), Err(FrameError::Reserved));
    }

    #[test]
    fn masking_round_trips() {
        let f = build_masked(OP_PONG, b"abc", [9, 8, 7, 6]);
        assert_eq!(f[0], 0x8A);
        assert_eq!(f[1], 0x83);
        let body: Vec<u8> = f[6..]
            .iter()
            .zip([9u8, 8, 7, 6].iter().cycle())
            .map(|(b, m)| b ^ m)
            .collect();
        assert_eq!(body, b"abc");
        let mut m = MaskSource::new(0);
        assert_ne!(m.next_mask(), m.next_mask());
    }
}
