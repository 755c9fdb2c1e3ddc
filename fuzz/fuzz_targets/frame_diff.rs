//! Differential fuzzing: `FrameReader` against tungstenite's server-side
//! frame parser on the same client → server bytes.
//!
//! Both read the input to its end. Each side's outcome is the list of
//! messages it delivered and how it stopped:
//! - `Closed`: it delivered a Close and stops reading;
//! - `NeedMore`: the input ended (tungstenite: `WouldBlock`);
//! - `Reject`: a protocol, UTF-8 or size error.
//!
//! The two **agree** when they delivered the same messages (text, binary,
//! ping, pong, close with the same code and reason, in order) and stopped
//! the same way, with one allowance: one side may reject where the other
//! still needs more input, since `FrameReader` judges a header as soon as
//! its bytes arrive and tungstenite only once the whole frame has (both
//! refuse the frame; they differ only in when).
//!
//! Known, deliberate differences (not reported):
//! - a 16/64-bit length that fits a shorter form: RFC 6455 §5.2 says "the
//!   minimal number of bytes MUST be used"; `FrameReader` rejects it,
//!   tungstenite accepts it. Such inputs are compared only up to that frame.
//!   This includes a control frame whose 7-bit length field says 126/127
//!   (`ControlTooLong` in `FrameReader`, judged before the extended length
//!   is read): tungstenite reads the extended length and accepts it when it
//!   is at most 125.
//! - close code 1014 (registered with IANA after RFC 6455): accepted by
//!   `FrameReader`, refused by tungstenite. Compared up to that frame.
//!
//! - tungstenite reports a close frame with a forbidden code as a Close of
//!   its own (1002 "Protocol violation"); that counts as `Reject`.
//!
//! Both sides get the same limit (message and frame size = 4 KiB).

#![no_main]

use std::io::{self, Read, Write};

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use marketfeed_server::ws::{FrameReader, Incoming, ReadError};
use tungstenite::protocol::{Role, WebSocket, WebSocketConfig};
use tungstenite::{Error, Message};

const MAX: usize = 4096;

#[derive(Debug, PartialEq, Eq, Clone, Copy)]
enum End {
    Closed,
    NeedMore,
    Reject,
}

/// Reads `input`, then says `WouldBlock`; writes (pongs, close replies)
/// are discarded.
struct Feed<'a> {
    input: &'a [u8],
}

impl Read for Feed<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.input.is_empty() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let n = buf.len().min(self.input.len());
        buf[..n].copy_from_slice(&self.input[..n]);
        self.input = &self.input[n..];
        Ok(n)
    }
}

impl Write for Feed<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Whether an error belongs to an allowed difference; the comparison then
/// stops at the frame concerned.
fn tolerated(e: &ReadError) -> bool {
    matches!(e, ReadError::NonMinimalLength | ReadError::ControlTooLong)
}

fn ours(input: &[u8]) -> (Vec<Incoming>, End, bool) {
    let mut reader = FrameReader::new(MAX);
    reader.extend(input);
    let mut events = Vec::new();
    loop {
        match reader.next_event() {
            Ok(Some(event)) => {
                if let Incoming::Close(close) = &event {
                    // 1014: compare only what came before this frame.
                    let tolerated = matches!(close, Some((1014, _)));
                    if !tolerated {
                        events.push(event);
                    }
                    return (events, End::Closed, tolerated);
                }
                events.push(event);
            }
            Ok(None) => return (events, End::NeedMore, false),
            Err(e) => return (events, End::Reject, tolerated(&e)),
        }
    }
}

fn theirs(input: &[u8]) -> (Vec<Incoming>, End) {
    let config = WebSocketConfig::default()
        .max_message_size(Some(MAX))
        .max_frame_size(Some(MAX));
    let mut ws = WebSocket::from_raw_socket(Feed { input }, Role::Server, Some(config));
    let mut events = Vec::new();
    loop {
        let event = match ws.read() {
            Ok(Message::Text(t)) => Incoming::Text(Bytes::copy_from_slice(t.as_bytes())),
            Ok(Message::Binary(b)) => Incoming::Binary(b),
            Ok(Message::Ping(p)) => Incoming::Ping(p),
            Ok(Message::Pong(p)) => Incoming::Pong(p),
            // tungstenite answers a close frame with a forbidden code by
            // closing with 1002 "Protocol violation", and hands that reply
            // to the reader: a refusal.
            Ok(Message::Close(Some(c)))
                if u16::from(c.code) == 1002 && c.reason.as_str() == "Protocol violation" =>
            {
                return (events, End::Reject)
            }
            Ok(Message::Close(c)) => {
                let c = c.map(|c| (u16::from(c.code), c.reason.as_str().to_owned()));
                events.push(Incoming::Close(c));
                return (events, End::Closed);
            }
            Ok(Message::Frame(_)) => continue,
            Err(Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {
                return (events, End::NeedMore)
            }
            Err(Error::ConnectionClosed | Error::AlreadyClosed) => return (events, End::Closed),
            Err(Error::Protocol(_) | Error::Utf8(_) | Error::Capacity(_)) => {
                return (events, End::Reject)
            }
            Err(e) => panic!("unexpected tungstenite error {e:?}"),
        };
        events.push(event);
    }
}

fuzz_target!(|data: &[u8]| {
    let (our_events, our_end, tolerated) = ours(data);
    let (their_events, their_end) = theirs(data);
    if tolerated {
        // Compare only what came before the frame at issue.
        let n = our_events.len();
        assert!(
            their_events.len() >= n && their_events[..n] == our_events[..],
            "messages differ before a tolerated frame:\nours   {our_events:?}\ntheirs {their_events:?}"
        );
        return;
    }
    assert_eq!(
        our_events, their_events,
        "messages differ (ours ended {our_end:?}, tungstenite {their_end:?})"
    );
    let agree = our_end == their_end
        || matches!(
            (our_end, their_end),
            (End::Reject, End::NeedMore) | (End::NeedMore, End::Reject)
        );
    assert!(agree, "ours ended {our_end:?}, tungstenite {their_end:?}");
});
