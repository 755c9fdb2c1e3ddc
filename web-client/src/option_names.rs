//! `MarketClientOptions`, the constructor's options: their names, types and
//! documentation are defined once, by [`MarketClientOptions`]. The
//! TypeScript interface is generated from it (`tests/typescript.rs`), and
//! the browser-side parser reads each option by the name in
//! [`MarketClientOptions::KEYS`], which a test holds to the struct's
//! fields. Pure, so it is compiled and checked natively.

use marketfeed_protocol::Subprotocol;

/// Options of `new MarketClient(url, options)`. Every field is optional; times in ms.
#[derive(Debug, Clone, Default, PartialEq)]
#[cfg_attr(
    not(target_arch = "wasm32"),
    derive(ts_rs::TS),
    ts(rename_all = "camelCase")
)]
#[allow(dead_code)] // the fields exist for the TypeScript declaration
pub struct MarketClientOptions {
    /// Upper bound of the first reconnect delay (default 500).
    #[cfg_attr(not(target_arch = "wasm32"), ts(optional))]
    pub initial_delay_ms: Option<f64>,
    /// Cap on the reconnect delay window (default 20000).
    #[cfg_attr(not(target_arch = "wasm32"), ts(optional))]
    pub max_delay_ms: Option<f64>,
    /// Growth of the delay window per attempt (default 2).
    #[cfg_attr(not(target_arch = "wasm32"), ts(optional))]
    pub multiplier: Option<f64>,
    /// A connection open this long resets the attempt count (default 10000).
    #[cfg_attr(not(target_arch = "wasm32"), ts(optional))]
    pub reset_after_ms: Option<f64>,
    /// Stop after this many consecutive failed attempts (default: never).
    #[cfg_attr(not(target_arch = "wasm32"), ts(optional, type = "number | null"))]
    pub max_attempts: Option<f64>,
    /// Opening the socket and receiving `hello` may take this long (default 10000).
    #[cfg_attr(not(target_arch = "wasm32"), ts(optional))]
    pub connect_timeout_ms: Option<f64>,
    /// Longest expected silence (default: the server's `heartbeatIntervalMs`, or 30000 when 0).
    #[cfg_attr(not(target_arch = "wasm32"), ts(optional))]
    pub liveness_interval_ms: Option<f64>,
    /// Extra silence tolerated before reconnecting (default 5000).
    #[cfg_attr(not(target_arch = "wasm32"), ts(optional))]
    pub liveness_grace_ms: Option<f64>,
    /// App-level ping interval (default: half the liveness interval).
    #[cfg_attr(not(target_arch = "wasm32"), ts(optional))]
    pub ping_interval_ms: Option<f64>,
    /// A tab hidden this long checks the link when shown again (default 10000).
    #[cfg_attr(not(target_arch = "wasm32"), ts(optional))]
    pub hidden_check_after_ms: Option<f64>,
    /// How long that check waits for a message (default 3000).
    #[cfg_attr(not(target_arch = "wasm32"), ts(optional))]
    pub probe_timeout_ms: Option<f64>,
    /// Token for a server with authentication, sent as the `token` query parameter.
    #[cfg_attr(not(target_arch = "wasm32"), ts(optional))]
    pub token: Option<String>,
    /// Called (and awaited) before every connect attempt for a fresh token; a
    /// throw or rejection fails that attempt, is reported in `status.error` as
    /// `getToken failed: …`, and is retried with backoff. Exclusive with `token`.
    #[cfg_attr(
        not(target_arch = "wasm32"),
        ts(optional, type = "() => string | Promise<string>")
    )]
    pub get_token: Option<()>,
    /// Wire format: `"binary"` (default, `marketfeed.v2.bin`), `"json"`
    /// (`marketfeed.v2.json`) or `"full-json"` (`marketfeed.v1.json`, a full
    /// snapshot every tick). Whatever the format, snapshots have the same shape.
    #[cfg_attr(
        not(target_arch = "wasm32"),
        ts(optional, type = "\"binary\" | \"json\" | \"full-json\"")
    )]
    pub format: Option<String>,
    /// Receive quotes only for these symbols (default: every symbol); sent
    /// after every `hello`, changed with `subscribe` / `unsubscribe`.
    #[cfg_attr(not(target_arch = "wasm32"), ts(optional))]
    pub symbols: Option<Vec<String>>,
}

impl MarketClientOptions {
    /// [`Self::initial_delay_ms`].
    pub const INITIAL_DELAY_MS: &'static str = "initialDelayMs";
    /// [`Self::max_delay_ms`].
    pub const MAX_DELAY_MS: &'static str = "maxDelayMs";
    /// [`Self::multiplier`].
    pub const MULTIPLIER: &'static str = "multiplier";
    /// [`Self::reset_after_ms`].
    pub const RESET_AFTER_MS: &'static str = "resetAfterMs";
    /// [`Self::max_attempts`].
    pub const MAX_ATTEMPTS: &'static str = "maxAttempts";
    /// [`Self::connect_timeout_ms`].
    pub const CONNECT_TIMEOUT_MS: &'static str = "connectTimeoutMs";
    /// [`Self::liveness_interval_ms`].
    pub const LIVENESS_INTERVAL_MS: &'static str = "livenessIntervalMs";
    /// [`Self::liveness_grace_ms`].
    pub const LIVENESS_GRACE_MS: &'static str = "livenessGraceMs";
    /// [`Self::ping_interval_ms`].
    pub const PING_INTERVAL_MS: &'static str = "pingIntervalMs";
    /// [`Self::hidden_check_after_ms`].
    pub const HIDDEN_CHECK_AFTER_MS: &'static str = "hiddenCheckAfterMs";
    /// [`Self::probe_timeout_ms`].
    pub const PROBE_TIMEOUT_MS: &'static str = "probeTimeoutMs";
    /// [`Self::token`].
    pub const TOKEN: &'static str = "token";
    /// [`Self::get_token`].
    pub const GET_TOKEN: &'static str = "getToken";
    /// [`Self::format`].
    pub const FORMAT: &'static str = "format";
    /// [`Self::symbols`].
    pub const SYMBOLS: &'static str = "symbols";

    /// Every option's JS name, in declaration order.
    pub const KEYS: [&'static str; 15] = [
        Self::INITIAL_DELAY_MS,
        Self::MAX_DELAY_MS,
        Self::MULTIPLIER,
        Self::RESET_AFTER_MS,
        Self::MAX_ATTEMPTS,
        Self::CONNECT_TIMEOUT_MS,
        Self::LIVENESS_INTERVAL_MS,
        Self::LIVENESS_GRACE_MS,
        Self::PING_INTERVAL_MS,
        Self::HIDDEN_CHECK_AFTER_MS,
        Self::PROBE_TIMEOUT_MS,
        Self::TOKEN,
        Self::GET_TOKEN,
        Self::FORMAT,
        Self::SYMBOLS,
    ];
}

/// The values of the `format` option and the subprotocol each offers.
pub const FORMATS: [(&str, Subprotocol); 3] = [
    ("binary", Subprotocol::V2Bin),
    ("json", Subprotocol::V2Json),
    ("full-json", Subprotocol::V1Json),
];

/// The format of the `format` option's value `name`; `None` when unknown.
pub fn format_by_name(name: &str) -> Option<Subprotocol> {
    FORMATS.iter().find(|(n, _)| *n == name).map(|&(_, p)| p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_format_name_maps_to_its_subprotocol() {
        assert_eq!(format_by_name("binary"), Some(Subprotocol::V2Bin));
        assert_eq!(format_by_name("json"), Some(Subprotocol::V2Json));
        assert_eq!(format_by_name("full-json"), Some(Subprotocol::V1Json));
        assert_eq!(format_by_name("v1"), None);
        assert_eq!(format_by_name("Binary"), None);
    }
}
