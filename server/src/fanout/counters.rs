//! The fan-out's counters, each listed once.
//!
//! One line of `counters!` per counter gives its field of [`HubStats`]
//! (with the doc a reader sees), the atomic the fan-out bumps, and how it
//! is exported to Prometheus (`/metrics`) — or `internal` when it is not.
//! Adding a counter is one line here, plus the place that bumps it.

use std::fmt;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;

/// Declares [`HubStats`], its atomic [`Counters`] and their exposition.
macro_rules! counters {
    ($(
        $(#[doc = $doc:literal])*
        $field:ident: $ty:ty = $cell:ty, $export:ident $(($name:literal, $help:literal))?;
    )*) => {
        /// Counters the hub keeps; read with `Server::stats`.
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
        pub struct HubStats {
            $( $(#[doc = $doc])* pub $field: $ty, )*
        }

        /// The live values behind [`HubStats`], bumped without a lock.
        #[derive(Debug, Default)]
        pub(crate) struct Counters {
            $( pub(crate) $field: $cell, )*
        }

        impl Counters {
            /// The values now.
            pub(crate) fn read(&self) -> HubStats {
                HubStats { $( $field: self.$field.load(Ordering::Relaxed), )* }
            }
        }

        impl HubStats {
            /// Writes every exported counter as a metric.
            pub(crate) fn encode(&self, e: &mut DescriptorEncoder) -> fmt::Result {
                $( counters!(@export e, $export, self.$field $(, $name, $help)?); )*
                Ok(())
            }
        }
    };
    (@export $e:ident, internal, $v:expr) => {};
    (@export $e:ident, $kind:ident, $v:expr, $name:literal, $help:literal) => {
        $kind($e, $name, $help, $v)?
    };
}

counters! {
    /// Snapshots produced by the feed (ticks).
    ticks: u64 = AtomicU64, counter("marketfeed_ticks", "Snapshots produced by the feed");
    /// Snapshots serialized (at most one per tick).
    serializations: u64 = AtomicU64,
        counter("marketfeed_serializations", "Snapshots serialized (at most one per tick)");
    /// Clients connected now.
    clients: usize = AtomicUsize, gauge("marketfeed_clients", "WebSocket clients connected now");
    /// Most clients connected at once.
    peak_clients: usize = AtomicUsize,
        gauge("marketfeed_clients_peak", "Most WebSocket clients connected at once");
    /// Clients ever registered.
    connections: u64 = AtomicU64, internal;
    /// Frames dropped by the slow-client policy, all clients, all time.
    dropped: u64 = AtomicU64,
        counter("marketfeed_slow_client_drops", "Snapshots dropped for slow clients");
    /// `seq` of the newest snapshot.
    last_seq: u64 = AtomicU64, internal;
    /// Time the last fan-out took, microseconds.
    last_fanout_us: u64 = AtomicU64,
        seconds_gauge("marketfeed_tick_fanout_last_seconds", "Time the last fan-out to every client took");
    /// Time the last serialization took, microseconds.
    last_encode_us: u64 = AtomicU64,
        seconds_gauge("marketfeed_tick_encode_last_seconds", "Time the last snapshot took to encode");
    /// Time all serializations took, microseconds (÷ `serializations`
    /// for the mean).
    encode_us_total: u64 = AtomicU64,
        seconds_counter("marketfeed_tick_encode_seconds", "Time spent encoding snapshots; divide by serializations for the mean per tick");
    /// Time all fan-outs took, microseconds (÷ `fanouts` for the mean).
    fanout_us_total: u64 = AtomicU64,
        seconds_counter("marketfeed_tick_fanout_seconds", "Time spent fanning snapshots out; divide by fanouts for the mean per tick");
    /// Fan-outs performed (ticks with at least one client).
    fanouts: u64 = AtomicU64,
        counter("marketfeed_fanouts", "Fan-outs performed (ticks with at least one client)");
    /// Bytes handed to the kernel for all clients, all time.
    bytes_sent: u64 = AtomicU64,
        counter("marketfeed_bytes_sent", "Bytes handed to the kernel for all WebSocket clients");
    /// Clients connected now that negotiated permessage-deflate.
    deflate_clients: usize = AtomicUsize,
        gauge("marketfeed_deflate_clients", "WebSocket clients connected now that negotiated permessage-deflate");
    /// Snapshots compressed for permessage-deflate clients (at most one
    /// per tick, however many such clients).
    deflations: u64 = AtomicU64,
        counter("marketfeed_deflations", "Snapshots compressed for permessage-deflate clients (at most one per tick)");
    /// Time the last compression took, microseconds.
    last_deflate_us: u64 = AtomicU64,
        seconds_gauge("marketfeed_tick_deflate_last_seconds", "Time the last snapshot took to compress");
    /// Time all compressions took, microseconds (÷ `deflations` for the mean).
    deflate_us_total: u64 = AtomicU64,
        seconds_counter("marketfeed_tick_deflate_seconds", "Time spent compressing snapshots; divide by deflations for the mean per tick");
    /// Plain frame bytes compressed, all compressions together.
    deflate_in_bytes: u64 = AtomicU64,
        counter("marketfeed_deflate_input_bytes", "Plain snapshot frame bytes compressed (once per tick)");
    /// Deflated frame bytes produced, all compressions together: the
    /// ratio to `deflate_in_bytes` is what each deflate client saves.
    deflate_out_bytes: u64 = AtomicU64,
        counter("marketfeed_deflate_output_bytes", "Deflated snapshot frame bytes produced (once per tick)");
}

impl Counters {
    /// Bumps a counter by one.
    pub(crate) fn inc(cell: &AtomicU64) {
        cell.fetch_add(1, Ordering::Relaxed);
    }

    /// Adds `n` to a counter.
    pub(crate) fn add(cell: &AtomicU64, n: usize) {
        cell.fetch_add(n as u64, Ordering::Relaxed);
    }

    /// Records `took` as the last duration in `last` and adds it to `total`.
    pub(crate) fn time(last: &AtomicU64, total: &AtomicU64, took: Duration) {
        let us = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        last.store(us, Ordering::Relaxed);
        total.fetch_add(us, Ordering::Relaxed);
    }
}

fn counter(e: &mut DescriptorEncoder, name: &str, help: &str, v: u64) -> fmt::Result {
    let c = ConstCounter::new(v);
    c.encode(e.encode_descriptor(name, help, None, c.metric_type())?)
}

/// A gauge of a count.
pub(crate) fn gauge(e: &mut DescriptorEncoder, name: &str, help: &str, v: usize) -> fmt::Result {
    let g = ConstGauge::new(i64::try_from(v).unwrap_or(i64::MAX));
    g.encode(e.encode_descriptor(name, help, None, g.metric_type())?)
}

fn seconds_gauge(e: &mut DescriptorEncoder, name: &str, help: &str, us: u64) -> fmt::Result {
    let g = ConstGauge::new(us as f64 / 1e6);
    g.encode(e.encode_descriptor(name, help, None, g.metric_type())?)
}

fn seconds_counter(e: &mut DescriptorEncoder, name: &str, help: &str, us: u64) -> fmt::Result {
    let c = ConstCounter::new(us as f64 / 1e6);
    c.encode(e.encode_descriptor(name, help, None, c.metric_type())?)
}

#[cfg(test)]
mod tests {
    use prometheus_client::collector::Collector;
    use prometheus_client::registry::Registry;

    use super::*;

    #[derive(Debug)]
    struct Fixed(HubStats);

    impl Collector for Fixed {
        fn encode(&self, mut encoder: DescriptorEncoder) -> fmt::Result {
            self.0.encode(&mut encoder)
        }
    }

    fn render(stats: HubStats) -> String {
        let mut registry = Registry::default();
        registry.register_collector(Box::new(Fixed(stats)));
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &registry).expect("encodes");
        out
    }

    #[test]
    fn counters_are_read_and_exported_once_each() {
        let c = Counters::default();
        Counters::inc(&c.ticks);
        Counters::inc(&c.ticks);
        Counters::inc(&c.fanouts);
        c.clients.store(7, Ordering::Relaxed);
        c.bytes_sent.store(1000, Ordering::Relaxed);
        Counters::time(
            &c.last_encode_us,
            &c.encode_us_total,
            Duration::from_millis(1500),
        );
        Counters::time(
            &c.last_encode_us,
            &c.encode_us_total,
            Duration::from_millis(500),
        );
        let stats = c.read();
        assert_eq!(stats.ticks, 2);
        assert_eq!(stats.fanouts, 1);
        assert_eq!(stats.clients, 7);
        assert_eq!(stats.last_encode_us, 500_000);
        assert_eq!(stats.encode_us_total, 2_000_000);

        let text = render(stats);
        for line in [
            "marketfeed_ticks_total 2",
            "marketfeed_fanouts_total 1",
            "marketfeed_clients 7",
            "marketfeed_bytes_sent_total 1000",
            "marketfeed_tick_encode_last_seconds 0.5",
            "marketfeed_tick_encode_seconds_total 2.0",
            "marketfeed_serializations_total 0",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "{line:?} missing in\n{text}"
            );
        }
        // 19 counters, 2 of them internal (connections, last_seq).
        assert_eq!(text.matches("# TYPE ").count(), 17, "{text}");
    }
}
