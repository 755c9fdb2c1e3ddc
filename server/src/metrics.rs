//! Prometheus metrics (`prometheus-client`), served at `GET /metrics`.
//!
//! Connection events are counted where they happen (handshake, session
//! end); the hub's own counters ([`HubStats`](crate::HubStats)) are read at scrape time, so
//! the fan-out path carries no extra bookkeeping.
//!
//! | metric | type | what |
//! |---|---|---|
//! | `marketfeed_clients` | gauge | WebSocket clients connected now |
//! | `marketfeed_clients_peak` | gauge | most clients connected at once |
//! | `marketfeed_connections_accepted_total` | counter | handshakes answered 101 |
//! | `marketfeed_connections_rejected_total{reason}` | counter | handshakes refused, by reason |
//! | `marketfeed_disconnects_total{reason}` | counter | sessions ended, by reason (`dropped` = no closing handshake) |
//! | `marketfeed_connection_duration_seconds` | histogram | how long sessions lasted |
//! | `marketfeed_slow_client_drops_total` | counter | snapshots dropped for slow clients |
//! | `marketfeed_ticks_total` | counter | snapshots produced by the feed |
//! | `marketfeed_serializations_total` | counter | snapshots serialized (≤ 1 per tick) |
//! | `marketfeed_tick_encode_seconds_total` | counter | time spent encoding snapshots (÷ `serializations` = mean per tick) |
//! | `marketfeed_tick_fanout_seconds_total` | counter | time spent fanning out (÷ `fanouts` = mean per tick) |
//! | `marketfeed_fanouts_total` | counter | fan-outs performed (ticks with clients) |
//! | `marketfeed_bytes_sent_total` | counter | bytes handed to the kernel for all clients |
//! | `marketfeed_tick_encode_last_seconds` | gauge | time the last snapshot took to encode |
//! | `marketfeed_tick_fanout_last_seconds` | gauge | time the last fan-out took |
//! | `marketfeed_ready` | gauge | 1 when `/readyz` answers 200 |

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use tokio_util::sync::CancellationToken;

use crate::hub::Hub;
use crate::session::Ended;
use crate::ws::close::CloseCode;

/// `Content-Type` of the `/metrics` answer.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Why a handshake was refused (the `reason` label).
pub const REJECT_REASONS: &[&str] = &[
    "bad_handshake",
    "forbidden_origin",
    "missing_token",
    "malformed_token",
    "bad_signature",
    "expired_token",
    "server_full",
    "ip_limit",
    "draining",
    "head_too_large",
    "pending_limit",
];

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
    /// reports.
    pub fn new(hub: Hub, draining: CancellationToken) -> Self {
        let mut registry = Registry::default();
        let accepted = Counter::default();
        let rejected = Family::<Reason, Counter>::default();
        let disconnects = Family::<Reason, Counter>::default();
        // 1 s … ~9 h, doubling.
        let duration = Histogram::new((0..16).map(|i| f64::from(1u32 << i)));
        for reason in REJECT_REASONS {
            drop(rejected.get_or_create(&Reason { reason }));
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
        registry.register_collector(Box::new(HubCollector { hub, draining }));
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

    /// A handshake was refused for `reason` (one of [`REJECT_REASONS`]).
    pub fn rejected(&self, reason: &'static str) {
        self.inner.rejected.get_or_create(&Reason { reason }).inc();
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

/// Whether the server should get new clients: the feed has produced a
/// snapshot and shutdown has not begun.
pub fn is_ready(hub: &Hub, draining: &CancellationToken) -> bool {
    hub.stats().ticks > 0 && !draining.is_cancelled()
}

/// Reads [`HubStats`](crate::HubStats) at scrape time.
#[derive(Debug)]
struct HubCollector {
    hub: Hub,
    draining: CancellationToken,
}

impl Collector for HubCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let s = self.hub.stats();
        let gauge =
            |e: &mut DescriptorEncoder, name, help, v: f64| -> Result<(), std::fmt::Error> {
                let g = ConstGauge::new(v);
                g.encode(e.encode_descriptor(name, help, None, g.metric_type())?)
            };
        let int_gauge =
            |e: &mut DescriptorEncoder, name, help, v: usize| -> Result<(), std::fmt::Error> {
                let g = ConstGauge::new(i64::try_from(v).unwrap_or(i64::MAX));
                g.encode(e.encode_descriptor(name, help, None, g.metric_type())?)
            };
        let counter =
            |e: &mut DescriptorEncoder, name, help, v: u64| -> Result<(), std::fmt::Error> {
                let c = ConstCounter::new(v);
                c.encode(e.encode_descriptor(name, help, None, c.metric_type())?)
            };
        let e = &mut encoder;
        int_gauge(
            e,
            "marketfeed_clients",
            "WebSocket clients connected now",
            s.clients,
        )?;
        int_gauge(
            e,
            "marketfeed_clients_peak",
            "Most WebSocket clients connected at once",
            s.peak_clients,
        )?;
        counter(
            e,
            "marketfeed_slow_client_drops",
            "Snapshots dropped for slow clients",
            s.dropped,
        )?;
        counter(
            e,
            "marketfeed_ticks",
            "Snapshots produced by the feed",
            s.ticks,
        )?;
        counter(
            e,
            "marketfeed_serializations",
            "Snapshots serialized (at most one per tick)",
            s.serializations,
        )?;
        gauge(
            e,
            "marketfeed_tick_encode_last_seconds",
            "Time the last snapshot took to encode",
            s.last_encode_us as f64 / 1e6,
        )?;
        gauge(
            e,
            "marketfeed_tick_fanout_last_seconds",
            "Time the last fan-out to every client took",
            s.last_fanout_us as f64 / 1e6,
        )?;
        let seconds_total =
            |e: &mut DescriptorEncoder, name, help, us: u64| -> Result<(), std::fmt::Error> {
                let c = ConstCounter::new(us as f64 / 1e6);
                c.encode(e.encode_descriptor(name, help, None, c.metric_type())?)
            };
        seconds_total(
            e,
            "marketfeed_tick_encode_seconds",
            "Time spent encoding snapshots; divide by serializations for the mean per tick",
            s.encode_us_total,
        )?;
        seconds_total(
            e,
            "marketfeed_tick_fanout_seconds",
            "Time spent fanning snapshots out; divide by fanouts for the mean per tick",
            s.fanout_us_total,
        )?;
        counter(
            e,
            "marketfeed_bytes_sent",
            "Bytes handed to the kernel for all WebSocket clients",
            s.bytes_sent,
        )?;
        counter(
            e,
            "marketfeed_fanouts",
            "Fan-outs performed (ticks with at least one client)",
            s.fanouts,
        )?;
        let ready = is_ready(&self.hub, &self.draining);
        int_gauge(
            e,
            "marketfeed_ready",
            "1 when /readyz answers 200",
            usize::from(ready),
        )?;
        Ok(())
    }
}
