//! Readiness: whether a load balancer should send the server new clients
//! (`GET /readyz`, and the `marketfeed_ready` metric), and the feed's
//! health that the ticker publishes for it and for the metrics.

use std::sync::{Arc, Mutex, MutexGuard};

use tokio_util::sync::CancellationToken;

use crate::fanout::hub::Hub;
use crate::feed::FeedReport;

/// The feed as the ticker saw it at its last tick.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FeedHealth {
    /// The source's own report.
    pub report: FeedReport,
    /// A live source silent for `--feed-stale-after` during a trading phase.
    pub stale: bool,
}

/// The shared [`FeedHealth`]: written by the ticker, read by `/readyz` and
/// `/metrics`.
#[derive(Debug, Clone, Default)]
pub struct FeedStatus {
    inner: Arc<Mutex<FeedHealth>>,
}

impl FeedStatus {
    fn lock(&self) -> MutexGuard<'_, FeedHealth> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The health now.
    pub fn get(&self) -> FeedHealth {
        self.lock().clone()
    }

    /// Replaces the health.
    pub fn set(&self, health: FeedHealth) {
        *self.lock() = health;
    }
}

/// Why the server should get no new clients now; `None` when it should.
/// In order: shutdown has begun, the feed has produced nothing yet, its
/// input ended, it is stale.
pub fn not_ready(
    hub: &Hub,
    draining: &CancellationToken,
    feed: &FeedStatus,
) -> Option<&'static str> {
    if draining.is_cancelled() {
        return Some("draining");
    }
    if hub.stats().ticks == 0 {
        return Some("no snapshot yet");
    }
    let health = feed.get();
    if health.report.ended {
        Some("feed ended")
    } else if health.stale {
        Some("feed stale")
    } else {
        None
    }
}
