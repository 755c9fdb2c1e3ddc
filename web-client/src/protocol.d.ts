// Generated from marketfeed-protocol's Rust types by web-client/tests/typescript.rs: do not edit.

export type TradingPhase = "preOpen" | "openingAuction" | "continuous" | "lunchBreak" | "closingAuction" | "putThrough" | "closed";

export type PriceLevel = { 
/**
 * Price in VND.
 */
price: number, 
/**
 * Resting volume in shares.
 */
volume: number, };

export type Auction = { 
/**
 * Projected matching price, VND.
 */
price: number, 
/**
 * Volume that would match at that price, shares.
 */
volume: number, };

export type Quote = { 
/**
 * Ticker, e.g. `"FPT"`.
 */
symbol: string, 
/**
 * Reference price (previous close).
 */
reference: number, 
/**
 * Ceiling price (reference + 7 % on HOSE, rounded down to a tick).
 */
ceiling: number, 
/**
 * Floor price (reference − 7 % on HOSE, rounded up to a tick).
 */
floor: number, 
/**
 * Opening price (0 before the first match).
 */
open: number, 
/**
 * Session high (0 before the first match).
 */
high: number, 
/**
 * Session low (0 before the first match).
 */
low: number, 
/**
 * Last matched price.
 */
last: number, 
/**
 * `last − reference`.
 */
change: number, 
/**
 * Matched volume of the session, in shares.
 */
totalVolume: number, 
/**
 * Matched value of the session, in VND.
 */
totalValue: number, 
/**
 * Best bids, best first: up to [`crate::BOOK_DEPTH`] levels, fewer
 * when the band limit leaves no room (a stock locked at its floor has
 * no bids below it).
 */
bids: Array<PriceLevel>, 
/**
 * Best asks, best first: up to [`crate::BOOK_DEPTH`] levels, fewer
 * at the ceiling.
 */
asks: Array<PriceLevel>, 
/**
 * Shares bought by foreign investors this session.
 */
foreignBuy: number, 
/**
 * Shares sold by foreign investors this session.
 */
foreignSell: number, 
/**
 * During the opening (ATO) or closing (ATC) auction: what the auction
 * would match if it ended now. Absent outside the auctions, so a
 * continuous-trading snapshot has the same shape as before.
 */
auction?: Auction, };

export type IndexQuote = { 
/**
 * Index code, e.g. `"VNINDEX"`.
 */
code: string, 
/**
 * Current value, hundredths of a point.
 */
value: number, 
/**
 * Previous close, hundredths of a point.
 */
reference: number, 
/**
 * `value − reference`, hundredths of a point.
 */
change: number, 
/**
 * Matched volume of the session, in shares.
 */
totalVolume: number, 
/**
 * Matched value of the session, in VND.
 */
totalValue: number, };

export type ForeignFlow = { 
/**
 * Shares bought by foreign investors.
 */
buyVolume: number, 
/**
 * Shares sold by foreign investors.
 */
sellVolume: number, 
/**
 * Value bought, VND.
 */
buyValue: number, 
/**
 * Value sold, VND.
 */
sellValue: number, 
/**
 * `buy_value − sell_value`, VND.
 */
netValue: number, };

export type MarketSnapshot = { type: "snapshot" } & { 
/**
 * Tick sequence number, +1 per tick.
 */
seq: number, 
/**
 * Server time of the tick, unix microseconds.
 */
ts: number, 
/**
 * Trading phase of the exchange at `ts`.
 */
phase: TradingPhase, 
/**
 * One quote per VN30 constituent, in the order announced by `hello`.
 */
quotes: Array<Quote>, 
/**
 * Market indices (VNINDEX, VN30, HNX-INDEX, UPCOM-INDEX).
 */
indices: Array<IndexQuote>, 
/**
 * Aggregate foreign-investor flow over the VN30 basket.
 */
foreign: ForeignFlow, 
/**
 * `true` when the server's live feed has gone silent for longer than
 * its `--feed-stale-after` during a trading phase, or its input has
 * ended while the phase says the market trades: the prices shown are
 * the last known, not live. Absent on the wire while the feed is fresh
 * (so v1 clients and fixtures are unchanged); an absent field reads as
 * `false`.
 */
stale?: boolean, };

export type QuoteDelta = { 
/**
 * Ticker of the quote that changed.
 */
symbol: string, 
/**
 * New [`Quote::reference`].
 */
reference?: number, 
/**
 * New [`Quote::ceiling`].
 */
ceiling?: number, 
/**
 * New [`Quote::floor`].
 */
floor?: number, 
/**
 * New [`Quote::open`].
 */
open?: number, 
/**
 * New [`Quote::high`].
 */
high?: number, 
/**
 * New [`Quote::low`].
 */
low?: number, 
/**
 * New [`Quote::last`].
 */
last?: number, 
/**
 * New [`Quote::change`].
 */
change?: number, 
/**
 * New [`Quote::total_volume`].
 */
totalVolume?: number, 
/**
 * New [`Quote::total_value`].
 */
totalValue?: number, 
/**
 * The whole new bid side, when any level of it changed.
 */
bids?: Array<PriceLevel>, 
/**
 * The whole new ask side, when any level of it changed.
 */
asks?: Array<PriceLevel>, 
/**
 * New [`Quote::foreign_buy`].
 */
foreignBuy?: number, 
/**
 * New [`Quote::foreign_sell`].
 */
foreignSell?: number, 
/**
 * The auction projection, when it changed: an object when there is
 * one now, `null` when it ended.
 */
auction?: Auction | null, };

export type Delta = { type: "delta" } & { 
/**
 * The tick this delta leads to.
 */
seq: number, 
/**
 * Server time of tick `seq`, unix microseconds.
 */
ts: number, 
/**
 * The `seq` of the snapshot this delta applies to.
 */
base: number, 
/**
 * The new trading phase, when it changed.
 */
phase?: TradingPhase, 
/**
 * The quotes that changed, in snapshot order.
 */
quotes: Array<QuoteDelta>, 
/**
 * The indices that changed, whole, in snapshot order.
 */
indices: Array<IndexQuote>, 
/**
 * The new foreign flow, when it changed.
 */
foreign?: ForeignFlow, 
/**
 * The new stale flag, when it changed.
 */
stale?: boolean, };

export type Subscribed = { type: "subscribed"; symbols: Array<string> };

export type Hello = { type: "hello" } & { 
/**
 * [`crate::PROTOCOL_VERSION`] of the server.
 */
protocolVersion: number, 
/**
 * Interval between the server's WebSocket pings, milliseconds
 * (0 when the server sends none). A client that hears nothing for
 * longer than this plus a grace period should consider the link dead.
 */
heartbeatIntervalMs: number, 
/**
 * Interval between snapshots, milliseconds.
 */
tickIntervalMs: number, 
/**
 * The symbols every snapshot quotes, in snapshot order.
 */
symbols: Array<string>, 
/**
 * The `Sec-WebSocket-Protocol` name of the format this connection
 * speaks ([`Subprotocol::name`]); `marketfeed.v1.json` when the client
 * offered none. Reads as that when absent (servers before v2).
 */
format: string, 
/**
 * The stream this connection's `seq` numbers belong to: unix
 * microseconds of the sequencer's start (a single node's own start,
 * or the publisher's behind a set of edges). Two servers announcing
 * the same epoch number the same ticks alike, so a client moving
 * between them keeps its `seq`; a new epoch is a new stream (`seq`
 * may start over). A server may send `hello` again on an open
 * connection when the epoch changes. 0 (absent on the wire) means
 * unknown: an older server, or an edge before its first tick.
 */
epoch?: number, };

export type ErrorCode = "malformedMessage" | "unknownMessageType" | "invalidMessage" | "unsupported" | "unsupportedData" | "unknownSymbol" | "tooManySymbols" | "unknown";

export type ServerError = { type: "error"; code: ErrorCode; message: string };

