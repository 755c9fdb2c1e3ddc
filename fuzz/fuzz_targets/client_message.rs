//! Fuzzes `decode_client`, which turns every client text message into a
//! `ClientMessage` or a typed error.
//!
//! Checked: no panic on any bytes; an error has a wire code and a message;
//! a decoded message re-encodes to JSON that decodes to the same message.

#![no_main]

use libfuzzer_sys::fuzz_target;
use marketfeed_protocol::{decode_client, encode_client};

fuzz_target!(|data: &[u8]| {
    match decode_client(data) {
        Ok(msg) => {
            let again = encode_client(&msg);
            let back = decode_client(&again).expect("an encoded message decodes");
            assert_eq!(back, msg, "round trip changed the message");
        }
        Err(e) => {
            let _ = e.code();
            assert!(!e.to_string().is_empty());
        }
    }
});
