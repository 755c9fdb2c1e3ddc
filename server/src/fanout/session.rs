//! One WebSocket connection after the upgrade: a single task that reads
//! client frames (so Pongs and closes are always seen), flushes the
//! client's outbox when the socket is writable, and performs the closing
//! handshake.
//!
//! Which close code is sent when is `marketfeed_protocol::CloseCode::TABLE`
//! (and the README table generated from it); framing violations carry the
//! code and reason of their `ws::ReadError`.
//!
//! From the moment a close is requested the reader only drains (frames
//! skipped by length, unbuffered) looking for the client's Close; the
//! connection ends when it arrives, or [`MAX_CLOSE_WAIT`] after the request
//! whatever is still unsent.
//!
//! A well-framed message the server cannot act on (bad JSON, unknown
//! `type`, binary data) is answered with an `error` message and the
//! connection stays open.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use marketfeed_protocol::{
    decode_client, encode_server, ClientMessage, CloseCode, ErrorCode, ServerMessage,
};
use tokio::time::{sleep_until, Instant};

use crate::fanout::hub::Hub;
use crate::fanout::outbox::{Client, Flush};
use crate::fanout::ratelimit::{RateConfig, TokenBucket};
use crate::ws::frame;
use crate::ws::reader::{FrameReader, Incoming, ReadError};

/// Bytes read from the socket per `read` call.
const READ_CHUNK: usize = 2048;

/// Longest wait for the client's answer once a close is requested,
/// whatever the outbox still holds: then the socket is dropped. Shorter
/// than `--shutdown-drain` when that is shorter. 750 ms keeps the promise
/// "TCP closed within 1 s of our Close" with room for a busy scheduler.
pub const MAX_CLOSE_WAIT: Duration = Duration::from_millis(750);

/// Per-connection settings.
#[derive(Debug, Clone, Copy)]
pub struct SessionConfig {
    /// Largest client message, bytes.
    pub max_message_size: usize,
    /// How long to wait, once a close is requested, for our close frame to
    /// go out and the client's to arrive (at most [`MAX_CLOSE_WAIT`]).
    pub close_wait: Duration,
    /// Inbound message rate limit (every frame but Close counts, each
    /// fragment included).
    pub rate: RateConfig,
}

/// Why a connection ended, for the disconnect log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ended {
    /// The client closed; the server echoed its code.
    ClientClosed(u16),
    /// The server closed with this code and reason; the client answered.
    ServerClosed(u16, String),
    /// The server closed; the client did not answer within the wait.
    CloseUnanswered(u16, String),
    /// The TCP stream ended without a closing handshake.
    Eof,
    /// Reading or writing failed.
    Io(String),
}

impl std::fmt::Display for Ended {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::ClientClosed(code) => write!(f, "client closed ({code})"),
            Self::ServerClosed(code, reason) => write!(f, "server closed ({code} {reason})"),
            Self::CloseUnanswered(code, reason) => {
                write!(f, "server closed ({code} {reason}), no reply")
            }
            Self::Eof => f.write_str("connection dropped"),
            Self::Io(e) => write!(f, "socket error: {e}"),
        }
    }
}

/// Serves one registered client until the connection ends, then removes
/// it from the hub, logs the disconnect and says why it ended. With
/// `expires_at`, the connection is closed with 4001 at that instant.
pub async fn run(
    client: Arc<Client>,
    hub: Hub,
    leftover: Bytes,
    cfg: SessionConfig,
    expires_at: Option<Instant>,
) -> Ended {
    let mut reader = FrameReader::new(cfg.max_message_size).inflating(client.deflate());
    // Bytes the client sent right behind its request head. The slice pins
    // hyper's whole read buffer, so copy it out and let that buffer go now
    // rather than holding it for the life of the connection.
    reader.extend(&leftover);
    drop(leftover);
    let mut session = Session {
        client: &client,
        hub: &hub,
        reader,
        peer_closed: None,
        discarding: false,
        bucket: TokenBucket::new(cfg.rate, std::time::Instant::now()),
        expires_at,
    };
    let ended = session.drive(cfg.close_wait.min(MAX_CLOSE_WAIT)).await;
    hub.unregister(&client);
    tracing::info!(
        client = client.id(),
        peer = %client.peer(),
        reason = %ended,
        dropped = client.dropped(),
        delivered = client.delivered(),
        secs = client.connected_at().elapsed().as_secs(),
        "client disconnected"
    );
    ended
}

struct Session<'a> {
    client: &'a Client,
    hub: &'a Hub,
    reader: FrameReader,
    /// The client's close code, once its close frame arrived.
    peer_closed: Option<u16>,
    /// A protocol error was answered with a close: ignore further data.
    discarding: bool,
    /// Inbound message budget.
    bucket: TokenBucket,
    /// When the connection's token expires.
    expires_at: Option<Instant>,
}

impl Session<'_> {
    async fn drive(&mut self, close_wait: Duration) -> Ended {
        self.handle_events();
        let mut deadline: Option<Instant> = None;
        loop {
            let flushed = self.client.flush(|req| frame::close(req.code, &req.reason));
            if deadline.is_none() && self.client.close_requested() {
                // From the request on, not from the frame going out: a
                // client that reads nothing must not keep its slot.
                deadline = Some(Instant::now() + close_wait);
                self.reader.start_closing();
            }
            let blocked = match flushed {
                Flush::Broken => return Ended::Io("write failed".into()),
                Flush::Closed => {
                    if let Some(code) = self.peer_closed {
                        return self.closed_by_peer_or_answered(code);
                    }
                    if !self.reader.awaits_close() {
                        // The input cannot be followed to a Close.
                        return self.unanswered();
                    }
                    false
                }
                Flush::Blocked => true,
                Flush::Done => false,
            };
            let stream = self.client.stream();
            tokio::select! {
                () = self.client.notified() => {}
                r = stream.writable(), if blocked => {
                    if let Err(e) = r {
                        return Ended::Io(e.to_string());
                    }
                }
                r = stream.readable() => {
                    if let Err(e) = r {
                        return Ended::Io(e.to_string());
                    }
                    match self.read_some() {
                        Ok(true) => {}
                        Ok(false) => return Ended::Eof,
                        Err(e) => return Ended::Io(e.to_string()),
                    }
                }
                () = sleep_until(self.expires_at.unwrap_or_else(Instant::now)), if self.expires_at.is_some() => {
                    self.expires_at = None;
                    self.expired();
                }
                () = sleep_until(deadline.unwrap_or_else(Instant::now)), if deadline.is_some() => {
                    if self.client.has_backlog() {
                        // Unsent data would keep the kernel probing a
                        // peer that reads nothing: reset instead.
                        let _ = socket2::SockRef::from(self.client.stream())
                            .set_linger(Some(Duration::ZERO));
                    }
                    if let Some(code) = self.peer_closed {
                        return self.closed_by_peer_or_answered(code);
                    }
                    return self.unanswered();
                }
            }
        }
    }

    /// Our close got no answer in time (or none can be read).
    fn unanswered(&self) -> Ended {
        let req = self.client.close_request();
        let (code, reason) = req.map(|r| (r.code, r.reason)).unwrap_or_default();
        Ended::CloseUnanswered(code, reason)
    }

    /// After our close frame went out and the peer's close arrived.
    fn closed_by_peer_or_answered(&self, peer_code: u16) -> Ended {
        match self.client.close_request() {
            Some(req) if !req.reason.is_empty() => Ended::ServerClosed(req.code, req.reason),
            _ => Ended::ClientClosed(peer_code),
        }
    }

    /// Reads what the socket has. `Ok(false)` on end of stream.
    fn read_some(&mut self) -> io::Result<bool> {
        let mut buf = [0u8; READ_CHUNK];
        match self.client.stream().try_read(&mut buf) {
            Ok(0) => Ok(false),
            Ok(n) => {
                self.reader.extend(&buf[..n]);
                self.handle_events();
                Ok(true)
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(true),
            Err(e) => Err(e),
        }
    }

    /// Handles every complete frame received. Only complete frames count
    /// as liveness: bytes of an unfinished frame do not.
    fn handle_events(&mut self) {
        loop {
            let next = self.reader.next_event();
            for _ in 0..self.reader.take_fragments() {
                self.client.touch();
                self.charge_frame();
            }
            match next {
                Ok(Some(event)) => {
                    self.client.touch();
                    self.handle(event);
                }
                Ok(None) => return,
                // The reader now drains, still looking for the peer's Close.
                Err(e) => self.violation(&e),
            }
        }
    }

    /// Charges a frame that is not a Close against the rate limit.
    fn charge_frame(&mut self) {
        if !self.discarding && self.peer_closed.is_none() {
            self.within_rate();
        }
    }

    fn violation(&mut self, e: &ReadError) {
        if !self.discarding {
            tracing::debug!(client = self.client.id(), error = %e, "protocol violation");
            self.discarding = true;
            self.client.request_close(e.close_code(), e.reason());
        }
        // The reader skips the offending frame and what follows by length,
        // reporting only a Close.
    }

    /// The token reached its `exp`: close with 4001 so the client fetches
    /// a fresh one.
    fn expired(&mut self) {
        if !self.discarding && self.peer_closed.is_none() {
            tracing::debug!(client = self.client.id(), "token expired");
            self.discarding = true;
            let code = CloseCode::TOKEN_EXPIRED;
            self.client.request_close(code.as_u16(), code.reason());
        }
    }

    /// Takes one message from the budget; a flood closes with 1008.
    fn within_rate(&mut self) -> bool {
        if self.bucket.allow(std::time::Instant::now()) {
            return true;
        }
        tracing::debug!(client = self.client.id(), "message rate limit exceeded");
        self.discarding = true;
        let code = CloseCode::POLICY_VIOLATION;
        self.client.request_close(code.as_u16(), code.reason());
        false
    }

    fn handle(&mut self, event: Incoming) {
        if !matches!(event, Incoming::Close(_))
            && !self.discarding
            && self.peer_closed.is_none()
            && !self.within_rate()
        {
            return;
        }
        match event {
            Incoming::Close(code) => {
                let code = code.map_or(CloseCode::NORMAL.as_u16(), |(c, _)| c);
                self.peer_closed = Some(code);
                // Echo the client's code unless we already asked to close.
                self.client.request_close(code, "");
            }
            _ if self.discarding || self.peer_closed.is_some() => {}
            Incoming::Ping(payload) => self.client.send_control(frame::pong(&payload)),
            Incoming::Pong(_) => {}
            Incoming::Binary(_) => self.reply_error(
                ErrorCode::UnsupportedData,
                "binary frames are not supported: send JSON text".into(),
            ),
            Incoming::Text(text) => self.handle_text(&text),
        }
    }

    fn handle_text(&self, text: &[u8]) {
        match decode_client(text) {
            Ok(ClientMessage::Ping { id }) => {
                self.send(&ServerMessage::Pong { id });
            }
            Ok(ClientMessage::Subscribe { symbols }) => self.subscribe(&symbols, true),
            Ok(ClientMessage::Unsubscribe { symbols }) => self.subscribe(&symbols, false),
            Ok(ClientMessage::Resync) => self.hub.resync(self.client.id()),
            Err(e) => self.reply_error(e.code(), e.to_string()),
        }
    }

    /// Subscribe (`add`) or unsubscribe; the hub answers `subscribed` and
    /// a keyframe, or the refusal is answered here.
    fn subscribe(&self, symbols: &[String], add: bool) {
        if let Err(refusal) = self.hub.subscribe(self.client.id(), symbols, add) {
            self.reply_error(refusal.code, refusal.message);
        }
    }

    fn reply_error(&self, code: ErrorCode, message: String) {
        tracing::debug!(client = self.client.id(), ?code, %message, "rejected client message");
        self.send(&ServerMessage::Error { code, message });
    }

    fn send(&self, msg: &ServerMessage) {
        self.client.send_control(frame::text(&encode_server(msg)));
    }
}
