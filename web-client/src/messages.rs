//! Routing of what the server sends: each text message is parsed with the
//! browser's `JSON.parse`, dispatched on its `type` (the protocol's
//! [`kind`] words); only `hello` is converted into the Rust type.

use std::rc::Rc;

use js_sys::JSON;
use marketfeed_protocol::{kind, Hello};
use wasm_bindgen::JsValue;

use crate::connection::{ConnectionState, Input};
use crate::driver::{dispatch, dispatch_with, Event, Inner, Shared};
use crate::gaps::{GapEvent, SeqOutcome};
use crate::js::{gap_object, get};

pub(crate) fn on_text(shared: &Rc<Shared>, text: &str) {
    let Ok(value) = JSON::parse(text) else {
        web_sys::console::warn_1(&"marketfeed: ignoring a non-JSON message".into());
        dispatch(shared, Input::Message);
        return;
    };
    let kind = get(&value, "type").as_string();
    match kind.as_deref() {
        Some(kind::HELLO) => match serde_wasm_bindgen::from_value::<Hello>(value.clone()) {
            Ok(hello) => dispatch_with(
                shared,
                Some(Input::Hello {
                    protocol_version: hello.protocol_version,
                    heartbeat_interval_ms: hello.heartbeat_interval_ms,
                }),
                |inner, events| {
                    inner.gaps.hello(hello.epoch);
                    events.push(Event::Hello(value));
                },
            ),
            Err(e) => {
                web_sys::console::warn_1(&format!("marketfeed: invalid hello: {e}").into());
                dispatch(shared, Input::Message);
            }
        },
        Some(kind::SNAPSHOT) => dispatch_with(shared, Some(Input::Message), |inner, events| {
            on_snapshot(inner, value, events);
        }),
        Some(kind::ERROR) => dispatch_with(shared, Some(Input::Message), |_, events| {
            events.push(Event::ServerError(value));
        }),
        _ => dispatch(shared, Input::Message),
    }
}

fn on_snapshot(inner: &mut Inner, value: JsValue, events: &mut Vec<Event>) {
    if inner.machine.state() != ConnectionState::Open {
        return;
    }
    let seq = get(&value, "seq").as_f64().unwrap_or(-1.0);
    if !(seq >= 0.0 && seq.fract() == 0.0) {
        web_sys::console::warn_1(&"marketfeed: snapshot without a valid seq".into());
        return;
    }
    // An integral f64 ≥ 0 converts exactly (saturating past u64::MAX).
    match inner.gaps.observe(seq as u64) {
        SeqOutcome::Stale => return,
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
        }
        SeqOutcome::Resync | SeqOutcome::InOrder => {}
    }
    inner.last_snapshot = value.clone();
    events.push(Event::Snapshot(value));
}
