//! The server side of the opening handshake (RFC 6455 §4.2).
//!
//! The HTTP layer (warp/hyper) routes the `GET` and performs the upgrade;
//! this module only judges the request headers and computes the
//! `Sec-WebSocket-Accept` value. The 101 response carries `Upgrade`,
//! `Connection` and `Sec-WebSocket-Accept` (see [`switching_protocols`]),
//! plus `Sec-WebSocket-Extensions` when [`negotiate_deflate`] accepts a
//! permessage-deflate offer.
//!
//! # permessage-deflate (RFC 7692)
//!
//! The server compresses each broadcast message once and sends the same
//! bytes to every client, so it never keeps a compression context: it
//! accepts an offer only on terms it can honour and always answers with
//! `server_no_context_takeover` and `client_no_context_takeover` (the
//! latter lets it inflate each client message on its own, with a reset
//! inflater, keeping nothing per connection). An
//! offer is declined (the next one is tried; with none left the
//! connection upgrades without compression) when it
//!
//! - has a parameter other than the four of RFC 7692 §7.1, or one twice;
//! - gives a value to `server_no_context_takeover` or
//!   `client_no_context_takeover`, or an invalid one (not 8–15, RFC 7692
//!   §7.1.2) to a window-bits parameter;
//! - asks for `server_max_window_bits` below 15: the compressor's window
//!   is fixed at 32 KiB, and a snapshot is long enough to reach back that
//!   far. `server_max_window_bits=15` is accepted and echoed.
//!
//! `client_max_window_bits` (with or without a value, as browsers send it)
//! is accepted and left out of the answer: the inflater's 32 KiB window
//! reads any smaller one.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use sha1::{Digest, Sha1};
use warp::http::header::{
    HeaderMap, HeaderValue, CONNECTION, HOST, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_EXTENSIONS,
    SEC_WEBSOCKET_KEY, SEC_WEBSOCKET_VERSION, UPGRADE,
};
use warp::http::{Response, StatusCode};

/// GUID appended to the client key before hashing (RFC 6455 §1.3).
pub const WEBSOCKET_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// The only protocol version this server speaks.
pub const WEBSOCKET_VERSION: &str = "13";

/// The extension token of RFC 7692.
pub const PERMESSAGE_DEFLATE: &str = "permessage-deflate";

/// The answer to an accepted permessage-deflate offer (with
/// `; server_max_window_bits=15` added when the offer named it).
pub const DEFLATE_RESPONSE: &str =
    "permessage-deflate; server_no_context_takeover; client_no_context_takeover";

/// Why an upgrade request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HandshakeError {
    /// `Host` is missing or repeated (RFC 6455 §4.2.1, RFC 9112 §3.2).
    #[error("missing Host header")]
    MissingHost,
    /// `Connection` does not list the `upgrade` token.
    #[error("Connection header must contain \"upgrade\"")]
    MissingConnectionUpgrade,
    /// `Upgrade` does not list `websocket`.
    #[error("Upgrade header must be \"websocket\"")]
    MissingUpgradeWebsocket,
    /// `Sec-WebSocket-Version` is missing or not 13.
    #[error("unsupported WebSocket version (only 13 is supported)")]
    UnsupportedVersion,
    /// `Sec-WebSocket-Key` is missing (or repeated).
    #[error("missing Sec-WebSocket-Key header")]
    MissingKey,
    /// `Sec-WebSocket-Key` is not the base64 encoding of 16 bytes.
    #[error("Sec-WebSocket-Key must be base64 of 16 bytes")]
    InvalidKey,
}

impl HandshakeError {
    /// The HTTP status to answer with: 426 Upgrade Required for a version
    /// mismatch (send [`WEBSOCKET_VERSION`] in `Sec-WebSocket-Version`, as
    /// [`Self::to_response`] does), 400 Bad Request otherwise.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::UnsupportedVersion => StatusCode::UPGRADE_REQUIRED,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    /// The complete refusal: status, `Sec-WebSocket-Version: 13` when the
    /// version was wrong, and the error text as a plain-text body.
    pub fn to_response(&self) -> Response<String> {
        let mut response = Response::new(self.to_string());
        *response.status_mut() = self.status();
        if *self == Self::UnsupportedVersion {
            response.headers_mut().insert(
                SEC_WEBSOCKET_VERSION,
                HeaderValue::from_static(WEBSOCKET_VERSION),
            );
        }
        response
    }
}

/// The `Sec-WebSocket-Accept` value for a client's `Sec-WebSocket-Key`:
/// base64(SHA-1(key + GUID)).
pub fn accept_key(client_key: &str) -> String {
    let mut sha = Sha1::new();
    sha.update(client_key.as_bytes());
    sha.update(WEBSOCKET_GUID.as_bytes());
    STANDARD.encode(sha.finalize())
}

/// Validates the headers of an upgrade request and returns the client's
/// `Sec-WebSocket-Key` (trimmed) for [`accept_key`].
///
/// Checks, in order: `Host` is present once, `Connection` lists `upgrade` and `Upgrade` lists
/// `websocket` (token lists, case-insensitive), `Sec-WebSocket-Version` is
/// 13, and `Sec-WebSocket-Key` is present once and decodes to 16 bytes.
pub fn check_request(headers: &HeaderMap) -> Result<String, HandshakeError> {
    let mut hosts = headers.get_all(HOST).iter();
    if !matches!((hosts.next(), hosts.next()), (Some(_), None)) {
        return Err(HandshakeError::MissingHost);
    }
    if !has_token(headers, CONNECTION.as_str(), "upgrade") {
        return Err(HandshakeError::MissingConnectionUpgrade);
    }
    if !has_token(headers, UPGRADE.as_str(), "websocket") {
        return Err(HandshakeError::MissingUpgradeWebsocket);
    }
    check_version(headers)?;
    check_key(headers)
}

/// The 101 response completing the handshake for `client_key`.
pub fn switching_protocols(client_key: &str) -> Response<()> {
    let mut response = Response::new(());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    headers.insert(UPGRADE, HeaderValue::from_static("websocket"));
    headers.insert(CONNECTION, HeaderValue::from_static("Upgrade"));
    if let Ok(accept) = HeaderValue::try_from(accept_key(client_key)) {
        headers.insert(SEC_WEBSOCKET_ACCEPT, accept);
    }
    response
}

/// The `Sec-WebSocket-Extensions` value accepting the first
/// permessage-deflate offer of the request that this server can honour
/// (see the module docs), or `None` when there is no such offer. Offers
/// are read from every `Sec-WebSocket-Extensions` line, in order.
pub fn negotiate_deflate(headers: &HeaderMap) -> Option<HeaderValue> {
    headers
        .get_all(SEC_WEBSOCKET_EXTENSIONS)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| split_quoted(value, ','))
        .find_map(|offer| accept_deflate_offer(offer))
        .map(HeaderValue::from_static)
}

/// Judges one extension offer: the answer when it is a permessage-deflate
/// offer this server can honour.
fn accept_deflate_offer(offer: &str) -> Option<&'static str> {
    let mut parts = split_quoted(offer, ';');
    let name = parts.next()?.trim();
    if !name.eq_ignore_ascii_case(PERMESSAGE_DEFLATE) {
        return None;
    }
    let mut seen = [false; 4];
    let mut server_bits = false;
    for param in parts {
        let (key, value) = match param.split_once('=') {
            Some((k, v)) => (k.trim(), Some(unquote(v.trim())?)),
            None => (param.trim(), None),
        };
        let index = match key.to_ascii_lowercase().as_str() {
            "server_no_context_takeover" => 0,
            "client_no_context_takeover" => 1,
            "server_max_window_bits" => 2,
            "client_max_window_bits" => 3,
            _ => return None,
        };
        if std::mem::replace(&mut seen[index], true) {
            return None;
        }
        match (index, value) {
            (0 | 1, None) => {}
            (2, Some(bits)) if window_bits(bits) == Some(15) => server_bits = true,
            (3, None) => {}
            (3, Some(bits)) if window_bits(bits).is_some() => {}
            _ => return None,
        }
    }
    Some(if server_bits {
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=15"
    } else {
        DEFLATE_RESPONSE
    })
}

/// A window-bits value: a decimal 8–15 without a leading zero.
fn window_bits(value: &str) -> Option<u8> {
    if value.starts_with('0') || value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    value.parse().ok().filter(|bits| (8..=15).contains(bits))
}

/// A parameter value, token or quoted-string (RFC 7230 §3.2.6), unquoted;
/// `None` when the quoting is malformed. The value of a quoted-string
/// must itself be a token (RFC 7692 §7.1), which the caller checks.
fn unquote(value: &str) -> Option<&str> {
    match value.strip_prefix('"') {
        None if !value.contains('"') => Some(value),
        Some(rest) => rest
            .strip_suffix('"')
            .filter(|inner| !inner.contains(['"', '\\'])),
        None => None,
    }
}

/// Splits on `sep` outside double quotes (a backslash escapes inside them).
fn split_quoted(s: &str, sep: char) -> impl Iterator<Item = &str> {
    let mut rest = Some(s);
    std::iter::from_fn(move || {
        let current = rest?;
        let (mut quoted, mut escaped) = (false, false);
        for (i, c) in current.char_indices() {
            match c {
                _ if escaped => escaped = false,
                '\\' if quoted => escaped = true,
                '"' => quoted = !quoted,
                c if c == sep && !quoted => {
                    rest = Some(&current[i + c.len_utf8()..]);
                    return Some(&current[..i]);
                }
                _ => {}
            }
        }
        rest = None;
        Some(current)
    })
}

/// Whether any value of header `name` is a comma-separated list containing
/// `token` (ASCII case-insensitive).
fn has_token(headers: &HeaderMap, name: &str, token: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|item| item.trim().eq_ignore_ascii_case(token))
}

/// Requires exactly one `Sec-WebSocket-Version: 13`.
fn check_version(headers: &HeaderMap) -> Result<(), HandshakeError> {
    let mut values = headers.get_all(SEC_WEBSOCKET_VERSION).iter();
    match (values.next(), values.next()) {
        (Some(value), None) if value.as_bytes().trim_ascii() == WEBSOCKET_VERSION.as_bytes() => {
            Ok(())
        }
        _ => Err(HandshakeError::UnsupportedVersion),
    }
}

/// Requires exactly one key that is base64 of 16 bytes; returns it trimmed.
fn check_key(headers: &HeaderMap) -> Result<String, HandshakeError> {
    let mut values = headers.get_all(SEC_WEBSOCKET_KEY).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return Err(HandshakeError::MissingKey);
    };
    let key = value
        .to_str()
        .map_err(|_| HandshakeError::InvalidKey)?
        .trim();
    match STANDARD.decode(key) {
        Ok(nonce) if nonce.len() == 16 => Ok(key.to_owned()),
        _ => Err(HandshakeError::InvalidKey),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// The example of RFC 6455 §1.3 (also checked with
    /// `openssl sha1 -binary | base64`).
    const RFC_KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
    const RFC_ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

    fn request(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(*name, HeaderValue::from_static(value));
        }
        headers
    }

    fn valid() -> Vec<(&'static str, &'static str)> {
        vec![
            ("host", "feed.example.com"),
            ("connection", "Upgrade"),
            ("upgrade", "websocket"),
            ("sec-websocket-version", "13"),
            ("sec-websocket-key", RFC_KEY),
        ]
    }

    fn with(name: &'static str, value: Option<&'static str>) -> HeaderMap {
        let mut pairs: Vec<_> = valid().into_iter().filter(|(n, _)| *n != name).collect();
        if let Some(value) = value {
            pairs.push((name, value));
        }
        request(&pairs)
    }

    #[test]
    fn accept_key_matches_rfc_example() {
        assert_eq!(accept_key(RFC_KEY), RFC_ACCEPT);
    }

    #[test]
    fn valid_request_returns_the_key() {
        assert_eq!(check_request(&request(&valid())), Ok(RFC_KEY.to_owned()));
    }

    #[test]
    fn connection_is_a_case_insensitive_token_list() {
        for value in [
            "upgrade",
            "UPGRADE",
            "keep-alive, Upgrade",
            "keep-alive,upgrade ",
        ] {
            let headers = with("connection", Some(value));
            assert!(check_request(&headers).is_ok(), "{value}");
        }
        let mut headers = with("connection", Some("keep-alive"));
        headers.append("connection", HeaderValue::from_static("Upgrade"));
        assert!(
            check_request(&headers).is_ok(),
            "token in a second header line"
        );
        for value in [None, Some("keep-alive"), Some("upgraded"), Some("")] {
            assert_eq!(
                check_request(&with("connection", value)),
                Err(HandshakeError::MissingConnectionUpgrade),
                "{value:?}"
            );
        }
    }

    #[test]
    fn upgrade_must_name_websocket() {
        for value in ["WebSocket", "websocket", "h2c, websocket"] {
            assert!(
                check_request(&with("upgrade", Some(value))).is_ok(),
                "{value}"
            );
        }
        for value in [None, Some("h2c"), Some("websockets")] {
            assert_eq!(
                check_request(&with("upgrade", value)),
                Err(HandshakeError::MissingUpgradeWebsocket),
                "{value:?}"
            );
        }
    }

    #[test]
    fn only_version_13_is_accepted() {
        assert!(check_request(&with("sec-websocket-version", Some(" 13 "))).is_ok());
        for value in [None, Some("8"), Some("12"), Some("14"), Some("13, 8")] {
            let err = check_request(&with("sec-websocket-version", value)).unwrap_err();
            assert_eq!(err, HandshakeError::UnsupportedVersion, "{value:?}");
            assert_eq!(err.status(), StatusCode::UPGRADE_REQUIRED);
        }
        let response = HandshakeError::UnsupportedVersion.to_response();
        assert_eq!(response.status(), StatusCode::UPGRADE_REQUIRED);
        assert_eq!(response.headers()[SEC_WEBSOCKET_VERSION], "13");
    }

    #[test]
    fn key_must_be_base64_of_16_bytes() {
        assert_eq!(
            check_request(&with("sec-websocket-key", None)),
            Err(HandshakeError::MissingKey)
        );
        for value in [
            "",
            "not base64!",
            "dGhlIHNhbXBsZSBub25jZQ",   // missing padding
            "dGhlIHNhbXBsZSBub25jZWU=", // 17 bytes
            "dGhlIHNhbXBsZSBub25j",     // 15 bytes
        ] {
            assert_eq!(
                check_request(&with("sec-websocket-key", Some(value))),
                Err(HandshakeError::InvalidKey),
                "{value:?}"
            );
        }
        let mut headers = request(&valid());
        headers.append("sec-websocket-key", HeaderValue::from_static(RFC_KEY));
        assert_eq!(check_request(&headers), Err(HandshakeError::MissingKey));
    }

    #[test]
    fn host_is_required_exactly_once() {
        assert_eq!(
            check_request(&with("host", None)),
            Err(HandshakeError::MissingHost)
        );
        let mut headers = request(&valid());
        headers.append("host", HeaderValue::from_static("other.example.com"));
        assert_eq!(check_request(&headers), Err(HandshakeError::MissingHost));
        assert_eq!(
            HandshakeError::MissingHost.status(),
            StatusCode::BAD_REQUEST
        );
    }

    #[test]
    fn bad_requests_are_400() {
        for err in [
            HandshakeError::MissingHost,
            HandshakeError::MissingConnectionUpgrade,
            HandshakeError::MissingUpgradeWebsocket,
            HandshakeError::MissingKey,
            HandshakeError::InvalidKey,
        ] {
            assert_eq!(err.status(), StatusCode::BAD_REQUEST);
            let response = err.to_response();
            assert_eq!(response.status(), StatusCode::BAD_REQUEST);
            assert!(response.headers().get(SEC_WEBSOCKET_VERSION).is_none());
            assert_eq!(response.body(), &err.to_string());
        }
    }

    fn deflate(values: &[&'static str]) -> Option<String> {
        let mut headers = request(&valid());
        for value in values {
            headers.append(SEC_WEBSOCKET_EXTENSIONS, HeaderValue::from_static(value));
        }
        negotiate_deflate(&headers).map(|v| v.to_str().unwrap().to_owned())
    }

    #[test]
    fn deflate_offers_browsers_send_are_accepted() {
        let plain = Some(DEFLATE_RESPONSE.to_owned());
        for offer in [
            "permessage-deflate; client_max_window_bits", // Chromium, Firefox
            "permessage-deflate",
            "permessage-deflate; client_max_window_bits=10",
            "permessage-deflate; client_max_window_bits=\"8\"",
            "permessage-deflate;server_no_context_takeover;client_no_context_takeover",
            "Permessage-Deflate; CLIENT_MAX_WINDOW_BITS",
        ] {
            assert_eq!(deflate(&[offer]), plain, "{offer}");
        }
        assert_eq!(
            deflate(&["permessage-deflate; server_max_window_bits=15"]).as_deref(),
            Some("permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=15")
        );
        assert_eq!(deflate(&[]), None);
        assert_eq!(deflate(&["x-webkit-deflate-frame"]), None);
    }

    #[test]
    fn deflate_offers_that_cannot_be_honoured_are_declined() {
        for offer in [
            "permessage-deflate; server_max_window_bits=10", // window we cannot keep
            "permessage-deflate; server_max_window_bits",    // value required
            "permessage-deflate; client_max_window_bits=16",
            "permessage-deflate; client_max_window_bits=7",
            "permessage-deflate; client_max_window_bits=010",
            "permessage-deflate; client_max_window_bits=abc",
            "permessage-deflate; client_max_window_bits=\"1 0\"",
            "permessage-deflate; client_max_window_bits=\"10",
            "permessage-deflate; server_no_context_takeover=1",
            "permessage-deflate; client_no_context_takeover; client_no_context_takeover",
            "permessage-deflate; client_max_window_bits; client_max_window_bits=10",
            "permessage-deflate; mux",
        ] {
            assert_eq!(deflate(&[offer]), None, "{offer}");
        }
    }

    #[test]
    fn the_first_acceptable_of_several_offers_wins() {
        let plain = Some(DEFLATE_RESPONSE.to_owned());
        // In one header, the first declined, the fallback accepted.
        assert_eq!(
            deflate(&["permessage-deflate; server_max_window_bits=9, permessage-deflate"]),
            plain
        );
        // Across header lines, after an unknown extension.
        assert_eq!(
            deflate(&[
                "x-foo; bar=\"a,b\"",
                "permessage-deflate; client_max_window_bits"
            ]),
            plain
        );
        assert!(deflate(&[
            "permessage-deflate; server_max_window_bits=15",
            "permessage-deflate"
        ])
        .unwrap()
        .ends_with("server_max_window_bits=15"));
        assert_eq!(
            deflate(&["permessage-deflate; a, permessage-deflate; b"]),
            None
        );
    }

    #[test]
    fn switching_protocols_response() {
        let response = switching_protocols(RFC_KEY);
        assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
        let headers = response.headers();
        assert_eq!(headers[UPGRADE], "websocket");
        assert_eq!(headers[CONNECTION], "Upgrade");
        assert_eq!(headers[SEC_WEBSOCKET_ACCEPT], RFC_ACCEPT);
    }
}
