//! The client side of the WebSocket opening handshake (RFC 6455 §4.1).

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Largest response head accepted, bytes.
const MAX_HEAD: usize = 8 * 1024;

/// Why the upgrade failed.
#[derive(Debug, thiserror::Error)]
pub enum HandshakeError {
    /// Socket error while writing the request or reading the response.
    #[error("i/o during handshake: {0}")]
    Io(#[from] std::io::Error),
    /// The server closed the connection before a full response head.
    #[error("connection closed during handshake")]
    Closed,
    /// The response head exceeded [`MAX_HEAD`] bytes.
    #[error("handshake response head too long")]
    TooLong,
    /// The server answered something other than `101 Switching Protocols`.
    #[error("upgrade refused: {0}")]
    Refused(String),
}

/// Standard base64 of `bytes` (for the `Sec-WebSocket-Key`).
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, b)| acc | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The upgrade request for `host` (authority) and `path`, with `key_bytes`
/// as the 16-byte nonce.
pub fn request(host: &str, path: &str, key_bytes: [u8; 16]) -> String {
    request_with(host, path, key_bytes, "")
}

/// [`request`] offering `subprotocol` in `Sec-WebSocket-Protocol`.
pub fn request_offering(
    host: &str,
    path: &str,
    key_bytes: [u8; 16],
    subprotocol: Option<&str>,
) -> String {
    let offer = subprotocol
        .map(|p| format!("Sec-WebSocket-Protocol: {p}\r\n"))
        .unwrap_or_default();
    request_with(host, path, key_bytes, &offer)
}

/// [`request`] with `extra` header lines (each ending in CRLF, or one
/// line without it; empty for none).
pub fn request_with(host: &str, path: &str, key_bytes: [u8; 16], extra: &str) -> String {
    let extra = match extra {
        "" => String::new(),
        e if e.ends_with("\r\n") => e.to_owned(),
        e => format!("{e}\r\n"),
    };
    format!(
        "GET {path} HTTP/1.1\r\n\
         Host: {host}\r\n\
         Upgrade: websocket\r\n\
         Connection: Upgrade\r\n\
         Sec-WebSocket-Key: {}\r\n\
         Sec-WebSocket-Version: 13\r\n\
         {extra}\
         \r\n",
        base64(&key_bytes)
    )
}

/// Sends the upgrade request and reads the response head.
///
/// Returns the bytes received after the head: the start of the frame stream
/// (the server sends `hello` and a snapshot right away).
pub async fn upgrade(
    stream: &mut TcpStream,
    host: &str,
    path: &str,
    key_bytes: [u8; 16],
) -> Result<Vec<u8>, HandshakeError> {
    upgrade_with(stream, host, path, key_bytes, None, "")
        .await
        .map(|(rest, _)| rest)
}

/// [`upgrade`] offering `subprotocol` (the server must choose it: echo it
/// in `Sec-WebSocket-Protocol`, or the upgrade counts as refused) and with
/// `extra` request header lines (see [`request_with`]); also returns the
/// response head, for the headers the server answered.
pub async fn upgrade_with(
    stream: &mut TcpStream,
    host: &str,
    path: &str,
    key_bytes: [u8; 16],
    subprotocol: Option<&str>,
    extra: &str,
) -> Result<(Vec<u8>, String), HandshakeError> {
    let offer = subprotocol
        .map(|p| format!("Sec-WebSocket-Protocol: {p}\r\n"))
        .unwrap_or_default();
    let extra = match extra {
        "" => String::new(),
        e if e.ends_with("\r\n") => e.to_owned(),
        e => format!("{e}\r\n"),
    };
    stream
        .write_all(request_with(host, path, key_bytes, &format!("{offer}{extra}")).as_bytes())
        .await?;
    let mut head = Vec::with_capacity(512);
    let mut chunk = [0u8; 1024];
    loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(HandshakeError::Closed);
        }
        head.extend_from_slice(&chunk[..n]);
        if let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") {
            let rest = head.split_off(end + 4);
            check_response(&head, subprotocol)?;
            return Ok((rest, String::from_utf8_lossy(&head).into_owned()));
        }
        if head.len() > MAX_HEAD {
            return Err(HandshakeError::TooLong);
        }
    }
}

fn check_response(head: &[u8], subprotocol: Option<&str>) -> Result<(), HandshakeError> {
    let text = String::from_utf8_lossy(head);
    let status = text.lines().next().unwrap_or_default();
    let switching = status.split_whitespace().nth(1) == Some("101");
    let upgraded = text.lines().any(|l| {
        let l = l.to_ascii_lowercase();
        l.starts_with("upgrade:") && l.contains("websocket")
    });
    let chosen = text.lines().find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case("sec-websocket-protocol")
            .then(|| value.trim())
    });
    if switching && upgraded && chosen == subprotocol {
        Ok(())
    } else if switching && upgraded {
        Err(HandshakeError::Refused(format!(
            "subprotocol {chosen:?} chosen, {subprotocol:?} offered"
        )))
    } else {
        Err(HandshakeError::Refused(status.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc_4648_vectors() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64(&[0u8; 16]).len(), 24);
    }

    #[test]
    fn response_check() {
        let ok = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n";
        assert!(check_response(ok, None).is_ok());
        assert!(check_response(ok, Some("marketfeed.v2.bin")).is_err());
        let chosen = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
            Sec-WebSocket-Protocol: marketfeed.v2.bin\r\n\r\n";
        assert!(check_response(chosen, Some("marketfeed.v2.bin")).is_ok());
        assert!(check_response(chosen, None).is_err());
        assert!(check_response(b"HTTP/1.1 404 Not Found\r\n\r\n", None).is_err());
        assert!(
            request_offering("h", "/", [0; 16], Some("marketfeed.v2.json"))
                .contains("\r\nSec-WebSocket-Protocol: marketfeed.v2.json\r\n\r\n")
        );
    }
}
