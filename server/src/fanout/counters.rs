//! The fan-out's counters, each listed once.
//!
//! One line of `counters!` per counter gives its field of [`HubStats`]
//! (with the doc a reader sees), the atomic the fan-out bumps, and how it
//! is exported to Prometheus (`/metrics`) — or `internal` when it is not.
//! Adding a counter is one line here, plus the place that bumps it.
//!
//! Besides plain atomics, two kinds of cell live here, both lock-free:
//! [`DurationHistogram`] (the tick encode and fan-out durations, exported
//! as Prometheus histograms over [`TICK_BUCKETS_US`]) and [`PerFormat`]
//! (bytes sent, one count per wire format, labelled with the
//! [`Subprotocol`] name). A client's format is a [`FormatCell`] the hub
//! (or the upgrade, once it negotiates one) sets.

use std::fmt;
use std::sync::atomic::{AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::time::Duration;

use marketfeed_protocol::Subprotocol;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric, NoLabelSet};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;

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
    /// Whole-universe v1 snapshots serialized (at most one per tick).
    serializations: u64 = AtomicU64,
        counter("marketfeed_serializations", "Snapshots serialized (at most one per tick)");
    /// Market frames encoded, every format and subscription set: keyframes
    /// and deltas, at most one per (format, set) per tick in steady state.
    encodes: u64 = AtomicU64,
        counter("marketfeed_encodes", "Market frames encoded (one per format and subscription set per tick)");
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
    /// Serialization times, as a histogram over [`TICK_BUCKETS_US`].
    encode_seconds: TickHistogram = DurationHistogram,
        histogram("marketfeed_tick_encode_duration_seconds", "Time each snapshot took to encode");
    /// Fan-out times, as a histogram over [`TICK_BUCKETS_US`].
    fanout_seconds: TickHistogram = DurationHistogram,
        histogram("marketfeed_tick_fanout_duration_seconds", "Time each fan-out to every client took");
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
    /// `bytes_sent` split by the clients' wire format, in
    /// [`Subprotocol::ALL`] order.
    bytes_sent_by_format: [u64; FORMATS] = PerFormat,
        per_format("marketfeed_bytes_sent_by_format", "Bytes handed to the kernel for WebSocket clients, by wire format (subprotocol)");
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

/// Upper bounds of the tick-duration histograms, microseconds (an
/// implicit `+Inf` bucket follows). From 100 µs (an encode or a fan-out
/// to a handful of clients) to 2.5 s; the tick intervals in use (100 ms,
/// 250 ms, 1 s) and their halves (50 ms, 125 ms, 500 ms) are all bounds,
/// so "fan-out above half the tick interval" and "above the tick
/// interval" are exact bucket reads, not interpolations.
pub const TICK_BUCKETS_US: [u64; 15] = [
    100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 125_000, 250_000, 500_000,
    1_000_000, 2_500_000,
];

/// Buckets of a tick histogram, `+Inf` included.
const BUCKETS: usize = TICK_BUCKETS_US.len() + 1;

/// A histogram of durations over [`TICK_BUCKETS_US`], one atomic per
/// bucket: observing is two relaxed `fetch_add`s and a binary search, no
/// lock. Buckets are kept per range (not cumulative) and the count is
/// their sum, so a scrape racing an observation still sees `+Inf` equal
/// to `_count`.
#[derive(Debug, Default)]
pub(crate) struct DurationHistogram {
    buckets: [AtomicU64; BUCKETS],
    sum_ns: AtomicU64,
}

impl DurationHistogram {
    /// Counts one duration.
    pub(crate) fn observe(&self, took: Duration) {
        let ns = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        // First bound ≥ the value (Prometheus buckets are `le`).
        let i = TICK_BUCKETS_US.partition_point(|&us| us.saturating_mul(1000) < ns);
        self.buckets[i].fetch_add(1, Ordering::Relaxed);
        self.sum_ns.fetch_add(ns, Ordering::Relaxed);
    }

    /// The values now (named like an atomic's so `counters!` reads it).
    fn load(&self, order: Ordering) -> TickHistogram {
        TickHistogram {
            buckets: std::array::from_fn(|i| self.buckets[i].load(order)),
            sum_ns: self.sum_ns.load(order),
        }
    }
}

/// What a [`DurationHistogram`] held when read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TickHistogram {
    /// Observations per bucket (not cumulative): bucket `i` counts values
    /// above `TICK_BUCKETS_US[i - 1]` up to `TICK_BUCKETS_US[i]`; the last
    /// counts those above every bound.
    pub buckets: [u64; BUCKETS],
    /// Sum of every observation, nanoseconds.
    pub sum_ns: u64,
}

impl TickHistogram {
    /// Observations in all.
    pub fn count(&self) -> u64 {
        self.buckets.iter().sum()
    }

    /// Observations of at most `bound_us` microseconds (one of
    /// [`TICK_BUCKETS_US`]); `None` for another value.
    pub fn at_most(&self, bound_us: u64) -> Option<u64> {
        let i = TICK_BUCKETS_US.iter().position(|&b| b == bound_us)?;
        Some(self.buckets[..=i].iter().sum())
    }
}

/// Wire formats counted apart.
pub const FORMATS: usize = Subprotocol::ALL.len();

fn format_index(format: Subprotocol) -> usize {
    Subprotocol::ALL
        .iter()
        .position(|&p| p == format)
        .unwrap_or(0)
}

/// One count per wire format, in [`Subprotocol::ALL`] order.
#[derive(Debug, Default)]
pub(crate) struct PerFormat([AtomicU64; FORMATS]);

impl PerFormat {
    /// Adds `n` to `format`'s count.
    pub(crate) fn add(&self, format: Subprotocol, n: u64) {
        self.0[format_index(format)].fetch_add(n, Ordering::Relaxed);
    }

    fn load(&self, order: Ordering) -> [u64; FORMATS] {
        std::array::from_fn(|i| self.0[i].load(order))
    }
}

/// Adds `n` bytes of a client in `format` to a per-format total.
pub(crate) fn add_format(totals: &mut [u64; FORMATS], format: Subprotocol, n: u64) {
    totals[format_index(format)] += n;
}

/// The wire format of one connection, settable at any time (lock-free).
#[derive(Debug)]
pub struct FormatCell(AtomicU8);

impl Default for FormatCell {
    fn default() -> Self {
        Self::new(Subprotocol::DEFAULT)
    }
}

impl FormatCell {
    /// A cell holding `format`.
    pub fn new(format: Subprotocol) -> Self {
        // At most a handful of formats: the index fits a byte.
        Self(AtomicU8::new(format_index(format) as u8))
    }

    /// The format now.
    pub fn get(&self) -> Subprotocol {
        let i = usize::from(self.0.load(Ordering::Relaxed));
        Subprotocol::ALL
            .get(i)
            .copied()
            .unwrap_or(Subprotocol::DEFAULT)
    }

    /// Changes the format.
    pub fn set(&self, format: Subprotocol) {
        self.0.store(format_index(format) as u8, Ordering::Relaxed);
    }
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
    fn time(last: &AtomicU64, total: &AtomicU64, took: Duration) {
        let us = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        last.store(us, Ordering::Relaxed);
        total.fetch_add(us, Ordering::Relaxed);
    }

    /// A market frame (keyframe or delta) was encoded in `took`.
    pub(crate) fn encoded(&self, took: Duration) {
        Self::inc(&self.encodes);
        Self::time(&self.last_encode_us, &self.encode_us_total, took);
        self.encode_seconds.observe(took);
    }

    /// A frame of `plain` bytes was compressed to `deflated` bytes in
    /// `took`.
    pub(crate) fn deflated(&self, took: Duration, plain: usize, deflated: usize) {
        Self::inc(&self.deflations);
        Self::time(&self.last_deflate_us, &self.deflate_us_total, took);
        Self::add(&self.deflate_in_bytes, plain);
        Self::add(&self.deflate_out_bytes, deflated);
    }

    /// A fan-out to every client took `took`.
    pub(crate) fn fanned_out(&self, took: Duration) {
        Self::time(&self.last_fanout_us, &self.fanout_us_total, took);
        self.fanout_seconds.observe(took);
        Self::inc(&self.fanouts);
    }
}

fn histogram(e: &mut DescriptorEncoder, name: &str, help: &str, h: TickHistogram) -> fmt::Result {
    let mut buckets = [(f64::INFINITY, 0); BUCKETS];
    for (i, slot) in buckets.iter_mut().enumerate() {
        let bound = TICK_BUCKETS_US
            .get(i)
            .map_or(f64::INFINITY, |&us| us as f64 / 1e6);
        *slot = (bound, h.buckets[i]);
    }
    e.encode_descriptor(name, help, None, MetricType::Histogram)?
        .encode_histogram::<NoLabelSet>(h.sum_ns as f64 / 1e9, h.count(), &buckets, None)
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Format {
    format: &'static str,
}

fn per_format(e: &mut DescriptorEncoder, name: &str, help: &str, v: [u64; FORMATS]) -> fmt::Result {
    let mut family = e.encode_descriptor(name, help, None, MetricType::Counter)?;
    for (format, n) in Subprotocol::ALL.into_iter().zip(v) {
        ConstCounter::new(n).encode(family.encode_family(&Format {
            format: format.name(),
        })?)?;
    }
    Ok(())
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
    use bytes::Bytes;
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
        c.encoded(Duration::from_millis(1500));
        c.encoded(Duration::from_millis(500));
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
            "marketfeed_encodes_total 2",
            "marketfeed_tick_encode_duration_seconds_count 2",
            "marketfeed_tick_encode_duration_seconds_sum 2.0",
            "marketfeed_bytes_sent_by_format_total{format=\"marketfeed.v1.json\"} 0",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "{line:?} missing in\n{text}"
            );
        }
        // 23 counters, 2 of them internal (connections, last_seq).
        assert_eq!(text.matches("# TYPE ").count(), 21, "{text}");
    }

    /// The cumulative `_bucket` values of `name`, `(le, count)`.
    fn buckets(text: &str, name: &str) -> Vec<(String, u64)> {
        let prefix = format!("{name}_bucket{{le=\"");
        text.lines()
            .filter_map(|l| l.strip_prefix(&prefix))
            .map(|rest| {
                let (le, value) = rest.split_once("\"} ").expect("bucket line");
                (le.to_owned(), value.parse().expect("integer count"))
            })
            .collect()
    }

    #[test]
    fn durations_land_in_the_first_bucket_at_or_above_them() {
        let h = DurationHistogram::default();
        // On a bound: that bucket (`le` is inclusive).
        h.observe(Duration::from_micros(500));
        // Just above a bound: the next one.
        h.observe(Duration::from_micros(500) + Duration::from_nanos(1));
        h.observe(Duration::ZERO);
        h.observe(Duration::from_millis(125));
        // Above every bound: +Inf.
        h.observe(Duration::from_secs(3));
        let v = h.load(Ordering::Relaxed);
        let bucket_of = |us: u64| {
            TICK_BUCKETS_US
                .iter()
                .position(|&b| b == us)
                .expect("bound")
        };
        let mut want = [0u64; BUCKETS];
        want[0] = 1; // 0 ≤ 100 µs
        want[bucket_of(500)] = 1;
        want[bucket_of(1_000)] = 1;
        want[bucket_of(125_000)] = 1;
        want[BUCKETS - 1] = 1;
        assert_eq!(v.buckets, want);
        assert_eq!(v.count(), 5);
        assert_eq!(v.at_most(500), Some(2));
        assert_eq!(v.at_most(2_500_000), Some(4));
        assert_eq!(v.at_most(7), None);
        // 0.5 ms + (0.5 ms + 1 ns) + 0 + 125 ms + 3 s.
        assert_eq!(v.sum_ns, 3_126_000_001);
    }

    #[test]
    fn histograms_export_cumulative_buckets_sum_and_count() {
        let c = Counters::default();
        for ms in [1, 1, 40, 60, 300, 700] {
            c.fanned_out(Duration::from_millis(ms));
        }
        let stats = c.read();
        assert_eq!(stats.fanouts, 6);
        assert_eq!(stats.fanout_seconds.count(), 6);
        let text = render(stats);
        let name = "marketfeed_tick_fanout_duration_seconds";
        assert!(text.contains(&format!("# TYPE {name} histogram")), "{text}");
        let b = buckets(&text, name);
        assert_eq!(b.len(), TICK_BUCKETS_US.len() + 1, "{text}");
        let le = |bound: &str| b.iter().find(|(l, _)| l == bound).map(|(_, n)| *n);
        assert_eq!(le("0.001"), Some(2));
        assert_eq!(le("0.05"), Some(3));
        assert_eq!(le("0.125"), Some(4));
        assert_eq!(le("0.5"), Some(5), "half of a 1 s tick");
        assert_eq!(le("1.0"), Some(6));
        assert_eq!(le("+Inf"), Some(6));
        assert!(
            b.windows(2).all(|w| w[0].1 <= w[1].1),
            "not cumulative: {b:?}"
        );
        assert!(
            text.lines().any(|l| l == format!("{name}_count 6")),
            "{text}"
        );
        let sum: f64 = text
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}_sum ")))
            .expect("sum")
            .parse()
            .expect("float");
        assert!((sum - 1.102).abs() < 1e-9, "{sum}");
    }

    #[test]
    fn bytes_are_counted_under_each_clients_format() {
        let c = Counters::default();
        let cell = FormatCell::default();
        assert_eq!(cell.get(), Subprotocol::V1Json);
        c.bytes_sent_by_format.add(cell.get(), 100);
        cell.set(Subprotocol::V2Bin);
        assert_eq!(cell.get(), Subprotocol::V2Bin);
        c.bytes_sent_by_format.add(cell.get(), 7);
        let mut stats = c.read();
        add_format(&mut stats.bytes_sent_by_format, Subprotocol::V2Json, 5);
        assert_eq!(stats.bytes_sent_by_format, [100, 5, 7]);
        let text = render(stats);
        for (format, n) in [
            ("marketfeed.v1.json", 100),
            ("marketfeed.v2.json", 5),
            ("marketfeed.v2.bin", 7),
        ] {
            let line = format!("marketfeed_bytes_sent_by_format_total{{format=\"{format}\"}} {n}");
            assert!(text.lines().any(|l| l == line), "{line} missing in\n{text}");
        }
    }

    /// A connected socket pair: the server's end and the peer.
    async fn socket_pair() -> (tokio::net::TcpStream, tokio::net::TcpStream) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let peer = tokio::net::TcpStream::connect(listener.local_addr().expect("addr"))
            .await
            .expect("connect");
        let (server, _) = listener.accept().await.expect("accept");
        (server, peer)
    }

    #[tokio::test]
    async fn the_hub_counts_each_clients_bytes_under_the_format_it_was_registered_with() {
        use crate::fanout::encoder;
        use crate::fanout::hub::{Hub, HubConfig};
        use crate::fanout::SlowClientPolicy;
        use crate::feed::Simulator;
        use marketfeed_protocol::ServerMessage;

        let hub = Hub::new(HubConfig {
            policy: SlowClientPolicy::Conflate,
            client_queue: 8,
            keyframe_interval: 60,
            max_symbols_per_client: 100,
        });
        let (s1, _p1) = socket_pair().await;
        let (s2, _p2) = socket_pair().await;
        let addr = s1.peer_addr().expect("peer");
        let v1 = hub.register(
            addr,
            s1,
            Bytes::from_static(b"hello-v1"),
            Subprotocol::V1Json,
            false,
        );
        let bin = hub.register(
            addr,
            s2,
            Bytes::from_static(b"hi"),
            Subprotocol::V2Bin,
            false,
        );
        assert_eq!(v1.format(), Subprotocol::V1Json);
        assert_eq!(bin.format(), Subprotocol::V2Bin);
        let snapshot = Simulator::new(7).step_at(1_700_000_000.0);
        let size = |format| {
            let msg = ServerMessage::Snapshot(snapshot.clone());
            encoder::market(&msg, format, true, &std::sync::Arc::default())
                .frame()
                .len() as u64
        };
        let (v1_bytes, bin_bytes) = (8 + size(Subprotocol::V1Json), 2 + size(Subprotocol::V2Bin));
        assert!(bin_bytes < v1_bytes);
        hub.publish(snapshot);
        let stats = hub.stats();
        assert_eq!(stats.bytes_sent_by_format, [v1_bytes, 0, bin_bytes]);
        assert_eq!(stats.bytes_sent, v1_bytes + bin_bytes);
        assert_eq!(stats.fanout_seconds.count(), 1);
        assert_eq!(stats.encode_seconds.count(), 2, "one encode per format");
        // A client gone keeps its bytes under its format.
        hub.unregister(&bin);
        let stats = hub.stats();
        assert_eq!(stats.bytes_sent_by_format, [v1_bytes, 0, bin_bytes]);
        assert_eq!(stats.bytes_sent, v1_bytes + bin_bytes);
    }
}
