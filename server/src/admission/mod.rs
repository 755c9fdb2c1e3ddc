//! Who may connect, decided before the WebSocket upgrade, and how each
//! refusal reads.
//!
//! - [`rejection`]: [`Rejection`], every reason a handshake is refused,
//!   with its metrics label, HTTP status and reason text.
//! - [`auth`]: HS256 tokens — the [`auth::Secret`], verification, and
//!   [`auth::mint`] for applications issuing tokens.
//! - [`origin`]: the `Origin` allow-list.
//! - [`limits`]: connection slots, global and per IP.
//! - [`proxy`]: `--trusted-proxy` ranges and the client address behind them.
//!
//! Nothing here knows about sockets or the fan-out: each check is a pure
//! function of the request (or a slot counter), used by `http::upgrade`.

pub mod auth;
pub mod limits;
pub mod origin;
pub mod proxy;
pub mod rejection;

pub use rejection::Rejection;
