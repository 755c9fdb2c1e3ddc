//! Prometheus metrics (`prometheus-client`), served at `GET /metrics`.
//!
//! Connection events are counted where they happen (handshake, session
//! end); the fan-out's own counters ([`HubStats`](crate::HubStats), listed
//! once with their metric names in `fanout::counters`) are read at scrape
//! time, so the fan-out path carries no extra bookkeeping.
//!
//! | metric | type | what |
//! |---|---|---|
//! | `marketfeed_connections_accepted_total` | counter | handshakes answered 101 |
//! | `marketfeed_connections_rejected_total{reason}` | counter | handshakes refused, by `admission::Rejection` label |
//! | `marketfeed_disconnects_total{reason}` | counter | sessions ended, by reason (`dropped` = no closing handshake) |
//! | `marketfeed_connection_duration_seconds` | histogram | how long sessions lasted |
//! | `marketfeed_ready` | gauge | 1 when `/readyz` answers 200 |
//! | `marketfeed_feed_lines_total` | counter | input lines read by the feed (ingest lines, replayed lines) |
//! | `marketfeed_feed_rejected_total{reason}` | counter | input lines refused, by reason (`feed::REJECT_REASONS`) |
//! | `marketfeed_feed_stale` | gauge | 1 while a live feed is silent past `--feed-stale-after` in a trading phase |
//! | `marketfeed_feed_ended` | gauge | 1 once the feed's input ended (the last state is served) |
//! | `marketfeed_feed_last_update_age_seconds` | gauge | time since a live feed last changed the state (0 before its first update) |
//! | `marketfeed_tick_encode_duration_seconds` | histogram | time each snapshot took to encode (buckets: `fanout::counters::TICK_BUCKETS_US`) |
//! | `marketfeed_tick_fanout_duration_seconds` | histogram | time each fan-out to every client took (same buckets) |
//! | `marketfeed_bytes_sent_by_format_total{format}` | counter | bytes sent, by wire format (`Subprotocol::name()`) |
//! | the fan-out's other counters | counter / gauge | `marketfeed_clients`, `marketfeed_ticks_total`, … (see `fanout::counters`) |
//! | `marketfeed_bus_*` | | a publisher's or an edge's NATS link (see `cluster`) |

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use tokio_util::sync::CancellationToken;

use super::readiness::{not_ready, FeedStatus};
use crate::fanout::counters::gauge;
use crate::fanout::hub::Hub;
use crate::fanout::session::Ended;
use marketfeed_protocol::CloseCode;

use crate::admission::Rejection;

/// `Content-Type` of the `/metrics` answer.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Why a session ended (the `reason` label).
pub const DISCONNECT_REASONS: &[&str] = &[
    "client_closed",
    "dropped",
    "shutdown",
    "protocol_error",
    "invalid_payload",
    "rate_limited",
    "message_too_big",
    "heartbeat_timeout",
    "token_expired",
    "server_closed",
];

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Reason {
    reason: &'static str,
}

/// Every metric of one server; cloned handles share the values.
#[derive(Debug, Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    registry: Registry,
    accepted: Counter,
    rejected: Family<Reason, Counter>,
    disconnects: Family<Reason, Counter>,
    duration: Histogram,
}

impl Metrics {
    /// Metrics reading hub counters from `hub`; `ready` is what `/readyz`
    /// reports; `bus` the NATS link's, on a publisher or an edge.
    pub fn new(
        hub: Hub,
        draining: CancellationToken,
        feed: FeedStatus,
        bus: Option<&crate::cluster::BusMetrics>,
    ) -> Self {
        let mut registry = Registry::default();
        if let Some(bus) = bus {
            bus.register(&mut registry);
        }
        let accepted = Counter::default();
        let rejected = Family::<Reason, Counter>::default();
        let disconnects = Family::<Reason, Counter>::default();
        // 1 s … ~9 h, doubling.
        let duration = Histogram::new((0..16).map(|i| f64::from(1u32 << i)));
        for rejection in Rejection::ALL {
            drop(rejected.get_or_create(&Reason {
                reason: rejection.label(),
            }));
        }
        for reason in DISCONNECT_REASONS {
            drop(disconnects.get_or_create(&Reason { reason }));
        }
        registry.register(
            "marketfeed_connections_accepted",
            "WebSocket handshakes answered 101",
            accepted.clone(),
        );
        registry.register(
            "marketfeed_connections_rejected",
            "WebSocket handshakes refused, by reason",
            rejected.clone(),
        );
        registry.register(
            "marketfeed_disconnects",
            "WebSocket sessions ended, by reason",
            disconnects.clone(),
        );
        registry.register(
            "marketfeed_connection_duration_seconds",
            "How long WebSocket sessions lasted",
            duration.clone(),
        );
        registry.register_collector(Box::new(HubCollector {
            hub,
            draining,
            feed,
        }));
        Self {
            inner: Arc::new(Inner {
                registry,
                accepted,
                rejected,
                disconnects,
                duration,
            }),
        }
    }

    /// A handshake was answered 101.
    pub fn accepted(&self) {
        self.inner.accepted.inc();
    }

    /// A handshake was refused.
    pub fn rejected(&self, rejection: Rejection) {
        self.inner
            .rejected
            .get_or_create(&Reason {
                reason: rejection.label(),
            })
            .inc();
    }

    /// A session ended after `lasted`.
    pub fn disconnected(&self, ended: &Ended, lasted: Duration) {
        let reason = disconnect_reason(ended);
        self.inner
            .disconnects
            .get_or_create(&Reason { reason })
            .inc();
        self.inner.duration.observe(lasted.as_secs_f64());
    }

    /// The text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(4096);
        if prometheus_client::encoding::text::encode(&mut out, &self.inner.registry).is_err() {
            out.clear();
            let _ = writeln!(out, "# metrics encoding failed");
        }
        out
    }
}

/// The `reason` label of a session end.
pub fn disconnect_reason(ended: &Ended) -> &'static str {
    match ended {
        Ended::ClientClosed(_) => "client_closed",
        // No closing handshake: EOF, reset or a failed write alike.
        Ended::Eof | Ended::Io(_) => "dropped",
        Ended::ServerClosed(code, _) | Ended::CloseUnanswered(code, _) => match CloseCode(*code) {
            CloseCode::GOING_AWAY => "shutdown",
            CloseCode::PROTOCOL_ERROR => "protocol_error",
            CloseCode::INVALID_PAYLOAD => "invalid_payload",
            CloseCode::POLICY_VIOLATION => "rate_limited",
            CloseCode::MESSAGE_TOO_BIG => "message_too_big",
            CloseCode::HEARTBEAT_TIMEOUT => "heartbeat_timeout",
            CloseCode::TOKEN_EXPIRED => "token_expired",
            _ => "server_closed",
        },
    }
}

/// Reads [`HubStats`](crate::HubStats) and readiness at scrape time.
#[derive(Debug)]
struct HubCollector {
    hub: Hub,
    draining: CancellationToken,
    feed: FeedStatus,
}

impl Collector for HubCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        self.hub.stats().encode(&mut encoder)?;
        let ready = not_ready(&self.hub, &self.draining, &self.feed).is_none();
        gauge(
            &mut encoder,
            "marketfeed_ready",
            "1 when /readyz answers 200",
            usize::from(ready),
        )?;
        encode_feed(&mut encoder, &self.feed)
    }
}

/// The feed's metrics, from the health the ticker last published.
fn encode_feed(e: &mut DescriptorEncoder, feed: &FeedStatus) -> Result<(), std::fmt::Error> {
    let health = feed.get();
    let report = &health.report;
    let lines = ConstCounter::new(report.lines);
    lines.encode(e.encode_descriptor(
        "marketfeed_feed_lines",
        "Input lines read by the feed",
        None,
        lines.metric_type(),
    )?)?;
    let mut family = e.encode_descriptor(
        "marketfeed_feed_rejected",
        "Input lines refused by the feed, by reason",
        None,
        prometheus_client::metrics::MetricType::Counter,
    )?;
    for &reason in crate::feed::REJECT_REASONS {
        let n = report.rejected.get(reason).copied().unwrap_or(0);
        ConstCounter::new(n).encode(family.encode_family(&Reason { reason })?)?;
    }
    gauge(
        e,
        "marketfeed_feed_stale",
        "1 while a live feed is silent past --feed-stale-after in a trading phase",
        usize::from(health.stale),
    )?;
    gauge(
        e,
        "marketfeed_feed_ended",
        "1 once the feed's input ended",
        usize::from(report.ended),
    )?;
    let age = ConstGauge::new(report.since_last_update.map_or(0.0, |d| d.as_secs_f64()));
    age.encode(e.encode_descriptor(
        "marketfeed_feed_last_update_age_seconds",
        "Time since a live feed last changed the state",
        None,
        age.metric_type(),
    )?)
}
