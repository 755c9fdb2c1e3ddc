//! The marketfeed wire contract, shared by the server and the browser client.
//!
//! Every message is a JSON object, internally tagged by `"type"`, with
//! **camelCase** field names (the casing the generated TypeScript types use).
//! Money is integer VND; index points are fixed-point hundredths
//! (`128534` means 1285.34 points), so no floating-point value ever crosses
//! the wire.
//!
//! Messages are named by direction:
//!
//! * [`ServerMessage`] — server → client: `hello`, `snapshot`, `delta`,
//!   `subscribed`, `pong`, `error`.
//! * [`ClientMessage`] — client → server: `ping`, `subscribe`,
//!   `unsubscribe`, `resync`.
//!
//! The connection's format is chosen by `Sec-WebSocket-Protocol`
//! ([`Subprotocol`]): `marketfeed.v1.json` (or none) gets a full snapshot
//! every tick; `marketfeed.v2.json` a keyframe (`snapshot`) and then a
//! `delta` per tick ([`delta`]); `marketfeed.v2.bin` the same keyframes and
//! deltas in binary frames ([`binary`]).
//!
//! # Layout
//!
//! * [`snapshot`] — [`MarketSnapshot`] and the quote, index and foreign-flow
//!   records it carries.
//! * [`message`] — the two direction-named envelopes and the error codes.
//! * [`delta`] — [`Delta`], and the pure functions server and browser
//!   share: [`diff`], [`apply`], [`restrict`].
//! * [`binary`] — the compact binary layout of `marketfeed.v2.bin`
//!   (documented there precisely enough to write a decoder).
//! * [`codec`] — bounded decoding with typed errors ([`ProtocolError`]) and
//!   encoding.
//! * [`close`] — every WebSocket close code marketfeed sends, server's and
//!   client's, with its reason and meaning ([`CloseCode::TABLE`]).
//! * [`ingest`] — the lines an operator's feed process writes to feed a
//!   server (`snapshot`, `quote`, `index`, `foreign`, `phase`).
//! * [`subprotocol`] — the `Sec-WebSocket-Protocol` names of the wire
//!   formats.
//! * [`bus`] — the envelope a publisher puts on the broker for its edges
//!   (magic, version, epoch + the stamped snapshot as a binary keyframe),
//!   and its codec.
//!
//! Every wire word lives here and nowhere else: message `type`s
//! ([`message::kind`]), error codes ([`ErrorCode::as_str`]), close codes and
//! reasons, subprotocol names. The server and the web client use these
//! definitions instead of writing the words again.
//!
//! The golden fixtures in `tests/fixtures/` pin the wire format: changing
//! them is a protocol change and bumps [`PROTOCOL_VERSION`].
//!
//! The crate builds unchanged for native targets and `wasm32-unknown-unknown`.

pub mod binary;
pub mod bus;
pub mod close;
pub mod codec;
pub mod delta;
pub mod ingest;
pub mod message;
pub mod snapshot;
pub mod subprotocol;

pub use binary::{decode as decode_binary, encode as encode_binary, BinaryError};
pub use bus::{decode_tick, encode_tick, BusError, BusTick, BUS_VERSION};
pub use close::{CloseCode, CloseInfo, Sender};
pub use codec::{
    decode_client, decode_server, encode_client, encode_server, ProtocolError,
    MAX_SYMBOLS_PER_REQUEST, MAX_SYMBOL_LEN,
};
pub use delta::{apply, diff, restrict, ApplyError, Delta, QuoteDelta};
pub use ingest::{decode_ingest, encode_ingest, IngestError, IngestMessage};
pub use message::{kind, ClientMessage, ErrorCode, Hello, ServerMessage};
pub use snapshot::{
    Auction, ForeignFlow, IndexQuote, MarketSnapshot, PriceLevel, Quote, TradingPhase,
};
pub use subprotocol::Subprotocol;

/// Version of the wire protocol announced in [`Hello::protocol_version`].
///
/// Bumped on every incompatible change of the JSON shapes.
pub const PROTOCOL_VERSION: u32 = 1;

/// Most best-bid and best-ask levels a [`Quote`] carries (fewer at a band limit).
pub const BOOK_DEPTH: usize = 3;
