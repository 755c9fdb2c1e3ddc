//! Cross-crate test support for marketfeed.
//!
//! The integration tests live in `tests/`; this library holds the tools they
//! and the benchmarks drive:
//!
//! * [`loadgen`] — the WebSocket load generator behind `marketfeed-loadgen`:
//!   thousands of raw-socket clients measuring per-message delivery latency
//!   with kernel receive timestamps.
//! * [`sendfloor`] — the "kernel floor" behind `marketfeed-sendfloor`: the
//!   cost of a plain loop writing one frame to N loopback sockets, to compare
//!   the server's fan-out time against.
//! * [`storm`] — `marketfeed-storm`: clients that reconnect like the web
//!   client (the 1001's spread, full-jitter backoff), for the reconnect
//!   storm and the soak's churning clients.

pub mod loadgen;
pub mod sendfloor;
pub mod storm;
