//! Encoding and bounded, typed decoding of messages.
//!
//! Decoding never panics: every way a peer can get a message wrong maps to
//! one [`ProtocolError`] variant, and [`ProtocolError::code`] tells which
//! [`ErrorCode`] to answer with.

use serde_json::Value;

use crate::message::kind;
use crate::{ClientMessage, ErrorCode, ServerMessage};

/// Longest ticker a client may name, in bytes.
pub const MAX_SYMBOL_LEN: usize = 16;
/// Most symbols one subscribe/unsubscribe may carry.
pub const MAX_SYMBOLS_PER_REQUEST: usize = 64;

/// Why a message could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    /// Not valid UTF-8 JSON.
    #[error("malformed JSON: {0}")]
    Syntax(String),
    /// Valid JSON, but not an object with a string `type`.
    #[error("message must be a JSON object with a string \"type\"")]
    NotAMessage,
    /// The `type` is not one this protocol version knows.
    #[error("unknown message type {0:?}")]
    UnknownType(String),
    /// A known `type` whose fields are missing or of the wrong type.
    #[error("invalid {kind} message: {detail}")]
    Invalid {
        /// The message `type`.
        kind: String,
        /// What serde reported.
        detail: String,
    },
    /// A string field longer than the protocol allows.
    #[error("{field} is {len} bytes long, the limit is {max}")]
    FieldTooLong {
        /// Which field.
        field: &'static str,
        /// Its length in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A list field with more entries than the protocol allows.
    #[error("{field} has {len} entries, the limit is {max}")]
    TooMany {
        /// Which field.
        field: &'static str,
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
}

impl ProtocolError {
    /// The [`ErrorCode`] a server answers this error with.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Syntax(_) | Self::NotAMessage => ErrorCode::MalformedMessage,
            Self::UnknownType(_) => ErrorCode::UnknownMessageType,
            Self::Invalid { .. } | Self::FieldTooLong { .. } | Self::TooMany { .. } => {
                ErrorCode::InvalidMessage
            }
        }
    }
}

/// Parses JSON and checks it is an object whose `type` is in `known`.
fn parse_envelope(bytes: &[u8], known: &[&str]) -> Result<(Value, String), ProtocolError> {
    let value: Value =
        serde_json::from_slice(bytes).map_err(|e| ProtocolError::Syntax(e.to_string()))?;
    let kind = value
        .as_object()
        .and_then(|o| o.get("type"))
        .and_then(Value::as_str)
        .ok_or(ProtocolError::NotAMessage)?
        .to_owned();
    if !known.contains(&kind.as_str()) {
        return Err(ProtocolError::UnknownType(kind));
    }
    Ok((value, kind))
}

/// Decodes and validates one client → server message.
pub fn decode_client(bytes: &[u8]) -> Result<ClientMessage, ProtocolError> {
    let (value, kind) = parse_envelope(bytes, &kind::CLIENT)?;
    let msg: ClientMessage = serde_json::from_value(value).map_err(|e| ProtocolError::Invalid {
        kind,
        detail: e.to_string(),
    })?;
    if let ClientMessage::Subscribe { symbols } | ClientMessage::Unsubscribe { symbols } = &msg {
        check_symbols(symbols)?;
    }
    Ok(msg)
}

fn check_symbols(symbols: &[String]) -> Result<(), ProtocolError> {
    if symbols.len() > MAX_SYMBOLS_PER_REQUEST {
        return Err(ProtocolError::TooMany {
            field: "symbols",
            len: symbols.len(),
            max: MAX_SYMBOLS_PER_REQUEST,
        });
    }
    match symbols.iter().find(|s| s.len() > MAX_SYMBOL_LEN) {
        Some(s) => Err(ProtocolError::FieldTooLong {
            field: "symbol",
            len: s.len(),
            max: MAX_SYMBOL_LEN,
        }),
        None => Ok(()),
    }
}

/// Decodes one server → client message.
pub fn decode_server(bytes: &[u8]) -> Result<ServerMessage, ProtocolError> {
    let (value, kind) = parse_envelope(bytes, &kind::SERVER)?;
    serde_json::from_value(value).map_err(|e| ProtocolError::Invalid {
        kind,
        detail: e.to_string(),
    })
}

/// Encodes a server → client message as JSON text.
pub fn encode_server(msg: &ServerMessage) -> Vec<u8> {
    // The message types hold only strings, integers, lists and structs with
    // string keys, for which serde_json's serializer cannot fail.
    serde_json::to_vec(msg).unwrap_or_default()
}

/// Encodes a client → server message as JSON text.
pub fn encode_client(msg: &ClientMessage) -> Vec<u8> {
    serde_json::to_vec(msg).unwrap_or_default()
}
