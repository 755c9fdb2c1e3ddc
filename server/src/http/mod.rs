//! The HTTP side: accept loop, routes, the WebSocket upgrade and the state
//! they share.

pub mod accept;
pub mod routes;
pub mod state;
pub mod upgrade;
