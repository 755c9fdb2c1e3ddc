//! Ingest messages: what an operator's feed process writes, one JSON object
//! per line, to feed a marketfeed server (`--feed stdin`).
//!
//! Internally tagged by `"type"`, camelCase fields, like the wire format:
//!
//! | type | carries | effect |
//! |---|---|---|
//! | `snapshot` | `phase`, `quotes`, `indices`, `foreign` (`seq`/`ts` ignored) | replaces the whole state and declares the **symbol universe**: each quote's `reference`, `ceiling` and `floor` fix the day's band |
//! | `quote` | `symbol` + any subset of the quote's fields | updates one stock |
//! | `index` | `code` + any subset of the index's fields | updates one index |
//! | `foreign` | any subset of the foreign-flow fields | updates the foreign flow |
//! | `phase` | `phase` | sets the trading phase |
//!
//! Derived fields (`change`, `netValue`) may be present and are recomputed
//! by the receiver. Unknown fields are refused, so a typo never goes
//! unnoticed. [`decode_ingest`] checks the shape; the meaning (known
//! symbol, price in band, volume that only grows) is checked against the
//! market state by the server's feed.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{Auction, ForeignFlow, IndexQuote, PriceLevel, Quote, TradingPhase};

/// Longest ingest line accepted, in bytes (without the newline).
pub const MAX_INGEST_LINE: usize = 64 * 1024;

/// The ingest `type`s, in the one place they are written.
pub mod kind {
    /// [`super::IngestMessage::Snapshot`].
    pub const SNAPSHOT: &str = "snapshot";
    /// [`super::IngestMessage::Quote`].
    pub const QUOTE: &str = "quote";
    /// [`super::IngestMessage::Index`].
    pub const INDEX: &str = "index";
    /// [`super::IngestMessage::Foreign`].
    pub const FOREIGN: &str = "foreign";
    /// [`super::IngestMessage::Phase`].
    pub const PHASE: &str = "phase";
    /// Every ingest `type`.
    pub const ALL: [&str; 5] = [SNAPSHOT, QUOTE, INDEX, FOREIGN, PHASE];
}

/// One line of an ingest stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum IngestMessage {
    /// The whole market, declaring the symbol universe.
    Snapshot(SnapshotUpdate),
    /// A partial update of one stock.
    Quote(QuoteUpdate),
    /// A partial update of one index.
    Index(IndexUpdate),
    /// A partial update of the foreign flow.
    Foreign(ForeignUpdate),
    /// The trading phase.
    Phase(PhaseUpdate),
}

/// A full snapshot as an ingest line. Each quote must carry `reference`,
/// `ceiling` and `floor`; its other fields default to 0 / empty.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SnapshotUpdate {
    /// Ignored: the server stamps its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    /// Ignored: the server stamps its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ts: Option<u64>,
    /// Trading phase.
    pub phase: TradingPhase,
    /// Every stock of the universe, in the order clients will see.
    pub quotes: Vec<QuoteUpdate>,
    /// Every index.
    #[serde(default)]
    pub indices: Vec<IndexUpdate>,
    /// Foreign flow.
    #[serde(default)]
    pub foreign: ForeignUpdate,
}

/// Any subset of a [`Quote`]'s fields, for one `symbol`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(missing_docs)] // each field is the Quote field of the same name
pub struct QuoteUpdate {
    /// Ticker, e.g. `"FPT"`.
    pub symbol: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ceiling: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub floor: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub high: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub low: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last: Option<u64>,
    /// Recomputed as `last − reference`; accepted so a wire-format quote
    /// can be fed back as is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_volume: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_value: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bids: Option<Vec<PriceLevel>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asks: Option<Vec<PriceLevel>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub foreign_buy: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub foreign_sell: Option<u64>,
    /// The auction projection; cleared when the phase leaves the auction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auction: Option<Auction>,
}

/// Any subset of an [`IndexQuote`]'s fields, for one `code`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(missing_docs)] // each field is the IndexQuote field of the same name
pub struct IndexUpdate {
    /// Index code, e.g. `"VNINDEX"`.
    pub code: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<i64>,
    /// Recomputed as `value − reference`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_volume: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_value: Option<u64>,
}

/// Any subset of the [`ForeignFlow`] fields.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(missing_docs)] // each field is the ForeignFlow field of the same name
pub struct ForeignUpdate {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buy_volume: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sell_volume: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buy_value: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sell_value: Option<u64>,
    /// Recomputed as `buyValue − sellValue`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub net_value: Option<i64>,
}

/// The `phase` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PhaseUpdate {
    /// The new phase.
    pub phase: TradingPhase,
}

/// Why an ingest line was refused by [`decode_ingest`]. The server's feed
/// adds the reasons that need the market state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IngestError {
    /// Longer than [`MAX_INGEST_LINE`].
    #[error("line of {len} bytes exceeds the {max} byte limit")]
    TooLong {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Not valid UTF-8 JSON.
    #[error("not JSON: {0}")]
    NotJson(String),
    /// JSON, but not an object with a string `type`.
    #[error("not an object with a string \"type\"")]
    NotAMessage,
    /// A `type` that is not an ingest type.
    #[error("unknown type {0:?}")]
    UnknownType(String),
    /// A field the message type does not have.
    #[error("{kind}: {detail}")]
    UnknownField {
        /// The message `type`.
        kind: String,
        /// What serde reported (names the field).
        detail: String,
    },
    /// A missing field, or a field of the wrong type (a price that is not
    /// a non-negative integer, a phase that is not a phase…).
    #[error("{kind}: {detail}")]
    WrongType {
        /// The message `type`.
        kind: String,
        /// What serde reported.
        detail: String,
    },
}

impl IngestError {
    /// The `reason` label of `marketfeed_feed_rejected_total`.
    pub const fn label(&self) -> &'static str {
        match self {
            Self::TooLong { .. } => "too_long",
            Self::NotJson(_) | Self::NotAMessage => "not_json",
            Self::UnknownType(_) => "unknown_type",
            Self::UnknownField { .. } => "unknown_field",
            Self::WrongType { .. } => "wrong_type",
        }
    }
}

/// Decodes one ingest line (without its newline).
pub fn decode_ingest(line: &[u8]) -> Result<IngestMessage, IngestError> {
    if line.len() > MAX_INGEST_LINE {
        return Err(IngestError::TooLong {
            len: line.len(),
            max: MAX_INGEST_LINE,
        });
    }
    let value: Value =
        serde_json::from_slice(line).map_err(|e| IngestError::NotJson(e.to_string()))?;
    let kind = value
        .as_object()
        .and_then(|o| o.get("type"))
        .and_then(Value::as_str)
        .ok_or(IngestError::NotAMessage)?
        .to_owned();
    if !kind::ALL.contains(&kind.as_str()) {
        return Err(IngestError::UnknownType(kind));
    }
    serde_json::from_value(value).map_err(|e| {
        let detail = e.to_string();
        // serde's wording for `deny_unknown_fields`; every other data error
        // is a missing or mistyped field.
        if detail.starts_with("unknown field") {
            IngestError::UnknownField { kind, detail }
        } else {
            IngestError::WrongType { kind, detail }
        }
    })
}

/// Encodes an ingest message as one JSON line (without the newline).
pub fn encode_ingest(msg: &IngestMessage) -> Vec<u8> {
    // Strings, integers, lists and string-keyed structs only: cannot fail.
    serde_json::to_vec(msg).unwrap_or_default()
}

impl From<&Quote> for QuoteUpdate {
    fn from(q: &Quote) -> Self {
        Self {
            symbol: q.symbol.clone(),
            reference: Some(q.reference),
            ceiling: Some(q.ceiling),
            floor: Some(q.floor),
            open: Some(q.open),
            high: Some(q.high),
            low: Some(q.low),
            last: Some(q.last),
            change: Some(q.change),
            total_volume: Some(q.total_volume),
            total_value: Some(q.total_value),
            bids: Some(q.bids.clone()),
            asks: Some(q.asks.clone()),
            foreign_buy: Some(q.foreign_buy),
            foreign_sell: Some(q.foreign_sell),
            auction: q.auction,
        }
    }
}

impl From<&IndexQuote> for IndexUpdate {
    fn from(i: &IndexQuote) -> Self {
        Self {
            code: i.code.clone(),
            value: Some(i.value),
            reference: Some(i.reference),
            change: Some(i.change),
            total_volume: Some(i.total_volume),
            total_value: Some(i.total_value),
        }
    }
}

impl From<&ForeignFlow> for ForeignUpdate {
    fn from(f: &ForeignFlow) -> Self {
        Self {
            buy_volume: Some(f.buy_volume),
            sell_volume: Some(f.sell_volume),
            buy_value: Some(f.buy_value),
            sell_value: Some(f.sell_value),
            net_value: Some(f.net_value),
        }
    }
}
