//! More than one node: a publisher and its edges, linked through NATS.
//!
//! ```text
//! publisher: feed ──> ticker (stamps seq, ts; epoch = its start) ──> hub (its own clients)
//!                                         └──> publisher::Outlet ──one message per tick──> NATS subject
//! edge:      NATS subject ──> edge::run_link ──> edge::run_relay (checks, no re-stamping) ──> hub ──> clients
//! ```
//!
//! * [`publisher`] — the `publish` subcommand's link: every snapshot the
//!   ticker stamps is encoded once ([`marketfeed_protocol::bus`]) and
//!   published once, whatever the number of edges.
//! * [`edge`] — `--feed nats://HOST:PORT[/SUBJECT]`: subscribes, refuses
//!   and counts what is not the current stream's next tick, hands the
//!   rest to the hub as it arrives, marks the state stale when the
//!   publisher or the broker falls silent, and moves clients to a new
//!   epoch with a new `hello`.
//!
//! Both reconnect to the broker by themselves (async-nats, with the
//! jittered delay of [`reconnect_delay`]) and never give up.
//!
//! | metric | type | node | what |
//! |---|---|---|---|
//! | `marketfeed_bus_connected` | gauge | both | 1 while the NATS connection is up |
//! | `marketfeed_bus_published_total` | counter | publisher | ticks handed to NATS |
//! | `marketfeed_bus_publish_dropped_total` | counter | publisher | ticks not published (broker down, queue full) |
//! | `marketfeed_bus_received_total` | counter | edge | messages received on the subject |
//! | `marketfeed_bus_rejected_total{reason}` | counter | edge | messages refused ([`REJECT_REASONS`]) |
//! | `marketfeed_bus_epochs_total` | counter | edge | streams (epochs) taken up |
//! | `marketfeed_bus_latency_seconds` | histogram | edge | publisher's `ts` to receipt at the edge |

pub mod edge;
pub mod publisher;

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Every `reason` of `marketfeed_bus_rejected_total`: the envelope's own
/// (`BusError::label`), then the edge's checks of the stream.
pub const REJECT_REASONS: &[&str] = &[
    "bad_encoding",
    "wrong_version",
    "unstamped",
    // A `seq` not above the last one of the same epoch (a duplicate, a
    // replay, a foreign publisher reusing the epoch).
    "old_seq",
    // An epoch older than the current one while the current is live (a
    // publisher that should have stopped).
    "old_epoch",
    // The relay could not keep up and the tick was dropped.
    "overflow",
];

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Reason {
    reason: &'static str,
}

/// The NATS link's metrics; cloned handles share the values.
#[derive(Debug, Clone)]
pub struct BusMetrics {
    connected: Gauge,
    published: Counter,
    publish_dropped: Counter,
    received: Counter,
    rejected: Family<Reason, Counter>,
    epochs: Counter,
    latency: Histogram,
}

impl Default for BusMetrics {
    fn default() -> Self {
        // 50 µs … ~3.3 s, doubling.
        let latency = Histogram::new((0..17).map(|i| 50e-6 * f64::from(1u32 << i)));
        let rejected = Family::<Reason, Counter>::default();
        for &reason in REJECT_REASONS {
            drop(rejected.get_or_create(&Reason { reason }));
        }
        Self {
            connected: Gauge::default(),
            published: Counter::default(),
            publish_dropped: Counter::default(),
            received: Counter::default(),
            rejected,
            epochs: Counter::default(),
            latency,
        }
    }
}

impl BusMetrics {
    /// Adds the metrics to `registry`.
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "marketfeed_bus_connected",
            "1 while the NATS connection is up",
            self.connected.clone(),
        );
        registry.register(
            "marketfeed_bus_published",
            "Ticks handed to NATS",
            self.published.clone(),
        );
        registry.register(
            "marketfeed_bus_publish_dropped",
            "Ticks not published (broker unreachable or queue full)",
            self.publish_dropped.clone(),
        );
        registry.register(
            "marketfeed_bus_received",
            "Messages received on the tick subject",
            self.received.clone(),
        );
        registry.register(
            "marketfeed_bus_rejected",
            "Messages on the tick subject refused, by reason",
            self.rejected.clone(),
        );
        registry.register(
            "marketfeed_bus_epochs",
            "Publisher streams (epochs) taken up",
            self.epochs.clone(),
        );
        registry.register(
            "marketfeed_bus_latency_seconds",
            "Time from the publisher's tick timestamp to its receipt at the edge",
            self.latency.clone(),
        );
    }

    fn reject(&self, reason: &'static str) {
        self.rejected.get_or_create(&Reason { reason }).inc();
    }

    fn set_connected(&self, up: bool) {
        self.connected.set(i64::from(up));
    }
}

/// Delay before reconnect attempt `attempts` (1, 2, …): 100 ms doubling
/// up to 2 s, each drawn at random in its upper half, so that edges cut
/// off together do not come back in step.
pub fn reconnect_delay(attempts: usize) -> Duration {
    let shift = u32::try_from(attempts.saturating_sub(1))
        .unwrap_or(u32::MAX)
        .min(5);
    let window = Duration::from_millis(100 << shift).min(Duration::from_secs(2));
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    window / 2 + window.mul_f64(f64::from(nanos % 1000) / 2000.0)
}

/// The connect options both roles use: a name for the broker's
/// monitoring, no initial-connect failure (the broker may start later),
/// endless jittered reconnects, and the connection state mirrored into
/// `marketfeed_bus_connected` and the log.
/// Connects to `target` as client `name` (retrying and reconnecting by
/// itself, the link's state in `metrics`); `None`, logged, when the URL
/// cannot be used at all.
async fn connect(
    name: &'static str,
    target: &crate::feed::BusTarget,
    metrics: &BusMetrics,
) -> Option<async_nats::Client> {
    match connect_options(name, metrics)
        .connect(target.url.as_str())
        .await
    {
        Ok(client) => Some(client),
        Err(e) => {
            tracing::error!(nats = %target.url, "cannot use the NATS server: {e}");
            None
        }
    }
}

fn connect_options(name: &'static str, metrics: &BusMetrics) -> async_nats::ConnectOptions {
    let metrics = metrics.clone();
    async_nats::ConnectOptions::new()
        .name(name)
        .retry_on_initial_connect()
        .max_reconnects(None)
        .connection_timeout(Duration::from_secs(2))
        .ping_interval(Duration::from_secs(5))
        .reconnect_delay_callback(reconnect_delay)
        .event_callback(move |event| {
            let metrics = metrics.clone();
            async move {
                match event {
                    async_nats::Event::Connected => {
                        metrics.set_connected(true);
                        tracing::info!("NATS connected");
                    }
                    async_nats::Event::Disconnected => {
                        metrics.set_connected(false);
                        tracing::warn!("NATS disconnected; reconnecting");
                    }
                    other => tracing::warn!("NATS: {other}"),
                }
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reconnect_delays_grow_jittered_and_capped() {
        for attempts in 0usize..40 {
            let window = Duration::from_millis(100u64 << attempts.saturating_sub(1).min(5))
                .min(Duration::from_secs(2));
            let d = reconnect_delay(attempts);
            assert!(d >= window / 2 && d <= window, "{attempts}: {d:?}");
        }
        assert!(reconnect_delay(30) <= Duration::from_secs(2));
    }
}
