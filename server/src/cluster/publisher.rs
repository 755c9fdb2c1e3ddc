//! The publisher's side of the link: each tick the ticker stamped, offered
//! without waiting ([`Outlet::offer`]), encoded once and published once to
//! the subject.

use async_nats::connection::State;
use marketfeed_protocol::{encode_tick, MarketSnapshot};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::BusMetrics;
use crate::feed::BusTarget;

/// Ticks waiting for the publishing task; beyond this they are dropped
/// (and counted) rather than delaying the ticker.
const OUTLET_QUEUE: usize = 256;

/// Where the ticker offers every stamped snapshot.
#[derive(Debug, Clone)]
pub struct Outlet {
    tx: mpsc::Sender<MarketSnapshot>,
    metrics: BusMetrics,
}

impl Outlet {
    /// Offers one snapshot for publishing; never waits.
    pub fn offer(&self, snapshot: &MarketSnapshot) {
        if self.tx.try_send(snapshot.clone()).is_err() {
            self.metrics.publish_dropped.inc();
        }
    }
}

/// Starts the publishing task for stream `epoch` on `tasks`; it stops
/// when `cancel` fires.
pub fn start(
    target: BusTarget,
    epoch: u64,
    metrics: BusMetrics,
    cancel: CancellationToken,
    tasks: &TaskTracker,
) -> Outlet {
    let (tx, rx) = mpsc::channel(OUTLET_QUEUE);
    tracing::info!(nats = %target.url, subject = %target.subject, epoch, "publishing ticks");
    tasks.spawn(run(target, epoch, rx, metrics.clone(), cancel));
    Outlet { tx, metrics }
}

async fn run(
    target: BusTarget,
    epoch: u64,
    mut rx: mpsc::Receiver<MarketSnapshot>,
    metrics: BusMetrics,
    cancel: CancellationToken,
) {
    let Some(client) = super::connect("marketfeed-publisher", &target, &metrics).await else {
        return;
    };
    loop {
        let snapshot = tokio::select! {
            biased;
            () = cancel.cancelled() => break,
            next = rx.recv() => match next {
                Some(s) => s,
                None => break,
            },
        };
        // While the broker is away, a tick is dropped, not queued: edges
        // want the newest state when the link is back, not a backlog.
        if client.connection_state() != State::Connected {
            metrics.publish_dropped.inc();
            continue;
        }
        let payload = encode_tick(epoch, &snapshot);
        match client.publish(target.subject.clone(), payload.into()).await {
            Ok(()) => {
                metrics.published.inc();
            }
            Err(e) => {
                metrics.publish_dropped.inc();
                tracing::debug!(seq = snapshot.seq, "publish failed: {e}");
            }
        }
    }
    let flushed = tokio::time::timeout(std::time::Duration::from_secs(1), client.flush()).await;
    if !matches!(flushed, Ok(Ok(()))) {
        tracing::debug!("last ticks not flushed to NATS");
    }
}
