//! Fuzzes `FrameReader`, the parser of client → server frames.
//!
//! The first input byte picks the message size limit and the size of the
//! chunks the rest is fed in (as socket reads would split it). Checked on
//! every input:
//! - no panic, no unbounded allocation;
//! - the events and the final outcome do not depend on how the bytes were
//!   split (chunked feed == all-at-once feed);
//! - text events are valid UTF-8, control payloads are at most 125 bytes,
//!   data messages are within the limit;
//! - once finished (Close or error) the reader holds no memory and yields
//!   nothing more.

#![no_main]

use libfuzzer_sys::fuzz_target;
use marketfeed_server::ws::{FrameReader, Incoming, ReadError};

/// Events until the reader is exhausted, plus the error that stopped it.
fn run(max: usize, input: &[u8], chunk: usize) -> (Vec<Incoming>, Option<ReadError>) {
    let mut reader = FrameReader::new(max);
    let mut events = Vec::new();
    for piece in input.chunks(chunk.max(1)) {
        reader.extend(piece);
        loop {
            match reader.next_event() {
                Ok(Some(event)) => {
                    check_event(&event, max);
                    events.push(event);
                }
                Ok(None) => break,
                Err(e) => {
                    assert!(reader.is_finished());
                    assert_eq!(reader.capacity(), 0, "a finished reader holds no memory");
                    assert!(reader.next_event().unwrap_or_default().is_none());
                    return (events, Some(e));
                }
            }
        }
        if reader.is_finished() {
            assert_eq!(reader.capacity(), 0, "a finished reader holds no memory");
        }
        assert!(reader.buffered() <= input.len());
    }
    (events, None)
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
    let chunk = usize::from(knob >> 3) + 1;
    let whole = run(max, input, input.len());
    let split = run(max, input, chunk);
    assert_eq!(whole, split, "outcome depends on how the input was split");
});
