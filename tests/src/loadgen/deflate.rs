//! permessage-deflate on the load generator's side (`--deflate`): the
//! offer, the check of the server's answer, and inflating compressed
//! messages (RSV1) before they are parsed.
//!
//! The server compresses without context takeover, so every message
//! inflates on its own: one decompressor per thread serves every client
//! (reset before each message), and an idle client holds no inflate state.

use std::cell::RefCell;

use flate2::{Decompress, FlushDecompress};

/// The request header line: the offer browsers send.
pub const OFFER: &str = "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits";

/// The four bytes the sender removed from each message (RFC 7692 §7.2.2).
const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// Why a compressed message could not be inflated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InflateError {
    /// Not valid DEFLATE data.
    #[error("invalid compressed data")]
    Corrupt,
    /// Inflates past the frame limit.
    #[error("inflated message exceeds {0} bytes")]
    TooBig(usize),
}

thread_local! {
    static INFLATER: RefCell<(Decompress, Vec<u8>)> =
        RefCell::new((Decompress::new(false), Vec::new()));
}

/// Whether the server's response head accepted permessage-deflate with
/// `server_no_context_takeover` (which this inflater relies on).
pub fn accepted(head: &str) -> bool {
    head.lines().any(|line| {
        let Some((name, value)) = line.split_once(':') else {
            return false;
        };
        name.trim().eq_ignore_ascii_case("sec-websocket-extensions")
            && value
                .split(';')
                .next()
                .is_some_and(|n| n.trim() == "permessage-deflate")
            && value
                .split(';')
                .any(|p| p.trim() == "server_no_context_takeover")
    })
}

/// Inflates one message's compressed payload and hands the result to `f`.
pub fn with_inflated<R>(
    data: &[u8],
    max: usize,
    f: impl FnOnce(&[u8]) -> R,
) -> Result<R, InflateError> {
    INFLATER.with(|cell| {
        let mut guard = cell.borrow_mut();
        let (d, out) = &mut *guard;
        d.reset(false);
        out.clear();
        for input in [data, &TAIL[..]] {
            let start = d.total_in();
            loop {
                let used = (d.total_in() - start) as usize;
                if out.capacity() - out.len() < 4096 {
                    out.reserve(out.capacity().max(16 * 1024));
                }
                d.decompress_vec(&input[used..], out, FlushDecompress::Sync)
                    .map_err(|_| InflateError::Corrupt)?;
                if out.len() > max {
                    return Err(InflateError::TooBig(max));
                }
                let used = (d.total_in() - start) as usize;
                if used == input.len() && out.len() < out.capacity() {
                    break;
                }
            }
        }
        let r = f(out);
        if out.capacity() > 1 << 20 {
            *out = Vec::new();
        }
        Ok(r)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_7692_example_and_answer_check() {
        let hello = [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
        assert_eq!(
            with_inflated(&hello, 100, <[u8]>::to_vec),
            Ok(b"Hello".to_vec())
        );
        assert_eq!(
            with_inflated(&hello, 4, <[u8]>::to_vec),
            Err(InflateError::TooBig(4))
        );
        assert_eq!(
            with_inflated(&[0xff, 0xff], 100, <[u8]>::to_vec),
            Err(InflateError::Corrupt)
        );
        // The same decompressor again, reset: still right.
        assert_eq!(with_inflated(&hello, 100, <[u8]>::len), Ok(5));
        assert!(accepted(
            "HTTP/1.1 101 Switching Protocols\r\nSec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover\r\n"
        ));
        assert!(!accepted(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
        ));
        assert!(!accepted(
            "HTTP/1.1 101 Switching Protocols\r\nSec-WebSocket-Extensions: permessage-deflate\r\n"
        ));
    }
}
