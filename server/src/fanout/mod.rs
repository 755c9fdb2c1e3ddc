//! The fan-out path, in the order a tick travels it:
//!
//! - [`ticker`]: the tick loop (at the source's cadence, stamps
//!   `seq`/`ts`/`stale` on the feed's snapshot, records it, refreshes the
//!   greeting, publishes the feed's health) and the heartbeat loop.
//! - [`hub`]: the client registry; takes each tick, has it encoded once
//!   (only when a client listens) and offers the frame to every outbox.
//! - [`encoder`]: the one place a server message becomes a frame, and the
//!   `hello` greeting kept encoded for the current universe.
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

pub use counters::{HubStats, TickHistogram, TICK_BUCKETS_US};
pub use outbox::SlowClientPolicy;
