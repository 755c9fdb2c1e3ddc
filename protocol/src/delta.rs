//! Deltas between two ticks, and the pure functions server and browser
//! share to make and apply them: [`diff`], [`apply`], and restricting a
//! snapshot or a delta to a subscription ([`restrict`],
//! [`Delta::restricted`]).
//!
//! A [`Delta`] turns the snapshot of tick `base` into the snapshot of tick
//! `seq`: it names only what changed. A quote that changed appears as a
//! [`QuoteDelta`]: its symbol and each changed field; a book side (`bids`
//! or `asks`) that changed in any way is sent whole. A changed index is
//! sent whole. The phase, the foreign flow and the stale flag appear only
//! when they changed. A tick where nothing changed still has a delta, with
//! no entries, so every `seq` arrives.
//!
//! Deltas only describe value changes: when the list of quoted symbols or
//! of indices changes (a new universe), [`diff`] answers `None` and the
//! server sends a keyframe instead.
//!
//! The server computes one delta per tick over the whole universe and
//! restricts it per subscription set ([`Delta::restricted`]), which gives
//! the same result as diffing the restricted snapshots.

use serde::{Deserialize, Deserializer, Serialize};

use crate::{Auction, ForeignFlow, IndexQuote, MarketSnapshot, PriceLevel, Quote, TradingPhase};

/// What changed between the tick `base` and the tick `seq`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct Delta {
    /// The tick this delta leads to.
    pub seq: u64,
    /// Server time of tick `seq`, unix microseconds.
    pub ts: u64,
    /// The `seq` of the snapshot this delta applies to.
    pub base: u64,
    /// The new trading phase, when it changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub phase: Option<TradingPhase>,
    /// The quotes that changed, in snapshot order.
    pub quotes: Vec<QuoteDelta>,
    /// The indices that changed, whole, in snapshot order.
    pub indices: Vec<IndexQuote>,
    /// The new foreign flow, when it changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub foreign: Option<ForeignFlow>,
    /// The new stale flag, when it changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub stale: Option<bool>,
}

/// The changed fields of one quote; absent fields are unchanged.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct QuoteDelta {
    /// Ticker of the quote that changed.
    pub symbol: String,
    /// New [`Quote::reference`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub reference: Option<u64>,
    /// New [`Quote::ceiling`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub ceiling: Option<u64>,
    /// New [`Quote::floor`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub floor: Option<u64>,
    /// New [`Quote::open`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub open: Option<u64>,
    /// New [`Quote::high`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub high: Option<u64>,
    /// New [`Quote::low`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub low: Option<u64>,
    /// New [`Quote::last`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub last: Option<u64>,
    /// New [`Quote::change`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub change: Option<i64>,
    /// New [`Quote::total_volume`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub total_volume: Option<u64>,
    /// New [`Quote::total_value`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub total_value: Option<u64>,
    /// The whole new bid side, when any level of it changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub bids: Option<Vec<PriceLevel>>,
    /// The whole new ask side, when any level of it changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub asks: Option<Vec<PriceLevel>>,
    /// New [`Quote::foreign_buy`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub foreign_buy: Option<u64>,
    /// New [`Quote::foreign_sell`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub foreign_sell: Option<u64>,
    /// The auction projection, when it changed: an object when there is
    /// one now, `null` when it ended.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub auction: Option<Option<Auction>>,
}

/// A field that is present reads as `Some`, even when it is `null`.
fn present<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(d).map(Some)
}

/// Why a delta cannot be applied to a snapshot.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApplyError {
    /// The delta applies to another tick than the snapshot's: the client
    /// missed something and should ask for a keyframe (`resync`).
    #[error("delta applies to seq {base}, the snapshot is seq {have}")]
    BaseMismatch {
        /// The snapshot's `seq`.
        have: u64,
        /// The delta's `base`.
        base: u64,
    },
    /// The delta names a quote the snapshot does not have.
    #[error("delta quotes {0:?}, which the snapshot does not")]
    UnknownSymbol(String),
    /// The delta names an index the snapshot does not have.
    #[error("delta carries index {0:?}, which the snapshot does not")]
    UnknownIndex(String),
}

/// The delta that turns `prev` into `next`, or `None` when the two do not
/// quote the same symbols or indices in the same order (then only a
/// keyframe can carry the change).
pub fn diff(prev: &MarketSnapshot, next: &MarketSnapshot) -> Option<Delta> {
    let same_symbols = prev.quotes.len() == next.quotes.len()
        && prev
            .quotes
            .iter()
            .zip(&next.quotes)
            .all(|(a, b)| a.symbol == b.symbol);
    let same_indices = prev.indices.len() == next.indices.len()
        && prev
            .indices
            .iter()
            .zip(&next.indices)
            .all(|(a, b)| a.code == b.code);
    if !same_symbols || !same_indices {
        return None;
    }
    Some(Delta {
        seq: next.seq,
        ts: next.ts,
        base: prev.seq,
        phase: changed(&prev.phase, &next.phase),
        quotes: prev
            .quotes
            .iter()
            .zip(&next.quotes)
            .filter_map(|(a, b)| diff_quote(a, b))
            .collect(),
        indices: prev
            .indices
            .iter()
            .zip(&next.indices)
            .filter(|(a, b)| a != b)
            .map(|(_, b)| b.clone())
            .collect(),
        foreign: changed(&prev.foreign, &next.foreign),
        stale: changed(&prev.stale, &next.stale),
    })
}

fn changed<T: PartialEq + Clone>(a: &T, b: &T) -> Option<T> {
    (a != b).then(|| b.clone())
}

/// The changed fields of `b` relative to `a` (same symbol), or `None`
/// when nothing changed.
pub fn diff_quote(a: &Quote, b: &Quote) -> Option<QuoteDelta> {
    if a == b {
        return None;
    }
    Some(QuoteDelta {
        symbol: b.symbol.clone(),
        reference: changed(&a.reference, &b.reference),
        ceiling: changed(&a.ceiling, &b.ceiling),
        floor: changed(&a.floor, &b.floor),
        open: changed(&a.open, &b.open),
        high: changed(&a.high, &b.high),
        low: changed(&a.low, &b.low),
        last: changed(&a.last, &b.last),
        change: changed(&a.change, &b.change),
        total_volume: changed(&a.total_volume, &b.total_volume),
        total_value: changed(&a.total_value, &b.total_value),
        bids: changed(&a.bids, &b.bids),
        asks: changed(&a.asks, &b.asks),
        foreign_buy: changed(&a.foreign_buy, &b.foreign_buy),
        foreign_sell: changed(&a.foreign_sell, &b.foreign_sell),
        auction: changed(&a.auction, &b.auction),
    })
}

/// Applies `delta` to `snapshot`, which becomes the snapshot of tick
/// `delta.seq`. Checks everything first: on error the snapshot is
/// unchanged.
pub fn apply(snapshot: &mut MarketSnapshot, delta: &Delta) -> Result<(), ApplyError> {
    if snapshot.seq != delta.base {
        return Err(ApplyError::BaseMismatch {
            have: snapshot.seq,
            base: delta.base,
        });
    }
    let quotes = positions(
        &snapshot.quotes,
        delta.quotes.iter().map(|d| d.symbol.as_str()),
        |q| q.symbol.as_str(),
    )
    .map_err(ApplyError::UnknownSymbol)?;
    let indices = positions(
        &snapshot.indices,
        delta.indices.iter().map(|i| i.code.as_str()),
        |i| i.code.as_str(),
    )
    .map_err(ApplyError::UnknownIndex)?;
    for (at, d) in quotes.into_iter().zip(&delta.quotes) {
        if let Some(q) = snapshot.quotes.get_mut(at) {
            apply_quote(q, d);
        }
    }
    for (at, i) in indices.into_iter().zip(&delta.indices) {
        if let Some(slot) = snapshot.indices.get_mut(at) {
            slot.clone_from(i);
        }
    }
    snapshot.seq = delta.seq;
    snapshot.ts = delta.ts;
    if let Some(phase) = delta.phase {
        snapshot.phase = phase;
    }
    if let Some(foreign) = delta.foreign {
        snapshot.foreign = foreign;
    }
    if let Some(stale) = delta.stale {
        snapshot.stale = stale;
    }
    Ok(())
}

/// Where each of `names` is in `items`. Deltas list entries in snapshot
/// order, so the search resumes after the previous hit and a whole delta
/// costs one pass; out-of-order names still work (the search wraps).
fn positions<'a, T>(
    items: &[T],
    names: impl Iterator<Item = &'a str>,
    name_of: impl Fn(&T) -> &str,
) -> Result<Vec<usize>, String> {
    let mut out = Vec::new();
    let mut from = 0;
    for name in names {
        let found = (from..items.len())
            .chain(0..from.min(items.len()))
            .find(|&i| items.get(i).is_some_and(|it| name_of(it) == name));
        match found {
            Some(i) => {
                out.push(i);
                from = i + 1;
            }
            None => return Err(name.to_owned()),
        }
    }
    Ok(out)
}

/// Writes the fields present in `d` into `q`.
pub fn apply_quote(q: &mut Quote, d: &QuoteDelta) {
    fn set<T: Clone>(slot: &mut T, value: &Option<T>) {
        if let Some(v) = value {
            slot.clone_from(v);
        }
    }
    set(&mut q.reference, &d.reference);
    set(&mut q.ceiling, &d.ceiling);
    set(&mut q.floor, &d.floor);
    set(&mut q.open, &d.open);
    set(&mut q.high, &d.high);
    set(&mut q.low, &d.low);
    set(&mut q.last, &d.last);
    set(&mut q.change, &d.change);
    set(&mut q.total_volume, &d.total_volume);
    set(&mut q.total_value, &d.total_value);
    set(&mut q.bids, &d.bids);
    set(&mut q.asks, &d.asks);
    set(&mut q.foreign_buy, &d.foreign_buy);
    set(&mut q.foreign_sell, &d.foreign_sell);
    set(&mut q.auction, &d.auction);
}

/// `snapshot` with only the quotes whose symbol `keep` accepts (in their
/// order); indices, foreign flow and everything else whole.
pub fn restrict(snapshot: &MarketSnapshot, keep: impl Fn(&str) -> bool) -> MarketSnapshot {
    MarketSnapshot {
        seq: snapshot.seq,
        ts: snapshot.ts,
        phase: snapshot.phase,
        quotes: snapshot
            .quotes
            .iter()
            .filter(|q| keep(&q.symbol))
            .cloned()
            .collect(),
        indices: snapshot.indices.clone(),
        foreign: snapshot.foreign,
        stale: snapshot.stale,
    }
}

impl Delta {
    /// This delta with only the quotes whose symbol `keep` accepts.
    pub fn restricted(&self, keep: impl Fn(&str) -> bool) -> Delta {
        Delta {
            seq: self.seq,
            ts: self.ts,
            base: self.base,
            phase: self.phase,
            quotes: self
                .quotes
                .iter()
                .filter(|q| keep(&q.symbol))
                .cloned()
                .collect(),
            indices: self.indices.clone(),
            foreign: self.foreign,
            stale: self.stale,
        }
    }

    /// True when nothing changed (the tick still advances `seq`).
    pub fn is_empty(&self) -> bool {
        self.quotes.is_empty()
            && self.indices.is_empty()
            && self.phase.is_none()
            && self.foreign.is_none()
            && self.stale.is_none()
    }
}
