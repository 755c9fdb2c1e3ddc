//! The market state broadcast every tick.

use serde::{Deserialize, Serialize};

/// One tick of market data: every VN30 quote, the indices and the
/// foreign-investor flow.
///
/// `seq` and `ts` are stamped by the server's ticker: `seq` grows by one per
/// tick and is never reused within one server run, `ts` is the server time
/// in unix **microseconds** when the tick was produced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct MarketSnapshot {
    /// Tick sequence number, +1 per tick.
    pub seq: u64,
    /// Server time of the tick, unix microseconds.
    pub ts: u64,
    /// Trading phase of the exchange at `ts`.
    pub phase: TradingPhase,
    /// One quote per VN30 constituent, in the order announced by `hello`.
    pub quotes: Vec<Quote>,
    /// Market indices (VNINDEX, VN30, HNX-INDEX, UPCOM-INDEX).
    pub indices: Vec<IndexQuote>,
    /// Aggregate foreign-investor flow over the VN30 basket.
    pub foreign: ForeignFlow,
    /// `true` when the server's live feed has gone silent for longer than
    /// its `--feed-stale-after` during a trading phase, or its input has
    /// ended while the phase says the market trades: the prices shown are
    /// the last known, not live. Absent on the wire while the feed is fresh
    /// (so v1 clients and fixtures are unchanged); an absent field reads as
    /// `false`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub stale: bool,
}

/// Phase of the HOSE trading day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub enum TradingPhase {
    /// Before the opening auction.
    PreOpen,
    /// Opening call auction (ATO).
    OpeningAuction,
    /// Continuous matching.
    Continuous,
    /// Midday break.
    LunchBreak,
    /// Closing call auction (ATC).
    ClosingAuction,
    /// Put-through (negotiated deals) only.
    PutThrough,
    /// Market closed.
    Closed,
}

/// Quote of one stock. All prices are integer VND.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct Quote {
    /// Ticker, e.g. `"FPT"`.
    pub symbol: String,
    /// Reference price (previous close).
    pub reference: u64,
    /// Ceiling price (reference + 7 % on HOSE, rounded down to a tick).
    pub ceiling: u64,
    /// Floor price (reference − 7 % on HOSE, rounded up to a tick).
    pub floor: u64,
    /// Opening price (0 before the first match).
    pub open: u64,
    /// Session high (0 before the first match).
    pub high: u64,
    /// Session low (0 before the first match).
    pub low: u64,
    /// Last matched price.
    pub last: u64,
    /// `last − reference`.
    pub change: i64,
    /// Matched volume of the session, in shares.
    pub total_volume: u64,
    /// Matched value of the session, in VND.
    pub total_value: u64,
    /// Best bids, best first: up to [`crate::BOOK_DEPTH`] levels, fewer
    /// when the band limit leaves no room (a stock locked at its floor has
    /// no bids below it).
    pub bids: Vec<PriceLevel>,
    /// Best asks, best first: up to [`crate::BOOK_DEPTH`] levels, fewer
    /// at the ceiling.
    pub asks: Vec<PriceLevel>,
    /// Shares bought by foreign investors this session.
    pub foreign_buy: u64,
    /// Shares sold by foreign investors this session.
    pub foreign_sell: u64,
    /// During the opening (ATO) or closing (ATC) auction: what the auction
    /// would match if it ended now. Absent outside the auctions, so a
    /// continuous-trading snapshot has the same shape as before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub auction: Option<Auction>,
}

/// The projected result of a call auction ("giá dự kiến khớp").
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Auction {
    /// Projected matching price, VND.
    pub price: u64,
    /// Volume that would match at that price, shares.
    pub volume: u64,
}

/// One level of the order book.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct PriceLevel {
    /// Price in VND.
    pub price: u64,
    /// Resting volume in shares.
    pub volume: u64,
}

/// A market index. Points are fixed-point hundredths (`128534` = 1285.34).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct IndexQuote {
    /// Index code, e.g. `"VNINDEX"`.
    pub code: String,
    /// Current value, hundredths of a point.
    pub value: i64,
    /// Previous close, hundredths of a point.
    pub reference: i64,
    /// `value − reference`, hundredths of a point.
    pub change: i64,
    /// Matched volume of the session, in shares.
    pub total_volume: u64,
    /// Matched value of the session, in VND.
    pub total_value: u64,
}

/// Foreign-investor flow of the session, summed over the VN30 basket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct ForeignFlow {
    /// Shares bought by foreign investors.
    pub buy_volume: u64,
    /// Shares sold by foreign investors.
    pub sell_volume: u64,
    /// Value bought, VND.
    pub buy_value: u64,
    /// Value sold, VND.
    pub sell_value: u64,
    /// `buy_value − sell_value`, VND.
    pub net_value: i64,
}
