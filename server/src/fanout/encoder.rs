//! The one place a server message becomes bytes on the wire: JSON
//! (`marketfeed_protocol::encode_server`) in a complete, unmasked text
//! frame, ready to be written as-is to any number of sockets.
//!
//! The hub calls [`snapshot`] at most once per tick, and only when some
//! client will receive the result; everything else (hello, pong, error)
//! goes through [`message`].

use std::time::Instant;

use bytes::Bytes;
use marketfeed_protocol::{encode_server, MarketSnapshot, ServerMessage};

use super::counters::Counters;
use crate::ws::frame;

/// One tick's snapshot as a frame; counts the serialization and its time.
pub(crate) fn snapshot(snapshot: MarketSnapshot, counters: &Counters) -> Bytes {
    let started = Instant::now();
    let frame = message(&ServerMessage::Snapshot(snapshot));
    Counters::inc(&counters.serializations);
    Counters::time(
        &counters.last_encode_us,
        &counters.encode_us_total,
        started.elapsed(),
    );
    frame
}

/// Any other server message as a frame.
pub(crate) fn message(msg: &ServerMessage) -> Bytes {
    frame::text(&encode_server(msg))
}
