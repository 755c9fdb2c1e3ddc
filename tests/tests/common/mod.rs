//! Shared helpers: a real server on 127.0.0.1 port 0 and typed WebSocket
//! clients (tokio-tungstenite).

#![allow(dead_code, clippy::unwrap_used, missing_docs)]

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use marketfeed_protocol::{decode_server, MarketSnapshot, ServerMessage};
use marketfeed_server::{Config, Server};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Default bound on any single wait in the tests.
pub const WAIT: Duration = Duration::from_secs(5);

/// A config for tests: fast ticks, default everything else, no www dir.
pub fn config() -> Config {
    let mut c = Config::with_defaults();
    c.tick_interval = Duration::from_millis(50);
    c.www_dir = Some(concat!(env!("CARGO_MANIFEST_DIR"), "/../www").into());
    c.shutdown_drain = Duration::from_secs(2);
    c
}

/// Starts a server on 127.0.0.1 port 0.
pub async fn start(config: Config) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    Server::start(config, listener).unwrap()
}

pub fn ws_url(addr: SocketAddr) -> String {
    format!("ws://{addr}/ws/market")
}

/// Connects a WebSocket client.
pub async fn connect(addr: SocketAddr) -> Ws {
    let (ws, _) = timeout(WAIT, tokio_tungstenite::connect_async(ws_url(addr)))
        .await
        .expect("connect in time")
        .expect("handshake");
    ws
}

/// Next frame of any kind, with the default bound.
pub async fn next_frame(ws: &mut Ws) -> Message {
    timeout(WAIT, ws.next())
        .await
        .expect("a frame in time")
        .expect("stream open")
        .expect("frame ok")
}

/// Next text message, decoded (skipping pings/pongs).
pub async fn next_msg(ws: &mut Ws) -> ServerMessage {
    loop {
        match next_frame(ws).await {
            Message::Text(t) => return decode_server(t.as_bytes()).expect("valid server message"),
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("unexpected frame {other:?}"),
        }
    }
}

/// Next text message as raw text (skipping pings/pongs).
pub async fn next_text(ws: &mut Ws) -> String {
    loop {
        match next_frame(ws).await {
            Message::Text(t) => return t.to_string(),
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("unexpected frame {other:?}"),
        }
    }
}

/// Next snapshot, skipping other messages.
pub async fn next_snapshot(ws: &mut Ws) -> MarketSnapshot {
    loop {
        if let ServerMessage::Snapshot(s) = next_msg(ws).await {
            return s;
        }
    }
}

/// Reads past the hello and the first snapshot.
pub async fn skip_greeting(ws: &mut Ws) -> MarketSnapshot {
    assert!(matches!(next_msg(ws).await, ServerMessage::Hello(_)));
    next_snapshot(ws).await
}

/// Sends a text frame.
pub async fn send_text(ws: &mut Ws, text: &str) {
    ws.send(Message::text(text)).await.unwrap();
}

/// Waits for the server's close frame and returns its code and reason.
pub async fn expect_close(ws: &mut Ws) -> (CloseCode, String) {
    loop {
        match next_frame(ws).await {
            Message::Close(Some(frame)) => return (frame.code, frame.reason.to_string()),
            Message::Close(None) => panic!("close without a code"),
            _ => continue,
        }
    }
}

/// Polls `f` until it holds, for at most the default bound.
pub async fn eventually(mut f: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !f() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "condition not met in time"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A raw TCP client that completed the WebSocket handshake and then does
/// only what the test makes it do (e.g. never read, never pong).
pub async fn raw_connect(addr: SocketAddr) -> TcpStream {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(
        b"GET /ws/market HTTP/1.1\r\nHost: test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    )
    .await
    .unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        timeout(WAIT, s.read_exact(&mut byte))
            .await
            .unwrap()
            .unwrap();
        head.push(byte[0]);
    }
    assert!(
        head.starts_with(b"HTTP/1.1 101"),
        "{}",
        String::from_utf8_lossy(&head)
    );
    s
}

/// A masked client frame with FIN set.
pub fn masked_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    marketfeed_tests::loadgen::frame::build_masked(opcode, payload, [0x12, 0x34, 0x56, 0x78])
}

/// Reads server frames from a raw socket until a close frame; returns its
/// code and reason, or `None` if the stream ended first.
pub async fn raw_read_until_close(
    s: &mut (impl tokio::io::AsyncRead + Unpin),
) -> Option<(u16, String)> {
    use tokio::io::AsyncReadExt;
    loop {
        let mut h = [0u8; 2];
        if s.read_exact(&mut h).await.is_err() {
            return None;
        }
        let mut len = u64::from(h[1] & 0x7f);
        if len == 126 {
            let mut l = [0u8; 2];
            s.read_exact(&mut l).await.ok()?;
            len = u64::from(u16::from_be_bytes(l));
        } else if len == 127 {
            let mut l = [0u8; 8];
            s.read_exact(&mut l).await.ok()?;
            len = u64::from_be_bytes(l);
        }
        let mut payload = vec![0u8; len as usize];
        s.read_exact(&mut payload).await.ok()?;
        if h[0] & 0x0f == 0x8 {
            let code = u16::from_be_bytes([payload[0], payload[1]]);
            return Some((code, String::from_utf8_lossy(&payload[2..]).into_owned()));
        }
    }
}

/// Connects a WebSocket client offering `subprotocol` (none when `None`),
/// on a socket with a receive buffer of `rcvbuf` bytes when given; returns
/// it and the subprotocol the server chose.
pub async fn connect_as(
    addr: SocketAddr,
    subprotocol: Option<&str>,
    rcvbuf: Option<u32>,
) -> (Ws, Option<String>) {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut request = ws_url(addr).into_client_request().unwrap();
    if let Some(p) = subprotocol {
        request
            .headers_mut()
            .insert("Sec-WebSocket-Protocol", p.parse().unwrap());
    }
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    if let Some(size) = rcvbuf {
        socket.set_recv_buffer_size(size).unwrap();
    }
    let stream = timeout(WAIT, socket.connect(addr)).await.unwrap().unwrap();
    let (ws, response) = timeout(
        WAIT,
        tokio_tungstenite::client_async(request, MaybeTlsStream::Plain(stream)),
    )
    .await
    .expect("handshake in time")
    .expect("handshake");
    let chosen = response
        .headers()
        .get("Sec-WebSocket-Protocol")
        .map(|v| v.to_str().unwrap().to_owned());
    (ws, chosen)
}

/// Next server message of any format, and whether it came in a binary
/// frame (skipping pings/pongs).
pub async fn next_any(ws: &mut Ws) -> (bool, ServerMessage) {
    loop {
        match next_frame(ws).await {
            Message::Text(t) => {
                return (
                    false,
                    decode_server(t.as_bytes()).expect("valid server message"),
                )
            }
            Message::Binary(b) => {
                return (
                    true,
                    marketfeed_protocol::decode_binary(&b).expect("valid binary message"),
                )
            }
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("unexpected frame {other:?}"),
        }
    }
}

/// A plain HTTP GET; the whole response.
pub async fn http_get(addr: SocketAddr, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut out = String::new();
    timeout(WAIT, s.read_to_string(&mut out))
        .await
        .unwrap()
        .unwrap();
    out
}

/// permessage-deflate on the client side, written here with flate2
/// independently of the server's codec: inflates one message payload
/// (RFC 7692 §7.2.2: append `00 00 ff ff`, inflate raw DEFLATE).
pub fn inflate(data: &[u8]) -> Vec<u8> {
    use flate2::{Decompress, FlushDecompress};
    let mut input = data.to_vec();
    input.extend_from_slice(&[0x00, 0x00, 0xff, 0xff]);
    let mut d = Decompress::new(false);
    let mut out = Vec::with_capacity(data.len() * 8 + 1024);
    loop {
        let used = d.total_in() as usize;
        d.decompress_vec(&input[used..], &mut out, FlushDecompress::Sync)
            .expect("valid DEFLATE from the server");
        if d.total_in() as usize == input.len() && out.len() < out.capacity() {
            return out;
        }
        out.reserve(out.capacity());
    }
}

/// Compresses one client message payload (raw DEFLATE, sync flush, tail
/// removed), as a browser does.
pub fn deflate(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.flush().unwrap();
    let mut out = e.get_ref().clone();
    assert!(out.ends_with(&[0x00, 0x00, 0xff, 0xff]));
    out.truncate(out.len() - 4);
    out
}

/// One server message read by [`RawWs`]: whether RSV1 was set, the
/// opcode, its size on the wire (header included) and its payload,
/// inflated when it was compressed.
#[derive(Debug, Clone)]
pub struct WireMsg {
    pub rsv1: bool,
    pub opcode: u8,
    pub wire_len: usize,
    pub payload: Vec<u8>,
}

/// A raw WebSocket client over an upgraded socket that reads (and
/// inflates) the server's frames itself; server frames are never
/// fragmented.
pub struct RawWs {
    pub s: TcpStream,
    buf: Vec<u8>,
}

impl RawWs {
    pub fn new(s: TcpStream) -> Self {
        Self { s, buf: Vec::new() }
    }

    /// The next server frame; `None` once TCP closed.
    pub async fn next(&mut self) -> Option<WireMsg> {
        use tokio::io::AsyncReadExt;
        loop {
            if let Some(msg) = self.parse() {
                return Some(msg);
            }
            let mut chunk = [0u8; 16384];
            let n = timeout(WAIT, self.s.read(&mut chunk))
                .await
                .expect("a frame in time")
                .unwrap_or(0);
            if n == 0 {
                return None;
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    fn parse(&mut self) -> Option<WireMsg> {
        let [b0, b1, rest @ ..] = &self.buf[..] else {
            return None;
        };
        assert_eq!(b1 & 0x80, 0, "server frames are not masked");
        assert_eq!(b0 & 0x30, 0, "RSV2/RSV3 never set");
        assert_ne!(b0 & 0x80, 0, "server frames are final");
        let (len, header) = match b1 & 0x7f {
            126 => (
                u16::from_be_bytes([*rest.first()?, *rest.get(1)?]) as usize,
                4,
            ),
            127 => {
                let b: [u8; 8] = rest.get(..8)?.try_into().unwrap();
                (u64::from_be_bytes(b) as usize, 10)
            }
            n => (n as usize, 2),
        };
        if self.buf.len() < header + len {
            return None;
        }
        let rsv1 = b0 & 0x40 != 0;
        let opcode = b0 & 0x0f;
        let raw = &self.buf[header..header + len];
        let payload = if rsv1 { inflate(raw) } else { raw.to_vec() };
        let msg = WireMsg {
            rsv1,
            opcode,
            wire_len: header + len,
            payload,
        };
        self.buf.drain(..header + len);
        Some(msg)
    }

    /// The next text message (skipping pings), as a decoded server message
    /// with its wire form.
    pub async fn next_text(&mut self) -> (ServerMessage, WireMsg) {
        loop {
            let msg = self.next().await.expect("connection open");
            match msg.opcode {
                0x1 => {
                    let decoded = decode_server(&msg.payload).expect("a server message");
                    return (decoded, msg);
                }
                0x9 | 0xA => continue,
                other => panic!("unexpected opcode {other:#x}: {msg:?}"),
            }
        }
    }

    pub async fn send(&mut self, bytes: &[u8]) {
        use tokio::io::AsyncWriteExt;
        self.s.write_all(bytes).await.unwrap();
    }
}

/// A masked client frame with the first header byte given whole (FIN,
/// RSV1–3, opcode).
pub fn masked_frame_b0(b0: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = masked_frame(b0 & 0x0f, payload);
    f[0] = b0;
    f
}

/// The offer Chromium sends.
pub const CHROMIUM_OFFER: &str =
    "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits";
