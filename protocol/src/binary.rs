//! The binary encoding of `marketfeed.v2.bin`: a hand-written compact
//! layout of the same Rust types, [`encode`] and [`decode`].
//!
//! In `marketfeed.v2.bin` the market data — keyframes
//! ([`ServerMessage::Snapshot`]) and [`ServerMessage::Delta`]s — travels
//! in WebSocket **binary** frames in this layout. Every other server
//! message (`hello`, `subscribed`, `pong`, `error`) is a JSON **text**
//! frame exactly as in `marketfeed.v2.json`, and clients always send JSON
//! text. A reader tells the two apart by the frame's opcode.
//!
//! # Layout
//!
//! Primitives (all multi-byte values are little-endian groups):
//!
//! - `u8`: one byte.
//! - `uv` (unsigned varint): LEB128. Seven bits per byte, least
//!   significant group first; the high bit (`0x80`) of a byte says another
//!   byte follows. At most 10 bytes; the value must fit in 64 bits.
//!   `300` is `AC 02`.
//! - `sv` (signed varint): zigzag, then `uv`: `n ≥ 0` is written as `2n`,
//!   `n < 0` as `−2n − 1` (`0 → 00`, `−1 → 01`, `1 → 02`, `−200 → 8F 03`).
//! - `str`: `uv` byte length, then that many bytes of UTF-8.
//! - `phase`: `u8`: 0 `preOpen`, 1 `openingAuction`, 2 `continuous`,
//!   3 `lunchBreak`, 4 `closingAuction`, 5 `putThrough`, 6 `closed`.
//! - `levels`: `uv` count, then per level its price and `volume: uv`. The
//!   first level's price is a `uv`; each later level's price is an `sv`,
//!   its difference from the price of the level before it (`−50` for the
//!   next bid one tick lower), added modulo 2^64.
//! - `index`: `code: str`, `value: sv`, `reference: sv`, `change: sv`,
//!   `totalVolume: uv`, `totalValue: uv`.
//! - `foreign`: `buyVolume: uv`, `sellVolume: uv`, `buyValue: uv`,
//!   `sellValue: uv`, `netValue: sv`.
//! - `auction`: `price: uv`, `volume: uv`.
//!
//! A message is one tag byte and its body, and fills its frame exactly
//! (trailing bytes are an error):
//!
//! | tag | message |
//! |---|---|
//! | `0x01` | snapshot (keyframe) |
//! | `0x02` | delta |
//!
//! **Snapshot** body: `seq: uv`, `ts: uv`, `phase`, `flags: u8` (bit 0:
//! `stale`; other bits 0), `uv` quote count then each quote, `uv` index
//! count then each `index`, `foreign`. A quote is: `symbol: str`,
//! `reference`, `ceiling`, `floor`, `open`, `high`, `low`, `last` (each
//! `uv`), `change: sv`, `totalVolume: uv`, `totalValue: uv`, `bids:
//! levels`, `asks: levels`, `foreignBuy: uv`, `foreignSell: uv`, then
//! `u8` 0 (no auction) or 1 followed by an `auction`.
//!
//! **Delta** body: `seq: uv`, `seq − base: uv` (1 for consecutive ticks),
//! `ts: uv`, `flags: u8` (bit 0: `phase` present, bit 1: `foreign`
//! present, bit 2: `stale` present, bit 3: the new `stale` value; other
//! bits 0), the `phase` if bit 0, `uv` count of quote deltas then each,
//! `uv` count of changed indices then each `index`, the `foreign` if
//! bit 1. A quote delta is `symbol: str`, `mask: uv` — bit *i* set when
//! field *i* is present — then the present fields in bit order:
//!
//! | bit | field | encoding |
//! |---|---|---|
//! | 0 | reference | `uv` |
//! | 1 | ceiling | `uv` |
//! | 2 | floor | `uv` |
//! | 3 | open | `uv` |
//! | 4 | high | `uv` |
//! | 5 | low | `uv` |
//! | 6 | last | `uv` |
//! | 7 | change | `sv` |
//! | 8 | totalVolume | `uv` |
//! | 9 | totalValue | `uv` |
//! | 10 | bids (whole side) | `levels` |
//! | 11 | asks (whole side) | `levels` |
//! | 12 | foreignBuy | `uv` |
//! | 13 | foreignSell | `uv` |
//! | 14 | auction | `u8` 0 (ended) or 1 followed by an `auction` |
//!
//! Bits above 14 are 0. The meaning of every field is that of the JSON
//! message of the same name ([`crate::delta`], [`crate::snapshot`]).
//!
//! # Why this layout
//!
//! Measured on 30 VN30 quotes over 200 simulated ticks with 28 % of the
//! stocks active per tick (the protocol test `binary_sizes` prints the
//! figures of this layout; the others were measured on the same sequence
//! with mirror types):
//!
//! | codec | keyframe | mean delta |
//! |---|---|---|
//! | JSON (`marketfeed.v2.json`) | 13,922 B | 2,537 B |
//! | MessagePack, named fields (rmp-serde) | 10,131 B | 1,825 B |
//! | postcard, mirror types | 2,621 B | 628 B |
//! | **this layout** | **2,392 B** | **467 B** |
//!
//! postcard cannot serialize the real types (it is not self-describing, so
//! `skip_serializing_if` fields such as `Quote::auction` break decoding):
//! it needs a second set of mirror types, and it spends a byte per absent
//! optional field (15 per changed quote, where this layout spends a
//! 2–3-byte mask) and full prices for every book level. This layout needs
//! no dependency and no serde code in the wasm build.
//!
//! Its cost in the browser download, measured with `scripts/build-wasm.sh`
//! (web target, wasm-opt) and gzip -9: the web client's `.wasm` + glue is
//! 57,758 B before, 62,985 B with [`decode`] and [`crate::apply`] linked
//! through one exported function that decodes a keyframe and applies a
//! delta (+5.2 KB; the decoder alone +4.1 KB), within the 70 KB budget.

use crate::delta::{Delta, QuoteDelta};
use crate::{
    Auction, ForeignFlow, IndexQuote, MarketSnapshot, PriceLevel, Quote, ServerMessage,
    TradingPhase,
};

/// Tag byte of a snapshot (keyframe).
pub const TAG_SNAPSHOT: u8 = 0x01;
/// Tag byte of a delta.
pub const TAG_DELTA: u8 = 0x02;

/// Why a binary message could not be encoded or decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BinaryError {
    /// The message kind has no binary form (it travels as JSON text).
    #[error("{0} messages have no binary form")]
    NotBinary(&'static str),
    /// The frame ended inside a value.
    #[error("binary message truncated")]
    Truncated,
    /// Bytes follow the end of the message.
    #[error("{0} bytes after the end of the message")]
    Trailing(usize),
    /// The first byte is no known message tag.
    #[error("unknown binary message tag {0:#04x}")]
    UnknownTag(u8),
    /// A varint longer than 10 bytes or over 64 bits.
    #[error("varint overflows 64 bits")]
    VarintOverflow,
    /// A phase byte with no phase.
    #[error("unknown phase {0}")]
    UnknownPhase(u8),
    /// Reserved bits set in a flags byte or a field mask.
    #[error("reserved bits set: {0:#x}")]
    ReservedBits(u64),
    /// A string that is not UTF-8.
    #[error("string is not UTF-8")]
    Utf8,
    /// A count larger than the bytes left could hold.
    #[error("count {0} exceeds the message")]
    Count(u64),
}

/// Encodes a snapshot or delta; any other message is [`BinaryError::NotBinary`].
pub fn encode(msg: &ServerMessage) -> Result<Vec<u8>, BinaryError> {
    match msg {
        ServerMessage::Snapshot(s) => Ok(encode_snapshot(s)),
        ServerMessage::Delta(d) => Ok(encode_delta(d)),
        other => Err(BinaryError::NotBinary(other.kind())),
    }
}

/// The binary form of a snapshot (keyframe).
pub fn encode_snapshot(s: &MarketSnapshot) -> Vec<u8> {
    let mut w = Vec::with_capacity(64 + s.quotes.len() * 64);
    w.push(TAG_SNAPSHOT);
    uv(&mut w, s.seq);
    uv(&mut w, s.ts);
    w.push(phase_byte(s.phase));
    w.push(u8::from(s.stale));
    uv(&mut w, s.quotes.len() as u64);
    for q in &s.quotes {
        quote(&mut w, q);
    }
    indices(&mut w, &s.indices);
    foreign(&mut w, &s.foreign);
    w
}

/// The binary form of a delta.
pub fn encode_delta(d: &Delta) -> Vec<u8> {
    let mut w = Vec::with_capacity(32 + d.quotes.len() * 24);
    w.push(TAG_DELTA);
    uv(&mut w, d.seq);
    uv(&mut w, d.seq.wrapping_sub(d.base));
    uv(&mut w, d.ts);
    let mut flags = 0u8;
    if d.phase.is_some() {
        flags |= 1;
    }
    if d.foreign.is_some() {
        flags |= 2;
    }
    if let Some(stale) = d.stale {
        flags |= 4 | if stale { 8 } else { 0 };
    }
    w.push(flags);
    if let Some(p) = d.phase {
        w.push(phase_byte(p));
    }
    uv(&mut w, d.quotes.len() as u64);
    for q in &d.quotes {
        quote_delta(&mut w, q);
    }
    indices(&mut w, &d.indices);
    if let Some(f) = &d.foreign {
        foreign(&mut w, f);
    }
    w
}

fn uv(w: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        w.push((v as u8) | 0x80);
        v >>= 7;
    }
    w.push(v as u8);
}

fn sv(w: &mut Vec<u8>, v: i64) {
    uv(w, ((v << 1) ^ (v >> 63)) as u64);
}

fn string(w: &mut Vec<u8>, s: &str) {
    uv(w, s.len() as u64);
    w.extend_from_slice(s.as_bytes());
}

fn phase_byte(p: TradingPhase) -> u8 {
    match p {
        TradingPhase::PreOpen => 0,
        TradingPhase::OpeningAuction => 1,
        TradingPhase::Continuous => 2,
        TradingPhase::LunchBreak => 3,
        TradingPhase::ClosingAuction => 4,
        TradingPhase::PutThrough => 5,
        TradingPhase::Closed => 6,
    }
}

fn levels(w: &mut Vec<u8>, levels: &[PriceLevel]) {
    uv(w, levels.len() as u64);
    let mut prev: Option<u64> = None;
    for l in levels {
        match prev {
            None => uv(w, l.price),
            Some(p) => sv(w, l.price.wrapping_sub(p) as i64),
        }
        uv(w, l.volume);
        prev = Some(l.price);
    }
}

fn indices(w: &mut Vec<u8>, list: &[IndexQuote]) {
    uv(w, list.len() as u64);
    for i in list {
        string(w, &i.code);
        sv(w, i.value);
        sv(w, i.reference);
        sv(w, i.change);
        uv(w, i.total_volume);
        uv(w, i.total_value);
    }
}

fn foreign(w: &mut Vec<u8>, f: &ForeignFlow) {
    uv(w, f.buy_volume);
    uv(w, f.sell_volume);
    uv(w, f.buy_value);
    uv(w, f.sell_value);
    sv(w, f.net_value);
}

fn auction(w: &mut Vec<u8>, a: &Option<Auction>) {
    match a {
        None => w.push(0),
        Some(a) => {
            w.push(1);
            uv(w, a.price);
            uv(w, a.volume);
        }
    }
}

fn quote(w: &mut Vec<u8>, q: &Quote) {
    string(w, &q.symbol);
    for v in [
        q.reference,
        q.ceiling,
        q.floor,
        q.open,
        q.high,
        q.low,
        q.last,
    ] {
        uv(w, v);
    }
    sv(w, q.change);
    uv(w, q.total_volume);
    uv(w, q.total_value);
    levels(w, &q.bids);
    levels(w, &q.asks);
    uv(w, q.foreign_buy);
    uv(w, q.foreign_sell);
    auction(w, &q.auction);
}

/// Highest field bit of a quote delta's mask.
const LAST_FIELD_BIT: u32 = 14;

fn quote_delta(w: &mut Vec<u8>, d: &QuoteDelta) {
    string(w, &d.symbol);
    let present = [
        d.reference.is_some(),
        d.ceiling.is_some(),
        d.floor.is_some(),
        d.open.is_some(),
        d.high.is_some(),
        d.low.is_some(),
        d.last.is_some(),
        d.change.is_some(),
        d.total_volume.is_some(),
        d.total_value.is_some(),
        d.bids.is_some(),
        d.asks.is_some(),
        d.foreign_buy.is_some(),
        d.foreign_sell.is_some(),
        d.auction.is_some(),
    ];
    let mask = present
        .iter()
        .enumerate()
        .fold(0u64, |m, (bit, &p)| if p { m | (1 << bit) } else { m });
    uv(w, mask);
    for v in [
        d.reference,
        d.ceiling,
        d.floor,
        d.open,
        d.high,
        d.low,
        d.last,
    ]
    .into_iter()
    .flatten()
    {
        uv(w, v);
    }
    if let Some(v) = d.change {
        sv(w, v);
    }
    for v in [d.total_volume, d.total_value].into_iter().flatten() {
        uv(w, v);
    }
    for side in [&d.bids, &d.asks].into_iter().flatten() {
        levels(w, side);
    }
    for v in [d.foreign_buy, d.foreign_sell].into_iter().flatten() {
        uv(w, v);
    }
    if let Some(a) = &d.auction {
        auction(w, a);
    }
}

/// Decodes one binary frame's payload: a [`ServerMessage::Snapshot`] or a
/// [`ServerMessage::Delta`]. Never panics; allocations are bounded by the
/// input's length.
pub fn decode(bytes: &[u8]) -> Result<ServerMessage, BinaryError> {
    let mut r = Reader { bytes, at: 0 };
    let msg = match r.u8()? {
        TAG_SNAPSHOT => ServerMessage::Snapshot(r.snapshot()?),
        TAG_DELTA => ServerMessage::Delta(r.delta()?),
        tag => return Err(BinaryError::UnknownTag(tag)),
    };
    match bytes.len() - r.at {
        0 => Ok(msg),
        n => Err(BinaryError::Trailing(n)),
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn u8(&mut self) -> Result<u8, BinaryError> {
        let b = *self.bytes.get(self.at).ok_or(BinaryError::Truncated)?;
        self.at += 1;
        Ok(b)
    }

    fn uv(&mut self) -> Result<u64, BinaryError> {
        let mut v = 0u64;
        for i in 0..10 {
            let b = self.u8()?;
            let low = u64::from(b & 0x7f);
            if i == 9 && b > 1 {
                return Err(BinaryError::VarintOverflow);
            }
            v |= low << (7 * i);
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(BinaryError::VarintOverflow)
    }

    fn sv(&mut self) -> Result<i64, BinaryError> {
        let z = self.uv()?;
        Ok(((z >> 1) as i64) ^ -((z & 1) as i64))
    }

    /// A count of items at least `min_size` bytes each.
    fn count(&mut self, min_size: usize) -> Result<usize, BinaryError> {
        let n = self.uv()?;
        let left = (self.bytes.len() - self.at) as u64;
        if n.saturating_mul(min_size as u64) > left {
            return Err(BinaryError::Count(n));
        }
        usize::try_from(n).map_err(|_| BinaryError::Count(n))
    }

    fn string(&mut self) -> Result<String, BinaryError> {
        let len = self.count(1)?;
        let end = self.at + len;
        let raw = self.bytes.get(self.at..end).ok_or(BinaryError::Truncated)?;
        self.at = end;
        std::str::from_utf8(raw)
            .map(str::to_owned)
            .map_err(|_| BinaryError::Utf8)
    }

    fn phase(&mut self) -> Result<TradingPhase, BinaryError> {
        Ok(match self.u8()? {
            0 => TradingPhase::PreOpen,
            1 => TradingPhase::OpeningAuction,
            2 => TradingPhase::Continuous,
            3 => TradingPhase::LunchBreak,
            4 => TradingPhase::ClosingAuction,
            5 => TradingPhase::PutThrough,
            6 => TradingPhase::Closed,
            p => return Err(BinaryError::UnknownPhase(p)),
        })
    }

    fn levels(&mut self) -> Result<Vec<PriceLevel>, BinaryError> {
        let n = self.count(2)?;
        let mut out: Vec<PriceLevel> = Vec::with_capacity(n);
        for _ in 0..n {
            let price = match out.last() {
                None => self.uv()?,
                Some(p) => p.price.wrapping_add(self.sv()? as u64),
            };
            out.push(PriceLevel {
                price,
                volume: self.uv()?,
            });
        }
        Ok(out)
    }

    /// A `uv` count of items at least `min_size` bytes each, then the items.
    fn list<T>(
        &mut self,
        min_size: usize,
        item: fn(&mut Self) -> Result<T, BinaryError>,
    ) -> Result<Vec<T>, BinaryError> {
        let n = self.count(min_size)?;
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            out.push(item(self)?);
        }
        Ok(out)
    }

    fn index(&mut self) -> Result<IndexQuote, BinaryError> {
        Ok(IndexQuote {
            code: self.string()?,
            value: self.sv()?,
            reference: self.sv()?,
            change: self.sv()?,
            total_volume: self.uv()?,
            total_value: self.uv()?,
        })
    }

    fn indices(&mut self) -> Result<Vec<IndexQuote>, BinaryError> {
        self.list(6, Self::index)
    }

    fn foreign(&mut self) -> Result<ForeignFlow, BinaryError> {
        Ok(ForeignFlow {
            buy_volume: self.uv()?,
            sell_volume: self.uv()?,
            buy_value: self.uv()?,
            sell_value: self.uv()?,
            net_value: self.sv()?,
        })
    }

    fn auction(&mut self) -> Result<Option<Auction>, BinaryError> {
        match self.u8()? {
            0 => Ok(None),
            1 => Ok(Some(Auction {
                price: self.uv()?,
                volume: self.uv()?,
            })),
            b => Err(BinaryError::ReservedBits(u64::from(b))),
        }
    }

    fn quote(&mut self) -> Result<Quote, BinaryError> {
        Ok(Quote {
            symbol: self.string()?,
            reference: self.uv()?,
            ceiling: self.uv()?,
            floor: self.uv()?,
            open: self.uv()?,
            high: self.uv()?,
            low: self.uv()?,
            last: self.uv()?,
            change: self.sv()?,
            total_volume: self.uv()?,
            total_value: self.uv()?,
            bids: self.levels()?,
            asks: self.levels()?,
            foreign_buy: self.uv()?,
            foreign_sell: self.uv()?,
            auction: self.auction()?,
        })
    }

    fn snapshot(&mut self) -> Result<MarketSnapshot, BinaryError> {
        let seq = self.uv()?;
        let ts = self.uv()?;
        let phase = self.phase()?;
        let flags = self.u8()?;
        if flags & !1 != 0 {
            return Err(BinaryError::ReservedBits(u64::from(flags)));
        }
        // symbol, 7 prices, change, 2 totals, 2 sides, 2 foreign, auction.
        let quotes = self.list(17, Self::quote)?;
        Ok(MarketSnapshot {
            seq,
            ts,
            phase,
            quotes,
            indices: self.indices()?,
            foreign: self.foreign()?,
            stale: flags & 1 != 0,
        })
    }

    fn opt<T>(
        &mut self,
        mask: u64,
        bit: u32,
        read: impl FnOnce(&mut Self) -> Result<T, BinaryError>,
    ) -> Result<Option<T>, BinaryError> {
        if mask & (1 << bit) == 0 {
            Ok(None)
        } else {
            read(self).map(Some)
        }
    }

    fn quote_delta(&mut self) -> Result<QuoteDelta, BinaryError> {
        let symbol = self.string()?;
        let m = self.uv()?;
        if m >> (LAST_FIELD_BIT + 1) != 0 {
            return Err(BinaryError::ReservedBits(m));
        }
        Ok(QuoteDelta {
            symbol,
            reference: self.opt(m, 0, Self::uv)?,
            ceiling: self.opt(m, 1, Self::uv)?,
            floor: self.opt(m, 2, Self::uv)?,
            open: self.opt(m, 3, Self::uv)?,
            high: self.opt(m, 4, Self::uv)?,
            low: self.opt(m, 5, Self::uv)?,
            last: self.opt(m, 6, Self::uv)?,
            change: self.opt(m, 7, Self::sv)?,
            total_volume: self.opt(m, 8, Self::uv)?,
            total_value: self.opt(m, 9, Self::uv)?,
            bids: self.opt(m, 10, Self::levels)?,
            asks: self.opt(m, 11, Self::levels)?,
            foreign_buy: self.opt(m, 12, Self::uv)?,
            foreign_sell: self.opt(m, 13, Self::uv)?,
            auction: self.opt(m, 14, Self::auction)?,
        })
    }

    fn delta(&mut self) -> Result<Delta, BinaryError> {
        let seq = self.uv()?;
        let back = self.uv()?;
        let ts = self.uv()?;
        let flags = self.u8()?;
        if flags & !0x0f != 0 {
            return Err(BinaryError::ReservedBits(u64::from(flags)));
        }
        let phase = if flags & 1 != 0 {
            Some(self.phase()?)
        } else {
            None
        };
        let quotes = self.list(2, Self::quote_delta)?;
        let indices = self.indices()?;
        let foreign = if flags & 2 != 0 {
            Some(self.foreign()?)
        } else {
            None
        };
        Ok(Delta {
            seq,
            ts,
            base: seq.wrapping_sub(back),
            phase,
            quotes,
            indices,
            foreign,
            stale: (flags & 4 != 0).then_some(flags & 8 != 0),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uv_bytes(v: u64) -> Vec<u8> {
        let mut w = Vec::new();
        uv(&mut w, v);
        w
    }

    fn sv_bytes(v: i64) -> Vec<u8> {
        let mut w = Vec::new();
        sv(&mut w, v);
        w
    }

    #[test]
    fn varints_are_leb128_and_zigzag_as_documented() {
        assert_eq!(uv_bytes(0), [0]);
        assert_eq!(uv_bytes(300), [0xac, 0x02]);
        assert_eq!(uv_bytes(u64::MAX).len(), 10);
        assert_eq!(sv_bytes(0), [0]);
        assert_eq!(sv_bytes(-1), [1]);
        assert_eq!(sv_bytes(1), [2]);
        assert_eq!(sv_bytes(-200), [0x8f, 0x03]);
        for v in [0, 1, 127, 128, 300, u64::from(u32::MAX), u64::MAX] {
            let bytes = uv_bytes(v);
            assert_eq!(
                Reader {
                    bytes: &bytes,
                    at: 0
                }
                .uv(),
                Ok(v)
            );
        }
        for v in [0, 1, -1, -200, i64::MIN, i64::MAX] {
            let bytes = sv_bytes(v);
            assert_eq!(
                Reader {
                    bytes: &bytes,
                    at: 0
                }
                .sv(),
                Ok(v)
            );
        }
        let over = [0xff; 10];
        assert_eq!(
            Reader {
                bytes: &over,
                at: 0
            }
            .uv(),
            Err(BinaryError::VarintOverflow)
        );
    }
}
