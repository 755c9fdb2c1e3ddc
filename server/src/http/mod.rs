//! The HTTP side, in front of the fan-out:
//!
//! - [`accept`]: the accept loop — every TCP connection tuned, tracked and
//!   served by hyper's HTTP/1 with upgrades, the request head bounded in
//!   time.
//! - [`routes`]: the warp filters (`/ws/market`, `/healthz`, `/readyz`,
//!   `/metrics`, the board).
//! - [`upgrade`]: the `/ws/market` handshake: the admission checks, the
//!   101 answer, and the hand-over of the raw socket to a session.
//! - [`state`]: what every route and connection shares.

pub mod accept;
pub mod routes;
pub mod state;
pub mod upgrade;
