//! Where snapshots come from.
//!
//! A [`SnapshotSource`] produces the whole market state once per tick; the
//! ticker stamps `seq` and `ts` and hands it to the hub, which has it
//! serialized once (`fanout::encoder`) when clients are connected. The default source is the [`Simulator`], a seeded random walk of
//! the real VN30 basket inside each stock's HOSE price band ([`tick_size`]),
//! built from the static tables in [`vn30`]. A replay file or a broker
//! connection will implement the same trait.

pub mod ingest;
pub mod market;
pub mod replay;
pub mod schedule;
pub mod simulator;
pub mod tick_size;
pub mod vn30;

pub use simulator::Simulator;

/// A producer of market state, polled once per tick by the ticker.
pub trait SnapshotSource: Send + 'static {
    /// Symbols quoted, in the order of `MarketSnapshot::quotes`.
    fn symbols(&self) -> Vec<String>;
    /// Advance one tick; `seq` and `ts` are left 0 — the ticker stamps them.
    fn next_snapshot(&mut self) -> marketfeed_protocol::MarketSnapshot;
}
