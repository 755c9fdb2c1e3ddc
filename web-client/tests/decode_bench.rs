//! Decode benchmark in the browser (not a test of speed: it asserts
//! nothing about time). Run by `scripts/bench-decode.sh`, which starts a
//! live server and runs this file with `wasm-pack test --release
//! --headless --chrome -- --nocapture` with `MARKETFEED_BENCH_WS_URL`
//! set; without it (as under `scripts/test-browser.sh`) it does nothing.
//!
//! It records real frames from the server — one `marketfeed.v2.bin`
//! keyframe and the chain of deltas after it, one `marketfeed.v1.json`
//! snapshot text — then times, per operation, over many repetitions:
//!
//! * keyframe: `decode_binary` into a `MarketSnapshot` (the new state);
//! * delta tick: `decode_binary` + `apply` to the state;
//! * the same plus the JS objects the client builds for the listeners
//!   (each changed quote, and a whole keyframe's quotes);
//! * `JSON.parse` of the v1 snapshot text, for comparison.
#![cfg(target_arch = "wasm32")]

use std::cell::RefCell;
use std::rc::Rc;

use gloo_timers::future::TimeoutFuture;
use js_sys::{ArrayBuffer, Uint8Array, JSON};
use marketfeed_protocol::{apply, decode_binary, Delta, MarketSnapshot, ServerMessage};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::{console_log, wasm_bindgen_test, wasm_bindgen_test_configure};
use web_sys::{BinaryType, MessageEvent, WebSocket};

wasm_bindgen_test_configure!(run_in_browser);

const WS_URL: Option<&str> = option_env!("MARKETFEED_BENCH_WS_URL");
/// Deltas recorded after the keyframe.
const CHAIN: usize = 40;

fn now() -> f64 {
    web_sys::window()
        .and_then(|w| w.performance())
        .map_or_else(js_sys::Date::now, |p| p.now())
}

/// Mean µs per call of `f` over enough calls to fill ~300 ms.
fn time(mut f: impl FnMut()) -> f64 {
    for _ in 0..20 {
        f();
    }
    let mut n = 0u32;
    let start = now();
    while now() - start < 300.0 {
        for _ in 0..50 {
            f();
        }
        n += 50;
    }
    (now() - start) * 1000.0 / f64::from(n)
}

/// A socket, the frames it received, and its message listener.
type Recording = (
    WebSocket,
    Rc<RefCell<Vec<JsValue>>>,
    Closure<dyn FnMut(MessageEvent)>,
);

/// Records the frames of one socket offering `protocol`.
fn record(url: &str, protocol: &str) -> Recording {
    let ws = WebSocket::new_with_str(url, protocol).expect("a socket");
    ws.set_binary_type(BinaryType::Arraybuffer);
    let frames = Rc::new(RefCell::new(Vec::new()));
    let sink = frames.clone();
    let on = Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
        sink.borrow_mut().push(e.data());
    });
    ws.set_onmessage(Some(on.as_ref().unchecked_ref()));
    (ws, frames, on)
}

#[wasm_bindgen_test]
async fn decode_and_apply_timings() {
    let Some(url) = WS_URL else {
        console_log!("SKIPPED: MARKETFEED_BENCH_WS_URL not set (run scripts/bench-decode.sh)");
        return;
    };
    let (bin_ws, bin, _a) = record(url, "marketfeed.v2.bin");
    let (v1_ws, v1, _b) = record(url, "marketfeed.v1.json");
    let start = js_sys::Date::now();
    // The frames from the last keyframe on (a periodic keyframe may come
    // while recording: the chain then starts there).
    let binary = || -> Vec<Vec<u8>> {
        let all: Vec<Vec<u8>> = bin
            .borrow()
            .iter()
            .filter_map(|d| {
                d.dyn_ref::<ArrayBuffer>()
                    .map(|b| Uint8Array::new(b).to_vec())
            })
            .collect();
        let from = all
            .iter()
            .rposition(|f| f.first() == Some(&marketfeed_protocol::binary::TAG_SNAPSHOT))
            .unwrap_or(0);
        all[from..].to_vec()
    };
    while binary().len() < CHAIN + 1 || v1.borrow().len() < 2 {
        assert!(
            js_sys::Date::now() - start < 60_000.0,
            "frames did not come"
        );
        TimeoutFuture::new(50).await;
    }
    bin_ws.close().ok();
    v1_ws.close().ok();
    let frames = binary();
    let keyframe_bytes = frames[0].clone();
    let keyframe = match decode_binary(&keyframe_bytes) {
        Ok(ServerMessage::Snapshot(s)) => s,
        other => panic!("the first binary frame is a keyframe: {other:?}"),
    };
    let deltas: Vec<Vec<u8>> = frames[1..=CHAIN].to_vec();
    let decoded: Vec<Delta> = deltas
        .iter()
        .map(|b| match decode_binary(b) {
            Ok(ServerMessage::Delta(d)) => d,
            other => panic!("a delta: {other:?}"),
        })
        .collect();
    let v1_text: String = v1
        .borrow()
        .iter()
        .filter_map(JsValue::as_string)
        .find(|t| t.contains("\"type\":\"snapshot\""))
        .expect("a v1 snapshot");

    // Checks the chain applies before timing it.
    let mut state = keyframe.clone();
    for d in &decoded {
        apply(&mut state, d).expect("the chain applies");
    }

    let keyframe_us = time(|| {
        let s: MarketSnapshot = match decode_binary(&keyframe_bytes) {
            Ok(ServerMessage::Snapshot(s)) => s,
            _ => unreachable!(),
        };
        std::hint::black_box(s);
    });
    let keyframe_js_us = time(|| {
        if let Ok(ServerMessage::Snapshot(s)) = decode_binary(&keyframe_bytes) {
            let quotes: js_sys::Array = s
                .quotes
                .iter()
                .map(|q| serde_wasm_bindgen::to_value(q).unwrap_or(JsValue::NULL))
                .collect();
            std::hint::black_box(quotes);
        }
    });
    // The chain from the keyframe, state reset per pass (the reset is
    // timed alone and subtracted).
    let reset_us = time(|| {
        std::hint::black_box(keyframe.clone());
    });
    let chain_pass = |with_js: bool| {
        let mut state = keyframe.clone();
        for b in &deltas {
            if let Ok(ServerMessage::Delta(d)) = decode_binary(b) {
                let _ = apply(&mut state, &d);
                if with_js {
                    for qd in &d.quotes {
                        if let Some(q) = state.quotes.iter().find(|q| q.symbol == qd.symbol) {
                            std::hint::black_box(serde_wasm_bindgen::to_value(q).ok());
                        }
                    }
                }
            }
        }
        std::hint::black_box(state);
    };
    let delta_us = (time(|| chain_pass(false)) - reset_us) / CHAIN as f64;
    let delta_js_us = (time(|| chain_pass(true)) - reset_us) / CHAIN as f64;
    let parse_us = time(|| {
        std::hint::black_box(JSON::parse(&v1_text).ok());
    });

    let changed: f64 = decoded.iter().map(|d| d.quotes.len() as f64).sum::<f64>() / CHAIN as f64;
    let delta_bytes: f64 = deltas.iter().map(|d| d.len() as f64).sum::<f64>() / CHAIN as f64;
    console_log!(
        "decode bench ({} quotes; {CHAIN} real deltas, {changed:.1} changed quotes and {delta_bytes:.0} B each on average; keyframe {} B; v1 snapshot {} B):",
        keyframe.quotes.len(),
        keyframe_bytes.len(),
        v1_text.len()
    );
    console_log!("  binary keyframe: decode                               {keyframe_us:>8.1} µs");
    console_log!(
        "  binary keyframe: decode + JS objects of its quotes    {keyframe_js_us:>8.1} µs"
    );
    console_log!("  binary delta tick: decode + apply                     {delta_us:>8.1} µs");
    console_log!("  binary delta tick: decode + apply + changed quotes JS {delta_js_us:>8.1} µs");
    console_log!("  v1 snapshot: JSON.parse                               {parse_us:>8.1} µs");
}
