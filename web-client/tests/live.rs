//! Browser tests against a live marketfeed server.
//!
//! `scripts/test-browser.sh` starts the real server under
//! `tests/browser/supervisor.mjs` and passes, at compile time,
//! `MARKETFEED_WS_URL` (the server's `/ws/market`) and
//! `MARKETFEED_CONTROL_URL` (the supervisor's stop/start/freeze API).
//! The server runs with `--tick-interval 100ms --heartbeat-interval 1s`.
//!
//! Tests that stop or freeze the server take a shared lock, so they never
//! disturb each other even if the runner interleaves them.
#![cfg(target_arch = "wasm32")]

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use gloo_timers::future::TimeoutFuture;
use js_sys::{Function, Object, Reflect, JSON};
use marketfeed_protocol::{decode_server, MarketSnapshot, ServerMessage, BOOK_DEPTH};
use marketfeed_web_client::backoff::{Backoff, BackoffConfig};
use marketfeed_web_client::MarketClient;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::{console_log, wasm_bindgen_test, wasm_bindgen_test_configure};

mod common;

use common::{control_at, get, lock_server, now, urls};

wasm_bindgen_test_configure!(run_in_browser);

// The cluster under tests/browser/cluster.mjs: its edges' URLs (comma
// separated) and its control API.
const CLUSTER_WS_URLS: Option<&str> = option_env!("MARKETFEED_CLUSTER_WS_URLS");
const CLUSTER_CONTROL_URL: Option<&str> = option_env!("MARKETFEED_CLUSTER_CONTROL_URL");

/// Calls the supervisor; panics unless it answers 200.
async fn control(path: &str) -> JsValue {
    let (_, base) = urls().expect("checked by the caller");
    control_at(base, path).await
}

/// Everything a client told its listeners, with the time it was told.
#[derive(Default)]
struct Log {
    statuses: Vec<(f64, JsValue)>,
    snapshots: Vec<(f64, JsValue)>,
}

struct Harness {
    client: MarketClient,
    log: Rc<RefCell<Log>>,
    _listeners: Vec<Closure<dyn FnMut(JsValue)>>,
}

fn options(pairs: &[(&str, f64)]) -> JsValue {
    let o = Object::new();
    for (k, v) in pairs {
        Reflect::set(&o, &JsValue::from_str(k), &JsValue::from_f64(*v)).expect("set");
    }
    o.into()
}

fn state_of(status: &JsValue) -> String {
    get(status, "state").as_string().unwrap_or_default()
}

impl Harness {
    fn new(url: &str, opts: &[(&str, f64)]) -> Self {
        Self::with_urls(JsValue::from(url.to_owned()), opts)
    }

    /// A client of `urls` (one string, or an array of them).
    fn with_urls(urls: JsValue, opts: &[(&str, f64)]) -> Self {
        let client = MarketClient::new(urls, Some(options(opts).unchecked_into()))
            .unwrap_or_else(|_| panic!("valid client options {opts:?}"));
        let log = Rc::new(RefCell::new(Log::default()));
        let status = {
            let log = log.clone();
            Closure::<dyn FnMut(JsValue)>::new(move |s: JsValue| {
                log.borrow_mut().statuses.push((now(), s));
            })
        };
        let snapshot = {
            let log = log.clone();
            Closure::<dyn FnMut(JsValue)>::new(move |s: JsValue| {
                log.borrow_mut().snapshots.push((now(), s));
            })
        };
        client.on_status(status.as_ref().unchecked_ref::<Function>().clone());
        client.on_snapshot(snapshot.as_ref().unchecked_ref::<Function>().clone());
        Self {
            client,
            log,
            _listeners: vec![status, snapshot],
        }
    }

    fn states(&self) -> Vec<String> {
        self.log
            .borrow()
            .statuses
            .iter()
            .map(|(_, s)| state_of(s))
            .collect()
    }

    fn snapshot_count(&self) -> usize {
        self.log.borrow().snapshots.len()
    }

    /// Polls `cond` every 20 ms; panics with `what` after `timeout_ms`.
    async fn wait(&self, what: &str, timeout_ms: f64, cond: impl Fn(&Self) -> bool) {
        let start = now();
        while !cond(self) {
            assert!(
                now() - start < timeout_ms,
                "timed out after {timeout_ms} ms waiting for {what}; states {:?}",
                self.states()
            );
            TimeoutFuture::new(20).await;
        }
    }

    async fn wait_open_with_snapshots(&self, after: usize, timeout_ms: f64) {
        self.wait("open + a new snapshot", timeout_ms, |h| {
            h.client.state() == "open" && h.snapshot_count() > after
        })
        .await;
    }
}

#[wasm_bindgen_test]
async fn snapshots_decode_to_the_shared_type() {
    let Some((url, _)) = urls() else { return };
    let _server = lock_server().await;
    let h = Harness::new(url, &[]);
    h.wait("two snapshots", 10_000.0, |h| h.snapshot_count() >= 2)
        .await;
    assert_eq!(h.client.state(), "open");
    assert_eq!(h.states()[..2], ["connecting", "open"]);

    let decode = |v: &JsValue| -> MarketSnapshot {
        let text: String = JSON::stringify(v).expect("stringify").into();
        match decode_server(text.as_bytes()) {
            Ok(ServerMessage::Snapshot(s)) => s,
            other => panic!("not a snapshot: {other:?}"),
        }
    };
    let (first, second) = {
        let log = h.log.borrow();
        (decode(&log.snapshots[0].1), decode(&log.snapshots[1].1))
    };
    assert_eq!(second.seq, first.seq + 1, "consecutive ticks");
    assert!(second.ts > first.ts);
    let now_us = now() * 1000.0;
    assert!(
        (first.ts as f64 - now_us).abs() < 60e6,
        "ts is unix microseconds"
    );
    assert_eq!(first.quotes.len(), 30, "VN30");
    let codes: Vec<&str> = first.indices.iter().map(|i| i.code.as_str()).collect();
    for code in ["VNINDEX", "VN30", "HNX-INDEX", "UPCOM-INDEX"] {
        assert!(codes.contains(&code), "{code} in {codes:?}");
    }
    for q in &first.quotes {
        assert!(q.floor < q.reference && q.reference < q.ceiling, "{q:?}");
        assert!(q.floor <= q.last && q.last <= q.ceiling, "{q:?}");
        assert_eq!(q.change, q.last as i64 - q.reference as i64, "{q:?}");
        assert!(q.bids.len() <= BOOK_DEPTH && q.asks.len() <= BOOK_DEPTH);
        assert!(q.bids.windows(2).all(|w| w[0].price > w[1].price), "{q:?}");
        assert!(q.asks.windows(2).all(|w| w[0].price < w[1].price), "{q:?}");
    }
    for i in &first.indices {
        assert_eq!(i.change, i.value - i.reference, "{i:?}");
    }
    assert_eq!(
        first.foreign.net_value,
        first.foreign.buy_value as i64 - first.foreign.sell_value as i64
    );
    assert!(h.client.last_seq().is_some_and(|s| s >= second.seq as f64));
    assert!(!h.client.last_snapshot().is_undefined());
    assert_eq!(h.client.gap_count(), 0.0);
    h.client.close();
    assert_eq!(h.client.state(), "closed");
}

#[wasm_bindgen_test]
async fn server_restart_goes_open_reconnecting_open() {
    let Some((url, _)) = urls() else { return };
    let _server = lock_server().await;
    let h = Harness::new(url, &[("initialDelayMs", 200.0), ("maxDelayMs", 1_000.0)]);
    h.wait_open_with_snapshots(0, 10_000.0).await;
    let before = h.snapshot_count();
    let restart = control("/restart?downMs=1500").await;
    let back_at = get(&restart, "startedAt").as_f64().expect("startedAt");
    let seen = h.snapshot_count();
    h.wait_open_with_snapshots(seen, 10_000.0).await;
    let first_new = h.log.borrow().snapshots[seen].0;
    console_log!(
        "server back → first snapshot delivered: {} ms",
        first_new - back_at
    );

    let log = h.log.borrow();
    let going_away = log
        .statuses
        .iter()
        .find(|(_, s)| state_of(s) == "reconnecting")
        .map(|(_, s)| s.clone())
        .expect("a reconnecting status");
    assert_eq!(get(&going_away, "closeCode").as_f64(), Some(1001.0));
    // 1001 resets the backoff: the first retry is drawn from [0, initialDelayMs).
    let delay = get(&going_away, "delayMs").as_f64().expect("delayMs");
    assert!((0.0..200.0).contains(&delay), "prompt retry, got {delay}");
    let states = h.states();
    let open_at = states.iter().position(|s| s == "open").expect("open");
    let rec_at = states
        .iter()
        .position(|s| s == "reconnecting")
        .expect("rec");
    let reopen = states.iter().rposition(|s| s == "open").expect("reopen");
    assert!(open_at < rec_at && rec_at < reopen, "{states:?}");
    assert!(before > 0);
    drop(log);
    h.client.close();
}

#[wasm_bindgen_test]
async fn several_urls_fail_over_to_a_live_one_and_a_new_epoch_resyncs_without_a_gap() {
    let Some((url, _)) = urls() else { return };
    let _server = lock_server().await;
    // Nothing listens on port 9: an attempt there fails at once, and the
    // client must go on to the next URL (whichever one it starts with).
    let dead = "ws://127.0.0.1:9/ws/market";
    let list = js_sys::Array::of2(&JsValue::from_str(dead), &JsValue::from_str(url));
    let started = now();
    let h = Harness::with_urls(
        list.into(),
        &[("initialDelayMs", 100.0), ("maxDelayMs", 300.0)],
    );
    let epochs = Rc::new(RefCell::new(Vec::<f64>::new()));
    let on_hello = {
        let epochs = epochs.clone();
        Closure::<dyn FnMut(JsValue)>::new(move |hello: JsValue| {
            epochs
                .borrow_mut()
                .push(get(&hello, "epoch").as_f64().unwrap_or(0.0));
        })
    };
    h.client
        .on_hello(on_hello.as_ref().unchecked_ref::<Function>().clone());
    h.wait_open_with_snapshots(0, 10_000.0).await;
    // One failed attempt at most, then the next URL after ≤ 300 ms.
    assert!(
        now() - started < 3_000.0,
        "open after {} ms",
        now() - started
    );
    // A restarted single node is a new stream: new epoch, numbering anew.
    let seen = h.snapshot_count();
    control("/restart?downMs=300").await;
    h.wait_open_with_snapshots(seen + 2, 10_000.0).await;
    let epochs = epochs.borrow().clone();
    assert!(epochs.len() >= 2, "{epochs:?}");
    assert!(epochs[0] > 0.0, "hello names the stream");
    assert!(epochs[epochs.len() - 1] > epochs[0], "{epochs:?}");
    assert_eq!(h.client.gap_count(), 0.0, "a new epoch is no gap");
    h.client.close();
    drop(on_hello);
}

#[wasm_bindgen_test]
async fn a_killed_edge_moves_its_client_to_the_other_and_a_new_publisher_is_a_new_stream() {
    let (Some(ws_urls), Some(ctl)) = (CLUSTER_WS_URLS, CLUSTER_CONTROL_URL) else {
        console_log!("SKIPPED: MARKETFEED_CLUSTER_WS_URLS not set (run scripts/test-browser.sh)");
        return;
    };
    let list = js_sys::Array::new();
    for url in ws_urls.split(',') {
        list.push(&JsValue::from_str(url));
    }
    let h = Harness::with_urls(
        list.into(),
        &[("initialDelayMs", 200.0), ("maxDelayMs", 1_000.0)],
    );
    let epochs = Rc::new(RefCell::new(Vec::<f64>::new()));
    let on_hello = {
        let epochs = epochs.clone();
        Closure::<dyn FnMut(JsValue)>::new(move |hello: JsValue| {
            epochs
                .borrow_mut()
                .push(get(&hello, "epoch").as_f64().unwrap_or(0.0));
        })
    };
    h.client
        .on_hello(on_hello.as_ref().unchecked_ref::<Function>().clone());
    h.wait_open_with_snapshots(2, 10_000.0).await;
    let seqs = |h: &Harness| -> Vec<f64> {
        h.log
            .borrow()
            .snapshots
            .iter()
            .map(|(_, s)| get(s, "seq").as_f64().expect("seq"))
            .collect()
    };

    // kill -9 the edge the client is on: it goes to the other edge.
    let killed = control_at(ctl, "/kill-busy-edge").await;
    let killed_at = get(&killed, "at").as_f64().expect("at");
    let killed: Vec<f64> = js_sys::Array::from(&get(&killed, "killed"))
        .iter()
        .filter_map(|v| v.as_f64())
        .collect();
    assert_eq!(killed.len(), 1, "the client was on one edge");
    let seen = h.snapshot_count();
    h.wait_open_with_snapshots(seen + 2, 10_000.0).await;
    let moved_after = h.log.borrow().snapshots[seen].0 - killed_at;
    console_log!("edge killed → first snapshot from the other edge: {moved_after} ms");
    // The dead edge refuses at once; the retry is drawn from [0, 200) ms
    // or, after a failed try of the dead edge, [0, 400) ms.
    assert!(moved_after < 3_000.0, "{moved_after} ms");
    let before = seqs(&h);
    assert!(
        before.windows(2).all(|w| w[1] >= w[0]),
        "seq never goes back: {before:?}"
    );
    {
        let epochs = epochs.borrow();
        assert!(epochs.len() >= 2 && epochs[0] > 0.0, "{epochs:?}");
        assert!(
            epochs.iter().all(|&e| e == epochs[0]),
            "same stream: {epochs:?}"
        );
    }
    assert_eq!(h.client.gap_count(), 0.0, "no gap for the move");

    // A new publisher: the edge greets again with a new epoch, and the
    // client follows the new numbering without counting a gap.
    control_at(ctl, "/kill-publisher").await;
    control_at(ctl, "/start-publisher").await;
    let old_epoch = epochs.borrow()[0];
    let statuses = h.states().len();
    let from = h.snapshot_count();
    let top = seqs(&h).iter().copied().fold(0.0, f64::max);
    // The new stream numbers from 1: its snapshots are below every seq of
    // the old one, and must still reach the app, in order.
    let renumbered = |h: &Harness| -> Vec<f64> {
        seqs(h)[from..]
            .iter()
            .copied()
            .filter(|&s| s < top)
            .collect()
    };
    h.wait("three snapshots of the new stream", 15_000.0, |h| {
        epochs.borrow().iter().any(|&e| e > old_epoch) && renumbered(h).len() >= 3
    })
    .await;
    let fresh = renumbered(&h);
    assert!(fresh.windows(2).all(|w| w[1] == w[0] + 1.0), "{fresh:?}");
    assert_eq!(
        h.states()[statuses..]
            .iter()
            .filter(|s| *s != "open")
            .count(),
        0,
        "followed on the same connection: {:?}",
        h.states()
    );
    assert_eq!(h.client.gap_count(), 0.0, "a new epoch is no gap");
    assert_eq!(h.client.state(), "open");
    h.client.close();
    drop(on_hello);
    control_at(ctl, &format!("/start-edge?i={}", killed[0])).await;
}

#[wasm_bindgen_test]
async fn attempt_spacing_grows_within_jitter_bounds_while_down() {
    let Some((url, _)) = urls() else { return };
    let _server = lock_server().await;
    let config = BackoffConfig {
        initial_ms: 100.0,
        max_ms: 1_600.0,
        ..BackoffConfig::default()
    };
    let h = Harness::new(
        url,
        &[
            ("initialDelayMs", config.initial_ms),
            ("maxDelayMs", config.max_ms),
        ],
    );
    h.wait_open_with_snapshots(0, 10_000.0).await;
    control("/stop").await;
    let attempts = 6;
    h.wait("6 failed attempts", 15_000.0, |h| {
        h.client.reconnect_attempts() > attempts
    })
    .await;
    control("/start").await;

    let reference = Backoff::new(config);
    {
        let log = h.log.borrow();
        let statuses: Vec<(f64, JsValue)> = log
            .statuses
            .iter()
            .skip_while(|(_, s)| state_of(s) != "reconnecting")
            .cloned()
            .collect();
        let mut ceilings = Vec::new();
        for pair in statuses
            .windows(2)
            .filter(|w| state_of(&w[0].1) == "reconnecting")
        {
            let (at, status) = &pair[0];
            let (next_at, next) = &pair[1];
            assert_eq!(state_of(next), "connecting");
            let attempt = get(status, "attempt").as_f64().expect("attempt") as u32;
            let delay = get(status, "delayMs").as_f64().expect("delayMs");
            let ceiling = reference.ceiling(attempt - 1);
            assert!(
                (0.0..=ceiling).contains(&delay),
                "attempt {attempt}: delay {delay} outside [0, {ceiling}]"
            );
            let waited = next_at - at;
            assert!(
                waited >= delay - 5.0 && waited <= delay + 750.0,
                "attempt {attempt}: waited {waited} ms for a {delay} ms delay"
            );
            ceilings.push(ceiling);
            console_log!(
                "attempt {attempt}: delay {delay} ms (window {ceiling} ms), waited {waited} ms"
            );
        }
        assert!(ceilings.len() >= attempts as usize, "{ceilings:?}");
        assert!(
            ceilings.windows(2).all(|w| w[0] <= w[1]) && ceilings[0] < ceilings[ceilings.len() - 1],
            "windows grow: {ceilings:?}"
        );
    }
    h.wait_open_with_snapshots(h.snapshot_count(), 10_000.0)
        .await;
    h.client.close();
}

#[wasm_bindgen_test]
async fn close_stops_every_attempt() {
    let Some((url, _)) = urls() else { return };
    let _server = lock_server().await;
    let h = Harness::new(url, &[("initialDelayMs", 100.0), ("maxDelayMs", 200.0)]);
    h.wait_open_with_snapshots(0, 10_000.0).await;
    control("/stop").await;
    h.wait("reconnecting", 5_000.0, |h| {
        h.client.state() == "reconnecting"
    })
    .await;
    h.client.close();
    assert_eq!(h.client.state(), "closed");
    let statuses = h.log.borrow().statuses.len();
    let snapshots = h.snapshot_count();
    control("/start").await;
    TimeoutFuture::new(1_500).await;
    assert_eq!(h.client.state(), "closed");
    assert_eq!(
        h.log.borrow().statuses.len(),
        statuses,
        "no event after close"
    );
    assert_eq!(h.snapshot_count(), snapshots);
    // close() is idempotent.
    h.client.close();
}

#[wasm_bindgen_test]
async fn a_silent_server_triggers_the_liveness_reconnect() {
    let Some((url, _)) = urls() else { return };
    let _server = lock_server().await;
    let h = Harness::new(
        url,
        &[
            ("livenessIntervalMs", 1_000.0),
            ("livenessGraceMs", 500.0),
            ("connectTimeoutMs", 1_000.0),
            ("initialDelayMs", 100.0),
            ("maxDelayMs", 400.0),
        ],
    );
    h.wait_open_with_snapshots(0, 10_000.0).await;
    control("/freeze").await;
    let frozen_at = now();
    let error_seen = |h: &Harness, needle: &str| {
        h.log.borrow().statuses.iter().any(|(at, s)| {
            *at >= frozen_at
                && get(s, "error")
                    .as_string()
                    .is_some_and(|e| e.contains(needle))
        })
    };
    h.wait("liveness timeout", 5_000.0, |h| error_seen(h, "liveness"))
        .await;
    // A frozen server still completes TCP handshakes from its backlog: the
    // connect timeout has to fire too.
    h.wait("connect timeout", 6_000.0, |h| {
        error_seen(h, "connect timeout")
    })
    .await;
    let snapshots = h.snapshot_count();
    control("/thaw").await;
    h.wait_open_with_snapshots(snapshots, 10_000.0).await;
    h.client.close();
}

#[wasm_bindgen_test]
async fn invalid_arguments_throw() {
    for bad in ["http://127.0.0.1/", "ws://", "/ws/market", ""] {
        assert!(
            MarketClient::new(JsValue::from(bad.to_owned()), None).is_err(),
            "{bad:?}"
        );
    }
    for (key, value) in [
        ("initialDelayMs", -1.0),
        ("multiplier", 0.5),
        ("connectTimeoutMs", 0.0),
        ("maxAttempts", 1.5),
    ] {
        let opts: JsValue = options(&[(key, value)]);
        assert!(
            MarketClient::new(
                JsValue::from("ws://127.0.0.1:9/".to_owned()),
                Some(opts.unchecked_into())
            )
            .is_err(),
            "{key} = {value}"
        );
    }
}

fn fire(kind: &str) {
    let window = web_sys::window().expect("a window");
    let event = web_sys::Event::new(kind).expect("an event");
    window.dispatch_event(&event).expect("dispatched");
}

#[wasm_bindgen_test]
async fn offline_waits_and_online_retries_at_once() {
    let Some((url, _)) = urls() else { return };
    let _server = lock_server().await;
    let h = Harness::new(url, &[("initialDelayMs", 200.0), ("maxDelayMs", 400.0)]);
    h.wait_open_with_snapshots(0, 10_000.0).await;
    control("/stop").await;
    h.wait("reconnecting", 5_000.0, |h| {
        h.client.state() == "reconnecting"
    })
    .await;
    fire("offline");
    h.wait("waiting for the network", 5_000.0, |h| {
        get(&h.client.status(), "waitingForNetwork").as_bool() == Some(true)
    })
    .await;
    let attempts = h.client.reconnect_attempts();
    let statuses = h.log.borrow().statuses.len();
    control("/start").await;
    // Offline: no attempt is made although the server is back.
    TimeoutFuture::new(1_200).await;
    assert_eq!(h.client.state(), "reconnecting");
    assert_eq!(h.client.reconnect_attempts(), attempts);
    assert_eq!(
        h.log.borrow().statuses.len(),
        statuses,
        "no attempt while offline"
    );
    let online_at = now();
    fire("online");
    assert_eq!(h.client.state(), "connecting", "online retries at once");
    h.wait_open_with_snapshots(h.snapshot_count(), 5_000.0)
        .await;
    assert!(now() - online_at < 3_000.0);
    h.client.close();
}

/// What one callback saw when it used the client from inside.
#[derive(Debug, Default, Clone)]
struct Poked {
    calls: u32,
    states: Vec<String>,
}

/// Uses every public method of `client` (getters, listener registration,
/// `off`) the way an application's callback may; records what it read.
fn poke(client: &MarketClient, seen: &RefCell<Poked>) {
    let state = client.state();
    let status = client.status();
    assert_eq!(state_of(&status), state, "status and state agree");
    let _ = client.last_seq();
    let _ = client.last_snapshot();
    let _ = client.reconnect_attempts();
    let _ = client.gap_count();
    let noop: Function = Function::new_no_args("");
    client.on_snapshot(noop.clone());
    client.on_status(noop.clone());
    client.on_gap(noop.clone());
    client.on_hello(noop.clone());
    client.on_server_error(noop.clone());
    assert!(client.off(&noop), "the no-op listener was registered");
    let mut seen = seen.borrow_mut();
    seen.calls += 1;
    seen.states.push(state);
}

/// A `getToken` option built from `f` (called with no argument).
fn get_token_option(pairs: &[(&str, f64)], f: &Closure<dyn FnMut() -> JsValue>) -> JsValue {
    let o = options(pairs);
    Reflect::set(&o, &JsValue::from_str("getToken"), f.as_ref()).expect("set");
    o
}

/// The live server's host with a path it answers 404: every attempt fails
/// at once (a real refused handshake), so reconnects come quickly.
fn failing_url(url: &str) -> String {
    url.replace("/ws/market", "/ws/no-such-endpoint")
}

#[wasm_bindgen_test]
async fn get_token_may_use_the_client_before_its_first_await() {
    let Some((url, _)) = urls() else { return };
    let _server = lock_server().await;
    let cell: Rc<std::cell::OnceCell<MarketClient>> = Rc::default();
    let seen: Rc<RefCell<Poked>> = Rc::default();
    let get_token = {
        let (cell, seen) = (cell.clone(), seen.clone());
        Closure::<dyn FnMut() -> JsValue>::new(move || {
            // Synchronous part of an async getToken: reads the client, then
            // resolves later.
            if let Some(client) = cell.get() {
                poke(client, &seen);
            }
            wasm_bindgen_futures::future_to_promise(async {
                TimeoutFuture::new(10).await;
                Ok(JsValue::from_str("token-from-callback"))
            })
            .into()
        })
    };
    let opts = get_token_option(
        &[("initialDelayMs", 100.0), ("maxDelayMs", 300.0)],
        &get_token,
    );
    let client = MarketClient::new(JsValue::from(url.to_owned()), Some(opts.unchecked_into()))
        .expect("valid");
    let errors: Rc<RefCell<Vec<String>>> = Rc::default();
    let on_status = {
        let errors = errors.clone();
        Closure::<dyn FnMut(JsValue)>::new(move |s: JsValue| {
            if let Some(e) = get(&s, "error").as_string() {
                errors.borrow_mut().push(e);
            }
        })
    };
    client.on_status(on_status.as_ref().unchecked_ref::<Function>().clone());
    assert!(cell.set(client).is_ok());
    let client = cell.get().expect("set");
    let start = now();
    while client.state() != "open" {
        assert!(
            now() - start < 10_000.0,
            "never opened: {:?}",
            errors.borrow()
        );
        TimeoutFuture::new(20).await;
    }
    // A server restart: the reconnect calls getToken from a timer.
    control("/restart?downMs=300").await;
    let start = now();
    while !(client.state() == "open" && seen.borrow().calls >= 1) {
        assert!(
            now() - start < 10_000.0,
            "no reconnect with a token read from inside getToken; state {}, errors {:?}, seen {:?}",
            client.state(),
            errors.borrow(),
            seen.borrow()
        );
        TimeoutFuture::new(20).await;
    }
    assert!(
        !errors
            .borrow()
            .iter()
            .any(|e| e.contains("getToken failed")),
        "{:?}",
        errors.borrow()
    );
    assert!(
        seen.borrow().states.iter().all(|s| s == "connecting"),
        "{:?}",
        seen.borrow()
    );
    client.close();
}

#[wasm_bindgen_test]
async fn close_from_inside_get_token_stops_for_good() {
    let Some((url, _)) = urls() else { return };
    let cell: Rc<std::cell::OnceCell<MarketClient>> = Rc::default();
    let calls = Rc::new(Cell::new(0u32));
    let get_token = {
        let (cell, calls) = (cell.clone(), calls.clone());
        Closure::<dyn FnMut() -> JsValue>::new(move || {
            calls.set(calls.get() + 1);
            if let Some(client) = cell.get() {
                client.close();
                assert_eq!(
                    client.state(),
                    "closed",
                    "close() inside getToken took effect"
                );
            }
            JsValue::from_str("t")
        })
    };
    let opts = get_token_option(
        &[("initialDelayMs", 20.0), ("maxDelayMs", 50.0)],
        &get_token,
    );
    let client = MarketClient::new(JsValue::from(failing_url(url)), Some(opts.unchecked_into()))
        .expect("valid");
    assert!(cell.set(client).is_ok());
    let client = cell.get().expect("set");
    let start = now();
    while calls.get() < 2 {
        assert!(now() - start < 5_000.0, "getToken was not called again");
        TimeoutFuture::new(10).await;
    }
    let after_close = calls.get();
    TimeoutFuture::new(600).await;
    assert_eq!(client.state(), "closed");
    assert_eq!(calls.get(), after_close, "no attempt after close()");
}

#[wasm_bindgen_test]
async fn close_from_inside_a_listener_stops_for_good() {
    let Some((url, _)) = urls() else { return };
    let _server = lock_server().await;
    let cell: Rc<std::cell::OnceCell<MarketClient>> = Rc::default();
    let seen: Rc<RefCell<Poked>> = Rc::default();
    let after_close = Rc::new(Cell::new(0u32));
    let listener = |close_on: &'static str| {
        let (cell, seen, after_close) = (cell.clone(), seen.clone(), after_close.clone());
        Closure::<dyn FnMut(JsValue)>::new(move |_event: JsValue| {
            let Some(client) = cell.get() else { return };
            if client.state() == "closed" {
                after_close.set(after_close.get() + 1);
                return;
            }
            poke(client, &seen);
            if close_on == "snapshot" && seen.borrow().calls >= 6 {
                client.close();
                assert_eq!(client.state(), "closed");
            }
        })
    };
    let on_status = listener("");
    let on_hello = listener("");
    let on_snapshot = listener("snapshot");
    let on_snapshot_2 = listener("");
    let client = MarketClient::new(JsValue::from(url.to_owned()), None).expect("valid");
    assert!(cell.set(client).is_ok());
    let client = cell.get().expect("set");
    let f = |l: &Closure<dyn FnMut(JsValue)>| l.as_ref().unchecked_ref::<Function>().clone();
    client.on_status(f(&on_status));
    client.on_hello(f(&on_hello));
    client.on_snapshot(f(&on_snapshot));
    // Registered after the one that closes: must not hear of that snapshot.
    client.on_snapshot(f(&on_snapshot_2));
    let start = now();
    while client.state() != "closed" {
        assert!(
            now() - start < 10_000.0,
            "the snapshot listener never closed"
        );
        TimeoutFuture::new(20).await;
    }
    TimeoutFuture::new(500).await;
    let seen = seen.borrow().clone();
    assert!(seen.states.iter().any(|s| s == "open"), "{seen:?}");
    // The status listener is told `closed` once; nothing else after it.
    assert!(
        after_close.get() <= 1,
        "{} calls after close",
        after_close.get()
    );
    assert_eq!(client.state(), "closed");
}

#[wasm_bindgen_test]
async fn options_a_browser_timer_cannot_wait_are_refused() {
    // setTimeout takes a signed 32-bit delay: 2^31 ms (~24.8 days) or more
    // would fire at once.
    let too_long = 2_147_483_648.0;
    for key in [
        "initialDelayMs",
        "maxDelayMs",
        "connectTimeoutMs",
        "livenessIntervalMs",
        "livenessGraceMs",
        "pingIntervalMs",
        "probeTimeoutMs",
    ] {
        let opts: JsValue = options(&[(key, too_long)]);
        let err = match MarketClient::new(
            JsValue::from("ws://127.0.0.1:9/".to_owned()),
            Some(opts.unchecked_into()),
        ) {
            Ok(client) => {
                client.close();
                panic!("{key} = {too_long} was accepted")
            }
            Err(e) => JsValue::from(e),
        };
        let message = get(&err, "message").as_string().unwrap_or_default();
        assert!(
            message.contains(key) && message.contains("2147483647"),
            "{key}: unclear error {message:?}"
        );
    }
    // The longest delay a timer can wait is accepted.
    let opts: JsValue = options(&[("pingIntervalMs", 2_147_483_647.0)]);
    let client = MarketClient::new(
        JsValue::from("ws://127.0.0.1:9/".to_owned()),
        Some(opts.unchecked_into()),
    )
    .expect("2^31 - 1 ms is schedulable");
    client.close();
}

#[wasm_bindgen_test]
async fn app_pings_are_understood_by_the_server() {
    let Some((url, _)) = urls() else { return };
    let _server = lock_server().await;
    let h = Harness::new(url, &[("pingIntervalMs", 250.0)]);
    let errors: Rc<RefCell<Vec<JsValue>>> = Rc::default();
    let on_error = {
        let errors = errors.clone();
        Closure::<dyn FnMut(JsValue)>::new(move |e: JsValue| errors.borrow_mut().push(e))
    };
    h.client
        .on_server_error(on_error.as_ref().unchecked_ref::<Function>().clone());
    h.wait_open_with_snapshots(0, 10_000.0).await;
    // Several pings go out; a malformed one would be answered with `error`.
    TimeoutFuture::new(1_200).await;
    assert_eq!(h.client.state(), "open");
    let errors: Vec<String> = errors
        .borrow()
        .iter()
        .map(|e| JSON::stringify(e).map(String::from).unwrap_or_default())
        .collect();
    assert!(errors.is_empty(), "the server rejected a ping: {errors:?}");
    h.client.close();
}
