//! Fuzzes the WebSocket upgrade check on arbitrary request heads.
//!
//! The bytes are parsed as an HTTP/1.1 request head with `httparse` (the
//! parser hyper uses in front of the server), turned into the `HeaderMap`
//! the upgrade filter sees, and given to `ws::check_request` and
//! `ws::handshake::negotiate_deflate`. Checked: no panic; an accepted
//! request really carries the tokens and the key the check documents; the
//! accept key is 28 base64 characters; an accepted permessage-deflate
//! offer is answered with both no-context-takeover parameters and only
//! when an offer names the extension.

#![no_main]

use http::header::{HeaderMap, HeaderName, HeaderValue};
use libfuzzer_sys::fuzz_target;
use marketfeed_server::ws::handshake::negotiate_deflate;
use marketfeed_server::ws::{accept_key, check_request};

fuzz_target!(|data: &[u8]| {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut req = httparse::Request::new(&mut headers);
    if !matches!(req.parse(data), Ok(httparse::Status::Complete(_))) {
        return;
    }
    let mut map = HeaderMap::new();
    for h in req.headers.iter() {
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(h.name.as_bytes()),
            HeaderValue::from_bytes(h.value),
        ) else {
            return; // hyper would have refused the head already
        };
        map.append(name, value);
    }
    if let Some(answer) = negotiate_deflate(&map) {
        let answer = answer.to_str().expect("ASCII answer");
        assert!(answer.starts_with(
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover"
        ));
        assert!(map.get_all("sec-websocket-extensions").iter().any(|v| v
            .as_bytes()
            .to_ascii_lowercase()
            .windows(18)
            .any(|w| w == b"permessage-deflate")));
    }
    let _ = check_request(&map).map(|key| {
        let lists = |name: &str, token: &str| {
            map.get_all(name).iter().any(|v| {
                v.to_str()
                    .is_ok_and(|s| s.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
            })
        };
        assert!(
            lists("connection", "upgrade"),
            "accepted without Connection: upgrade"
        );
        assert!(
            lists("upgrade", "websocket"),
            "accepted without Upgrade: websocket"
        );
        assert_eq!(map.get_all("sec-websocket-key").iter().count(), 1);
        let accept = accept_key(&key);
        assert_eq!(accept.len(), 28, "accept key {accept:?}");
        assert!(accept
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=')));
    });
});
