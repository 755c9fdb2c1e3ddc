//! The one place a server message becomes bytes on the wire: JSON
//! (`marketfeed_protocol::encode_server`) in a complete, unmasked text
//! frame, ready to be written as-is to any number of sockets.
//!
//! The hub calls [`snapshot`] at most once per tick, and only when some
//! client will receive the result; everything else (hello, pong, error)
//! goes through [`message`]; the `hello` frame is kept encoded in a
//! [`Greeting`] that follows the symbol universe.
//!
//! A snapshot is a [`SnapshotFrame`]: the plain frame, and its
//! permessage-deflate twin compressed on first demand — at most once per
//! frame, only when a client that negotiated the extension is offered it,
//! and then shared by every such client (no context takeover, so the
//! compressed bytes depend on the snapshot alone). hello, pong and error
//! go out uncompressed: they are small and rare, and RFC 7692 lets each
//! message choose.

use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Instant;

use bytes::Bytes;
use marketfeed_protocol::{encode_server, Hello, MarketSnapshot, ServerMessage, PROTOCOL_VERSION};

use super::counters::Counters;
use crate::ws::frame::{self, OpCode};

/// One tick's snapshot as a frame; counts the serialization and its time.
pub(crate) fn snapshot(snapshot: MarketSnapshot, counters: &Arc<Counters>) -> Arc<SnapshotFrame> {
    let started = Instant::now();
    let payload = encode_server(&ServerMessage::Snapshot(snapshot));
    let frame = SnapshotFrame::new(frame::text(&payload), payload.len(), counters.clone());
    Counters::inc(&counters.serializations);
    Counters::time(
        &counters.last_encode_us,
        &counters.encode_us_total,
        started.elapsed(),
    );
    Arc::new(frame)
}

/// One broadcast message, encoded once: the plain text frame and, made on
/// first demand, the same message deflated (RSV1 set). Every client gets a
/// refcounted clone of one of the two.
#[derive(Debug)]
pub(crate) struct SnapshotFrame {
    plain: Bytes,
    payload_len: usize,
    deflated: OnceLock<Bytes>,
    counters: Arc<Counters>,
}

impl SnapshotFrame {
    /// Wraps the plain text frame whose payload is its last `payload_len`
    /// bytes.
    pub(crate) fn new(plain: Bytes, payload_len: usize, counters: Arc<Counters>) -> Self {
        Self {
            plain,
            payload_len,
            deflated: OnceLock::new(),
            counters,
        }
    }

    /// The frame for a client: deflated when it negotiated
    /// permessage-deflate (compressed now if no client asked before),
    /// plain otherwise.
    pub(crate) fn for_client(&self, deflate: bool) -> &Bytes {
        if deflate {
            self.deflated()
        } else {
            &self.plain
        }
    }

    /// The deflated frame, compressed on the first call only; counts the
    /// compression, its time and its sizes.
    pub(crate) fn deflated(&self) -> &Bytes {
        self.deflated.get_or_init(|| {
            let started = Instant::now();
            let payload = &self.plain[self.plain.len() - self.payload_len..];
            let frame = frame::deflated(OpCode::Text, payload);
            let c = &self.counters;
            Counters::inc(&c.deflations);
            Counters::time(&c.last_deflate_us, &c.deflate_us_total, started.elapsed());
            Counters::add(&c.deflate_in_bytes, self.plain.len());
            Counters::add(&c.deflate_out_bytes, frame.len());
            frame
        })
    }
}

/// Any other server message as a frame.
pub(crate) fn message(msg: &ServerMessage) -> Bytes {
    frame::text(&encode_server(msg))
}

/// The `hello` frame every new client gets first, encoded once per symbol
/// universe: the ticker refreshes it when the published symbols change (a
/// live feed declares its universe with its first `snapshot` line and may
/// change it later), and the upgrade hands the current one out.
#[derive(Debug, Clone)]
pub(crate) struct Greeting {
    inner: Arc<Mutex<(Vec<String>, Bytes)>>,
    heartbeat_interval_ms: u64,
    tick_interval_ms: u64,
}

impl Greeting {
    /// The greeting for `symbols`.
    pub(crate) fn new(
        heartbeat_interval_ms: u64,
        tick_interval_ms: u64,
        symbols: Vec<String>,
    ) -> Self {
        let frame = hello(heartbeat_interval_ms, tick_interval_ms, &symbols);
        Self {
            inner: Arc::new(Mutex::new((symbols, frame))),
            heartbeat_interval_ms,
            tick_interval_ms,
        }
    }

    fn lock(&self) -> MutexGuard<'_, (Vec<String>, Bytes)> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The current `hello` frame.
    pub(crate) fn frame(&self) -> Bytes {
        self.lock().1.clone()
    }

    /// Re-encodes the greeting when `symbols` differ from its own.
    pub(crate) fn follow<'a>(&self, symbols: impl ExactSizeIterator<Item = &'a str> + Clone) {
        let mut current = self.lock();
        if current.0.len() == symbols.len()
            && current.0.iter().map(String::as_str).eq(symbols.clone())
        {
            return;
        }
        let symbols: Vec<String> = symbols.map(str::to_owned).collect();
        tracing::info!(
            symbols = symbols.len(),
            "symbol universe changed; new clients get the new one"
        );
        let frame = hello(self.heartbeat_interval_ms, self.tick_interval_ms, &symbols);
        *current = (symbols, frame);
    }
}

fn hello(heartbeat_interval_ms: u64, tick_interval_ms: u64, symbols: &[String]) -> Bytes {
    message(&ServerMessage::Hello(Hello {
        protocol_version: PROTOCOL_VERSION,
        heartbeat_interval_ms,
        tick_interval_ms,
        symbols: symbols.to_vec(),
    }))
}
