//! What every route and connection shares.

use std::net::SocketAddr;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::admission::auth::Authenticator;
use crate::admission::limits::Limiter;
use crate::admission::origin::OriginPolicy;
use crate::admission::proxy::TrustedProxies;
use crate::fanout::encoder::Greeting;
use crate::fanout::hub::Hub;
use crate::fanout::session::SessionConfig;
use crate::ops::metrics::Metrics;
use crate::ops::readiness::FeedStatus;

/// Shared server state, cloned into filters and tasks.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The client registry.
    pub hub: Hub,
    /// The `hello` frame for the current symbol universe, encoded once per
    /// universe.
    pub greeting: Greeting,
    /// The feed's health, for `/readyz`.
    pub feed: FeedStatus,
    /// Per-connection settings.
    pub session: SessionConfig,
    /// Fires when shutdown begins, `--drain-delay` before clients are closed:
    /// `/readyz` answers 503 and new upgrades are refused from then on.
    pub draining: CancellationToken,
    /// Tracks every connection and WebSocket task so shutdown can wait.
    pub tasks: TaskTracker,
    /// Token verifier; `None` when authentication is off.
    pub auth: Option<Authenticator>,
    /// The `Origin` allow-list.
    pub origins: OriginPolicy,
    /// Proxies whose forwarding headers name the client.
    pub proxies: TrustedProxies,
    /// Connection slots, global and per IP.
    pub limiter: Limiter,
    /// Prometheus metrics.
    pub metrics: Metrics,
    /// `Retry-After` seconds on 503/429 answers.
    pub retry_after_secs: u64,
    /// `--compression on`: permessage-deflate offers may be accepted.
    pub compression: bool,
}

/// Remote address of the connection a request arrived on.
#[derive(Debug, Clone, Copy)]
pub struct PeerAddr(pub SocketAddr);
