//! The market as an ingest stream describes it: the state that `snapshot`,
//! `quote`, `index`, `foreign` and `phase` lines build up, and the checks
//! that keep a bad line from ever reaching a client.
//!
//! A `snapshot` line declares the symbol universe and each symbol's band
//! for the day (`reference`, `ceiling`, `floor`); partial updates then apply
//! to it. A line is applied whole or not at all: every check runs before
//! anything changes, so a refused line leaves the state as it was.
//! Derived fields (`change`, `netValue`) are recomputed here.

use std::collections::HashMap;

use marketfeed_protocol::ingest::{ForeignUpdate, IndexUpdate, QuoteUpdate, SnapshotUpdate};
use marketfeed_protocol::{
    ForeignFlow, IndexQuote, IngestMessage, MarketSnapshot, Quote, TradingPhase,
};

/// Why a well-formed ingest line was refused by the market state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejected {
    /// A partial update before any `snapshot` declared the universe.
    #[error("no snapshot has declared the symbol universe yet")]
    NoUniverse,
    /// A `snapshot` whose universe is unusable (a quote without its band,
    /// a band with floor above ceiling, a symbol or index twice).
    #[error("bad universe: {0}")]
    BadUniverse(String),
    /// A `quote` for a symbol the universe does not hold.
    #[error("unknown symbol {0:?}")]
    UnknownSymbol(String),
    /// An `index` for a code the universe does not hold.
    #[error("unknown index {0:?}")]
    UnknownIndex(String),
    /// A price of 0.
    #[error("{symbol}: {field} must be a positive integer")]
    BadPrice {
        /// The stock.
        symbol: String,
        /// Which price.
        field: &'static str,
    },
    /// A price outside the day's floor–ceiling band.
    #[error("{symbol}: {field} {price} is outside the band {floor}–{ceiling}")]
    OutOfBand {
        /// The stock.
        symbol: String,
        /// Which price.
        field: &'static str,
        /// The price given.
        price: u64,
        /// The day's floor.
        floor: u64,
        /// The day's ceiling.
        ceiling: u64,
    },
    /// A session total (volume or value) smaller than before.
    #[error("{name}: {field} went down from {was} to {now}")]
    TotalDecreased {
        /// The stock or index.
        name: String,
        /// Which total.
        field: &'static str,
        /// The previous value.
        was: u64,
        /// The value given.
        now: u64,
    },
}

impl Rejected {
    /// The `reason` label of `marketfeed_feed_rejected_total`.
    pub const fn label(&self) -> &'static str {
        match self {
            Self::NoUniverse => "no_universe",
            Self::BadUniverse(_) => "bad_universe",
            Self::UnknownSymbol(_) | Self::UnknownIndex(_) => "unknown_symbol",
            Self::BadPrice { .. } => "bad_price",
            Self::OutOfBand { .. } => "out_of_band",
            Self::TotalDecreased { .. } => "volume_decreased",
        }
    }
}

/// The current market, built from ingest lines.
#[derive(Debug, Clone, Default)]
pub struct MarketState {
    phase: Option<TradingPhase>,
    quotes: Vec<Quote>,
    by_symbol: HashMap<String, usize>,
    indices: Vec<IndexQuote>,
    by_code: HashMap<String, usize>,
    foreign: ForeignFlow,
}

impl MarketState {
    /// An empty market: no universe until a `snapshot` line arrives.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether a `snapshot` has declared the universe.
    pub fn has_universe(&self) -> bool {
        self.phase.is_some()
    }

    /// The symbols of the universe, in snapshot order.
    pub fn symbols(&self) -> Vec<String> {
        self.quotes.iter().map(|q| q.symbol.clone()).collect()
    }

    /// The state as a snapshot (`seq` and `ts` 0: the ticker stamps them).
    pub fn snapshot(&self) -> MarketSnapshot {
        MarketSnapshot {
            seq: 0,
            ts: 0,
            phase: self.phase.unwrap_or(TradingPhase::Closed),
            quotes: self.quotes.clone(),
            indices: self.indices.clone(),
            foreign: self.foreign,
            stale: false,
        }
    }

    /// Applies one line, whole or not at all.
    pub fn apply(&mut self, msg: &IngestMessage) -> Result<(), Rejected> {
        match msg {
            IngestMessage::Snapshot(s) => self.replace(s),
            IngestMessage::Quote(u) => {
                let i = self.stock(&u.symbol)?;
                let next = updated_quote(&self.quotes[i], u)?;
                self.quotes[i] = next;
                Ok(())
            }
            IngestMessage::Index(u) => {
                self.universe()?;
                let i = *self
                    .by_code
                    .get(&u.code)
                    .ok_or_else(|| Rejected::UnknownIndex(u.code.clone()))?;
                let next = updated_index(&self.indices[i], u)?;
                self.indices[i] = next;
                Ok(())
            }
            IngestMessage::Foreign(u) => {
                self.universe()?;
                self.foreign = updated_foreign(&self.foreign, u);
                Ok(())
            }
            IngestMessage::Phase(p) => {
                self.universe()?;
                self.phase = Some(p.phase);
                if !is_auction(p.phase) {
                    // The auction ended: its projection is history.
                    self.quotes.iter_mut().for_each(|q| q.auction = None);
                }
                Ok(())
            }
        }
    }

    fn universe(&self) -> Result<(), Rejected> {
        if self.has_universe() {
            Ok(())
        } else {
            Err(Rejected::NoUniverse)
        }
    }

    fn stock(&self, symbol: &str) -> Result<usize, Rejected> {
        self.universe()?;
        self.by_symbol
            .get(symbol)
            .copied()
            .ok_or_else(|| Rejected::UnknownSymbol(symbol.to_owned()))
    }

    /// A `snapshot` line: a new universe, checked in full first.
    fn replace(&mut self, s: &SnapshotUpdate) -> Result<(), Rejected> {
        let mut quotes = Vec::with_capacity(s.quotes.len());
        let mut by_symbol = HashMap::with_capacity(s.quotes.len());
        for u in &s.quotes {
            let base = declared_quote(u)?;
            let quote = updated_quote(&base, u)?;
            if by_symbol.insert(u.symbol.clone(), quotes.len()).is_some() {
                return Err(Rejected::BadUniverse(format!("symbol {} twice", u.symbol)));
            }
            quotes.push(quote);
        }
        let mut indices = Vec::with_capacity(s.indices.len());
        let mut by_code = HashMap::with_capacity(s.indices.len());
        for u in &s.indices {
            let index = updated_index(&empty_index(&u.code), u)?;
            if by_code.insert(u.code.clone(), indices.len()).is_some() {
                return Err(Rejected::BadUniverse(format!("index {} twice", u.code)));
            }
            indices.push(index);
        }
        *self = Self {
            phase: Some(s.phase),
            quotes,
            by_symbol,
            indices,
            by_code,
            foreign: updated_foreign(&ForeignFlow::default(), &s.foreign),
        };
        Ok(())
    }
}

/// Whether `phase` is a call auction (ATO or ATC).
pub fn is_auction(phase: TradingPhase) -> bool {
    matches!(
        phase,
        TradingPhase::OpeningAuction | TradingPhase::ClosingAuction
    )
}

/// Whether prices are expected to move in `phase` (ATO, continuous, ATC):
/// when a live feed falls silent then, it is stale.
pub fn is_trading(phase: TradingPhase) -> bool {
    is_auction(phase) || phase == TradingPhase::Continuous
}

/// A stock as a `snapshot` line declares it: its band, nothing traded.
fn declared_quote(u: &QuoteUpdate) -> Result<Quote, Rejected> {
    let bad = |what: &str| Rejected::BadUniverse(format!("{}: {what}", u.symbol));
    let (Some(reference), Some(ceiling), Some(floor)) = (u.reference, u.ceiling, u.floor) else {
        return Err(bad("a snapshot quote needs reference, ceiling and floor"));
    };
    if u.symbol.is_empty() {
        return Err(Rejected::BadUniverse("empty symbol".into()));
    }
    if reference == 0 || floor == 0 || floor > reference || reference > ceiling {
        return Err(bad("the band must satisfy 0 < floor ≤ reference ≤ ceiling"));
    }
    Ok(Quote {
        symbol: u.symbol.clone(),
        reference,
        ceiling,
        floor,
        open: 0,
        high: 0,
        low: 0,
        last: 0,
        change: 0,
        total_volume: 0,
        total_value: 0,
        bids: Vec::new(),
        asks: Vec::new(),
        foreign_buy: 0,
        foreign_sell: 0,
        auction: None,
    })
}

fn empty_index(code: &str) -> IndexQuote {
    IndexQuote {
        code: code.to_owned(),
        value: 0,
        reference: 0,
        change: 0,
        total_volume: 0,
        total_value: 0,
    }
}

/// `q` with the fields of `u` applied; the band (reference, ceiling,
/// floor) is the day's and only a `snapshot` sets it.
fn updated_quote(q: &Quote, u: &QuoteUpdate) -> Result<Quote, Rejected> {
    let mut next = q.clone();
    let in_band = |field: &'static str, price: Option<u64>| -> Result<Option<u64>, Rejected> {
        let Some(price) = price else { return Ok(None) };
        if price == 0 {
            return Err(Rejected::BadPrice {
                symbol: q.symbol.clone(),
                field,
            });
        }
        if price < q.floor || price > q.ceiling {
            return Err(Rejected::OutOfBand {
                symbol: q.symbol.clone(),
                field,
                price,
                floor: q.floor,
                ceiling: q.ceiling,
            });
        }
        Ok(Some(price))
    };
    // In a snapshot line the band is the declaration itself; in a `quote`
    // line it must repeat the day's band if present.
    for (field, given, day) in [
        ("reference", u.reference, q.reference),
        ("ceiling", u.ceiling, q.ceiling),
        ("floor", u.floor, q.floor),
    ] {
        if given.is_some_and(|p| p != day) {
            return Err(Rejected::BadUniverse(format!(
                "{}: {field} is the day's and only a snapshot line sets it",
                q.symbol
            )));
        }
    }
    if let Some(p) = in_band("open", u.open)? {
        next.open = p;
    }
    if let Some(p) = in_band("high", u.high)? {
        next.high = p;
    }
    if let Some(p) = in_band("low", u.low)? {
        next.low = p;
    }
    if let Some(p) = in_band("last", u.last)? {
        next.last = p;
    }
    for (side, levels) in [("bids", &u.bids), ("asks", &u.asks)] {
        for level in levels.iter().flatten() {
            in_band(side, Some(level.price))?;
        }
    }
    next.total_volume = grown(&q.symbol, "totalVolume", q.total_volume, u.total_volume)?;
    next.total_value = grown(&q.symbol, "totalValue", q.total_value, u.total_value)?;
    next.foreign_buy = grown(&q.symbol, "foreignBuy", q.foreign_buy, u.foreign_buy)?;
    next.foreign_sell = grown(&q.symbol, "foreignSell", q.foreign_sell, u.foreign_sell)?;
    if let Some(auction) = u.auction {
        in_band("auction", Some(auction.price))?;
        next.auction = Some(auction);
    }
    if let Some(bids) = &u.bids {
        next.bids = bids.clone();
    }
    if let Some(asks) = &u.asks {
        next.asks = asks.clone();
    }
    if next.last > 0 && next.open == 0 {
        // The first match opens the session.
        next.open = next.last;
    }
    if next.last > 0 {
        next.high = next.high.max(next.last);
        next.low = if next.low == 0 {
            next.last
        } else {
            next.low.min(next.last)
        };
    }
    next.change = signed_diff(next.last, next.reference, next.last > 0);
    Ok(next)
}

fn updated_index(i: &IndexQuote, u: &IndexUpdate) -> Result<IndexQuote, Rejected> {
    let mut next = i.clone();
    next.value = u.value.unwrap_or(i.value);
    next.reference = u.reference.unwrap_or(i.reference);
    next.total_volume = grown(&i.code, "totalVolume", i.total_volume, u.total_volume)?;
    next.total_value = grown(&i.code, "totalValue", i.total_value, u.total_value)?;
    next.change = next.value - next.reference;
    Ok(next)
}

fn updated_foreign(f: &ForeignFlow, u: &ForeignUpdate) -> ForeignFlow {
    let mut next = ForeignFlow {
        buy_volume: u.buy_volume.unwrap_or(f.buy_volume),
        sell_volume: u.sell_volume.unwrap_or(f.sell_volume),
        buy_value: u.buy_value.unwrap_or(f.buy_value),
        sell_value: u.sell_value.unwrap_or(f.sell_value),
        net_value: 0,
    };
    next.net_value = i64::try_from(next.buy_value).unwrap_or(i64::MAX)
        - i64::try_from(next.sell_value).unwrap_or(i64::MAX);
    next
}

/// A session total that may only grow.
fn grown(name: &str, field: &'static str, was: u64, now: Option<u64>) -> Result<u64, Rejected> {
    match now {
        Some(now) if now < was => Err(Rejected::TotalDecreased {
            name: name.to_owned(),
            field,
            was,
            now,
        }),
        Some(now) => Ok(now),
        None => Ok(was),
    }
}

/// `a − b` as a signed value, 0 when `traded` is false.
fn signed_diff(a: u64, b: u64, traded: bool) -> i64 {
    if !traded {
        return 0;
    }
    let a = i64::try_from(a).unwrap_or(i64::MAX);
    let b = i64::try_from(b).unwrap_or(i64::MAX);
    a - b
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use marketfeed_protocol::decode_ingest;

    use super::*;

    fn line(s: &str) -> IngestMessage {
        decode_ingest(s.as_bytes()).unwrap()
    }

    fn market() -> MarketState {
        let mut m = MarketState::new();
        m.apply(&line(
            r#"{"type":"snapshot","phase":"continuous","quotes":[
                {"symbol":"FPT","reference":118000,"ceiling":126200,"floor":109800},
                {"symbol":"ACB","reference":24500,"ceiling":26200,"floor":22800}],
               "indices":[{"code":"VNINDEX","value":128534,"reference":127910}]}"#,
        ))
        .unwrap();
        m
    }

    fn refused(m: &mut MarketState, s: &str) -> &'static str {
        let before = m.snapshot();
        let reason = m.apply(&line(s)).unwrap_err().label();
        assert_eq!(m.snapshot(), before, "a refused line changes nothing: {s}");
        reason
    }

    #[test]
    fn a_snapshot_declares_the_universe_and_updates_apply_to_it() {
        let mut m = market();
        assert_eq!(m.symbols(), ["FPT", "ACB"]);
        m.apply(&line(
            r#"{"type":"quote","symbol":"FPT","last":118500,"totalVolume":2300}"#,
        ))
        .unwrap();
        let fpt = &m.snapshot().quotes[0];
        assert_eq!(
            (fpt.last, fpt.change, fpt.open, fpt.high, fpt.low),
            (118_500, 500, 118_500, 118_500, 118_500)
        );
        assert_eq!(fpt.total_volume, 2300);
        m.apply(&line(r#"{"type":"quote","symbol":"FPT","last":117000}"#))
            .unwrap();
        let fpt = &m.snapshot().quotes[0];
        assert_eq!((fpt.high, fpt.low, fpt.change), (118_500, 117_000, -1000));
        m.apply(&line(r#"{"type":"index","code":"VNINDEX","value":128000}"#))
            .unwrap();
        assert_eq!(m.snapshot().indices[0].change, 90);
        m.apply(&line(r#"{"type":"foreign","buyValue":10,"sellValue":25}"#))
            .unwrap();
        assert_eq!(m.snapshot().foreign.net_value, -15);
        m.apply(&line(r#"{"type":"phase","phase":"lunchBreak"}"#))
            .unwrap();
        assert_eq!(m.snapshot().phase, TradingPhase::LunchBreak);
    }

    #[test]
    fn every_refusal_leaves_the_state_untouched() {
        let mut fresh = MarketState::new();
        assert_eq!(
            refused(&mut fresh, r#"{"type":"quote","symbol":"FPT","last":1}"#),
            "no_universe"
        );
        let mut m = market();
        m.apply(&line(
            r#"{"type":"quote","symbol":"FPT","last":118500,"totalVolume":2300}"#,
        ))
        .unwrap();
        assert_eq!(
            refused(&mut m, r#"{"type":"quote","symbol":"XYZ","last":1}"#),
            "unknown_symbol"
        );
        assert_eq!(
            refused(&mut m, r#"{"type":"index","code":"HNX","value":1}"#),
            "unknown_symbol"
        );
        assert_eq!(
            refused(&mut m, r#"{"type":"quote","symbol":"FPT","last":0}"#),
            "bad_price"
        );
        assert_eq!(
            refused(&mut m, r#"{"type":"quote","symbol":"FPT","last":130000}"#),
            "out_of_band"
        );
        assert_eq!(
            refused(&mut m, r#"{"type":"quote","symbol":"FPT","last":109700}"#),
            "out_of_band"
        );
        assert_eq!(
            refused(
                &mut m,
                r#"{"type":"quote","symbol":"FPT","bids":[{"price":100,"volume":1}]}"#
            ),
            "out_of_band"
        );
        assert_eq!(
            refused(
                &mut m,
                r#"{"type":"quote","symbol":"FPT","last":118600,"totalVolume":2200}"#
            ),
            "volume_decreased"
        );
        assert_eq!(
            refused(&mut m, r#"{"type":"quote","symbol":"FPT","reference":1}"#),
            "bad_universe"
        );
        assert_eq!(
            refused(
                &mut m,
                r#"{"type":"snapshot","phase":"continuous","quotes":[{"symbol":"A","reference":10}]}"#
            ),
            "bad_universe"
        );
        assert_eq!(
            refused(
                &mut m,
                r#"{"type":"snapshot","phase":"continuous","quotes":[
                {"symbol":"A","reference":10,"ceiling":11,"floor":9},
                {"symbol":"A","reference":10,"ceiling":11,"floor":9}]}"#
            ),
            "bad_universe"
        );
        // The next good line applies normally.
        m.apply(&line(
            r#"{"type":"quote","symbol":"FPT","last":118600,"totalVolume":2400}"#,
        ))
        .unwrap();
        assert_eq!(m.snapshot().quotes[0].last, 118_600);
    }

    #[test]
    fn any_universe_size_works() {
        let quotes: Vec<String> = (0..400)
            .map(|i| {
                format!(r#"{{"symbol":"S{i:03}","reference":10000,"ceiling":10700,"floor":9300}}"#)
            })
            .collect();
        let mut m = MarketState::new();
        m.apply(&line(&format!(
            r#"{{"type":"snapshot","phase":"continuous","quotes":[{}]}}"#,
            quotes.join(",")
        )))
        .unwrap();
        assert_eq!(m.snapshot().quotes.len(), 400);
        m.apply(&line(r#"{"type":"quote","symbol":"S399","last":10100}"#))
            .unwrap();
        assert_eq!(m.snapshot().quotes[399].change, 100);
    }
}
