//! Plain JS values the client hands to listeners and reads from options:
//! property access, the status and gap event objects, and the text of an
//! outgoing message (serialized by `serde-wasm-bindgen` + `JSON.stringify`,
//! so no JSON serializer is compiled into the `.wasm`).

use js_sys::{Reflect, JSON};
use marketfeed_protocol::ClientMessage;
use serde::Serialize;
use wasm_bindgen::JsValue;

use crate::connection::Status;
use crate::gaps::GapEvent;

/// `target[key]`, `undefined` when absent or when the getter threw.
pub(crate) fn get(target: &JsValue, key: &str) -> JsValue {
    Reflect::get(target, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

/// `value` as a plain JS object; `None` becomes `null`, as the TypeScript
/// types (generated from the same Rust types) say.
fn object<T: Serialize>(value: &T) -> JsValue {
    let serializer = serde_wasm_bindgen::Serializer::new().serialize_missing_as_null(true);
    value.serialize(&serializer).unwrap_or(JsValue::NULL)
}

/// The `StatusEvent` object.
pub(crate) fn status_object(s: &Status) -> JsValue {
    object(s)
}

/// The `GapEvent` object (counts stay below 2^53, exact as JS numbers).
pub(crate) fn gap_object(gap: &GapEvent) -> JsValue {
    object(gap)
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
