//! Sequence tracking: detects missed snapshots.
//!
//! The server stamps every snapshot with `seq`, one more than the previous
//! tick's, never reused within a server run. Within one connection a jump
//! means the server dropped snapshots for this client (it was slow); such a
//! jump is a *gap* and is counted. The first snapshot of a new connection is
//! a *resync*: it carries the full state, and the server may have restarted
//! with a new numbering, so a jump across a reconnect is not a gap.
//!
//! `hello` names the stream (its `epoch`). A connection to another server
//! of the same epoch — another edge behind the same publisher — continues
//! the numbering: its first snapshot is still a resync (no gap is counted
//! for ticks missed while away) but a `seq` below the last one seen is
//! out of date and dropped, so `seq` never goes back. A new epoch is a new
//! stream: the numbering starts over, with no gap counted.

use serde::Serialize;

/// What one received `seq` means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeqOutcome {
    /// First snapshot of a connection: the state is (re)established.
    Resync,
    /// The expected next snapshot.
    InOrder,
    /// Snapshots were skipped.
    Gap {
        /// The `seq` that should have come.
        expected: u64,
        /// The `seq` that came.
        received: u64,
        /// How many snapshots were skipped.
        missed: u64,
    },
    /// A `seq` not above the last one on this connection: out of date.
    Stale,
}

/// What gap listeners are told (`GapEvent` in TypeScript).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(not(target_arch = "wasm32"), derive(ts_rs::TS))]
pub struct GapEvent {
    /// The `seq` that should have come.
    pub expected: u64,
    /// The `seq` that came.
    pub received: u64,
    /// Snapshots skipped.
    pub missed: u64,
    /// Gaps seen so far by this client.
    pub gap_count: u64,
}

/// Per-client sequence state.
#[derive(Debug, Clone, Default)]
pub struct GapTracker {
    last_seq: Option<u64>,
    in_sync: bool,
    /// The stream of `last_seq` (0: unknown).
    epoch: u64,
    /// The current connection's stream is the one of `last_seq`.
    same_stream: bool,
    gap_count: u64,
    missed: u64,
}

impl GapTracker {
    /// A tracker that has seen nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// Marks the start of a new connection: its first snapshot resyncs.
    pub fn resync(&mut self) {
        self.in_sync = false;
    }

    /// Records the server's `hello`: its `epoch` says whether the numbering
    /// continues (the same, known epoch) or starts over; the next snapshot
    /// resyncs either way.
    pub fn hello(&mut self, epoch: u64) {
        self.same_stream = epoch != 0 && epoch == self.epoch;
        self.epoch = epoch;
        self.in_sync = false;
    }

    /// Records a received `seq` and classifies it. A stale `seq` is not
    /// recorded.
    pub fn observe(&mut self, seq: u64) -> SeqOutcome {
        let outcome = match (self.in_sync, self.last_seq) {
            (true, Some(last)) if seq <= last => return SeqOutcome::Stale,
            (false, Some(last)) if self.same_stream && seq < last => return SeqOutcome::Stale,
            (true, Some(last)) if seq == last + 1 => SeqOutcome::InOrder,
            (true, Some(last)) => {
                let missed = seq - last - 1;
                self.gap_count += 1;
                self.missed += missed;
                SeqOutcome::Gap {
                    expected: last + 1,
                    received: seq,
                    missed,
                }
            }
            _ => SeqOutcome::Resync,
        };
        self.in_sync = true;
        self.last_seq = Some(seq);
        outcome
    }

    /// The last accepted `seq`, across connections.
    pub fn last_seq(&self) -> Option<u64> {
        self.last_seq
    }

    /// Number of gaps seen so far.
    pub fn gap_count(&self) -> u64 {
        self.gap_count
    }

    /// Total snapshots skipped over all gaps.
    pub fn missed(&self) -> u64 {
        self.missed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test;

    #[wasm_bindgen_test(unsupported = test)]
    fn first_snapshot_resyncs_then_in_order() {
        let mut t = GapTracker::new();
        assert_eq!(t.last_seq(), None);
        assert_eq!(t.observe(41), SeqOutcome::Resync);
        assert_eq!(t.observe(42), SeqOutcome::InOrder);
        assert_eq!(t.observe(43), SeqOutcome::InOrder);
        assert_eq!(t.last_seq(), Some(43));
        assert_eq!(t.gap_count(), 0);
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn jumps_are_counted() {
        let mut t = GapTracker::new();
        t.observe(1);
        assert_eq!(
            t.observe(5),
            SeqOutcome::Gap {
                expected: 2,
                received: 5,
                missed: 3
            }
        );
        t.observe(6);
        assert_eq!(
            t.observe(8),
            SeqOutcome::Gap {
                expected: 7,
                received: 8,
                missed: 1
            }
        );
        assert_eq!((t.gap_count(), t.missed()), (2, 4));
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn stale_and_duplicate_seqs_are_ignored() {
        let mut t = GapTracker::new();
        t.observe(10);
        assert_eq!(t.observe(10), SeqOutcome::Stale);
        assert_eq!(t.observe(3), SeqOutcome::Stale);
        assert_eq!(t.last_seq(), Some(10));
        assert_eq!(t.observe(11), SeqOutcome::InOrder);
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn another_edge_of_the_same_epoch_continues_without_regression_or_gap() {
        let mut t = GapTracker::new();
        t.hello(7);
        assert_eq!(t.observe(100), SeqOutcome::Resync);
        assert_eq!(t.observe(101), SeqOutcome::InOrder);
        // Failover to another edge of epoch 7, which is a tick behind.
        t.resync();
        t.hello(7);
        assert_eq!(t.observe(100), SeqOutcome::Stale);
        assert_eq!(t.last_seq(), Some(101));
        assert_eq!(t.observe(101), SeqOutcome::Resync);
        assert_eq!(t.observe(102), SeqOutcome::InOrder);
        // Or ahead: a resync, no gap for the ticks missed while away.
        t.resync();
        t.hello(7);
        assert_eq!(t.observe(110), SeqOutcome::Resync);
        assert_eq!(t.observe(111), SeqOutcome::InOrder);
        assert_eq!(t.gap_count(), 0);
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn a_new_epoch_starts_the_numbering_over_without_a_gap() {
        let mut t = GapTracker::new();
        t.hello(7);
        t.observe(500);
        // Mid-connection: the edge greets again with the new stream.
        t.hello(8);
        assert_eq!(t.observe(1), SeqOutcome::Resync);
        assert_eq!(t.observe(2), SeqOutcome::InOrder);
        // Across a reconnect as well.
        t.resync();
        t.hello(9);
        assert_eq!(t.observe(1), SeqOutcome::Resync);
        assert_eq!(t.gap_count(), 0);
        assert_eq!(t.last_seq(), Some(1));
        // A server that names no epoch is never taken for the same stream.
        t.resync();
        t.hello(0);
        assert_eq!(t.observe(1), SeqOutcome::Resync);
        t.resync();
        t.hello(0);
        assert_eq!(t.observe(1), SeqOutcome::Resync);
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn a_reconnect_resyncs_without_counting_a_gap() {
        let mut t = GapTracker::new();
        t.observe(100);
        t.resync();
        // Restarted server: numbering starts over.
        assert_eq!(t.observe(1), SeqOutcome::Resync);
        assert_eq!(t.observe(2), SeqOutcome::InOrder);
        t.resync();
        // Same server, ticks missed while away: still a resync.
        assert_eq!(t.observe(50), SeqOutcome::Resync);
        assert_eq!(t.gap_count(), 0);
        assert_eq!(t.last_seq(), Some(50));
    }
}
