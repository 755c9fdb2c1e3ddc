//! Direction-named envelopes: what the server says and what a client says.

use serde::{Deserialize, Serialize};

use crate::{Delta, MarketSnapshot, Subprotocol};

/// A message from the server to a client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum ServerMessage {
    /// First message on every connection.
    Hello(Hello),
    /// The full market state of one tick. In the v2 formats this is the
    /// keyframe a chain of [`ServerMessage::Delta`]s starts from.
    Snapshot(MarketSnapshot),
    /// v2 formats: what changed between the tick `base` and the tick `seq`
    /// (see [`crate::delta`]).
    Delta(Delta),
    /// Answer to a subscribe or unsubscribe: the whole set the connection
    /// now receives quotes for, in snapshot order.
    Subscribed {
        /// The current set.
        symbols: Vec<String>,
    },
    /// Answer to a client [`ClientMessage::Ping`], echoing its id.
    Pong {
        /// The id the client sent.
        id: u64,
    },
    /// The server could not act on a client message.
    Error {
        /// Machine-readable reason.
        code: ErrorCode,
        /// Human-readable detail.
        message: String,
    },
}

/// Greeting sent once, right after the WebSocket upgrade.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct Hello {
    /// [`crate::PROTOCOL_VERSION`] of the server.
    pub protocol_version: u32,
    /// Interval between the server's WebSocket pings, milliseconds
    /// (0 when the server sends none). A client that hears nothing for
    /// longer than this plus a grace period should consider the link dead.
    pub heartbeat_interval_ms: u64,
    /// Interval between snapshots, milliseconds.
    pub tick_interval_ms: u64,
    /// The symbols every snapshot quotes, in snapshot order.
    pub symbols: Vec<String>,
    /// The `Sec-WebSocket-Protocol` name of the format this connection
    /// speaks ([`Subprotocol::name`]); `marketfeed.v1.json` when the client
    /// offered none. Reads as that when absent (servers before v2).
    #[serde(default = "v1_format")]
    pub format: String,
    /// The stream this connection's `seq` numbers belong to: unix
    /// microseconds of the sequencer's start (a single node's own start,
    /// or the publisher's behind a set of edges). Two servers announcing
    /// the same epoch number the same ticks alike, so a client moving
    /// between them keeps its `seq`; a new epoch is a new stream (`seq`
    /// may start over). A server may send `hello` again on an open
    /// connection when the epoch changes. 0 (absent on the wire) means
    /// unknown: an older server, or an edge before its first tick.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub epoch: u64,
}

fn v1_format() -> String {
    Subprotocol::DEFAULT.name().to_owned()
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Machine-readable reason carried by [`ServerMessage::Error`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub enum ErrorCode {
    /// The frame was not valid JSON, or not a JSON object with a `type`.
    MalformedMessage,
    /// The `type` is not one this server knows.
    UnknownMessageType,
    /// The message has a known `type` but missing, mistyped or oversize fields.
    InvalidMessage,
    /// The request is understood but not offered by this server.
    Unsupported,
    /// A binary frame was sent; the protocol is JSON text.
    UnsupportedData,
    /// A subscribe or unsubscribe named symbols the server does not quote
    /// (the message lists them); the subscription is unchanged.
    UnknownSymbol,
    /// A subscribe would take the connection over the server's
    /// `--max-symbols-per-client`; the subscription is unchanged.
    TooManySymbols,
    /// A code this build does not know (sent by a newer server).
    #[serde(other)]
    Unknown,
}

/// A message from a client to the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum ClientMessage {
    /// Application-level keep-alive (browsers cannot send ping frames);
    /// answered by [`ServerMessage::Pong`] with the same id.
    Ping {
        /// Opaque id echoed back.
        id: u64,
    },
    /// Add these symbols to the connection's set. A connection starts
    /// with every symbol; its first subscribe restricts it to the symbols
    /// named. Answered by [`ServerMessage::Subscribed`].
    Subscribe {
        /// Tickers to receive.
        symbols: Vec<String>,
    },
    /// Remove these symbols from the connection's set. Answered by
    /// [`ServerMessage::Subscribed`].
    Unsubscribe {
        /// Tickers to drop.
        symbols: Vec<String>,
    },
    /// v2 formats: the client's state no longer matches the deltas (a
    /// `base` it does not hold); the server's next market message to it is
    /// a keyframe ([`ServerMessage::Snapshot`]).
    Resync,
}

/// The wire `type` of every message: the one place in Rust where these
/// words are written (serde's `rename_all` derives the same spelling, and
/// the round-trip tests check the two agree).
pub mod kind {
    /// [`super::ServerMessage::Hello`].
    pub const HELLO: &str = "hello";
    /// [`super::ServerMessage::Snapshot`].
    pub const SNAPSHOT: &str = "snapshot";
    /// [`super::ServerMessage::Delta`].
    pub const DELTA: &str = "delta";
    /// [`super::ServerMessage::Subscribed`].
    pub const SUBSCRIBED: &str = "subscribed";
    /// [`super::ServerMessage::Pong`].
    pub const PONG: &str = "pong";
    /// [`super::ServerMessage::Error`].
    pub const ERROR: &str = "error";
    /// [`super::ClientMessage::Ping`].
    pub const PING: &str = "ping";
    /// [`super::ClientMessage::Subscribe`].
    pub const SUBSCRIBE: &str = "subscribe";
    /// [`super::ClientMessage::Unsubscribe`].
    pub const UNSUBSCRIBE: &str = "unsubscribe";
    /// [`super::ClientMessage::Resync`].
    pub const RESYNC: &str = "resync";

    /// Every server → client `type`.
    pub const SERVER: [&str; 6] = [HELLO, SNAPSHOT, DELTA, SUBSCRIBED, PONG, ERROR];
    /// Every client → server `type`.
    pub const CLIENT: [&str; 4] = [PING, SUBSCRIBE, UNSUBSCRIBE, RESYNC];
}

impl ClientMessage {
    /// The wire `type` of this message.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Ping { .. } => kind::PING,
            Self::Subscribe { .. } => kind::SUBSCRIBE,
            Self::Unsubscribe { .. } => kind::UNSUBSCRIBE,
            Self::Resync => kind::RESYNC,
        }
    }
}

impl ServerMessage {
    /// The wire `type` of this message.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Hello(_) => kind::HELLO,
            Self::Snapshot(_) => kind::SNAPSHOT,
            Self::Delta(_) => kind::DELTA,
            Self::Subscribed { .. } => kind::SUBSCRIBED,
            Self::Pong { .. } => kind::PONG,
            Self::Error { .. } => kind::ERROR,
        }
    }
}

impl ErrorCode {
    /// Every code this build sends.
    pub const ALL: [Self; 7] = [
        Self::MalformedMessage,
        Self::UnknownMessageType,
        Self::InvalidMessage,
        Self::Unsupported,
        Self::UnsupportedData,
        Self::UnknownSymbol,
        Self::TooManySymbols,
    ];

    /// The wire spelling (what serde writes).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::MalformedMessage => "malformedMessage",
            Self::UnknownMessageType => "unknownMessageType",
            Self::InvalidMessage => "invalidMessage",
            Self::Unsupported => "unsupported",
            Self::UnsupportedData => "unsupportedData",
            Self::UnknownSymbol => "unknownSymbol",
            Self::TooManySymbols => "tooManySymbols",
            Self::Unknown => "unknown",
        }
    }
}
