//! The one place a server message becomes bytes on the wire: JSON
//! (`marketfeed_protocol::encode_server`) in a complete, unmasked text
//! frame, ready to be written as-is to any number of sockets.
//!
//! The hub calls [`snapshot`] at most once per tick, and only when some
//! client will receive the result; everything else (hello, pong, error)
//! goes through [`message`]; the `hello` frame is kept encoded in a
//! [`Greeting`] that follows the symbol universe.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use bytes::Bytes;
use marketfeed_protocol::{encode_server, Hello, MarketSnapshot, ServerMessage, PROTOCOL_VERSION};

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

/// The `hello` frame every new client gets first, encoded once per symbol
/// universe: the ticker refreshes it when the published symbols change (a
/// live feed declares its universe with its first `snapshot` line and may
/// change it later), and the upgrade hands the current one out.
#[derive(Debug, Clone)]
pub(crate) struct Greeting {
    inner: Arc<Mutex<Said>>,
    heartbeat_interval_ms: u64,
    tick_interval_ms: u64,
}

/// What the greeting says now, and its frame.
#[derive(Debug)]
struct Said {
    symbols: Vec<String>,
    epoch: u64,
    frame: Bytes,
}

impl Greeting {
    /// The greeting for `symbols` in stream `epoch` (0: not known yet).
    pub(crate) fn new(
        heartbeat_interval_ms: u64,
        tick_interval_ms: u64,
        symbols: Vec<String>,
        epoch: u64,
    ) -> Self {
        let frame = hello(heartbeat_interval_ms, tick_interval_ms, &symbols, epoch);
        Self {
            inner: Arc::new(Mutex::new(Said {
                symbols,
                epoch,
                frame,
            })),
            heartbeat_interval_ms,
            tick_interval_ms,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Said> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The current `hello` frame.
    pub(crate) fn frame(&self) -> Bytes {
        self.lock().frame.clone()
    }

    /// Moves the greeting to stream `epoch` (an edge that heard a new
    /// publisher) and returns the new frame, for the clients already
    /// connected.
    pub(crate) fn set_epoch(&self, epoch: u64) -> Bytes {
        let mut current = self.lock();
        current.epoch = epoch;
        current.frame = hello(
            self.heartbeat_interval_ms,
            self.tick_interval_ms,
            &current.symbols,
            epoch,
        );
        current.frame.clone()
    }

    /// Re-encodes the greeting when `symbols` differ from its own.
    pub(crate) fn follow<'a>(&self, symbols: impl ExactSizeIterator<Item = &'a str> + Clone) {
        let mut current = self.lock();
        if current.symbols.len() == symbols.len()
            && current
                .symbols
                .iter()
                .map(String::as_str)
                .eq(symbols.clone())
        {
            return;
        }
        let symbols: Vec<String> = symbols.map(str::to_owned).collect();
        tracing::info!(
            symbols = symbols.len(),
            "symbol universe changed; new clients get the new one"
        );
        current.frame = hello(
            self.heartbeat_interval_ms,
            self.tick_interval_ms,
            &symbols,
            current.epoch,
        );
        current.symbols = symbols;
    }
}

fn hello(
    heartbeat_interval_ms: u64,
    tick_interval_ms: u64,
    symbols: &[String],
    epoch: u64,
) -> Bytes {
    message(&ServerMessage::Hello(Hello {
        protocol_version: PROTOCOL_VERSION,
        heartbeat_interval_ms,
        tick_interval_ms,
        symbols: symbols.to_vec(),
        epoch,
    }))
}
