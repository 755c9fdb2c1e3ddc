//! The fan-out path, in the order a tick travels it:
//!
//! - [`ticker`]: the tick loop (stamps `seq`/`ts` on the feed's snapshot)
//!   and the heartbeat loop.
//! - [`hub`]: the client registry; takes each tick, has it encoded once
//!   (only when a client listens) and offers the frame to every outbox.
//! - [`encoder`]: the one place a server message becomes a frame.
//! - [`outbox`]: one client's socket and bounded outbox, under the
//!   [`SlowClientPolicy`].
//! - [`session`]: one connection's task: reads client frames, flushes the
//!   outbox when the socket is writable, performs the closing handshake;
//!   [`ratelimit`] is its inbound message budget.
//! - [`counters`]: every counter of the fan-out, listed once, producing
//!   [`HubStats`] and its metrics.
//! - [`clock`]: the cheap millisecond clock clients are timed with.

pub mod clock;
pub mod counters;
pub mod encoder;
pub mod hub;
pub mod outbox;
pub mod ratelimit;
pub mod session;
pub mod ticker;

pub use counters::HubStats;
pub use outbox::SlowClientPolicy;
