//! The permessage-deflate codec (RFC 7692 §7), without context takeover
//! in either direction.
//!
//! - [`compress`]: one message payload → raw DEFLATE, sync-flushed, with
//!   the trailing `00 00 ff ff` removed (§7.2.1). Each call starts from a
//!   reset compressor, so the output depends on the input alone and the
//!   same bytes can go to every client (`server_no_context_takeover`).
//!   The compressor itself (a few hundred KiB of miniz_oxide state) is
//!   kept per thread and reset, not rebuilt: building it cost more than
//!   compressing a snapshot.
//! - [`inflate`]: one whole client message (its fragments joined) with a
//!   hard cap on the inflated size: inflation stops at the first byte past
//!   the cap, so a decompression bomb costs at most `cap` bytes of output
//!   and the (bounded) compressed input of one message. The decompressor
//!   is reset for every message (`client_no_context_takeover`) and kept
//!   per thread, so a connection holds no inflate state at all, not even
//!   while a compressed message is still arriving.
//!
//! The negotiation itself is in [`super::handshake`].

use std::cell::RefCell;

use bytes::BytesMut;
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

/// The four bytes a sync flush ends with; removed by the sender, appended
/// back by the receiver (RFC 7692 §7.2.1, §7.2.2).
pub const SYNC_TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// Compression level for outgoing messages. On the simulator's v1
/// snapshot (12.6 KB of JSON; release build, reused compressor) level 4
/// gave 20.7 % of the plain size in ~120 µs, level 6 (zlib's default)
/// 20.0 % in ~380 µs, level 1 28.9 % in ~65 µs: level 4 keeps nearly all
/// of the saving at a third of the time the whole fan-out waits for.
const LEVEL: Compression = Compression::new(4);

thread_local! {
    static COMPRESSOR: RefCell<Compress> = RefCell::new(Compress::new(LEVEL, false));
}

/// Output produced per inflate step; the cap is checked after each.
const INFLATE_CHUNK: usize = 1024;

/// Why a compressed client message cannot be inflated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InflateError {
    /// The message inflates past the configured cap.
    #[error("inflated message exceeds {max} bytes")]
    TooBig {
        /// The cap.
        max: usize,
    },
    /// The compressed data is not valid DEFLATE.
    #[error("invalid compressed data")]
    Corrupt,
}

/// Compresses one message payload for a frame with RSV1 set: raw DEFLATE,
/// sync flush, trailing `00 00 ff ff` removed. An empty payload becomes a
/// single `00` byte (an empty stored block, as RFC 7692 §7.2.3.6 shows).
pub fn compress(payload: &[u8]) -> Vec<u8> {
    COMPRESSOR.with(|cell| match cell.try_borrow_mut() {
        Ok(mut compressor) => {
            compressor.reset();
            compress_with(&mut compressor, payload)
        }
        // Not reentrant in practice; a fresh one is always correct.
        Err(_) => compress_with(&mut Compress::new(LEVEL, false), payload),
    })
}

fn compress_with(compressor: &mut Compress, payload: &[u8]) -> Vec<u8> {
    // Typical JSON shrinks several times; grow when it does not.
    let mut out = Vec::with_capacity(payload.len() / 4 + 64);
    loop {
        let consumed = usize::try_from(compressor.total_in()).unwrap_or(payload.len());
        let input = &payload[consumed.min(payload.len())..];
        if out.capacity() - out.len() < 64 {
            out.reserve(out.capacity().max(256));
        }
        let before_out = out.len();
        // `compress_vec` writes into the spare capacity only.
        let status = compressor.compress_vec(input, &mut out, FlushCompress::Sync);
        let consumed = usize::try_from(compressor.total_in()).unwrap_or(payload.len());
        let done = consumed >= payload.len() && out.len() < out.capacity();
        match status {
            Ok(Status::Ok | Status::StreamEnd) if done => break,
            Ok(Status::BufError) if out.len() == before_out && consumed >= payload.len() => break,
            Ok(_) => {}
            // Compressing an in-memory buffer does not fail; should the
            // backend ever report an error, send the payload stored.
            Err(_) => return stored(payload),
        }
    }
    if out.ends_with(&SYNC_TAIL) {
        out.truncate(out.len() - SYNC_TAIL.len());
    }
    out
}

/// `payload` as DEFLATE stored blocks (no compression), tail removed:
/// always valid, used only if the compressor ever reports an error.
fn stored(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 5 * (payload.len() / 65535 + 1));
    let mut chunks = payload.chunks(65535).peekable();
    if chunks.peek().is_none() {
        return vec![0x00];
    }
    for chunk in chunks {
        let len = chunk.len() as u16;
        out.push(0x00); // BFINAL 0, BTYPE 00
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(chunk);
    }
    out
}

/// Inflates one whole compressed message (its fragments' payloads joined)
/// into at most `max` bytes: the sync tail is appended, and inflation
/// stops with [`InflateError::TooBig`] as soon as the output would pass
/// `max`. Uses a per-thread decompressor, reset first (no context
/// takeover), so nothing is kept between messages and nothing is
/// allocated for it per message.
pub fn inflate(data: &[u8], max: usize) -> Result<BytesMut, InflateError> {
    DECOMPRESSOR.with(|cell| match cell.try_borrow_mut() {
        Ok(mut d) => {
            d.reset(false);
            inflate_with(&mut d, data, max)
        }
        Err(_) => inflate_with(&mut Decompress::new(false), data, max),
    })
}

thread_local! {
    static DECOMPRESSOR: RefCell<Decompress> = RefCell::new(Decompress::new(false));
}

fn inflate_with(d: &mut Decompress, data: &[u8], max: usize) -> Result<BytesMut, InflateError> {
    let mut out = BytesMut::new();
    for part in [data, &SYNC_TAIL[..]] {
        if run(d, part, max, &mut out)? {
            // A block with BFINAL set ended the stream; what follows (the
            // appended tail included) is ignored.
            break;
        }
    }
    Ok(out)
}

/// Inflates `input` onto `out`; `Ok(true)` once the stream has ended.
fn run(
    d: &mut Decompress,
    mut input: &[u8],
    max: usize,
    out: &mut BytesMut,
) -> Result<bool, InflateError> {
    let mut chunk = [0u8; INFLATE_CHUNK];
    loop {
        let (in_before, out_before) = (d.total_in(), d.total_out());
        let status = d
            .decompress(input, &mut chunk, FlushDecompress::None)
            .map_err(|_| InflateError::Corrupt)?;
        let used = usize::try_from(d.total_in() - in_before).unwrap_or(input.len());
        let made = usize::try_from(d.total_out() - out_before).unwrap_or(chunk.len());
        input = &input[used.min(input.len())..];
        if out.len() + made > max {
            return Err(InflateError::TooBig { max });
        }
        out.extend_from_slice(&chunk[..made]);
        if status == Status::StreamEnd {
            return Ok(true);
        }
        // Done when the input is used up and the output did not fill the
        // chunk (nothing more is pending), or no progress is made.
        if (input.is_empty() && made < chunk.len()) || (used == 0 && made == 0) {
            return Ok(false);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn inflate(data: &[u8], max: usize) -> Result<Vec<u8>, InflateError> {
        super::inflate(data, max).map(|b| b.to_vec())
    }

    #[test]
    fn rfc_7692_hello_example() {
        // §7.2.3.1: "Hello" compressed without context takeover.
        let hello = [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
        assert_eq!(inflate(&hello, 100).unwrap(), b"Hello");
        // §7.2.3.3: the same as a stored (uncompressed) block.
        let stored_hello = [
            0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00,
        ];
        assert_eq!(inflate(&stored_hello, 100).unwrap(), b"Hello");
        // §7.2.3.4: BFINAL set, then the appended tail is ignored.
        let final_hello = [0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
        assert_eq!(inflate(&final_hello, 100).unwrap(), b"Hello");
        assert_eq!(compress(b"Hello"), hello);
    }

    #[test]
    fn round_trip_and_no_tail() {
        for len in [0usize, 1, 100, 5000, 70_000, 300_000] {
            let text: Vec<u8> = (0..len).map(|i| b"{\"q\":12345}"[i % 11]).collect();
            let packed = compress(&text);
            assert!(!packed.ends_with(&SYNC_TAIL), "len {len}");
            assert_eq!(inflate(&packed, len).unwrap(), text, "len {len}");
        }
        assert_eq!(compress(b""), [0x00]);
    }

    #[test]
    fn output_depends_on_the_input_alone() {
        let a = "{\"type\":\"snapshot\",\"seq\":1}".repeat(40);
        let first = compress(a.as_bytes());
        let _ = compress(b"something else entirely, to leave state behind");
        assert_eq!(compress(a.as_bytes()), first);
        assert_eq!(
            compress_with(&mut Compress::new(LEVEL, false), a.as_bytes()),
            first
        );
    }

    #[test]
    fn incompressible_data_round_trips() {
        let mut x: u32 = 1;
        let noise: Vec<u8> = (0..100_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect();
        assert_eq!(inflate(&compress(&noise), noise.len()).unwrap(), noise);
        assert_eq!(inflate(&stored(&noise), noise.len()).unwrap(), noise);
    }

    #[test]
    fn a_bad_message_leaves_nothing_behind() {
        // The per-thread decompressor is reset: a corrupt or oversized
        // message does not disturb the next one.
        let good = compress(b"{\"type\":\"ping\",\"id\":1}");
        assert!(inflate(&[0xff; 8], 100).is_err());
        assert_eq!(
            inflate(&compress(&[b'a'; 500]), 10),
            Err(InflateError::TooBig { max: 10 })
        );
        assert_eq!(
            inflate(&good, 100).unwrap(),
            b"{\"type\":\"ping\",\"id\":1}"
        );
    }

    #[test]
    fn a_bomb_stops_at_the_cap() {
        let bomb = compress(&vec![0u8; 10 << 20]);
        assert!(bomb.len() < 20_000, "{}", bomb.len());
        let err = inflate(&bomb, 4096).unwrap_err();
        assert_eq!(err, InflateError::TooBig { max: 4096 });
        // Exactly at the cap is fine.
        assert_eq!(inflate(&compress(&[7u8; 4096]), 4096).unwrap().len(), 4096);
    }

    #[test]
    fn garbage_is_corrupt() {
        // BTYPE 11 is reserved.
        assert_eq!(
            inflate(&[0xff, 0xff, 0xff], 100),
            Err(InflateError::Corrupt)
        );
    }
}
