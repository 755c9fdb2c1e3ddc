//! A deterministic, seedable simulation of the VN30 basket through the
//! HOSE trading day.
//!
//! **Activity.** In continuous trading a stock matches on a given tick
//! with a chance that grows with its liquidity: `10 % + 50 % × √(daily
//! volume / 40 M shares)`, so from 18 % (1 M shares a day) to 60 % (SHB,
//! 40 M); over the basket about 28 % of the stocks (8 of 30) trade in a
//! given second, as on a real board where most stocks are quiet in most
//! seconds. Draws are independent per stock and tick. A match moves `last`
//! by at most one HOSE price step, with a pull toward the middle of the
//! ±7 % band and a slowly drifting market-wide sentiment, so stocks move
//! together and never leave `[floor, ceiling]` (a step that would cross a
//! limit is reflected). The matched volume is a whole number of 100-share
//! lots scaled to each stock's typical daily volume; a share of it is
//! bought and sold by foreign investors.
//!
//! **Book.** Up to [`BOOK_DEPTH`] levels per side around `last`, on
//! consecutive valid prices; levels outside the band are omitted, so a
//! stock locked at its ceiling has no asks. The book is rebuilt around the
//! price when the stock trades; a stock that does not trade sees one of
//! its levels change volume on a quarter of the ticks (orders placed and
//! cancelled) and is otherwise unchanged.
//!
//! **Indices.** VN30 is its reference times the weighted average of
//! `last / reference` over the basket (fixed-point, parts per million);
//! VNINDEX follows the basket with a beta plus a small drift of its own;
//! HNX-INDEX and UPCOM-INDEX walk on their own.
//!
//! **The day** ([`Schedule`]). With the default [`Schedule::Continuous`]
//! the session trades continuously, forever. With the HOSE schedule (real
//! or compressed): in the opening and closing auctions nothing matches,
//! but every stock shows a projected price and volume
//! ([`marketfeed_protocol::Auction`]) that build up during the auction and
//! match when it ends; in the lunch break, put-through and while closed
//! nothing changes (ticks and heartbeats go on). A new day starts from the
//! previous close: reference = last, ceiling and floor recomputed at ±7 %
//! on the tick-size grid, session totals back to zero.
//!
//! Same seed and schedule, same sequence of snapshots at the same times (on
//! one platform: [`SmallRng`] is not portable across pointer widths).

use marketfeed_protocol::{
    Auction, ForeignFlow, IndexQuote, MarketSnapshot, PriceLevel, Quote, TradingPhase, BOOK_DEPTH,
};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use super::market::is_auction;
use super::schedule::Schedule;
use super::tick_size::{ceiling_price, floor_price, tick_down, tick_up};
use super::vn30::{IndexSpec, StockSpec, INDICES, VN30};
use super::SnapshotSource;

/// Ticks in a simulated trading day (4.5 hours at one tick per second).
const TICKS_PER_SESSION: u64 = 16_200;
/// Chance of a match per tick: base and liquidity-scaled part, percent.
const MATCH_BASE_PCT: f64 = 10.0;
const MATCH_LIQUIDITY_PCT: f64 = 50.0;
/// Daily volume at which the liquidity part is full, shares.
const MATCH_FULL_VOLUME: f64 = 40_000_000.0;
/// Chance that a match leaves the price unchanged, as `1 / n`.
const SAME_PRICE_ONE_IN: u32 = 3;
/// Chance that a quiet stock's book changes on a tick, as `1 / n`.
const BOOK_CHANGE_ONE_IN: u32 = 4;
/// Chance that an auction's projected price moves on a tick, as `1 / n`.
const AUCTION_MOVE_ONE_IN: u32 = 5;
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
    bids: Vec<PriceLevel>,
    asks: Vec<PriceLevel>,
    auction: Option<Auction>,
    /// Chance of a match per continuous-trading tick, percent.
    match_pct: u32,
    /// Mean size of one match, in lots.
    mean_lots: u64,
}

impl Stock {
    fn new(spec: &StockSpec) -> Self {
        let liquidity = (spec.daily_volume as f64 / MATCH_FULL_VOLUME)
            .min(1.0)
            .sqrt();
        let match_pct = (MATCH_BASE_PCT + MATCH_LIQUIDITY_PCT * liquidity).round() as u32;
        let matches_per_day = (TICKS_PER_SESSION * u64::from(match_pct) / 100).max(1);
        let lots_per_day = spec.daily_volume / LOT;
        let mean_lots = (lots_per_day / matches_per_day).max(1);
        let mut stock = Self {
            symbol: spec.symbol.to_owned(),
            weight_bp: spec.weight_bp,
            reference: 0,
            ceiling: 0,
            floor: 0,
            open: 0,
            high: 0,
            low: 0,
            last: 0,
            total_volume: 0,
            total_value: 0,
            foreign_buy: 0,
            foreign_sell: 0,
            bids: Vec::new(),
            asks: Vec::new(),
            auction: None,
            match_pct,
            mean_lots,
        };
        stock.start_day(spec.reference);
        stock
    }

    /// A new trading day with `reference` as the previous close.
    fn start_day(&mut self, reference: u64) {
        self.reference = reference;
        self.ceiling = ceiling_price(reference);
        self.floor = floor_price(reference);
        self.open = 0;
        self.high = 0;
        self.low = 0;
        self.last = reference;
        self.total_volume = 0;
        self.total_value = 0;
        self.foreign_buy = 0;
        self.foreign_sell = 0;
        self.auction = None;
        self.bids.clear();
        self.asks.clear();
    }

    /// Price of the next match: a step biased toward the band's middle and
    /// by `sentiment` (per mille of the band), reflected at the limits.
    fn next_price(&self, from: u64, rng: &mut SmallRng, sentiment: i64) -> u64 {
        if rng.random_ratio(1, SAME_PRICE_ONE_IN) {
            return from;
        }
        let band = (self.ceiling - self.floor) as i64;
        let room_above = (self.ceiling - from) as i64;
        let threshold = room_above + band + band * sentiment / 1_000;
        self.step_within_band(from, rng.random_range(0..3 * band) < threshold)
    }

    fn step_within_band(&self, from: u64, up: bool) -> u64 {
        let up = if from >= self.ceiling {
            false
        } else if from <= self.floor {
            true
        } else {
            up
        };
        if up {
            tick_up(from)
        } else {
            tick_down(from)
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
            levels.push(PriceLevel {
                price,
                volume: self.resting_lots(rng) * LOT,
            });
            price = next(price);
        }
        levels
    }

    fn resting_lots(&self, rng: &mut SmallRng) -> u64 {
        rng.random_range(1..=self.mean_lots * BOOK_DEPTH_FACTOR)
    }

    /// A fresh book around `around`.
    fn rebuild_book(&mut self, around: u64, rng: &mut SmallRng) {
        let bid_at = if around >= self.ceiling {
            true
        } else if around <= self.floor {
            false
        } else {
            rng.random()
        };
        let (best_bid, best_ask) = if bid_at {
            (around, tick_up(around))
        } else {
            (tick_down(around), around)
        };
        self.bids = self.levels(best_bid, tick_down, rng);
        self.asks = self.levels(best_ask, tick_up, rng);
    }

    /// Orders placed or cancelled on one level of a quiet stock.
    fn touch_book(&mut self, rng: &mut SmallRng) {
        let lots = self.resting_lots(rng);
        let side = if rng.random() {
            &mut self.bids
        } else {
            &mut self.asks
        };
        if side.is_empty() {
            return;
        }
        let i = rng.random_range(0..side.len());
        side[i].volume = lots * LOT;
    }

    fn quote(&self) -> Quote {
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
            bids: self.bids.clone(),
            asks: self.asks.clone(),
            foreign_buy: self.foreign_buy,
            foreign_sell: self.foreign_sell,
            auction: self.auction,
        }
    }
}

/// Live state of one index.
#[derive(Debug, Clone)]
struct Index {
    spec: &'static IndexSpec,
    code: String,
    /// Previous close, hundredths of a point.
    reference: i64,
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
            reference: spec.reference,
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

    fn value(&self, basket_ppm: i64) -> i64 {
        let ppm = basket_ppm * self.spec.basket_beta_pct / 100 + self.drift_ppm;
        self.reference + self.reference * ppm / PPM
    }

    fn quote(&self, basket_ppm: i64, basket_volume: u64, basket_value: u64) -> IndexQuote {
        let value = self.value(basket_ppm);
        let (volume, traded) = if self.spec.includes_basket {
            (basket_volume, basket_value)
        } else {
            (0, 0)
        };
        IndexQuote {
            code: self.code.clone(),
            value,
            reference: self.reference,
            change: value - self.reference,
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

/// Wall-clock time in unix seconds.
fn unix_secs() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
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
    schedule: Schedule,
    /// When the schedule started (a compressed day counts from here).
    started: Option<f64>,
    /// Trading day and phase of the last tick.
    day: u64,
    phase: TradingPhase,
}

impl Simulator {
    /// A simulator trading continuously from the start of a session: every
    /// stock at its reference, nothing matched yet. The same `seed` yields
    /// the same snapshots.
    pub fn new(seed: u64) -> Self {
        Self::with_schedule(seed, Schedule::Continuous)
    }

    /// A simulator that follows `schedule` by the wall clock.
    pub fn with_schedule(seed: u64, schedule: Schedule) -> Self {
        let mut sim = Self {
            rng: SmallRng::seed_from_u64(seed),
            stocks: VN30.iter().map(Stock::new).collect(),
            indices: INDICES.iter().map(Index::new).collect(),
            sentiment: 0,
            foreign: ForeignFlow::default(),
            schedule,
            started: None,
            day: 0,
            phase: TradingPhase::Continuous,
        };
        for stock in &mut sim.stocks {
            stock.rebuild_book(stock.last, &mut sim.rng);
        }
        sim
    }

    /// Advances one tick at wall-clock time `now` (unix seconds): what the
    /// ticker does through [`SnapshotSource::next_snapshot`], with the time
    /// given so tests can drive the schedule.
    pub fn step_at(&mut self, now: f64) -> MarketSnapshot {
        let started = *self.started.get_or_insert(now);
        let moment = self.schedule.at(started, now);
        if is_auction(self.phase) && (moment.phase != self.phase || moment.day != self.day) {
            self.uncross();
        }
        if moment.day != self.day {
            self.start_day();
            self.day = moment.day;
        }
        self.phase = moment.phase;
        match moment.phase {
            TradingPhase::Continuous => self.trade(),
            TradingPhase::OpeningAuction | TradingPhase::ClosingAuction => self.call(),
            // Lunch, put-through, closed: the board stands still.
            _ => {}
        }
        self.snapshot()
    }

    /// A new day from the previous close.
    fn start_day(&mut self) {
        let basket_ppm = basket_return_ppm(&self.stocks);
        for index in &mut self.indices {
            index.reference = index.value(basket_ppm);
            index.drift_ppm = 0;
            index.other_volume = 0;
            index.other_value = 0;
        }
        for stock in &mut self.stocks {
            stock.start_day(stock.last);
            stock.rebuild_book(stock.last, &mut self.rng);
        }
        self.foreign = ForeignFlow::default();
    }

    fn step_sentiment(&mut self) {
        let delta = self.rng.random_range(-SENTIMENT_STEP..=SENTIMENT_STEP);
        self.sentiment = (self.sentiment + delta).clamp(-SENTIMENT_LIMIT, SENTIMENT_LIMIT);
    }

    /// One tick of continuous trading.
    fn trade(&mut self) {
        self.step_sentiment();
        for stock in &mut self.stocks {
            if self.rng.random_ratio(stock.match_pct, 100) {
                let price = stock.next_price(stock.last, &mut self.rng, self.sentiment);
                let lots = self.rng.random_range(1..=2 * stock.mean_lots - 1);
                Self::book_match(stock, &mut self.rng, &mut self.foreign, price, lots);
                stock.rebuild_book(price, &mut self.rng);
            } else if self.rng.random_ratio(1, BOOK_CHANGE_ONE_IN) {
                stock.touch_book(&mut self.rng);
            }
        }
        for index in &mut self.indices {
            index.step(&mut self.rng);
        }
    }

    /// One tick of a call auction: orders build up, nothing matches.
    fn call(&mut self) {
        self.step_sentiment();
        for stock in &mut self.stocks {
            let projected = stock.auction.map_or(stock.last, |a| a.price);
            let price = if self.rng.random_ratio(1, AUCTION_MOVE_ONE_IN) {
                stock.next_price(projected, &mut self.rng, self.sentiment)
            } else {
                projected
            };
            let lots = self.rng.random_range(0..=stock.mean_lots);
            let volume = stock.auction.map_or(0, |a| a.volume) + lots * LOT;
            stock.auction = Some(Auction { price, volume });
            if price != projected {
                stock.rebuild_book(price, &mut self.rng);
            }
        }
    }

    /// The auction ends: every projection matches.
    fn uncross(&mut self) {
        for stock in &mut self.stocks {
            if let Some(auction) = stock.auction.take() {
                if auction.volume > 0 {
                    let lots = auction.volume / LOT;
                    Self::book_match(stock, &mut self.rng, &mut self.foreign, auction.price, lots);
                }
            }
        }
    }

    /// Books a match with its foreign share.
    fn book_match(
        stock: &mut Stock,
        rng: &mut SmallRng,
        flow: &mut ForeignFlow,
        price: u64,
        lots: u64,
    ) {
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

    fn snapshot(&self) -> MarketSnapshot {
        let basket_ppm = basket_return_ppm(&self.stocks);
        let volume = self.stocks.iter().map(|s| s.total_volume).sum();
        let value = self
            .stocks
            .iter()
            .fold(0_u64, |acc, s| acc.saturating_add(s.total_value));
        let mut foreign = self.foreign;
        foreign.net_value = foreign.buy_value as i64 - foreign.sell_value as i64;
        MarketSnapshot {
            seq: 0,
            ts: 0,
            phase: self.phase,
            quotes: self.stocks.iter().map(Stock::quote).collect(),
            indices: self
                .indices
                .iter()
                .map(|i| i.quote(basket_ppm, volume, value))
                .collect(),
            foreign,
            stale: false,
        }
    }
}

impl SnapshotSource for Simulator {
    fn symbols(&self) -> Vec<String> {
        self.stocks.iter().map(|s| s.symbol.clone()).collect()
    }

    fn next_snapshot(&mut self) -> Option<MarketSnapshot> {
        Some(self.step_at(unix_secs()))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
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
            let mut prev = sim.next_snapshot().unwrap();
            let mut moved = 0;
            for _ in 0..TICKS {
                let snap = sim.next_snapshot().unwrap();
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
        let snap = sim.next_snapshot().unwrap();
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
        assert_eq!(
            source.next_snapshot().unwrap().quotes.len(),
            source.symbols().len()
        );
    }

    #[test]
    fn about_a_quarter_of_the_basket_trades_per_tick() {
        let mut sim = Simulator::new(5);
        let mut prev = sim.next_snapshot().unwrap();
        let (mut traded, mut unchanged) = (0usize, 0usize);
        let ticks = 2_000;
        for _ in 0..ticks {
            let snap = sim.next_snapshot().unwrap();
            for (p, q) in prev.quotes.iter().zip(&snap.quotes) {
                traded += usize::from(q.total_volume != p.total_volume);
                unchanged += usize::from(q == p);
            }
            prev = snap;
        }
        let share = traded as f64 / (ticks * 30) as f64;
        assert!(
            (0.22..0.34).contains(&share),
            "share trading per tick: {share}"
        );
        // A quiet stock's book mostly stands still too.
        let still = unchanged as f64 / (ticks * 30) as f64;
        assert!(
            (0.45..0.65).contains(&still),
            "share unchanged per tick: {still}"
        );
    }

    /// Seconds since the start of a 390 s compressed day (one second per
    /// minute of 08:45–15:15).
    fn day_sim() -> (Simulator, impl Fn(f64) -> f64) {
        let sim = Simulator::with_schedule(
            11,
            Schedule::Compressed(std::time::Duration::from_secs(390)),
        );
        (sim, |s: f64| 1_000.0 + s)
    }

    #[test]
    fn auctions_project_then_match_and_breaks_stand_still() {
        let (mut sim, at) = day_sim();
        let closed = sim.step_at(at(0.0));
        assert_eq!(closed.phase, TradingPhase::Closed);
        assert_eq!(sim.step_at(at(10.0)), closed, "nothing moves while closed");
        // 09:00–09:15: the opening auction, seconds 15–30.
        let mut ato = sim.step_at(at(16.0));
        assert_eq!(ato.phase, TradingPhase::OpeningAuction);
        for s in 17..30 {
            let next = sim.step_at(at(f64::from(s)));
            for (p, q) in ato.quotes.iter().zip(&next.quotes) {
                assert_eq!(q.total_volume, 0, "no match in the auction");
                assert_eq!(q.open, 0);
                let (a, b) = (p.auction.unwrap(), q.auction.unwrap());
                assert!(b.volume >= a.volume && (q.floor..=q.ceiling).contains(&b.price));
            }
            ato = next;
        }
        let open = sim.step_at(at(31.0));
        assert_eq!(open.phase, TradingPhase::Continuous);
        for (p, q) in ato.quotes.iter().zip(&open.quotes) {
            assert!(q.auction.is_none());
            let a = p.auction.unwrap();
            if a.volume > 0 {
                assert_eq!(q.open, a.price, "{}: opens at the auction price", q.symbol);
                assert!(q.total_volume >= a.volume);
            }
        }
        // 11:30–13:00: lunch, seconds 165–255.
        let lunch = sim.step_at(at(170.0));
        assert_eq!(lunch.phase, TradingPhase::LunchBreak);
        for s in 171..180 {
            assert_eq!(
                sim.step_at(at(f64::from(s))),
                lunch,
                "nothing moves at lunch"
            );
        }
    }

    #[test]
    fn the_next_day_opens_from_the_previous_close() {
        let (mut sim, at) = day_sim();
        let mut last = sim.step_at(at(0.0));
        for s in 1..390 {
            last = sim.step_at(at(f64::from(s)));
        }
        assert_eq!(last.phase, TradingPhase::Closed);
        let next = sim.step_at(at(391.0));
        for (p, q) in last.quotes.iter().zip(&next.quotes) {
            assert_eq!(q.reference, p.last, "{}", q.symbol);
            assert_eq!(q.ceiling, ceiling_price(p.last));
            assert_eq!(q.floor, floor_price(p.last));
            assert_eq!((q.open, q.total_volume, q.foreign_buy), (0, 0, 0));
            assert_eq!(q.last, q.reference);
        }
        for (p, i) in last.indices.iter().zip(&next.indices) {
            assert_eq!(i.reference, p.value, "{}", i.code);
        }
        assert_eq!(next.foreign, ForeignFlow::default());
        assert!(
            last.quotes.iter().any(|q| q.last != q.reference),
            "the day moved prices"
        );
    }
}
