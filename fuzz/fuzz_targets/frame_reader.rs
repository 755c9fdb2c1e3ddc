//! Fuzzes `FrameReader`, the parser of client → server frames.
//!
//! The first input byte picks the message size limit (bits 0–2), the size
//! of the chunks the rest is fed in (bits 3–6, as socket reads would split
//! it) and whether permessage-deflate was negotiated (bit 7: RSV1 messages
//! are inflated, the limit bounding the inflated size). Checked on every
//! input:
//! - no panic, no unbounded allocation;
//! - the events and the final outcome do not depend on how the bytes were
//!   split (chunked feed == all-at-once feed);
//! - text events are valid UTF-8, control payloads are at most 125 bytes,
//!   data messages are within the limit (inflated ones included: a
//!   decompression bomb never yields more than the limit, and the reader
//!   never holds more than the input plus the limit);
//! - after a violation the reader only drains: it reports nothing but the
//!   peer's Close, buffers at most one close frame, and once done (Close
//!   received, or a length it cannot follow) holds no memory.

#![no_main]

use libfuzzer_sys::fuzz_target;
use marketfeed_server::ws::{FrameReader, Incoming, ReadError};

/// Longest input a draining reader may hold: one Close frame (a 14-byte
/// header at most and 125 bytes of payload).
const MAX_DRAIN_BUFFER: usize = 14 + 125;

/// Events until the input is exhausted, plus the error that failed the
/// connection, if any.
fn run(
    max: usize,
    inflate: bool,
    input: &[u8],
    chunk: usize,
) -> (Vec<Incoming>, Option<ReadError>) {
    let mut reader = FrameReader::new(max).inflating(inflate);
    let mut events = Vec::new();
    let mut error = None;
    for piece in input.chunks(chunk.max(1)) {
        reader.extend(piece);
        loop {
            match reader.next_event() {
                Ok(Some(event)) => {
                    check_event(&event, max);
                    if error.is_some() {
                        assert!(
                            matches!(event, Incoming::Close(_)),
                            "after a violation only the peer's Close is reported"
                        );
                    }
                    events.push(event);
                }
                Ok(None) => break,
                Err(e) => {
                    assert!(error.is_none(), "one violation at most");
                    assert!(reader.is_finished());
                    error = Some(e);
                }
            }
        }
        if reader.is_finished() {
            assert!(
                reader.buffered() <= MAX_DRAIN_BUFFER,
                "a draining reader buffers at most one close frame"
            );
            if !reader.awaits_close() {
                assert_eq!(reader.capacity(), 0, "a finished reader holds no memory");
            }
        }
        // Inflated bytes of an open message count too: at most `max`.
        let bound = if inflate { input.len() + max } else { input.len() };
        assert!(reader.buffered() <= bound);
        assert!(reader.capacity() <= 2 * bound + 4096, "reader memory bounded");
    }
    (events, error)
}

fn check_event(event: &Incoming, max: usize) {
    match event {
        Incoming::Text(t) => {
            assert!(std::str::from_utf8(t).is_ok(), "text event is not UTF-8");
            assert!(t.len() <= max);
        }
        Incoming::Binary(b) => assert!(b.len() <= max),
        Incoming::Ping(p) | Incoming::Pong(p) => assert!(p.len() <= 125),
        Incoming::Close(Some((_, reason))) => assert!(reason.len() <= 123),
        Incoming::Close(None) => {}
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&knob, input)) = data.split_first() else {
        return;
    };
    // Limits from 16 B to 4 KiB, so both sides of the limit are reached.
    let max = 16usize << (knob & 0x07);
    let chunk = usize::from((knob >> 3) & 0x0f) + 1;
    let inflate = knob & 0x80 != 0;
    let whole = run(max, inflate, input, input.len());
    let split = run(max, inflate, input, chunk);
    assert_eq!(whole, split, "outcome depends on how the input was split");
});
