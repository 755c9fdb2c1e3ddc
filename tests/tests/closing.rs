//! The close path: every server-initiated close reaches the client with
//! its code and reason and ends the TCP connection within a second; a
//! client that stops reading is evicted; input after a close is skipped
//! without buffering while the peer's Close is still heard; fragments
//! count against the rate limit; only complete frames count as liveness;
//! an upgrade without `Host` is refused.

#![allow(clippy::unwrap_used, missing_docs)]

mod common;
mod harden;

use std::net::SocketAddr;
use std::time::Duration;

use common::*;
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{sleep, timeout, Instant};
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::Message;

/// The bound the server promises between its Close and the end of TCP.
const ONE_SECOND: Duration = Duration::from_secs(1);

/// Waits for the server's Close; asserts it came within a second of
/// `since` and that the connection ends within a second of it (the client
/// library answers the Close, the server then closes TCP).
async fn close_within_a_second(ws: &mut Ws, since: Instant) -> (u16, String) {
    let (code, reason) = loop {
        match timeout(WAIT, ws.next()).await.expect("a close in time") {
            Some(Ok(Message::Close(Some(frame)))) => {
                break (u16::from(frame.code), frame.reason.to_string())
            }
            Some(Ok(Message::Close(None))) => panic!("close without a code"),
            Some(Ok(_)) => continue,
            other => panic!("connection ended before the close frame: {other:?}"),
        }
    };
    let closed_at = Instant::now();
    assert!(
        closed_at - since < ONE_SECOND,
        "close {code} seen after {:?}",
        closed_at - since
    );
    loop {
        match timeout(ONE_SECOND.saturating_sub(closed_at.elapsed()), ws.next()).await {
            Err(_) => panic!("TCP still open 1 s after close {code} {reason:?}"),
            Ok(None | Some(Err(_))) => break,
            Ok(Some(Ok(_))) => continue,
        }
    }
    (code, reason)
}

/// A config whose shutdown drain is long, so that any wait for the
/// client's answer shows up against the one-second bound.
fn long_drain() -> marketfeed_server::Config {
    let mut c = config();
    c.shutdown_drain = Duration::from_secs(5);
    c
}

#[tokio::test]
async fn closing_handshake_1001_shutdown() {
    let server = start(long_drain()).await;
    let mut ws = connect(server.local_addr()).await;
    skip_greeting(&mut ws).await;
    let since = Instant::now();
    let stopping = tokio::spawn(server.shutdown());
    let (code, reason) = close_within_a_second(&mut ws, since).await;
    assert_eq!((code, reason.as_str()), (1001, "going away"));
    timeout(WAIT, stopping).await.unwrap().unwrap();
}

#[tokio::test]
async fn closing_handshake_1002_protocol_error() {
    let server = start(long_drain()).await;
    let mut ws = connect(server.local_addr()).await;
    skip_greeting(&mut ws).await;
    let reserved = Frame::message(Vec::<u8>::new(), OpCode::Data(Data::Reserved(3)), true);
    let since = Instant::now();
    ws.send(Message::Frame(reserved)).await.unwrap();
    let (code, reason) = close_within_a_second(&mut ws, since).await;
    assert_eq!((code, reason.as_str()), (1002, "unknown opcode"));
    server.shutdown().await;
}

#[tokio::test]
async fn closing_handshake_1007_invalid_utf8() {
    let server = start(long_drain()).await;
    let mut ws = connect(server.local_addr()).await;
    skip_greeting(&mut ws).await;
    let bad = Frame::message(vec![b'{', 0xff, 0xfe, b'}'], OpCode::Data(Data::Text), true);
    let since = Instant::now();
    ws.send(Message::Frame(bad)).await.unwrap();
    let (code, reason) = close_within_a_second(&mut ws, since).await;
    assert_eq!(
        (code, reason.as_str()),
        (1007, "invalid UTF-8 in text message")
    );
    server.shutdown().await;
}

#[tokio::test]
async fn closing_handshake_1008_rate_limit() {
    let server = start(long_drain()).await;
    let mut ws = connect(server.local_addr()).await;
    skip_greeting(&mut ws).await;
    let since = Instant::now();
    for id in 0..60 {
        ws.feed(Message::text(format!(r#"{{"type":"ping","id":{id}}}"#)))
            .await
            .unwrap();
    }
    ws.flush().await.unwrap();
    let (code, reason) = close_within_a_second(&mut ws, since).await;
    assert_eq!(
        (code, reason.as_str()),
        (1008, "message rate limit exceeded")
    );
    server.shutdown().await;
}

#[tokio::test]
async fn closing_handshake_1009_message_too_big() {
    // Just over the 4 KiB limit, and far over it: the rest of the frame
    // must be skipped for the client's answer to be heard.
    for size in [5_000, 200_000] {
        let server = start(long_drain()).await;
        let mut ws = connect(server.local_addr()).await;
        skip_greeting(&mut ws).await;
        let since = Instant::now();
        ws.send(Message::text("x".repeat(size))).await.unwrap();
        let (code, reason) = close_within_a_second(&mut ws, since).await;
        assert_eq!((code, reason.as_str()), (1009, "message too big"), "{size}");
        eventually(|| server.stats().clients == 0).await;
        server.shutdown().await;
    }
}

#[tokio::test]
async fn closing_handshake_4000_heartbeat_timeout() {
    let mut c = long_drain();
    c.heartbeat_interval = Duration::from_millis(200);
    c.heartbeat_timeout = Duration::from_millis(200);
    let server = start(c).await;
    let mut ws = connect(server.local_addr()).await;
    skip_greeting(&mut ws).await;
    // Not polled, the client library answers no ping: silent from here.
    let silent_since = Instant::now();
    sleep(Duration::from_millis(700)).await;
    let limit = Duration::from_millis(400);
    let (code, reason) = close_within_a_second(&mut ws, silent_since + limit).await;
    assert_eq!((code, reason.as_str()), (4000, "heartbeat timeout"));
    server.shutdown().await;
}

#[tokio::test]
async fn closing_handshake_4001_token_expired() {
    let mut c = harden::auth_config();
    c.shutdown_drain = Duration::from_secs(5);
    let server = start(c).await;
    // `exp` has one-second resolution: a 1 s token expires within 1 s.
    let t = harden::token("short", Duration::from_secs(1));
    let url = format!("{}?token={t}", ws_url(server.local_addr()));
    let (mut ws, _) = timeout(WAIT, tokio_tungstenite::connect_async(url))
        .await
        .unwrap()
        .unwrap();
    let since = Instant::now();
    let (code, reason) = close_within_a_second(&mut ws, since).await;
    assert_eq!((code, reason.as_str()), (4001, "token expired"));
    server.shutdown().await;
}

/// Reads until the stream ends (EOF or reset); how long that took.
async fn time_to_eof(s: &mut TcpStream) -> Duration {
    let started = Instant::now();
    let mut buf = [0u8; 4096];
    loop {
        match timeout(WAIT, s.read(&mut buf)).await.expect("EOF in time") {
            Ok(0) | Err(_) => return started.elapsed(),
            Ok(_) => continue,
        }
    }
}

/// The header of a masked binary frame announcing `len` payload bytes.
fn binary_header(len: u64, fin: bool) -> Vec<u8> {
    let mut h = vec![if fin { 0x82 } else { 0x02 }];
    match u16::try_from(len) {
        Ok(short) if short > 125 => {
            h.push(0x80 | 126);
            h.extend_from_slice(&short.to_be_bytes());
        }
        _ => {
            h.push(0x80 | 127);
            h.extend_from_slice(&len.to_be_bytes());
        }
    }
    h.extend_from_slice(&[1, 2, 3, 4]);
    h
}

#[tokio::test]
async fn unanswered_close_ends_the_connection_within_a_second() {
    let server = start(long_drain()).await;
    let mut raw = raw_connect(server.local_addr()).await;
    // A 200 KB frame header and part of its payload, then silence.
    raw.write_all(&binary_header(200_000, true)).await.unwrap();
    raw.write_all(&[0u8; 8192]).await.unwrap();
    let close = timeout(WAIT, raw_read_until_close(&mut raw)).await.unwrap();
    assert_eq!(close, Some((1009, "message too big".into())));
    let waited = time_to_eof(&mut raw).await;
    assert!(
        waited < Duration::from_millis(1500),
        "TCP closed {waited:?} after the close frame"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn close_reply_after_a_protocol_violation_ends_the_connection_at_once() {
    let server = start(long_drain()).await;
    let mut raw = raw_connect(server.local_addr()).await;
    // An unmasked frame: 1002.
    raw.write_all(&[0x81, 0x02, b'{', b'}']).await.unwrap();
    let close = timeout(WAIT, raw_read_until_close(&mut raw)).await.unwrap();
    assert_eq!(close, Some((1002, "frame not masked".into())));
    // The client answers with a valid masked Close: the handshake is
    // complete, nothing is left to wait for.
    raw.write_all(&masked_frame(0x8, &1002u16.to_be_bytes()))
        .await
        .unwrap();
    let waited = time_to_eof(&mut raw).await;
    assert!(
        waited < Duration::from_millis(500),
        "TCP closed {waited:?} after the client's close reply"
    );
    server.shutdown().await;
}

/// Completes the handshake from a socket whose receive buffer is small
/// from the start, then returns it unread.
async fn stalled_connect(addr: SocketAddr) -> TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut s = socket.connect(addr).await.unwrap();
    s.write_all(
        b"GET /ws/market HTTP/1.1\r\nHost: test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    )
    .await
    .unwrap();
    let head = harden::read_head(&mut s).await;
    assert_eq!(head.status, 101);
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_that_stops_reading_and_sending_is_evicted() {
    let mut c = config();
    c.tick_interval = Duration::from_millis(5);
    c.send_buffer = 4096;
    // Long enough for the stalled socket to fill before the timeout fires.
    c.heartbeat_interval = Duration::from_millis(1000);
    c.heartbeat_timeout = Duration::from_millis(500);
    let server = start(c).await;
    let stalled = stalled_connect(server.local_addr()).await;
    eventually(|| server.stats().clients == 1).await;
    // Silence limit 1.5 s, then at most a second for the close: the slot
    // must be free well within the wait.
    eventually(|| server.stats().clients == 0 && server.connection_slots() == 0).await;
    drop(stalled);
    server.shutdown().await;
}

/// A masked data frame with FIN clear: a non-final fragment.
fn fragment(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = masked_frame(opcode, payload);
    f[0] &= 0x7f;
    f
}

#[tokio::test]
async fn non_final_fragments_count_against_the_rate_limit() {
    let mut c = config();
    c.tick_interval = Duration::from_secs(3600);
    let server = start(c).await;
    let mut raw = raw_connect(server.local_addr()).await;
    // 60 one-byte fragments of one unfinished text message: well under the
    // size limit, over the burst of 40 frames.
    let mut wire = fragment(0x1, b"a");
    for _ in 1..60 {
        wire.extend(fragment(0x0, b"a"));
    }
    raw.write_all(&wire).await.unwrap();
    let close = timeout(WAIT, raw_read_until_close(&mut raw))
        .await
        .expect("closed for the flood of fragments");
    assert_eq!(close, Some((1008, "message rate limit exceeded".into())));
    server.shutdown().await;
}

#[tokio::test]
async fn drip_fed_frame_does_not_keep_a_silent_client_alive() {
    let mut c = config();
    c.tick_interval = Duration::from_secs(3600);
    c.heartbeat_interval = Duration::from_millis(200);
    c.heartbeat_timeout = Duration::from_millis(200);
    let server = start(c).await;
    // Before the connection exists, so the silence limit cannot have
    // started earlier.
    let started = Instant::now();
    let mut raw = raw_connect(server.local_addr()).await;
    let (mut rd, mut wr) = raw.split();
    // One frame that never completes, a byte every 50 ms; no pong.
    let drip = async {
        if wr.write_all(&binary_header(4000, true)).await.is_ok() {
            loop {
                sleep(Duration::from_millis(50)).await;
                if wr.write_all(&[0]).await.is_err() {
                    break;
                }
            }
        }
        std::future::pending::<()>().await;
    };
    let close = timeout(Duration::from_secs(3), async {
        tokio::select! {
            close = raw_read_until_close(&mut rd) => close,
            () = drip => unreachable!(),
        }
    })
    .await
    .expect("closed although bytes keep arriving");
    assert_eq!(close, Some((4000, "heartbeat timeout".into())));
    assert!(started.elapsed() >= Duration::from_millis(400));
    server.shutdown().await;
}

#[tokio::test]
async fn upgrade_without_host_is_400() {
    let server = start(config()).await;
    let mut s = TcpStream::connect(server.local_addr()).await.unwrap();
    s.write_all(
        b"GET /ws/market HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    )
    .await
    .unwrap();
    let head = harden::read_head(&mut s).await;
    assert_eq!(head.status, 400, "{head:?}");
    assert!(head.body.contains("Host"), "{head:?}");
    assert_eq!(server.stats().clients, 0);
    server.shutdown().await;
}
