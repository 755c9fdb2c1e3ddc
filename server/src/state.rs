//! What every route and connection shares.

use std::net::SocketAddr;

use bytes::Bytes;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::hub::Hub;
use crate::session::SessionConfig;

/// Shared server state, cloned into filters and tasks.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The client registry.
    pub hub: Hub,
    /// The `hello` frame, identical for every client, encoded once.
    pub hello: Bytes,
    /// Per-connection settings.
    pub session: SessionConfig,
    /// Fires when the server starts shutting down.
    pub shutdown: CancellationToken,
    /// Tracks every connection and WebSocket task so shutdown can wait.
    pub tasks: TaskTracker,
}

/// Remote address of the connection a request arrived on.
#[derive(Debug, Clone, Copy)]
pub struct PeerAddr(pub SocketAddr);
