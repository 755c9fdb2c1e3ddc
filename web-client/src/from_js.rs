//! Reading a plain JS value (what `JSON.parse` gives) into a Rust type
//! through its serde `Deserialize`, so the wire words stay those of the
//! protocol crate's derives. Used for `hello`.
//!
//! serde-wasm-bindgen's deserializer would do the same, but its error
//! formats serde's message, and those messages print the offending value:
//! a float among them compiles Rust's whole float printing into the
//! `.wasm`. [`Mismatch`] carries no message, so none of it is linked.

use std::fmt;

use js_sys::{Array, Object, Reflect};
use serde::de::{self, DeserializeOwned, DeserializeSeed, IntoDeserializer, Visitor};
use wasm_bindgen::{JsCast, JsValue};

/// The value does not have the shape of the type asked for.
#[derive(Debug)]
pub(crate) struct Mismatch;

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the value does not fit the type")
    }
}

impl std::error::Error for Mismatch {}

impl de::Error for Mismatch {
    fn custom<T: fmt::Display>(_message: T) -> Self {
        Mismatch
    }
}

/// `value` as a `T`.
pub(crate) fn from_js<T: DeserializeOwned>(value: &JsValue) -> Result<T, Mismatch> {
    T::deserialize(Value(value.clone()))
}

/// Integers up to this magnitude are exact as JS numbers.
const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_991.0;

struct Value(JsValue);

impl<'de> de::Deserializer<'de> for Value {
    type Error = Mismatch;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Mismatch> {
        let v = self.0;
        if v.is_null() || v.is_undefined() {
            return visitor.visit_unit();
        }
        if let Some(b) = v.as_bool() {
            return visitor.visit_bool(b);
        }
        if let Some(n) = v.as_f64() {
            // An integral number in the exact range converts exactly.
            return match n {
                n if n.fract() == 0.0 && (0.0..=MAX_SAFE_INTEGER).contains(&n) => {
                    visitor.visit_u64(n as u64)
                }
                n if n.fract() == 0.0 && (-MAX_SAFE_INTEGER..0.0).contains(&n) => {
                    visitor.visit_i64(n as i64)
                }
                n => visitor.visit_f64(n),
            };
        }
        if let Some(s) = v.as_string() {
            return visitor.visit_string(s);
        }
        if Array::is_array(&v) {
            return visitor.visit_seq(Elements {
                items: Array::from(&v),
                next: 0,
            });
        }
        if v.is_object() {
            let keys = Object::keys::<JsValue>(v.unchecked_ref());
            return visitor.visit_map(Entries {
                object: v,
                keys,
                next: 0,
                value: None,
            });
        }
        Err(Mismatch)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Mismatch> {
        if self.0.is_null() || self.0.is_undefined() {
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Mismatch> {
        visitor.visit_newtype_struct(self)
    }

    /// Unit variants, written as their name.
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Mismatch> {
        let name = self.0.as_string().ok_or(Mismatch)?;
        visitor.visit_enum(name.into_deserializer())
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct seq tuple tuple_struct map struct
        identifier ignored_any
    }
}

/// An object's own enumerable properties, in their order.
struct Entries {
    object: JsValue,
    keys: Array,
    next: u32,
    value: Option<JsValue>,
}

impl<'de> de::MapAccess<'de> for Entries {
    type Error = Mismatch;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Mismatch> {
        if self.next >= self.keys.length() {
            return Ok(None);
        }
        let key = self.keys.get(self.next);
        self.next += 1;
        self.value = Some(Reflect::get(&self.object, &key).map_err(|_| Mismatch)?);
        seed.deserialize(Value(key)).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Mismatch> {
        let value = self.value.take().ok_or(Mismatch)?;
        seed.deserialize(Value(value))
    }
}

/// An array's elements.
struct Elements {
    items: Array,
    next: u32,
}

impl<'de> de::SeqAccess<'de> for Elements {
    type Error = Mismatch;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Mismatch> {
        if self.next >= self.items.length() {
            return Ok(None);
        }
        let item = self.items.get(self.next);
        self.next += 1;
        seed.deserialize(Value(item)).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use js_sys::JSON;
    use marketfeed_protocol::{Hello, TradingPhase};
    use serde::Deserialize;
    use wasm_bindgen_test::wasm_bindgen_test;

    use super::*;

    const HELLO: &str = include_str!("../../protocol/tests/fixtures/hello.json");

    /// What `from_js` reads from `JSON.parse(text)`.
    fn read<T: DeserializeOwned>(text: &str) -> Result<T, Mismatch> {
        from_js(&JSON::parse(text).expect("test JSON"))
    }

    #[wasm_bindgen_test]
    fn hello_reads_as_serde_json_reads_it() {
        let ours: Hello = read(HELLO).expect("the fixture is a hello");
        let theirs: Hello = serde_json::from_str(HELLO).expect("serde_json reads it");
        assert_eq!(ours, theirs);
        let with_epoch = HELLO.replace("\"format\"", "\"epoch\": 1764633600000000, \"format\"");
        let ours: Hello = read(&with_epoch).expect("reads");
        assert_eq!(ours.epoch, 1_764_633_600_000_000);
        assert_eq!(
            ours,
            serde_json::from_str::<Hello>(&with_epoch).expect("serde_json reads it")
        );
    }

    #[wasm_bindgen_test]
    fn defaults_apply_to_absent_fields() {
        let without = HELLO.replace(",\n  \"format\": \"marketfeed.v2.bin\"", "");
        assert!(!without.contains("format"), "{without}");
        let ours: Hello = read(&without).expect("reads");
        assert_eq!(
            ours,
            serde_json::from_str::<Hello>(&without).expect("serde_json reads it")
        );
        assert_eq!(ours.format, "marketfeed.v1.json");
    }

    #[wasm_bindgen_test]
    fn values_that_do_not_fit_are_refused() {
        for bad in [
            "\"1\"",
            "1.5",
            "-1",
            "4294967296",
            "null",
            "[1]",
            "{\"v\": 1}",
        ] {
            let text = HELLO.replace(
                "\"protocolVersion\": 1",
                &format!("\"protocolVersion\": {bad}"),
            );
            assert!(read::<Hello>(&text).is_err(), "protocolVersion {bad}");
            assert!(
                serde_json::from_str::<Hello>(&text).is_err(),
                "protocolVersion {bad}"
            );
        }
        let no_symbols = HELLO.replace("\"symbols\": [\"ACB\", \"FPT\"],", "");
        assert!(read::<Hello>(&no_symbols).is_err());
        let bad_symbol = HELLO.replace("[\"ACB\", \"FPT\"]", "[\"ACB\", 7]");
        assert!(read::<Hello>(&bad_symbol).is_err());
        assert!(read::<Hello>("[]").is_err());
        assert!(read::<Hello>("\"hello\"").is_err());
    }

    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Sample {
        phase: TradingPhase,
        maybe: Option<i64>,
        ratio: f64,
    }

    #[wasm_bindgen_test]
    fn options_enums_and_floats() {
        for text in [
            r#"{"phase": "lunchBreak", "maybe": -3, "ratio": 0.25}"#,
            r#"{"phase": "continuous", "maybe": null, "ratio": 2}"#,
        ] {
            let ours: Sample = read(text).expect("reads");
            assert_eq!(
                ours,
                serde_json::from_str::<Sample>(text).expect("serde_json reads it"),
                "{text}"
            );
        }
        let absent: Sample = read(r#"{"phase": "closed", "ratio": 1}"#).expect("reads");
        assert_eq!(absent.maybe, None);
        assert!(read::<Sample>(r#"{"phase": "lunch", "ratio": 1}"#).is_err());
        assert!(read::<Sample>(r#"{"phase": 2, "ratio": 1}"#).is_err());
    }
}
