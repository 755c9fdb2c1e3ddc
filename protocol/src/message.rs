//! Direction-named envelopes: what the server says and what a client says.

use serde::{Deserialize, Serialize};

use crate::MarketSnapshot;

/// A message from the server to a client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum ServerMessage {
    /// First message on every connection.
    Hello(Hello),
    /// The full market state of one tick.
    Snapshot(MarketSnapshot),
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
}

/// Machine-readable reason carried by [`ServerMessage::Error`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
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
    /// Restrict snapshots to these symbols (reserved).
    Subscribe {
        /// Tickers to receive.
        symbols: Vec<String>,
    },
    /// Stop receiving these symbols (reserved).
    Unsubscribe {
        /// Tickers to drop.
        symbols: Vec<String>,
    },
}

impl ClientMessage {
    /// The wire `type` of this message.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Ping { .. } => "ping",
            Self::Subscribe { .. } => "subscribe",
            Self::Unsubscribe { .. } => "unsubscribe",
        }
    }
}

impl ServerMessage {
    /// The wire `type` of this message.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Hello(_) => "hello",
            Self::Snapshot(_) => "snapshot",
            Self::Pong { .. } => "pong",
            Self::Error { .. } => "error",
        }
    }
}
