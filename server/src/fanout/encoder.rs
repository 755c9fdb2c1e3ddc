//! The one place a server message becomes bytes on the wire, in the
//! connection's format ([`Subprotocol`]): JSON
//! (`marketfeed_protocol::encode_server`) in a text frame, or for the
//! market data of `marketfeed.v2.bin` the binary layout
//! (`marketfeed_protocol::binary`) in a binary frame. Each result is an
//! [`Encoded`]: a complete, unmasked frame written as-is to any number of
//! sockets.
//!
//! The hub calls [`market`] at most once per (format, subscription set)
//! and tick, and only when some client will receive the result; every
//! other message (hello, subscribed, pong, error) goes through
//! [`message`]; the `hello` frames are kept encoded in a [`Greeting`] that
//! follows the symbol universe.
//!
//! An [`Encoded`] holds the plain frame and its permessage-deflate twin,
//! compressed on first demand — at most once per frame, only when a
//! client that negotiated the extension is offered it, and then shared by
//! every such client (no context takeover, so the compressed bytes depend
//! on the message alone). hello, subscribed, pong and error go out
//! uncompressed: they are small and rare, and RFC 7692 lets each message
//! choose.

use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Instant;

use bytes::Bytes;
use marketfeed_protocol::{
    encode_binary, encode_server, Hello, ServerMessage, Subprotocol, PROTOCOL_VERSION,
};

use super::counters::Counters;
use crate::ws::frame::{self, OpCode};

/// One server message encoded once, shared (refcounted, never copied) by
/// every client it goes to: the unit the hub broadcasts. It holds the
/// plain frame and, made on first demand, the same message deflated (RSV1
/// set); the outbox picks the one its connection takes in one place
/// (`Client::wire`). Clones share one compression.
#[derive(Debug, Clone)]
pub(crate) struct Encoded(Arc<Frames>);

#[derive(Debug)]
struct Frames {
    /// The whole plain WebSocket frame.
    plain: Bytes,
    /// Its opcode (text for JSON, binary for `marketfeed.v2.bin`).
    opcode: OpCode,
    /// The payload's length: the last bytes of `plain`.
    payload_len: usize,
    deflated: OnceLock<Bytes>,
    counters: Arc<Counters>,
}

impl PartialEq for Encoded {
    fn eq(&self, other: &Self) -> bool {
        self.0.plain == other.0.plain
    }
}

impl Eq for Encoded {}

impl Encoded {
    /// Wraps a complete plain frame of `opcode` whose payload is its last
    /// `payload_len` bytes; compressions are counted in `counters`.
    pub(crate) fn new(
        plain: Bytes,
        opcode: OpCode,
        payload_len: usize,
        counters: Arc<Counters>,
    ) -> Self {
        Self(Arc::new(Frames {
            plain,
            opcode,
            payload_len,
            deflated: OnceLock::new(),
            counters,
        }))
    }

    /// The plain frame as written to a socket.
    #[cfg(test)]
    pub(crate) fn frame(&self) -> &Bytes {
        &self.0.plain
    }

    /// The frame for a client: deflated when it negotiated
    /// permessage-deflate (compressed now if no client asked before),
    /// plain otherwise.
    pub(crate) fn for_client(&self, deflate: bool) -> &Bytes {
        if deflate {
            self.deflated()
        } else {
            &self.0.plain
        }
    }

    /// The deflated frame, compressed on the first call only; counts the
    /// compression, its time and its sizes.
    pub(crate) fn deflated(&self) -> &Bytes {
        let f = &*self.0;
        f.deflated.get_or_init(|| {
            let started = Instant::now();
            let payload = &f.plain[f.plain.len() - f.payload_len..];
            let frame = frame::deflated(f.opcode, payload);
            f.counters
                .deflated(started.elapsed(), f.plain.len(), frame.len());
            frame
        })
    }
}

/// A keyframe (snapshot) or delta in `format`; counts the encode and its
/// time. `full_universe` marks the whole-universe snapshot of a v1 tick,
/// which is also counted as the tick's serialization.
pub(crate) fn market(
    msg: &ServerMessage,
    format: Subprotocol,
    full_universe: bool,
    counters: &Arc<Counters>,
) -> Encoded {
    let started = Instant::now();
    let (opcode, payload) = match (format, encode_binary(msg)) {
        (Subprotocol::V2Bin, Ok(bytes)) => (OpCode::Binary, bytes),
        _ => (OpCode::Text, encode_server(msg)),
    };
    let plain = match opcode {
        OpCode::Binary => frame::binary(&payload),
        _ => frame::text(&payload),
    };
    if full_universe && format == Subprotocol::V1Json {
        Counters::inc(&counters.serializations);
    }
    counters.encoded(started.elapsed());
    Encoded::new(plain, opcode, payload.len(), counters.clone())
}

/// Any other server message as a frame (always JSON text).
pub(crate) fn message(msg: &ServerMessage) -> Bytes {
    frame::text(&encode_server(msg))
}

/// The `hello` frames every new client gets first, one per format (they
/// differ only in `format`), encoded once per symbol universe and stream
/// epoch: the ticker refreshes them when the published symbols change (a
/// live feed declares its universe with its first `snapshot` line and may
/// change it later), an edge when it hears a new epoch, and the upgrade
/// hands out the current one of the connection's format.
#[derive(Debug, Clone)]
pub(crate) struct Greeting {
    inner: Arc<Mutex<Said>>,
    heartbeat_interval_ms: u64,
    tick_interval_ms: u64,
}

/// What the greeting says now, and its frames in [`Subprotocol::ALL`]
/// order.
#[derive(Debug)]
struct Said {
    symbols: Vec<String>,
    epoch: u64,
    frames: [Bytes; 3],
}

impl Greeting {
    /// The greeting for `symbols` in stream `epoch` (0: not known yet).
    pub(crate) fn new(
        heartbeat_interval_ms: u64,
        tick_interval_ms: u64,
        symbols: Vec<String>,
        epoch: u64,
    ) -> Self {
        let frames = hellos(heartbeat_interval_ms, tick_interval_ms, &symbols, epoch);
        Self {
            inner: Arc::new(Mutex::new(Said {
                symbols,
                epoch,
                frames,
            })),
            heartbeat_interval_ms,
            tick_interval_ms,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Said> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The current `hello` frame for a connection speaking `format`.
    pub(crate) fn frame(&self, format: Subprotocol) -> Bytes {
        let at = Subprotocol::ALL
            .iter()
            .position(|&f| f == format)
            .unwrap_or(0);
        self.lock().frames[at].clone()
    }

    /// Moves the greeting to stream `epoch` (an edge that heard a new
    /// publisher); [`Greeting::frame`] then gives the new frames, for the
    /// clients already connected as for new ones.
    pub(crate) fn set_epoch(&self, epoch: u64) {
        let mut current = self.lock();
        current.epoch = epoch;
        current.frames = hellos(
            self.heartbeat_interval_ms,
            self.tick_interval_ms,
            &current.symbols,
            epoch,
        );
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
        current.frames = hellos(
            self.heartbeat_interval_ms,
            self.tick_interval_ms,
            &symbols,
            current.epoch,
        );
        current.symbols = symbols;
    }
}

fn hellos(
    heartbeat_interval_ms: u64,
    tick_interval_ms: u64,
    symbols: &[String],
    epoch: u64,
) -> [Bytes; 3] {
    Subprotocol::ALL.map(|format| {
        message(&ServerMessage::Hello(Hello {
            protocol_version: PROTOCOL_VERSION,
            heartbeat_interval_ms,
            tick_interval_ms,
            symbols: symbols.to_vec(),
            format: format.name().to_owned(),
            epoch,
        }))
    })
}
