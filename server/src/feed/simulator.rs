//! A deterministic, seedable simulation of the VN30 basket.
//!
//! Every tick each stock matches with probability 1/2. A match moves `last`
//! by at most one HOSE price step, with a pull toward the middle of the
//! ±7 % band and a slowly drifting market-wide sentiment, so stocks move
//! together and never leave `[floor, ceiling]` (a step that would cross a
//! limit is reflected). The matched volume is a whole number of 100-share
//! lots scaled to each stock's typical daily volume; a share of it is bought
//! and sold by foreign investors.
//!
//! The book shows up to [`BOOK_DEPTH`] levels per side around `last`, on
//! consecutive valid prices; levels that would fall outside the band are
//! omitted, so a stock locked at its ceiling has no asks and one locked at its
//! floor has no bids, as on a real HOSE board.
//!
//! The VN30 index is its reference times the weighted average of
//! `last / reference` over the basket (fixed-point, parts per million);
//! VNINDEX follows the basket with a beta plus a small drift of its own;
//! HNX-INDEX and UPCOM-INDEX walk on their own.
//!
//! The simulated session trades continuously: every snapshot carries
//! [`TradingPhase::Continuous`]; there are no auctions or breaks.
//!
//! Same seed, same sequence of snapshots (on one platform: [`SmallRng`] is
//! not portable across pointer widths).

use marketfeed_protocol::{
    ForeignFlow, IndexQuote, MarketSnapshot, PriceLevel, Quote, TradingPhase, BOOK_DEPTH,
};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use super::tick_size::{ceiling_price, floor_price, tick_down, tick_up};
use super::vn30::{IndexSpec, StockSpec, INDICES, VN30};
use super::SnapshotSource;

/// Ticks in a simulated trading day (4.5 hours at one tick per second).
const TICKS_PER_SESSION: u64 = 16_200;
/// Chance that a stock matches on a given tick, as `numerator / denominator`.
const MATCH_CHANCE: (u32, u32) = (1, 2);
/// Chance that a match leaves the price unchanged, as `1 / n`.
const SAME_PRICE_ONE_IN: u32 = 3;
/// Upper bound of the foreign share of a match, per side, percent (mean half).
const FOREIGN_MAX_PCT: u64 = 40;
/// Resting volume of a book level, at most this many times the mean match.
const BOOK_DEPTH_FACTOR: u64 = 5;
/// Market sentiment bound, per mille of the band.
const SENTIMENT_LIMIT: i64 = 250;
/// Largest sentiment change per tick, per mille.
const SENTIMENT_STEP: i64 = 10;
/// Fixed-point scale of returns.
const PPM: i64 = 1_000_000;
/// Shares per lot.
const LOT: u64 = 100;

/// Live state of one stock.
#[derive(Debug, Clone)]
struct Stock {
    symbol: String,
    weight_bp: u64,
    reference: u64,
    ceiling: u64,
    floor: u64,
    open: u64,
    high: u64,
    low: u64,
    last: u64,
    total_volume: u64,
    total_value: u64,
    foreign_buy: u64,
    foreign_sell: u64,
    /// Mean size of one match, in lots.
    mean_lots: u64,
}

impl Stock {
    fn new(spec: &StockSpec) -> Self {
        let matches_per_day = TICKS_PER_SESSION * u64::from(MATCH_CHANCE.0);
        let lots_per_day = spec.daily_volume * u64::from(MATCH_CHANCE.1) / LOT;
        let mean_lots = (lots_per_day / matches_per_day).max(1);
        Self {
            symbol: spec.symbol.to_owned(),
            weight_bp: spec.weight_bp,
            reference: spec.reference,
            ceiling: ceiling_price(spec.reference),
            floor: floor_price(spec.reference),
            open: 0,
            high: 0,
            low: 0,
            last: spec.reference,
            total_volume: 0,
            total_value: 0,
            foreign_buy: 0,
            foreign_sell: 0,
            mean_lots,
        }
    }

    /// Price of the next match: a step biased toward the band's middle and
    /// by `sentiment` (per mille of the band), reflected at the limits.
    fn next_price(&self, rng: &mut SmallRng, sentiment: i64) -> u64 {
        if rng.random_ratio(1, SAME_PRICE_ONE_IN) {
            return self.last;
        }
        let band = (self.ceiling - self.floor) as i64;
        let room_above = (self.ceiling - self.last) as i64;
        let threshold = room_above + band + band * sentiment / 1_000;
        self.step_within_band(rng.random_range(0..3 * band) < threshold)
    }

    fn step_within_band(&self, up: bool) -> u64 {
        let up = if self.last >= self.ceiling {
            false
        } else if self.last <= self.floor {
            true
        } else {
            up
        };
        if up {
            tick_up(self.last)
        } else {
            tick_down(self.last)
        }
    }

    /// Books a match of `shares` at `price`.
    fn record_match(&mut self, price: u64, shares: u64) {
        if self.open == 0 {
            self.open = price;
            self.high = price;
            self.low = price;
        }
        self.last = price;
        self.high = self.high.max(price);
        self.low = self.low.min(price);
        self.total_volume += shares;
        self.total_value = self.total_value.saturating_add(shares * price);
    }

    /// Up to [`BOOK_DEPTH`] levels from `best` outward, inside the band.
    fn levels(&self, best: u64, next: fn(u64) -> u64, rng: &mut SmallRng) -> Vec<PriceLevel> {
        let mut levels = Vec::with_capacity(BOOK_DEPTH);
        let mut price = best;
        while levels.len() < BOOK_DEPTH && (self.floor..=self.ceiling).contains(&price) {
            let lots = rng.random_range(1..=self.mean_lots * BOOK_DEPTH_FACTOR);
            levels.push(PriceLevel {
                price,
                volume: lots * LOT,
            });
            price = next(price);
        }
        levels
    }

    /// Quote with a fresh book around `last`.
    fn quote(&self, rng: &mut SmallRng) -> Quote {
        let bid_at_last = if self.last >= self.ceiling {
            true
        } else if self.last <= self.floor {
            false
        } else {
            rng.random()
        };
        let (best_bid, best_ask) = if bid_at_last {
            (self.last, tick_up(self.last))
        } else {
            (tick_down(self.last), self.last)
        };
        Quote {
            symbol: self.symbol.clone(),
            reference: self.reference,
            ceiling: self.ceiling,
            floor: self.floor,
            open: self.open,
            high: self.high,
            low: self.low,
            last: self.last,
            change: self.last as i64 - self.reference as i64,
            total_volume: self.total_volume,
            total_value: self.total_value,
            bids: self.levels(best_bid, tick_down, rng),
            asks: self.levels(best_ask, tick_up, rng),
            foreign_buy: self.foreign_buy,
            foreign_sell: self.foreign_sell,
        }
    }
}

/// Live state of one index.
#[derive(Debug, Clone)]
struct Index {
    spec: &'static IndexSpec,
    code: String,
    /// Own drift on top of the basket, parts per million.
    drift_ppm: i64,
    /// Volume and value matched outside the basket.
    other_volume: u64,
    other_value: u64,
}

impl Index {
    fn new(spec: &'static IndexSpec) -> Self {
        Self {
            spec,
            code: spec.code.to_owned(),
            drift_ppm: 0,
            other_volume: 0,
            other_value: 0,
        }
    }

    /// Advances the own drift and the volume traded outside the basket.
    fn step(&mut self, rng: &mut SmallRng) {
        let limit = self.spec.drift_limit_ppm;
        if limit > 0 {
            let step = (limit / 50).max(1);
            self.drift_ppm = (self.drift_ppm + rng.random_range(-step..=step)).clamp(-limit, limit);
        }
        let mean_lots = self.spec.other_volume_per_tick / LOT;
        if mean_lots > 0 {
            let shares = rng.random_range(0..=2 * mean_lots) * LOT;
            self.other_volume += shares;
            self.other_value = self
                .other_value
                .saturating_add(shares * self.spec.other_avg_price);
        }
    }

    fn quote(&self, basket_ppm: i64, basket_volume: u64, basket_value: u64) -> IndexQuote {
        let reference = self.spec.reference;
        let ppm = basket_ppm * self.spec.basket_beta_pct / 100 + self.drift_ppm;
        let value = reference + reference * ppm / PPM;
        let (volume, traded) = if self.spec.includes_basket {
            (basket_volume, basket_value)
        } else {
            (0, 0)
        };
        IndexQuote {
            code: self.code.clone(),
            value,
            reference,
            change: value - reference,
            total_volume: volume + self.other_volume,
            total_value: traded.saturating_add(self.other_value),
        }
    }
}

/// Return of the basket against its references, weighted, parts per million:
/// `Σ wᵢ·lastᵢ/refᵢ / Σ wᵢ − 1`.
fn basket_return_ppm(stocks: &[Stock]) -> i64 {
    let (mut weighted, mut weights) = (0_u64, 0_u64);
    for s in stocks {
        weighted += s.weight_bp * s.last * PPM as u64 / s.reference;
        weights += s.weight_bp;
    }
    (weighted / weights.max(1)) as i64 - PPM
}

/// Lots of a `lots`-lot match taken by foreign investors on one side:
/// uniform up to [`FOREIGN_MAX_PCT`] percent, rounded stochastically so
/// that one-lot matches still see foreign trades; never more than `lots`.
fn foreign_lots(rng: &mut SmallRng, lots: u64) -> u64 {
    let hundredths = rng.random_range(0..=lots * FOREIGN_MAX_PCT) + rng.random_range(0..100);
    (hundredths / 100).min(lots)
}

/// The default [`SnapshotSource`]: a seeded random walk of the VN30 basket.
#[derive(Debug, Clone)]
pub struct Simulator {
    rng: SmallRng,
    stocks: Vec<Stock>,
    indices: Vec<Index>,
    /// Market-wide mood, per mille of each stock's band.
    sentiment: i64,
    foreign: ForeignFlow,
}

impl Simulator {
    /// A simulator at the start of the session: every stock at its reference,
    /// nothing matched yet. The same `seed` yields the same snapshots.
    pub fn new(seed: u64) -> Self {
        Self {
            rng: SmallRng::seed_from_u64(seed),
            stocks: VN30.iter().map(Stock::new).collect(),
            indices: INDICES.iter().map(Index::new).collect(),
            sentiment: 0,
            foreign: ForeignFlow::default(),
        }
    }

    fn step_sentiment(&mut self) {
        let delta = self.rng.random_range(-SENTIMENT_STEP..=SENTIMENT_STEP);
        self.sentiment = (self.sentiment + delta).clamp(-SENTIMENT_LIMIT, SENTIMENT_LIMIT);
    }

    /// Maybe matches one stock, adding its foreign share to the flow.
    fn step_stock(stock: &mut Stock, rng: &mut SmallRng, sentiment: i64, flow: &mut ForeignFlow) {
        if !rng.random_ratio(MATCH_CHANCE.0, MATCH_CHANCE.1) {
            return;
        }
        let price = stock.next_price(rng, sentiment);
        let lots = rng.random_range(1..=2 * stock.mean_lots - 1);
        stock.record_match(price, lots * LOT);
        let buy = foreign_lots(rng, lots) * LOT;
        let sell = foreign_lots(rng, lots) * LOT;
        stock.foreign_buy += buy;
        stock.foreign_sell += sell;
        flow.buy_volume += buy;
        flow.sell_volume += sell;
        flow.buy_value = flow.buy_value.saturating_add(buy * price);
        flow.sell_value = flow.sell_value.saturating_add(sell * price);
    }

    fn index_quotes(&mut self) -> Vec<IndexQuote> {
        let basket_ppm = basket_return_ppm(&self.stocks);
        let volume = self.stocks.iter().map(|s| s.total_volume).sum();
        let value = self
            .stocks
            .iter()
            .fold(0_u64, |acc, s| acc.saturating_add(s.total_value));
        let mut quotes = Vec::with_capacity(self.indices.len());
        for index in &mut self.indices {
            index.step(&mut self.rng);
            quotes.push(index.quote(basket_ppm, volume, value));
        }
        quotes
    }
}

impl SnapshotSource for Simulator {
    fn symbols(&self) -> Vec<String> {
        self.stocks.iter().map(|s| s.symbol.clone()).collect()
    }

    fn next_snapshot(&mut self) -> MarketSnapshot {
        self.step_sentiment();
        for stock in &mut self.stocks {
            Self::step_stock(stock, &mut self.rng, self.sentiment, &mut self.foreign);
        }
        self.foreign.net_value = self.foreign.buy_value as i64 - self.foreign.sell_value as i64;
        let indices = self.index_quotes();
        let quotes = self.stocks.iter().map(|s| s.quote(&mut self.rng)).collect();
        MarketSnapshot {
            seq: 0,
            ts: 0,
            phase: TradingPhase::Continuous,
            quotes,
            indices,
            foreign: self.foreign,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feed::tick_size::is_valid_price;

    const TICKS: usize = 10_000;
    const SEEDS: [u64; 3] = [0, 42, 0xDEAD_BEEF];

    fn in_band(q: &Quote, price: u64) -> bool {
        (q.floor..=q.ceiling).contains(&price) && is_valid_price(price)
    }

    fn check_session_prices(q: &Quote) {
        assert!(in_band(q, q.last), "{q:?}");
        assert_eq!(q.change, q.last as i64 - q.reference as i64);
        if q.open == 0 {
            assert_eq!((q.high, q.low, q.total_volume), (0, 0, 0), "{q:?}");
            assert_eq!(q.last, q.reference);
        } else {
            assert!(in_band(q, q.open) && in_band(q, q.high) && in_band(q, q.low));
            assert!(q.low <= q.open && q.open <= q.high, "{q:?}");
            assert!(q.low <= q.last && q.last <= q.high, "{q:?}");
        }
    }

    /// Levels are consecutive valid prices inside the band, whole lots, and
    /// stop early only at the band's edge.
    fn check_side(q: &Quote, levels: &[PriceLevel], next: fn(u64) -> u64) {
        assert!(levels.len() <= BOOK_DEPTH, "{q:?}");
        for pair in levels.windows(2) {
            assert_eq!(pair[1].price, next(pair[0].price), "{q:?}");
        }
        for level in levels {
            assert!(in_band(q, level.price), "{q:?}");
            assert!(level.volume > 0 && level.volume % LOT == 0, "{q:?}");
        }
        if let Some(worst) = levels.last().filter(|_| levels.len() < BOOK_DEPTH) {
            assert!(!(q.floor..=q.ceiling).contains(&next(worst.price)), "{q:?}");
        }
    }

    fn check_book(q: &Quote) {
        check_side(q, &q.bids, tick_down);
        check_side(q, &q.asks, tick_up);
        let (bid, ask) = (q.bids.first(), q.asks.first());
        assert!(bid.is_some() || ask.is_some(), "{q:?}");
        assert!(bid.is_none_or(|b| b.price <= q.last), "{q:?}");
        assert!(ask.is_none_or(|a| a.price >= q.last), "{q:?}");
        if let (Some(b), Some(a)) = (bid, ask) {
            assert_eq!(a.price, tick_up(b.price), "crossed or gapped: {q:?}");
        }
    }

    fn check_quote_step(prev: &Quote, q: &Quote) {
        assert_eq!(prev.symbol, q.symbol);
        assert_eq!(
            (prev.reference, prev.ceiling, prev.floor),
            (q.reference, q.ceiling, q.floor)
        );
        if prev.open != 0 {
            assert_eq!(prev.open, q.open);
            assert!(q.high >= prev.high && q.low <= prev.low, "{q:?}");
        }
        assert!(q.total_volume >= prev.total_volume && q.total_volume % LOT == 0);
        let traded = q.total_volume - prev.total_volume;
        assert_eq!(q.total_value - prev.total_value, traded * q.last, "{q:?}");
        assert!(q.foreign_buy >= prev.foreign_buy && q.foreign_sell >= prev.foreign_sell);
        assert!(q.foreign_buy % LOT == 0 && q.foreign_sell % LOT == 0);
        assert!(q.foreign_buy - prev.foreign_buy <= traded);
        assert!(q.foreign_sell - prev.foreign_sell <= traded);
    }

    fn check_foreign(prev: &MarketSnapshot, snap: &MarketSnapshot) {
        let f = snap.foreign;
        assert_eq!(
            f.buy_volume,
            snap.quotes.iter().map(|q| q.foreign_buy).sum::<u64>()
        );
        assert_eq!(
            f.sell_volume,
            snap.quotes.iter().map(|q| q.foreign_sell).sum::<u64>()
        );
        assert_eq!(f.net_value, f.buy_value as i64 - f.sell_value as i64);
        let step = |get: fn(&Quote) -> u64| -> u64 {
            let pairs = prev.quotes.iter().zip(&snap.quotes);
            pairs.map(|(p, q)| (get(q) - get(p)) * q.last).sum()
        };
        assert_eq!(
            f.buy_value - prev.foreign.buy_value,
            step(|q| q.foreign_buy)
        );
        assert_eq!(
            f.sell_value - prev.foreign.sell_value,
            step(|q| q.foreign_sell)
        );
    }

    /// VN30 recomputed independently: reference × Σ wᵢ·lastᵢ/refᵢ / Σ wᵢ.
    fn expected_vn30(snap: &MarketSnapshot, reference: i64) -> i128 {
        let mut ratio = 0_f64;
        for (q, spec) in snap.quotes.iter().zip(&VN30) {
            ratio += spec.weight_bp as f64 * q.last as f64 / q.reference as f64;
        }
        (reference as f64 * ratio / 10_000.0).round() as i128
    }

    fn check_indices(prev: &MarketSnapshot, snap: &MarketSnapshot) {
        let codes: Vec<_> = snap.indices.iter().map(|i| i.code.as_str()).collect();
        assert_eq!(codes, ["VNINDEX", "VN30", "HNX-INDEX", "UPCOM-INDEX"]);
        for (p, i) in prev.indices.iter().zip(&snap.indices) {
            assert_eq!(p.reference, i.reference);
            assert_eq!(i.change, i.value - i.reference);
            assert!(i.value > 0 && (i.value - i.reference).abs() * 100 < i.reference * 8);
            assert!(i.total_volume >= p.total_volume && i.total_value >= p.total_value);
        }
        let vn30 = &snap.indices[1];
        let diff = i128::from(vn30.value) - expected_vn30(snap, vn30.reference);
        assert!(diff.abs() <= 1, "VN30 {} off by {diff}", vn30.value);
        let basket_volume: u64 = snap.quotes.iter().map(|q| q.total_volume).sum();
        assert_eq!(vn30.total_volume, basket_volume);
        assert!(snap.indices[0].total_volume >= basket_volume);
    }

    fn check_snapshot(prev: &MarketSnapshot, snap: &MarketSnapshot) {
        assert_eq!((snap.seq, snap.ts), (0, 0));
        assert_eq!(snap.phase, TradingPhase::Continuous);
        assert_eq!(snap.quotes.len(), 30);
        for (p, q) in prev.quotes.iter().zip(&snap.quotes) {
            check_session_prices(q);
            check_book(q);
            check_quote_step(p, q);
        }
        check_foreign(prev, snap);
        check_indices(prev, snap);
    }

    #[test]
    fn invariants_hold_over_a_long_session() {
        for seed in SEEDS {
            let mut sim = Simulator::new(seed);
            let mut prev = sim.next_snapshot();
            let mut moved = 0;
            for _ in 0..TICKS {
                let snap = sim.next_snapshot();
                check_snapshot(&prev, &snap);
                moved += usize::from(snap.indices[1].value != prev.indices[1].value);
                prev = snap;
            }
            assert!(prev.quotes.iter().all(|q| q.open != 0), "seed {seed}");
            assert!(prev.foreign.buy_volume > 0 && prev.foreign.sell_volume > 0);
            assert!(moved > TICKS / 2, "VN30 barely moves: {moved}");
        }
    }

    #[test]
    fn thirty_quotes_four_indices_in_symbol_order() {
        let mut sim = Simulator::new(7);
        let symbols = sim.symbols();
        assert_eq!(symbols.len(), 30);
        let snap = sim.next_snapshot();
        let quoted: Vec<_> = snap.quotes.iter().map(|q| q.symbol.clone()).collect();
        assert_eq!(quoted, symbols);
        assert_eq!(snap.indices.len(), 4);
    }

    #[test]
    fn starts_at_reference_with_quiet_indices() {
        let sim = Simulator::new(3);
        assert_eq!(basket_return_ppm(&sim.stocks), 0);
        for stock in &sim.stocks {
            assert_eq!(stock.last, stock.reference);
        }
    }

    #[test]
    fn same_seed_same_snapshots() {
        let (mut a, mut b) = (Simulator::new(42), Simulator::new(42));
        for _ in 0..1_000 {
            assert_eq!(a.next_snapshot(), b.next_snapshot());
        }
    }

    #[test]
    fn different_seeds_differ() {
        let (mut a, mut b) = (Simulator::new(1), Simulator::new(2));
        let differs = (0..10).any(|_| a.next_snapshot() != b.next_snapshot());
        assert!(differs);
    }

    #[test]
    fn usable_as_a_boxed_source() {
        let mut source: Box<dyn SnapshotSource> = Box::new(Simulator::new(9));
        assert_eq!(source.next_snapshot().quotes.len(), source.symbols().len());
    }
}
