//! The fan-out path, from the tick to the socket.

pub mod clock;
pub mod hub;
pub mod outbox;
pub mod ratelimit;
pub mod session;
pub mod ticker;
