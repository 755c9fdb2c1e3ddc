//! Routing of what the server sends. Text messages are parsed with the
//! browser's `JSON.parse` and dispatched on their `type` (the protocol's
//! [`kind`] words); binary frames (`marketfeed.v2.bin`) are decoded with
//! [`decode_binary`]. A v1 snapshot is handed on as parsed; v2 keyframes
//! and deltas go to the state in `state.rs`.

use std::rc::Rc;

use js_sys::JSON;
use marketfeed_protocol::{decode_binary, kind, ErrorCode, Hello, ServerMessage, Subprotocol};
use serde::de::DeserializeOwned;
use wasm_bindgen::JsValue;

use crate::connection::{ConnectionState, Input};
use crate::driver::{dispatch, dispatch_with, Event, Inner, Shared};
use crate::from_js::from_js;
use crate::gaps::{GapEvent, SeqOutcome};
use crate::js::{gap_object, get};
use crate::state::{
    changed_quotes, keyframe_is_new, on_delta, on_json_delta, on_json_keyframe, on_keyframe,
};

fn warn(what: &str) {
    web_sys::console::warn_1(&format!("marketfeed: {what}").into());
}

/// A binary frame: a `marketfeed.v2.bin` keyframe or delta.
pub(crate) fn on_binary(shared: &Rc<Shared>, bytes: &[u8]) {
    match decode_binary(bytes) {
        Ok(ServerMessage::Snapshot(snap)) => {
            dispatch_with(shared, Some(Input::Message), |inner, events| {
                if open(inner) {
                    on_keyframe(inner, snap, events);
                }
            });
        }
        Ok(ServerMessage::Delta(delta)) => {
            dispatch_with(shared, Some(Input::Message), |inner, events| {
                if open(inner) {
                    on_delta(inner, delta, events);
                }
            });
        }
        Ok(_) => {
            warn("ignoring a binary message that is neither keyframe nor delta");
            dispatch(shared, Input::Message);
        }
        Err(_) => {
            warn("ignoring an invalid binary message");
            dispatch(shared, Input::Message);
        }
    }
}

/// `value` as `T`, warning when it does not fit.
fn typed<T: DeserializeOwned>(value: &JsValue, what: &str) -> Option<T> {
    from_js(value)
        .map_err(|_| warn(&format!("ignoring an invalid {what}")))
        .ok()
}

/// A text frame: JSON, dispatched on its `type`.
pub(crate) fn on_text(shared: &Rc<Shared>, text: &str) {
    let Ok(value) = JSON::parse(text) else {
        warn("ignoring a non-JSON message");
        dispatch(shared, Input::Message);
        return;
    };
    let kind = get(&value, "type").as_string();
    match kind.as_deref() {
        Some(kind::HELLO) => match typed::<Hello>(&value, "hello") {
            Some(hello) => dispatch_with(
                shared,
                Some(Input::Hello {
                    protocol_version: hello.protocol_version,
                    heartbeat_interval_ms: hello.heartbeat_interval_ms,
                }),
                |inner, events| {
                    inner.gaps.hello(hello.epoch);
                    events.push(Event::Hello(value));
                    if open(inner) {
                        if let Some(restore) = inner.feed.on_hello(hello.symbols) {
                            inner.send(&restore);
                        }
                    }
                },
            ),
            None => dispatch(shared, Input::Message),
        },
        Some(kind::SNAPSHOT) => {
            let quotes_wanted = !shared.listeners.borrow().quote.is_empty();
            dispatch_with(shared, Some(Input::Message), |inner, events| {
                if !open(inner) {
                    return;
                }
                if inner.feed.format == Subprotocol::V1Json {
                    on_v1_snapshot(inner, value, quotes_wanted, events);
                } else {
                    on_json_keyframe(inner, value, events);
                }
            });
        }
        Some(kind::DELTA) => {
            dispatch_with(shared, Some(Input::Message), |inner, events| {
                if open(inner) {
                    on_json_delta(inner, value, events);
                }
            });
        }
        Some(kind::SUBSCRIBED) => {
            let symbols = get(&value, "symbols");
            let symbols: Option<Vec<String>> = js_sys::Array::is_array(&symbols).then(|| {
                js_sys::Array::from(&symbols)
                    .iter()
                    .filter_map(|s| s.as_string())
                    .collect()
            });
            dispatch_with(shared, Some(Input::Message), |inner, events| {
                if let Some(symbols) = symbols {
                    inner.feed.on_subscribed(symbols);
                }
                events.push(Event::Subscribed(value));
            });
        }
        Some(kind::ERROR) => {
            let code = get(&value, "code").as_string();
            let refused = [ErrorCode::UnknownSymbol, ErrorCode::TooManySymbols]
                .iter()
                .any(|c| code.as_deref() == Some(c.as_str()));
            dispatch_with(shared, Some(Input::Message), |inner, events| {
                if refused {
                    inner.feed.on_refused();
                }
                events.push(Event::ServerError(value));
            });
        }
        _ => dispatch(shared, Input::Message),
    }
}

fn open(inner: &Inner) -> bool {
    inner.machine.state() == ConnectionState::Open
}

/// Records `seq` with the gap tracker; `false` when the message is stale
/// (not newer than the last one) and must be ignored. A jump becomes a
/// gap event.
pub(crate) fn observe_seq(inner: &mut Inner, seq: u64, events: &mut Vec<Event>) -> bool {
    match inner.gaps.observe(seq) {
        SeqOutcome::Stale => false,
        SeqOutcome::Gap {
            expected,
            received,
            missed,
        } => {
            events.push(Event::Gap(gap_object(&GapEvent {
                expected,
                received,
                missed,
                gap_count: inner.gaps.gap_count(),
            })));
            true
        }
        SeqOutcome::Resync | SeqOutcome::InOrder => true,
    }
}

/// A `marketfeed.v1.json` snapshot: the whole state, as parsed. With
/// `onQuote` listeners, each quote whose JSON differs from the previous
/// snapshot's quote of the same symbol is reported.
fn on_v1_snapshot(inner: &mut Inner, value: JsValue, quotes_wanted: bool, events: &mut Vec<Event>) {
    let seq = get(&value, "seq").as_f64().unwrap_or(-1.0);
    if !(seq >= 0.0 && seq.fract() == 0.0) {
        warn("snapshot without a valid seq");
        return;
    }
    // An integral f64 ≥ 0 converts exactly (saturating past u64::MAX).
    if !keyframe_is_new(inner, seq as u64, events) {
        return;
    }
    if quotes_wanted {
        changed_quotes(&inner.last_snapshot, &value, events);
    }
    inner.last_snapshot = value.clone();
    events.push(Event::Snapshot(value));
}
