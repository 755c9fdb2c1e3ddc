//! Browser tests of the wire formats and subscriptions against a live
//! marketfeed server (started by `scripts/test-browser.sh` under
//! `tests/browser/supervisor.mjs`, `--tick-interval 100ms`, the default
//! keyframe interval of 60 ticks; `MARKETFEED_WS_URL` and
//! `MARKETFEED_CONTROL_URL` are passed at compile time).
//!
//! The reference is a `full-json` (`marketfeed.v1.json`) client on the same
//! server in the same run: a client speaking `binary` or `json` must hold,
//! at every `seq`, exactly the snapshot the v1 client received.
//!
//! Every test takes the server lock, since one of them restarts it.
#![cfg(target_arch = "wasm32")]

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

use gloo_timers::future::TimeoutFuture;
use js_sys::{Array, Function, Object, Reflect, JSON};
use marketfeed_web_client::MarketClient;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

mod common;

use common::{control_at, get, lock_server, urls};

wasm_bindgen_test_configure!(run_in_browser);

async fn control(path: &str) {
    let (_, base) = urls().expect("checked by the caller");
    control_at(base, path).await;
}

fn text(v: &JsValue) -> String {
    JSON::stringify(v).expect("stringify").into()
}

fn seq_of(v: &JsValue) -> u64 {
    get(v, "seq").as_f64().expect("a seq") as u64
}

fn symbols_of(snapshot: &JsValue) -> Vec<String> {
    Array::from(&get(snapshot, "quotes"))
        .iter()
        .map(|q| get(&q, "symbol").as_string().expect("a symbol"))
        .collect()
}

fn strings(v: &JsValue) -> Vec<String> {
    Array::from(v)
        .iter()
        .filter_map(|s| s.as_string())
        .collect()
}

fn js_strings(symbols: &[&str]) -> JsValue {
    symbols
        .iter()
        .map(|s| JsValue::from_str(s))
        .collect::<Array>()
        .into()
}

/// What a client told its listeners, in order.
enum Told {
    Quote(JsValue),
    Snapshot(JsValue),
}

#[derive(Default)]
struct Log {
    told: Vec<Told>,
    gaps: Vec<JsValue>,
    subscribed: Vec<Vec<String>>,
    errors: Vec<JsValue>,
    hellos: usize,
}

struct Client {
    client: MarketClient,
    log: Rc<RefCell<Log>>,
    _listeners: Vec<Closure<dyn FnMut(JsValue)>>,
}

impl Client {
    fn new(url: &str, format: &str, symbols: Option<&[&str]>) -> Self {
        let opts = Object::new();
        Reflect::set(&opts, &"format".into(), &format.into()).expect("set");
        if let Some(symbols) = symbols {
            Reflect::set(&opts, &"symbols".into(), &js_strings(symbols)).expect("set");
        }
        // Quick reconnects after the server restart.
        Reflect::set(&opts, &"initialDelayMs".into(), &100.into()).expect("set");
        let client = MarketClient::new(
            JsValue::from(url.to_owned()),
            Some(JsValue::from(opts).unchecked_into()),
        )
        .expect("valid options");
        let log = Rc::new(RefCell::new(Log::default()));
        let listener = |f: fn(&mut Log, JsValue)| {
            let log = log.clone();
            Closure::<dyn FnMut(JsValue)>::new(move |v: JsValue| f(&mut log.borrow_mut(), v))
        };
        let quote = listener(|l, v| l.told.push(Told::Quote(v)));
        let snapshot = listener(|l, v| l.told.push(Told::Snapshot(v)));
        let gap = listener(|l, v| l.gaps.push(v));
        let subscribed = listener(|l, v| l.subscribed.push(strings(&get(&v, "symbols"))));
        let error = listener(|l, v| l.errors.push(v));
        let hello = listener(|l, _| l.hellos += 1);
        let f = |c: &Closure<dyn FnMut(JsValue)>| c.as_ref().unchecked_ref::<Function>().clone();
        client.on_quote(f(&quote));
        client.on_snapshot(f(&snapshot));
        client.on_gap(f(&gap));
        client.on_subscribed(f(&subscribed));
        client.on_server_error(f(&error));
        client.on_hello(f(&hello));
        Self {
            client,
            log,
            _listeners: vec![quote, snapshot, gap, subscribed, error, hello],
        }
    }

    fn snapshots(&self) -> Vec<JsValue> {
        self.log
            .borrow()
            .told
            .iter()
            .filter_map(|t| match t {
                Told::Snapshot(s) => Some(s.clone()),
                Told::Quote(_) => None,
            })
            .collect()
    }

    /// Snapshot JSON text by `seq`.
    fn by_seq(&self) -> BTreeMap<u64, String> {
        self.snapshots()
            .iter()
            .map(|s| (seq_of(s), text(s)))
            .collect()
    }

    fn last(&self) -> Option<JsValue> {
        self.snapshots().last().cloned()
    }
}

async fn wait_for(what: &str, timeout_ms: f64, cond: impl Fn() -> bool) {
    let start = js_sys::Date::now();
    while !cond() {
        assert!(
            js_sys::Date::now() - start < timeout_ms,
            "timed out after {timeout_ms} ms waiting for {what}"
        );
        TimeoutFuture::new(20).await;
    }
}

/// `client` (format `format`) and a `full-json` client on the same server
/// agree on every `seq` both received, over at least `ticks` common ticks.
async fn holds_the_v1_snapshot_at_every_seq(format: &str, ticks: usize) {
    let Some((url, _)) = urls() else { return };
    let _server = lock_server().await;
    let v1 = Client::new(url, "full-json", None);
    let v2 = Client::new(url, format, None);
    assert_eq!(v2.client.format(), format);
    let common = || {
        let a = v1.by_seq();
        v2.by_seq().keys().filter(|s| a.contains_key(s)).count()
    };
    wait_for("common ticks", 20_000.0, || common() >= ticks).await;
    let (a, b) = (v1.by_seq(), v2.by_seq());
    let mut compared = 0;
    for (seq, text) in &b {
        if let Some(reference) = a.get(seq) {
            assert_eq!(text, reference, "{format} snapshot at seq {seq}");
            compared += 1;
        }
    }
    assert!(compared >= ticks);
    // The seqs are consecutive (deltas applied, none skipped) and the
    // market moved (the deltas carried something).
    let seqs: Vec<u64> = b.keys().copied().collect();
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "{seqs:?}");
    let distinct: BTreeSet<&String> = b.values().collect();
    assert!(distinct.len() > 1);
    assert_eq!(v2.client.gap_count(), 0.0);
    assert_eq!(
        text(&v2.client.last_snapshot()),
        *b.values().last().expect("some")
    );
    v1.client.close();
    v2.client.close();
}

#[wasm_bindgen_test]
async fn binary_format_holds_the_v1_snapshot_at_every_seq() {
    // 70 ticks at 100 ms: at least one periodic keyframe (every 60) in the run.
    holds_the_v1_snapshot_at_every_seq("binary", 70).await;
}

#[wasm_bindgen_test]
async fn json_format_holds_the_v1_snapshot_at_every_seq() {
    holds_the_v1_snapshot_at_every_seq("json", 70).await;
}

#[wasm_bindgen_test]
async fn the_default_format_is_binary() {
    let Some((url, _)) = urls() else { return };
    let _server = lock_server().await;
    let client = MarketClient::new(JsValue::from(url.to_owned()), None).expect("valid");
    assert_eq!(client.format(), "binary");
    client.close();
}

/// A delta lost on the way (dropped by the client's test hook) shows as a
/// gap; the client asks for a keyframe and, one tick later, holds the v1
/// state again — not 60 ticks later at the periodic keyframe.
async fn a_lost_delta_is_repaired_by_a_keyframe(format: &str) {
    let Some((url, _)) = urls() else { return };
    let _server = lock_server().await;
    let v1 = Client::new(url, "full-json", None);
    let v2 = Client::new(url, format, None);
    wait_for("a few ticks", 10_000.0, || v2.snapshots().len() >= 3).await;
    let before = v2.snapshots().len();
    let last_before = seq_of(&v2.last().expect("some"));
    v2.client.drop_next_delta();
    wait_for("a gap", 5_000.0, || !v2.log.borrow().gaps.is_empty()).await;
    wait_for("the state again", 5_000.0, || v2.snapshots().len() > before).await;
    let after = v2.snapshots();
    let first_after = seq_of(&after[before]);
    assert!(
        first_after > last_before + 1,
        "a tick was lost: {last_before} then {first_after}"
    );
    assert!(
        first_after <= last_before + 4,
        "the keyframe answers the resync at once: {last_before} then {first_after}"
    );
    let gap = v2.log.borrow().gaps[0].clone();
    assert_eq!(
        get(&gap, "expected").as_f64(),
        Some((last_before + 1) as f64)
    );
    assert_eq!(v2.client.gap_count(), 1.0);
    // From the keyframe on, every tick again equals the v1 snapshot.
    wait_for("more ticks", 10_000.0, || v2.snapshots().len() > before + 5).await;
    wait_for("v1 catching up", 5_000.0, || {
        v1.by_seq().contains_key(&seq_of(&v2.last().expect("some")))
    })
    .await;
    let reference = v1.by_seq();
    let repaired: Vec<u64> = v2.snapshots()[before..].iter().map(seq_of).collect();
    assert!(
        repaired.windows(2).all(|w| w[1] == w[0] + 1),
        "{repaired:?}"
    );
    for s in &v2.snapshots()[before..] {
        assert_eq!(
            Some(&text(s)),
            reference.get(&seq_of(s)),
            "seq {}",
            seq_of(s)
        );
    }
    assert_eq!(v2.client.gap_count(), 1.0);
    v1.client.close();
    v2.client.close();
}

#[wasm_bindgen_test]
async fn binary_a_lost_delta_is_repaired_by_a_keyframe() {
    a_lost_delta_is_repaired_by_a_keyframe("binary").await;
}

#[wasm_bindgen_test]
async fn json_a_lost_delta_is_repaired_by_a_keyframe() {
    a_lost_delta_is_repaired_by_a_keyframe("json").await;
}

/// Between two consecutive snapshots, the quotes told to `onQuote` are
/// exactly those whose JSON differs, each as it is in the new snapshot.
async fn on_quote_reports_exactly_the_changed_quotes(format: &str) {
    let Some((url, _)) = urls() else { return };
    let _server = lock_server().await;
    let c = Client::new(url, format, None);
    wait_for("ticks", 20_000.0, || c.snapshots().len() >= 25).await;
    c.client.close();
    let log = c.log.borrow();
    let mut prev: Option<&JsValue> = None;
    let mut told: Vec<String> = Vec::new();
    let (mut checked, mut some_unchanged) = (0, false);
    for t in &log.told {
        match t {
            Told::Quote(q) => told.push(text(q)),
            Told::Snapshot(s) => {
                let now: Vec<String> = Array::from(&get(s, "quotes"))
                    .iter()
                    .map(|q| text(&q))
                    .collect();
                let expected: Vec<String> = match prev {
                    None => now.clone(),
                    Some(p) => {
                        let old: BTreeSet<String> = Array::from(&get(p, "quotes"))
                            .iter()
                            .map(|q| text(&q))
                            .collect();
                        now.iter().filter(|q| !old.contains(*q)).cloned().collect()
                    }
                };
                some_unchanged |= expected.len() < now.len();
                assert_eq!(
                    told,
                    expected,
                    "{format}: quotes told before seq {}",
                    seq_of(s)
                );
                told.clear();
                prev = Some(s);
                checked += 1;
            }
        }
    }
    assert!(checked >= 25);
    assert!(some_unchanged, "some ticks leave quotes unchanged");
}

#[wasm_bindgen_test]
async fn binary_on_quote_reports_exactly_the_changed_quotes() {
    on_quote_reports_exactly_the_changed_quotes("binary").await;
}

#[wasm_bindgen_test]
async fn json_on_quote_reports_exactly_the_changed_quotes() {
    on_quote_reports_exactly_the_changed_quotes("json").await;
}

#[wasm_bindgen_test]
async fn full_json_on_quote_reports_exactly_the_changed_quotes() {
    on_quote_reports_exactly_the_changed_quotes("full-json").await;
}

/// The `symbols` option, `subscribe` and `unsubscribe` shape the quotes
/// received, in every format, and the client restores the set after the
/// server restarts.
async fn subscriptions_are_kept_across_a_reconnect(format: &str) {
    let Some((url, _)) = urls() else { return };
    let _server = lock_server().await;
    let owned = Client::new(url, format, Some(&["VNM", "FPT"]));
    let c = &owned;
    let quotes_are = |want: &[&str]| {
        let want: Vec<String> = want.iter().map(|s| s.to_string()).collect();
        move || c.last().is_some_and(|s| symbols_of(&s) == want)
    };
    // Snapshot order, not the order asked.
    wait_for("the option's set", 10_000.0, quotes_are(&["FPT", "VNM"])).await;
    assert_eq!(
        c.log.borrow().subscribed.last().cloned(),
        Some(vec!["FPT".to_owned(), "VNM".to_owned()])
    );
    c.client.subscribe(js_strings(&["HPG"])).expect("an array");
    wait_for("HPG added", 10_000.0, quotes_are(&["FPT", "HPG", "VNM"])).await;
    c.client
        .unsubscribe(js_strings(&["VNM"]))
        .expect("an array");
    wait_for("VNM removed", 10_000.0, quotes_are(&["FPT", "HPG"])).await;
    assert_eq!(strings(&c.client.symbols()), ["FPT", "HPG"]);

    let hellos = c.log.borrow().hellos;
    let subscribed = c.log.borrow().subscribed.len();
    control("/restart?downMs=500").await;
    wait_for("a new hello", 15_000.0, || c.log.borrow().hellos > hellos).await;
    wait_for("the set confirmed again", 10_000.0, || {
        c.log.borrow().subscribed.len() > subscribed
    })
    .await;
    assert_eq!(
        c.log.borrow().subscribed.last().cloned(),
        Some(vec!["FPT".to_owned(), "HPG".to_owned()])
    );
    let ticks = c.snapshots().len();
    wait_for("ticks after the restart", 10_000.0, || {
        c.snapshots().len() >= ticks + 3
    })
    .await;
    for s in &c.snapshots()[ticks..] {
        assert_eq!(
            symbols_of(s),
            ["FPT", "HPG"],
            "{format} after the reconnect"
        );
    }
    c.client.close();
}

#[wasm_bindgen_test]
async fn binary_subscriptions_are_kept_across_a_reconnect() {
    subscriptions_are_kept_across_a_reconnect("binary").await;
}

#[wasm_bindgen_test]
async fn full_json_subscriptions_are_kept_across_a_reconnect() {
    subscriptions_are_kept_across_a_reconnect("full-json").await;
}

#[wasm_bindgen_test]
async fn an_unknown_symbol_reaches_on_server_error_and_changes_nothing() {
    let Some((url, _)) = urls() else { return };
    let _server = lock_server().await;
    let c = Client::new(url, "binary", Some(&["FPT"]));
    wait_for("the set", 10_000.0, || {
        !c.log.borrow().subscribed.is_empty()
    })
    .await;
    c.client
        .subscribe(js_strings(&["NOPE1"]))
        .expect("an array");
    wait_for("the error", 10_000.0, || !c.log.borrow().errors.is_empty()).await;
    let error = c.log.borrow().errors[0].clone();
    assert_eq!(
        get(&error, "code").as_string().as_deref(),
        Some("unknownSymbol")
    );
    let message = get(&error, "message").as_string().unwrap_or_default();
    assert!(message.contains("NOPE1"), "{message}");
    assert_eq!(strings(&c.client.symbols()), ["FPT"]);
    let ticks = c.snapshots().len();
    wait_for("ticks", 10_000.0, || c.snapshots().len() >= ticks + 3).await;
    assert_eq!(symbols_of(&c.last().expect("some")), ["FPT"]);
    // Not an array of strings: thrown at once.
    assert!(c.client.subscribe(JsValue::from_str("FPT")).is_err());
    c.client.close();
}

#[wasm_bindgen_test]
async fn an_unknown_format_is_refused() {
    let opts = Object::new();
    Reflect::set(&opts, &"format".into(), &"protobuf".into()).expect("set");
    assert!(MarketClient::new(
        JsValue::from("ws://127.0.0.1:1/ws/market"),
        Some(JsValue::from(opts).unchecked_into())
    )
    .is_err());
    let opts = Object::new();
    Reflect::set(&opts, &"symbols".into(), &"FPT".into()).expect("set");
    assert!(MarketClient::new(
        JsValue::from("ws://127.0.0.1:1/ws/market"),
        Some(JsValue::from(opts).unchecked_into())
    )
    .is_err());
}
