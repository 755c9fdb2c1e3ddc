//! The constructor's arguments: the URL check and every option of
//! `MarketClientOptions` (backoff, timing, token, `format`, `symbols`),
//! each refused with a thrown error naming it.

use js_sys::{Array, Function};
use marketfeed_protocol::Subprotocol;
use wasm_bindgen::{JsCast, JsError, JsValue};

use crate::backoff::BackoffConfig;
use crate::connection::Timing;
use crate::js::get;
use crate::option_names::{format_by_name, MarketClientOptions as O, FORMATS};

/// Where the token for each attempt comes from.
pub(crate) enum TokenSource {
    /// No authentication.
    None,
    /// The `token` option: the same token every attempt.
    Fixed(String),
    /// The `getToken` option: called (and awaited) before every attempt.
    Callback(Function),
}

/// The `token` / `getToken` options.
pub(crate) fn token_option(options: &JsValue) -> Result<TokenSource, JsError> {
    if options.is_undefined() || options.is_null() {
        return Ok(TokenSource::None);
    }
    let fixed = get(options, O::TOKEN);
    let callback = get(options, O::GET_TOKEN);
    let given = |v: &JsValue| !(v.is_undefined() || v.is_null());
    match (given(&fixed), given(&callback)) {
        (true, true) => Err(JsError::new(
            "give either option token or getToken, not both",
        )),
        (true, false) => match fixed.as_string() {
            Some(t) if !t.is_empty() => Ok(TokenSource::Fixed(t)),
            _ => Err(JsError::new("option token must be a non-empty string")),
        },
        (false, true) => callback
            .dyn_into::<Function>()
            .map(TokenSource::Callback)
            .map_err(|_| JsError::new("option getToken must be a function")),
        (false, false) => Ok(TokenSource::None),
    }
}

/// Reads an optional number option; `undefined` and `null` mean "default".
fn number_option(options: &JsValue, key: &str) -> Result<Option<f64>, JsError> {
    let value = get(options, key);
    if value.is_undefined() || value.is_null() {
        return Ok(None);
    }
    value
        .as_f64()
        .map(Some)
        .ok_or_else(|| JsError::new(&format!("option {key} must be a number")))
}

pub(crate) fn parse_options(options: &JsValue) -> Result<(BackoffConfig, Timing), JsError> {
    let mut backoff = BackoffConfig::default();
    let mut timing = Timing::default();
    if options.is_undefined() || options.is_null() {
        return Ok((backoff, timing));
    }
    if !options.is_object() {
        return Err(JsError::new("options must be an object"));
    }
    let fields: [(&str, &mut f64); 8] = [
        (O::INITIAL_DELAY_MS, &mut backoff.initial_ms),
        (O::MAX_DELAY_MS, &mut backoff.max_ms),
        (O::MULTIPLIER, &mut backoff.multiplier),
        (O::RESET_AFTER_MS, &mut backoff.reset_after_ms),
        (O::CONNECT_TIMEOUT_MS, &mut timing.connect_timeout_ms),
        (O::LIVENESS_GRACE_MS, &mut timing.liveness_grace_ms),
        (O::HIDDEN_CHECK_AFTER_MS, &mut timing.hidden_check_after_ms),
        (O::PROBE_TIMEOUT_MS, &mut timing.probe_timeout_ms),
    ];
    for (key, slot) in fields {
        if let Some(v) = number_option(options, key)? {
            *slot = v;
        }
    }
    // Unless set, the initial delay also caps the window.
    if number_option(options, O::MAX_DELAY_MS)?.is_none() {
        backoff.max_ms = backoff.max_ms.max(backoff.initial_ms);
    }
    timing.liveness_interval_ms = number_option(options, O::LIVENESS_INTERVAL_MS)?;
    timing.ping_interval_ms = number_option(options, O::PING_INTERVAL_MS)?;
    backoff.max_attempts = match number_option(options, O::MAX_ATTEMPTS)? {
        None => None,
        Some(v) if v == f64::INFINITY => None,
        Some(v) if v >= 0.0 && v.fract() == 0.0 && v <= f64::from(u32::MAX) => Some(v as u32),
        Some(_) => {
            return Err(JsError::new(
                "option maxAttempts must be a whole number ≥ 0 or Infinity",
            ))
        }
    };
    Ok((backoff, timing))
}

/// The constructor's first argument: one URL, or a non-empty array of
/// them (an edge set to fail over among), each checked.
pub(crate) fn urls_argument(value: &JsValue) -> Result<Vec<String>, JsError> {
    let urls: Vec<String> = if let Some(url) = value.as_string() {
        vec![url]
    } else if js_sys::Array::is_array(value) {
        js_sys::Array::from(value)
            .iter()
            .map(|v| {
                v.as_string()
                    .ok_or_else(|| JsError::new("every URL in the list must be a string"))
            })
            .collect::<Result<_, _>>()?
    } else {
        return Err(JsError::new(
            "MarketClient needs a ws:// URL or an array of them",
        ));
    };
    if urls.is_empty() {
        return Err(JsError::new("MarketClient needs at least one URL"));
    }
    for url in &urls {
        check_url(url)?;
    }
    Ok(urls)
}

pub(crate) fn check_url(url: &str) -> Result<(), JsError> {
    let lower = url.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("ws://")
        .or_else(|| lower.strip_prefix("wss://"));
    match rest {
        Some(host) if !host.is_empty() && !host.starts_with('/') => Ok(()),
        _ => Err(JsError::new(&format!(
            "MarketClient needs an absolute ws:// or wss:// URL, got \"{url}\""
        ))),
    }
}

/// The `format` option (default `"binary"`).
pub(crate) fn format_option(options: &JsValue) -> Result<Subprotocol, JsError> {
    if options.is_undefined() || options.is_null() {
        return Ok(Subprotocol::V2Bin);
    }
    let value = get(options, O::FORMAT);
    if value.is_undefined() || value.is_null() {
        return Ok(Subprotocol::V2Bin);
    }
    value
        .as_string()
        .and_then(|name| format_by_name(&name))
        .ok_or_else(|| {
            let names: Vec<String> = FORMATS.iter().map(|(n, _)| format!("\"{n}\"")).collect();
            JsError::new(&format!(
                "option format must be one of {}",
                names.join(", ")
            ))
        })
}

/// The `symbols` option: `None` (every symbol) unless given.
pub(crate) fn symbols_option(options: &JsValue) -> Result<Option<Vec<String>>, JsError> {
    if options.is_undefined() || options.is_null() {
        return Ok(None);
    }
    let value = get(options, O::SYMBOLS);
    if value.is_undefined() || value.is_null() {
        return Ok(None);
    }
    symbol_list(&value, "option symbols").map(Some)
}

/// An array of strings (a method argument or an option), `what` naming it
/// in the error.
pub(crate) fn symbol_list(value: &JsValue, what: &str) -> Result<Vec<String>, JsError> {
    let err = || JsError::new(&format!("{what} must be an array of symbol strings"));
    if !Array::is_array(value) {
        return Err(err());
    }
    Array::from(value)
        .iter()
        .map(|s| s.as_string().ok_or_else(err))
        .collect()
}
