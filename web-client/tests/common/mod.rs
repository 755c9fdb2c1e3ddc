//! Helpers shared by the browser test binaries (`live`, `live_paths`,
//! `formats`): the live servers' URLs that scripts/test-browser.sh passes
//! in, exclusive use of the shared server, the control API, JS property
//! reads. Each binary includes this module; not each uses every item.

#![allow(dead_code)]

use std::cell::Cell;

use gloo_timers::future::TimeoutFuture;
use js_sys::{Reflect, JSON};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::console_log;

/// The shared server (started by scripts/test-browser.sh) and its
/// supervisor's control API.
pub const WS_URL: Option<&str> = option_env!("MARKETFEED_WS_URL");
pub const CONTROL_URL: Option<&str> = option_env!("MARKETFEED_CONTROL_URL");

/// The shared server's URLs; `None` (and a SKIPPED line) when the tests
/// run without them.
pub fn urls() -> Option<(&'static str, &'static str)> {
    match (WS_URL, CONTROL_URL) {
        (Some(ws), Some(control)) => Some((ws, control)),
        _ => {
            console_log!(
                "SKIPPED: MARKETFEED_WS_URL / MARKETFEED_CONTROL_URL not set \
                 (run scripts/test-browser.sh)"
            );
            None
        }
    }
}

/// `v`, or `None` with a SKIPPED line naming the variable `name`.
pub fn given(name: &str, v: Option<&'static str>) -> Option<&'static str> {
    if v.is_none() {
        console_log!("SKIPPED: {name} not set (run scripts/test-browser.sh)");
    }
    v
}

thread_local! {
    static SERVER_LOCK: Cell<bool> = const { Cell::new(false) };
}

/// Exclusive use of the shared server while it is alive (tests restart,
/// freeze or silence it).
pub struct ServerGuard;

impl Drop for ServerGuard {
    fn drop(&mut self) {
        SERVER_LOCK.with(|l| l.set(false));
    }
}

/// Waits until no other test of this binary holds the shared server.
pub async fn lock_server() -> ServerGuard {
    while SERVER_LOCK.with(|l| l.replace(true)) {
        TimeoutFuture::new(20).await;
    }
    ServerGuard
}

/// Milliseconds since the epoch.
pub fn now() -> f64 {
    js_sys::Date::now()
}

/// `v[key]`, `undefined` when absent.
pub fn get(v: &JsValue, key: &str) -> JsValue {
    Reflect::get(v, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

/// Calls the control API at `base`; panics unless it answers 200 with
/// JSON, which it returns.
pub async fn control_at(base: &str, path: &str) -> JsValue {
    let window = web_sys::window().expect("a window");
    let url = format!("{base}{path}");
    let response: web_sys::Response = JsFuture::from(window.fetch_with_str(&url))
        .await
        .unwrap_or_else(|e| panic!("fetch {url}: {e:?}"))
        .unchecked_into();
    let body = JsFuture::from(response.json().expect("json body"))
        .await
        .expect("json body");
    assert!(
        response.ok(),
        "{url} answered {}: {:?}",
        response.status(),
        JSON::stringify(&body)
    );
    body
}
