//! Browser tests of the paths a page meets in the field, each against a
//! live marketfeed server that `scripts/test-browser.sh` starts under
//! `tests/browser/supervisor.mjs`:
//!
//! * 200 reconnects leave the JS heap and the wasm memory flat (±10 %);
//! * a tab shown again after being hidden probes its link and replaces a
//!   dead one at once;
//! * a page that stalls while a fast feed runs gets `onGap` with the
//!   skipped ticks when it resumes (the server's slow-client policy
//!   conflated them);
//! * `getToken` against a server with authentication on: a token minted
//!   by `marketfeed-server token` connects, a bad one never does.
//!
//! Compile-time environment: `MARKETFEED_WS_URL` and
//! `MARKETFEED_CONTROL_URL` (the shared server, 100 ms ticks, which the
//! hidden-tab test freezes), `MARKETFEED_GAP_WS_URL` (a server ticking
//! every 2 ms), `MARKETFEED_AUTH_WS_URL` and `MARKETFEED_AUTH_CONTROL_URL`
//! (a server with `MARKETFEED_AUTH_SECRET` set, whose supervisor mints
//! tokens). A test whose server is not given logs SKIPPED.
#![cfg(target_arch = "wasm32")]

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use gloo_timers::future::TimeoutFuture;
use js_sys::{Function, Object, Reflect};
use marketfeed_web_client::MarketClient;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::{console_log, wasm_bindgen_test, wasm_bindgen_test_configure};

mod common;

use common::{get, given, lock_server, now, CONTROL_URL, WS_URL};

wasm_bindgen_test_configure!(run_in_browser);

const GAP_WS_URL: Option<&str> = option_env!("MARKETFEED_GAP_WS_URL");
const AUTH_WS_URL: Option<&str> = option_env!("MARKETFEED_AUTH_WS_URL");
const AUTH_CONTROL_URL: Option<&str> = option_env!("MARKETFEED_AUTH_CONTROL_URL");

fn set(o: &JsValue, key: &str, v: &JsValue) {
    Reflect::set(o, &JsValue::from_str(key), v).expect("set");
}

/// GETs `url` and returns its JSON body; panics unless it answers 200.
async fn fetch_json(url: &str) -> JsValue {
    let window = web_sys::window().expect("a window");
    let response: web_sys::Response = JsFuture::from(window.fetch_with_str(url))
        .await
        .unwrap_or_else(|e| panic!("fetch {url}: {e:?}"))
        .unchecked_into();
    let body = JsFuture::from(response.json().expect("json body"))
        .await
        .expect("json body");
    assert!(response.ok(), "{url} answered {}", response.status());
    body
}

fn options(pairs: &[(&str, f64)]) -> Object {
    let o = Object::new();
    for (k, v) in pairs {
        set(&o, k, &JsValue::from_f64(*v));
    }
    o
}

/// A client and what it told its listeners.
struct Watched {
    client: MarketClient,
    opens: Rc<Cell<u32>>,
    snapshots: Rc<RefCell<Vec<f64>>>,
    gaps: Rc<RefCell<Vec<JsValue>>>,
    errors: Rc<RefCell<Vec<String>>>,
    _listeners: Vec<Closure<dyn FnMut(JsValue)>>,
}

impl Watched {
    fn new(url: &str, opts: Object) -> Self {
        let client = MarketClient::new(JsValue::from(url.to_owned()), Some(opts.unchecked_into()))
            .expect("valid client options");
        let opens: Rc<Cell<u32>> = Rc::default();
        let snapshots: Rc<RefCell<Vec<f64>>> = Rc::default();
        let gaps: Rc<RefCell<Vec<JsValue>>> = Rc::default();
        let errors: Rc<RefCell<Vec<String>>> = Rc::default();
        let on_status = {
            let (opens, errors) = (opens.clone(), errors.clone());
            Closure::<dyn FnMut(JsValue)>::new(move |s: JsValue| {
                if get(&s, "state").as_string().as_deref() == Some("open") {
                    opens.set(opens.get() + 1);
                }
                if let Some(e) = get(&s, "error").as_string() {
                    errors.borrow_mut().push(e);
                }
            })
        };
        let on_snapshot = {
            let snapshots = snapshots.clone();
            Closure::<dyn FnMut(JsValue)>::new(move |s: JsValue| {
                snapshots
                    .borrow_mut()
                    .push(get(&s, "seq").as_f64().unwrap_or(-1.0));
            })
        };
        let on_gap = {
            let gaps = gaps.clone();
            Closure::<dyn FnMut(JsValue)>::new(move |g: JsValue| gaps.borrow_mut().push(g))
        };
        client.on_status(on_status.as_ref().unchecked_ref::<Function>().clone());
        client.on_snapshot(on_snapshot.as_ref().unchecked_ref::<Function>().clone());
        client.on_gap(on_gap.as_ref().unchecked_ref::<Function>().clone());
        Self {
            client,
            opens,
            snapshots,
            gaps,
            errors,
            _listeners: vec![on_status, on_snapshot, on_gap],
        }
    }

    async fn wait(&self, what: &str, timeout_ms: f64, cond: impl Fn(&Self) -> bool) {
        let start = now();
        while !cond(self) {
            assert!(
                now() - start < timeout_ms,
                "timed out after {timeout_ms} ms waiting for {what}; state {}, errors {:?}",
                self.client.state(),
                self.errors.borrow()
            );
            TimeoutFuture::new(10).await;
        }
    }
}

/// JS heap in use (after a forced collection) and the wasm memory's size,
/// in bytes.
async fn memory() -> (f64, f64) {
    let global = js_sys::global();
    let gc: Function = get(&global, "gc")
        .dyn_into()
        .expect("window.gc: Chromium needs --js-flags=--expose-gc (web-client/webdriver.json)");
    for _ in 0..3 {
        gc.call0(&JsValue::NULL).expect("gc");
        TimeoutFuture::new(20).await;
    }
    let perf = get(&global, "performance");
    let heap = get(&get(&perf, "memory"), "usedJSHeapSize")
        .as_f64()
        .expect("performance.memory.usedJSHeapSize (Chromium)");
    let memory: js_sys::WebAssembly::Memory = wasm_bindgen::memory().unchecked_into();
    let wasm = get(&memory.buffer(), "byteLength")
        .as_f64()
        .expect("byteLength");
    (heap, wasm)
}

#[wasm_bindgen_test]
async fn memory_stays_flat_across_200_reconnects() {
    let Some(url) = given("MARKETFEED_WS_URL", WS_URL) else {
        return;
    };
    let _server = lock_server().await;
    // Ten silent milliseconds count as a dead link: between two 100 ms
    // ticks every connection is given up and replaced, 4100 after 4100.
    let w = Watched::new(
        url,
        options(&[
            ("livenessIntervalMs", 10.0),
            ("livenessGraceMs", 0.0),
            ("initialDelayMs", 1.0),
            ("maxDelayMs", 5.0),
        ]),
    );
    w.wait("20 warm-up reconnects", 30_000.0, |w| w.opens.get() >= 20)
        .await;
    let (heap0, wasm0) = memory().await;
    let base = w.opens.get();
    w.wait("200 reconnects", 90_000.0, |w| w.opens.get() >= base + 200)
        .await;
    let (heap1, wasm1) = memory().await;
    w.client.close();
    console_log!(
        "200 reconnects: JS heap {heap0} → {heap1} bytes ({:+.1} %), wasm memory {wasm0} → {wasm1} bytes ({:+.1} %), {} snapshots",
        (heap1 / heap0 - 1.0) * 100.0,
        (wasm1 / wasm0 - 1.0) * 100.0,
        w.snapshots.borrow().len()
    );
    assert!(
        w.errors.borrow().iter().any(|e| e.contains("liveness")),
        "the reconnects are the liveness path's: {:?}",
        &w.errors.borrow()[..3.min(w.errors.borrow().len())]
    );
    assert!(
        (heap1 - heap0).abs() <= heap0 * 0.10,
        "JS heap {heap0} → {heap1} across 200 reconnects"
    );
    assert!(
        (wasm1 - wasm0).abs() <= wasm0 * 0.10,
        "wasm memory {wasm0} → {wasm1} across 200 reconnects"
    );
}

/// Makes the page report itself hidden or visible (`document.hidden`,
/// `document.visibilityState`) and fires `visibilitychange`, as the
/// browser does when the tab is switched away from and back to.
fn set_hidden(hidden: bool) {
    let document = web_sys::window()
        .expect("a window")
        .document()
        .expect("a document");
    for (key, value) in [
        ("hidden", JsValue::from_bool(hidden)),
        (
            "visibilityState",
            JsValue::from_str(if hidden { "hidden" } else { "visible" }),
        ),
    ] {
        let desc = Object::new();
        set(&desc, "configurable", &JsValue::TRUE);
        set(&desc, "value", &value);
        Object::define_property(&document, &JsValue::from_str(key), &desc);
    }
    let event = web_sys::Event::new("visibilitychange").expect("an event");
    document.dispatch_event(&event).expect("dispatched");
    if !hidden {
        // Back to the browser's own getters.
        for key in ["hidden", "visibilityState"] {
            let _ = Reflect::delete_property(&document, &JsValue::from_str(key));
        }
    }
}

#[wasm_bindgen_test]
async fn a_tab_shown_again_probes_its_link_and_replaces_a_dead_one() {
    let (Some(url), Some(control)) = (
        given("MARKETFEED_WS_URL", WS_URL),
        given("MARKETFEED_CONTROL_URL", CONTROL_URL),
    ) else {
        return;
    };
    let _server = lock_server().await;
    // Liveness alone would take a minute to notice a dead link.
    let w = Watched::new(
        url,
        options(&[
            ("livenessIntervalMs", 60_000.0),
            ("hiddenCheckAfterMs", 200.0),
            ("probeTimeoutMs", 500.0),
        ]),
    );
    w.wait("open with snapshots", 10_000.0, |w| {
        w.client.state() == "open" && !w.snapshots.borrow().is_empty()
    })
    .await;

    set_hidden(true);
    // While the tab is hidden the server stops answering (SIGSTOP: the TCP
    // stays up, nothing arrives).
    fetch_json(&format!("{control}/freeze")).await;
    TimeoutFuture::new(1_000).await;
    assert_eq!(w.client.state(), "open", "nothing else noticed yet");
    let shown = now();
    set_hidden(false);
    w.wait("the probe to give the link up", 3_000.0, |w| {
        w.client.state() != "open"
    })
    .await;
    let noticed = now() - shown;
    fetch_json(&format!("{control}/thaw")).await;
    console_log!("hidden tab shown again: dead link replaced after {noticed} ms");
    assert!(
        w.errors.borrow().iter().any(|e| e.contains("liveness")),
        "{:?}",
        w.errors.borrow()
    );
    let opens = w.opens.get();
    w.wait("open again after the thaw", 15_000.0, |w| {
        w.opens.get() > opens && w.client.state() == "open"
    })
    .await;

    // Hidden for less than hiddenCheckAfterMs: no probe, the link stays.
    let before = w.opens.get();
    set_hidden(true);
    set_hidden(false);
    TimeoutFuture::new(800).await;
    assert_eq!(w.client.state(), "open");
    assert_eq!(w.opens.get(), before, "a short hide must not reconnect");
    w.client.close();
}

#[wasm_bindgen_test]
async fn a_page_that_stalls_gets_the_skipped_ticks_as_a_gap() {
    let Some(url) = given("MARKETFEED_GAP_WS_URL", GAP_WS_URL) else {
        return;
    };
    let w = Watched::new(url, Object::new());
    w.wait("open with snapshots", 10_000.0, |w| {
        w.client.state() == "open" && w.snapshots.borrow().len() >= 20
    })
    .await;
    assert!(w.gaps.borrow().is_empty(), "no gap while reading");
    // The page's main thread is busy (a long task): nothing is read while
    // the server ticks every 2 ms, so the kernel's buffers fill and the
    // server's outbox conflates.
    let stalled = now();
    while now() - stalled < 3_000.0 {}
    w.wait("onGap", 10_000.0, |w| !w.gaps.borrow().is_empty())
        .await;
    let gap = w.gaps.borrow()[0].clone();
    let (expected, received, missed) = (
        get(&gap, "expected").as_f64().expect("expected"),
        get(&gap, "received").as_f64().expect("received"),
        get(&gap, "missed").as_f64().expect("missed"),
    );
    console_log!("stalled 3 s: gap {expected} → {received}, {missed} missed");
    assert!(
        received > expected && missed == received - expected,
        "{expected} {received} {missed}"
    );
    assert!(w.client.gap_count() >= 1.0);
    assert_eq!(w.client.state(), "open", "a gap is not a reconnect");
    let seqs = w.snapshots.borrow().clone();
    assert!(seqs.windows(2).all(|p| p[1] > p[0]), "seq only grows");
    w.client.close();
}

/// A `getToken` option calling `f`.
fn with_get_token(opts: &Object, f: &Closure<dyn FnMut() -> JsValue>) {
    set(opts, "getToken", f.as_ref());
}

#[wasm_bindgen_test]
async fn get_token_connects_to_a_server_with_auth_on() {
    let (Some(url), Some(control)) = (
        given("MARKETFEED_AUTH_WS_URL", AUTH_WS_URL),
        given("MARKETFEED_AUTH_CONTROL_URL", AUTH_CONTROL_URL),
    ) else {
        return;
    };
    let calls: Rc<Cell<u32>> = Rc::default();
    let mint = {
        let calls = calls.clone();
        Closure::<dyn FnMut() -> JsValue>::new(move || {
            calls.set(calls.get() + 1);
            let endpoint = format!("{control}/token?subject=browser&ttl=60s");
            wasm_bindgen_futures::future_to_promise(async move {
                Ok(get(&fetch_json(&endpoint).await, "token"))
            })
            .into()
        })
    };
    let opts = Object::new();
    with_get_token(&opts, &mint);
    let w = Watched::new(url, opts);
    w.wait("open with snapshots", 10_000.0, |w| {
        w.client.state() == "open" && !w.snapshots.borrow().is_empty()
    })
    .await;
    assert!(calls.get() >= 1);
    w.client.close();

    // A token the server did not sign: refused at the upgrade, every try.
    let forged = Closure::<dyn FnMut() -> JsValue>::new(|| {
        JsValue::from_str("eyJhbGciOiJIUzI1NiJ9.e30.AAAA")
    });
    let opts = options(&[("initialDelayMs", 50.0), ("maxDelayMs", 200.0)]);
    with_get_token(&opts, &forged);
    let bad = Watched::new(url, opts);
    bad.wait("two refused attempts", 10_000.0, |w| {
        w.client.reconnect_attempts() >= 2
    })
    .await;
    assert_eq!(bad.opens.get(), 0, "a forged token never opens");
    assert!(bad.snapshots.borrow().is_empty());
    bad.client.close();
}
