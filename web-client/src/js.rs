//! Plain JS values the client hands to listeners and reads from options:
//! property access, the status and gap event objects, and the text of an
//! outgoing message (serialized by `serde-wasm-bindgen` + `JSON.stringify`,
//! so no JSON serializer is compiled into the `.wasm`).

use js_sys::{Object, Reflect, JSON};
use marketfeed_protocol::ClientMessage;
use wasm_bindgen::JsValue;

use crate::connection::Status;

/// `target[key]`, `undefined` when absent or when the getter threw.
pub(crate) fn get(target: &JsValue, key: &str) -> JsValue {
    Reflect::get(target, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

fn set(target: &Object, key: &str, value: JsValue) {
    let _ = Reflect::set(target, &JsValue::from_str(key), &value);
}

fn nullable<T: Into<JsValue>>(value: Option<T>) -> JsValue {
    value.map_or(JsValue::NULL, Into::into)
}

/// The `StatusEvent` object.
pub(crate) fn status_object(s: &Status) -> JsValue {
    let o = Object::new();
    set(&o, "state", s.state.as_str().into());
    set(&o, "attempt", s.attempt.into());
    set(&o, "delayMs", nullable(s.delay_ms));
    set(&o, "nextAttemptAt", nullable(s.next_attempt_at));
    set(&o, "closeCode", nullable(s.close_code));
    set(&o, "closeReason", nullable(s.close_reason.clone()));
    set(&o, "error", nullable(s.error.clone()));
    set(&o, "waitingForNetwork", s.waiting_for_network.into());
    o.into()
}

/// The `GapEvent` object. Counts are sent as JS numbers (exact to 2^53).
pub(crate) fn gap_object(expected: u64, received: u64, missed: u64, gap_count: u64) -> JsValue {
    let o = Object::new();
    set(&o, "expected", (expected as f64).into());
    set(&o, "received", (received as f64).into());
    set(&o, "missed", (missed as f64).into());
    set(&o, "gapCount", (gap_count as f64).into());
    o.into()
}

/// The JSON text of `message`, `None` if it could not be built.
pub(crate) fn message_text(message: &ClientMessage) -> Option<String> {
    let value = serde_wasm_bindgen::to_value(message).ok()?;
    JSON::stringify(&value).ok().map(String::from)
}

/// What a thrown value or rejection says: itself if a string, else its
/// `message`. May run user code (a getter): call with no borrow held.
pub(crate) fn js_error_message(e: &JsValue) -> String {
    e.as_string()
        .or_else(|| get(e, "message").as_string())
        .unwrap_or_else(|| "rejected".to_owned())
}
