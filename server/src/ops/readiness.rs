//! Readiness: whether a load balancer should send the server new clients
//! (`GET /readyz`, and the `marketfeed_ready` metric).

use tokio_util::sync::CancellationToken;

use crate::fanout::hub::Hub;

/// Whether the server should get new clients: the feed has produced a
/// snapshot and shutdown has not begun.
pub fn is_ready(hub: &Hub, draining: &CancellationToken) -> bool {
    hub.stats().ticks > 0 && !draining.is_cancelled()
}
