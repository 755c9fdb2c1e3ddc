//! Browser client for marketfeed: typed market snapshots over a WebSocket
//! that reconnects by itself.
//!
//! Compiled to WebAssembly with wasm-bindgen and shipped as an npm package
//! (see `README.md` beside this crate). JavaScript creates a
//! `MarketClient(url, options)`, registers `onSnapshot` / `onStatus` /
//! `onGap` / `onServerError` listeners and receives plain JS objects shaped
//! like the wire format of `marketfeed-protocol`, whatever the format the
//! connection speaks (`format`: `binary` — the default, `marketfeed.v2.bin`
//! —, `json`, `full-json`). JSON text is parsed with the browser's own
//! `JSON.parse` (no JSON parser in the `.wasm`); v2 keyframes and deltas are
//! converted into the shared Rust types, and deltas applied with the same
//! `apply` the protocol tests hold to the server's `diff`.
//!
//! # Layout
//!
//! * [`backoff`] — exponential backoff with full jitter (pure).
//! * [`connection`] — the state machine: every reconnect, liveness and
//!   page-lifecycle decision (pure, unit-tested natively).
//! * [`gaps`] — `seq` gap detection (pure).
//! * [`option_names`] — `MarketClientOptions`: the options' names, types
//!   and docs, defined once (pure; the TypeScript comes from it).
//! * `client` (wasm32 only) — the `#[wasm_bindgen]` `MarketClient` class,
//!   the JS surface.
//! * `driver` (wasm32 only) — owns the socket, its listeners and the
//!   timers, and carries out the state machine's actions; user code runs
//!   with no borrow held. Listeners of a dropped socket are removed and
//!   every timer is cancelled on drop; nothing is leaked per reconnect.
//! * `messages` (wasm32 only) — routing of server messages by `type`
//!   (text: `JSON.parse`; binary: the protocol's binary decoder).
//! * `state` (wasm32 only) — the v2 state (keyframes, deltas applied with
//!   the protocol's `apply`, `resync`) and the app's subscription, kept
//!   across reconnects.
//! * `transport` (wasm32 only) — the WebSocket (gloo-net), frame based:
//!   open, text, binary, error, close with code and reason.
//! * `options` (wasm32 only) — URL and option parsing.
//! * `js` (wasm32 only) — the plain JS objects handed to listeners.
//! * `from_js` (wasm32 only) — plain JS values read into the protocol's
//!   types through their serde derives (`hello`).
//! * TypeScript, emitted into the generated `.d.ts`: `protocol.d.ts` (the
//!   wire types) and `events.d.ts` (`ConnectionState`, `StatusEvent`,
//!   `GapEvent`, `MarketClientOptions`) are generated from the Rust types
//!   by `tests/typescript.rs` (ts-rs, native only), which fails when they
//!   are stale.

pub mod backoff;
pub mod connection;
pub mod gaps;
pub mod option_names;

#[cfg(target_arch = "wasm32")]
mod client;
#[cfg(target_arch = "wasm32")]
mod driver;
#[cfg(target_arch = "wasm32")]
mod from_js;
#[cfg(target_arch = "wasm32")]
mod js;
#[cfg(target_arch = "wasm32")]
mod messages;
#[cfg(target_arch = "wasm32")]
mod options;
#[cfg(target_arch = "wasm32")]
mod state;
#[cfg(target_arch = "wasm32")]
mod transport;

#[cfg(target_arch = "wasm32")]
pub use client::MarketClient;

// Under `wasm-pack test --chrome` the pure unit tests run in the browser too.
#[cfg(all(test, target_arch = "wasm32"))]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);
