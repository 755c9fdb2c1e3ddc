//! Counters and histograms shared by every client of one run.
//!
//! The load generator runs on one thread, so the clients share one
//! [`Stats`] behind an `Rc<RefCell<_>>` and update it synchronously.

use std::collections::HashMap;

use hdrhistogram::Histogram;

/// Highest latency the histograms track, microseconds (60 s).
const MAX_LATENCY_US: u64 = 60_000_000;

/// Kernel receive times of one tick across all clients.
#[derive(Debug, Clone, Copy)]
pub struct TickAgg {
    /// The tick's server timestamp, unix µs.
    pub ts: u64,
    /// Clients that received it during the window.
    pub count: u64,
    /// Earliest kernel receive time, unix ns.
    pub first_ns: u64,
    /// Latest kernel receive time, unix ns.
    pub last_ns: u64,
}

/// Everything measured during one run.
#[derive(Debug)]
pub struct Stats {
    /// Whether the measurement window is open.
    pub measuring: bool,
    /// Latency by kernel receive time, µs.
    pub kernel: Histogram<u64>,
    /// Latency by user-space receive time, µs.
    pub user: Histogram<u64>,
    /// Snapshots received during the window (latency samples).
    pub window_msgs: u64,
    /// Snapshots received over the whole run.
    pub total_msgs: u64,
    /// Payload bytes of the window snapshots (inflated, when compressed).
    pub window_bytes: u64,
    /// Wire bytes (frame headers included) of the window snapshots.
    pub window_snapshot_wire_bytes: u64,
    /// Messages that arrived compressed (permessage-deflate), whole run.
    pub compressed_msgs: u64,
    /// Window snapshots whose read carried no kernel timestamp.
    pub missing_kernel_ts: u64,
    /// Window snapshots stamped later than they were received (clock skew).
    pub negative_latency: u64,
    /// `hello` messages received.
    pub hellos: u64,
    /// `subscribed` answers received.
    pub subscribed: u64,
    /// `error` messages received.
    pub server_errors: u64,
    /// Tick interval announced by the server's `hello`, ms.
    pub tick_interval_ms: Option<u64>,
    /// Sequence numbers skipped, summed over clients.
    pub gaps: u64,
    /// Times a client saw a skip.
    pub gap_events: u64,
    /// Clients that saw at least one skip.
    pub clients_with_gaps: u64,
    /// Snapshots whose `seq` did not increase.
    pub reordered: u64,
    /// Market messages of the `seq` already held (keyframes restating it).
    pub restated: u64,
    /// Messages that were not JSON of the expected shape.
    pub invalid_msgs: u64,
    /// Healthy clients that completed the upgrade.
    pub connected: u64,
    /// Stalled (never-reading) clients that completed the upgrade.
    pub connected_stalled: u64,
    /// Clients whose connect or upgrade failed or timed out.
    pub connect_failures: u64,
    /// First connect failure, for the summary.
    pub first_connect_error: Option<String>,
    /// Connections lost before the end of the run.
    pub disconnects: u64,
    /// First disconnect reason, for the summary.
    pub first_disconnect: Option<String>,
    /// Server pings answered with a pong.
    pub pongs_sent: u64,
    /// Market messages of the window that came in binary frames.
    pub window_binary_msgs: u64,
    /// Bytes read from the sockets in the window: every frame, headers
    /// included (what the wire carried).
    pub window_wire_bytes: u64,
    /// Per-tick delivery spread, window only.
    pub ticks: HashMap<u64, TickAgg>,
}

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_LATENCY_US, 3)
        .expect("constant bounds 1..60 s with 3 significant digits are valid")
}

impl Default for Stats {
    fn default() -> Self {
        Self {
            measuring: false,
            kernel: histogram(),
            user: histogram(),
            window_msgs: 0,
            total_msgs: 0,
            window_bytes: 0,
            window_snapshot_wire_bytes: 0,
            compressed_msgs: 0,
            missing_kernel_ts: 0,
            negative_latency: 0,
            hellos: 0,
            subscribed: 0,
            server_errors: 0,
            tick_interval_ms: None,
            gaps: 0,
            gap_events: 0,
            clients_with_gaps: 0,
            reordered: 0,
            restated: 0,
            invalid_msgs: 0,
            connected: 0,
            connected_stalled: 0,
            connect_failures: 0,
            first_connect_error: None,
            disconnects: 0,
            first_disconnect: None,
            pongs_sent: 0,
            window_binary_msgs: 0,
            window_wire_bytes: 0,
            ticks: HashMap::new(),
        }
    }
}

fn latency_us(ts_us: u64, at_ns: u64) -> Option<u64> {
    (at_ns / 1_000).checked_sub(ts_us)
}

impl Stats {
    /// Records one received snapshot.
    ///
    /// `catch_up` marks the snapshot a server sends right after `hello`:
    /// it may be up to a tick old, so it is counted but not timed.
    pub fn record_snapshot(
        &mut self,
        len: usize,
        ts_us: u64,
        seq: u64,
        kernel_ns: Option<u64>,
        user_ns: u64,
        catch_up: bool,
    ) {
        self.total_msgs += 1;
        if !self.measuring || catch_up {
            return;
        }
        self.window_msgs += 1;
        self.window_bytes += len as u64;
        match latency_us(ts_us, user_ns) {
            Some(us) => self.user.saturating_record(us),
            None => self.negative_latency += 1,
        }
        let Some(k_ns) = kernel_ns else {
            self.missing_kernel_ts += 1;
            return;
        };
        match latency_us(ts_us, k_ns) {
            Some(us) => self.kernel.saturating_record(us),
            None => self.negative_latency += 1,
        }
        let tick = self.ticks.entry(seq).or_insert(TickAgg {
            ts: ts_us,
            count: 0,
            first_ns: k_ns,
            last_ns: k_ns,
        });
        tick.count += 1;
        tick.first_ns = tick.first_ns.min(k_ns);
        tick.last_ns = tick.last_ns.max(k_ns);
    }

    /// Records the wire size of the snapshot just passed to
    /// [`Self::record_snapshot`] (same `catch_up`).
    pub fn record_wire(&mut self, wire_len: usize, catch_up: bool) {
        if self.measuring && !catch_up {
            self.window_snapshot_wire_bytes += wire_len as u64;
        }
    }

    /// Records a skip of `missing` sequence numbers; `first_for_client` is
    /// true on that client's first skip.
    pub fn record_gap(&mut self, missing: u64, first_for_client: bool) {
        self.gaps += missing;
        self.gap_events += 1;
        if first_for_client {
            self.clients_with_gaps += 1;
        }
    }

    /// Records `len` bytes read from a socket.
    pub fn record_read(&mut self, len: usize) {
        if self.measuring {
            self.window_wire_bytes += len as u64;
        }
    }

    /// Records a lost connection.
    pub fn record_disconnect(&mut self, why: String) {
        self.disconnects += 1;
        self.first_disconnect.get_or_insert(why);
    }

    /// Records a failed connect or upgrade.
    pub fn record_connect_failure(&mut self, why: String) {
        self.connect_failures += 1;
        self.first_connect_error.get_or_insert(why);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_and_catch_up_rules() {
        let mut s = Stats::default();
        s.record_snapshot(10, 1_000, 1, Some(2_000_000), 3_000_000, false);
        assert_eq!((s.total_msgs, s.window_msgs), (1, 0));
        s.measuring = true;
        s.record_snapshot(10, 1_000, 2, Some(2_000_000), 3_000_000, true);
        assert_eq!(s.window_msgs, 0);
        s.record_snapshot(10, 1_000, 3, Some(2_000_000), 3_000_000, false);
        s.record_snapshot(10, 1_000, 3, None, 1_500_000, false);
        assert_eq!(s.window_msgs, 2);
        assert_eq!(s.kernel.len(), 1);
        assert_eq!(s.kernel.max(), 1_000);
        assert_eq!(s.user.len(), 2);
        assert_eq!(s.missing_kernel_ts, 1);
        assert_eq!(s.ticks.get(&3).map(|t| t.count), Some(1));
        s.record_snapshot(10, 5_000, 4, Some(1_000_000), 1_000_000, false);
        assert_eq!(s.negative_latency, 2);
    }
}
