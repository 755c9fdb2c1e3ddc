//! The WebSocket under the driver, frame based: it opens a socket
//! (offering subprotocols), reports [`SocketEvent`]s — open, a text or a
//! binary frame, an error, the close with its code, reason and
//! `wasClean` — and sends text or closes with a code and reason. What a
//! frame means is the caller's business.
//!
//! Built on gloo-net's `websocket::futures::WebSocket`: its listeners (and
//! the closures behind them) are owned by the socket and removed when it
//! is dropped; frames and the close event come through its stream, read
//! by a task spawned per socket that ends when the socket is dropped or
//! its stream ends. gloo-net's stream has no "open" item, so `open` is
//! one `gloo-events` listener of our own.
//!
//! Ownership: [`Transport`] holds gloo's socket in a cell shared with the
//! reading task. Dropping the transport closes the socket with 1000 and
//! takes gloo's socket out of the cell: gloo removes its listeners, and
//! the task wakes, finds the cell empty and ends, so no event of that
//! socket reaches the caller after the drop.

use std::cell::RefCell;
use std::future::poll_fn;
use std::pin::Pin;
use std::rc::Rc;
use std::task::Poll;

use futures_core::Stream;
use gloo_events::EventListener;
use gloo_net::websocket::futures::WebSocket as GlooSocket;
use gloo_net::websocket::{Message, WebSocketError};
use marketfeed_protocol::CloseCode;
use wasm_bindgen::JsValue;
use web_sys::WebSocket;

/// What the socket reports, in the order the browser fired it.
pub(crate) enum SocketEvent {
    /// The handshake completed.
    Open,
    /// A text frame (message).
    Text(String),
    /// A binary frame (message), copied out of its `ArrayBuffer`.
    // Read once a binary format is decoded; today a binary frame only
    // proves liveness.
    #[allow(dead_code)]
    Binary(Vec<u8>),
    /// The browser's `error` event (it carries no detail).
    Error,
    /// The socket closed: the code and reason the peer (or the browser)
    /// gave, and whether the closing handshake completed.
    Closed {
        code: u16,
        reason: String,
        // Reported for callers; the state machine goes by the code.
        #[allow(dead_code)]
        was_clean: bool,
    },
}

type Cell = Rc<RefCell<Option<GlooSocket>>>;

/// One WebSocket; dropping it closes the socket (1000) and releases its
/// listeners.
pub(crate) struct Transport {
    raw: WebSocket,
    socket: Cell,
    _open: EventListener,
}

impl Transport {
    /// Opens `url`, offering `protocols` (none: no `Sec-WebSocket-Protocol`
    /// header); every event goes to `on_event`. `Err` when the browser
    /// refuses the URL.
    pub(crate) fn open(
        url: &str,
        protocols: &[&str],
        on_event: impl Fn(SocketEvent) + 'static,
    ) -> Result<Self, JsValue> {
        let raw = if protocols.is_empty() {
            WebSocket::new(url)?
        } else {
            let list: js_sys::Array = protocols.iter().map(|p| JsValue::from_str(p)).collect();
            WebSocket::new_with_str_sequence(url, &list)?
        };
        // gloo's `open_with_protocols` needs its `json` feature
        // (serde_json): the socket is made here and handed over instead.
        let socket =
            GlooSocket::try_from(raw.clone()).map_err(|e| JsValue::from_str(&e.to_string()))?;
        let on_event: Rc<dyn Fn(SocketEvent)> = Rc::new(on_event);
        let open = {
            let on_event = on_event.clone();
            EventListener::new(&raw, "open", move |_| on_event(SocketEvent::Open))
        };
        let socket = Rc::new(RefCell::new(Some(socket)));
        wasm_bindgen_futures::spawn_local(read(socket.clone(), on_event));
        Ok(Self {
            raw,
            socket,
            _open: open,
        })
    }

    /// Whether the socket is open (text can be sent).
    pub(crate) fn is_open(&self) -> bool {
        self.raw.ready_state() == WebSocket::OPEN
    }

    /// Sends a text frame; `false` when the browser refused it (a socket
    /// not open drops it).
    pub(crate) fn send_text(&self, text: &str) -> bool {
        self.raw.send_with_str(text).is_ok()
    }

    /// Starts the closing handshake with `code` and `reason`, then drops
    /// the socket (no event of it is reported any more).
    pub(crate) fn close(self, code: u16, reason: &str) {
        // Closing a socket that is already closing or closed does nothing.
        let _ = self.raw.close_with_code_and_reason(code, reason);
    }
}

impl Drop for Transport {
    fn drop(&mut self) {
        // Before gloo's own drop, which closes without a code (1005).
        let normal = CloseCode::NORMAL;
        let _ = self
            .raw
            .close_with_code_and_reason(normal.as_u16(), normal.reason());
        // Outside the borrow: gloo's drop dispatches a `close` event.
        let socket = self.socket.borrow_mut().take();
        drop(socket);
    }
}

/// Reads one socket's stream until it ends or the socket is dropped,
/// handing each item to `on_event` with no borrow of the cell held (the
/// caller may drop the transport from there).
async fn read(socket: Cell, on_event: Rc<dyn Fn(SocketEvent)>) {
    loop {
        let next = poll_fn(|cx| match socket.borrow_mut().as_mut() {
            Some(ws) => Pin::new(ws).poll_next(cx),
            None => Poll::Ready(None),
        })
        .await;
        let event = match next {
            None => return,
            Some(Ok(Message::Text(text))) => SocketEvent::Text(text),
            Some(Ok(Message::Bytes(bytes))) => SocketEvent::Binary(bytes),
            Some(Err(WebSocketError::ConnectionError)) => SocketEvent::Error,
            Some(Err(WebSocketError::ConnectionClose(e))) => SocketEvent::Closed {
                code: e.code,
                reason: e.reason,
                was_clean: e.was_clean,
            },
            // Send errors come from the sink, never from the stream.
            Some(Err(_)) => continue,
        };
        on_event(event);
    }
}

/// Against the live server `scripts/test-browser.sh` starts (its URL is
/// compiled in from `MARKETFEED_WS_URL`; without it these tests skip).
#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::rc::Rc;

    use gloo_timers::future::TimeoutFuture;
    use wasm_bindgen_test::{console_log, wasm_bindgen_test};

    use super::*;

    const WS_URL: Option<&str> = option_env!("MARKETFEED_WS_URL");

    /// What a transport reported, one word each (`text`, `closed 1009 …`).
    type Log = Rc<RefCell<Vec<String>>>;

    fn open(url: &str, protocols: &[&str]) -> (Transport, Log) {
        let log: Log = Rc::default();
        let sink = log.clone();
        let transport = Transport::open(url, protocols, move |event| {
            sink.borrow_mut().push(match event {
                SocketEvent::Open => "open".to_owned(),
                SocketEvent::Text(_) => "text".to_owned(),
                SocketEvent::Binary(_) => "binary".to_owned(),
                SocketEvent::Error => "error".to_owned(),
                SocketEvent::Closed {
                    code,
                    reason,
                    was_clean,
                } => format!("closed {code} {was_clean} {reason}"),
            });
        })
        .expect("the browser takes the URL");
        (transport, log)
    }

    async fn wait_for(log: &Log, what: &str, cond: impl Fn(&[String]) -> bool) {
        for _ in 0..250 {
            if cond(&log.borrow()) {
                return;
            }
            TimeoutFuture::new(20).await;
        }
        panic!("{what} never happened: {:?}", log.borrow());
    }

    fn url() -> Option<&'static str> {
        if WS_URL.is_none() {
            console_log!("SKIPPED: MARKETFEED_WS_URL not set (run scripts/test-browser.sh)");
        }
        WS_URL
    }

    #[wasm_bindgen_test]
    async fn a_server_close_reaches_the_caller_with_its_code_and_reason() {
        let Some(url) = url() else { return };
        let (transport, log) = open(url, &[]);
        wait_for(&log, "hello", |l| l.iter().any(|e| e == "text")).await;
        assert_eq!(log.borrow()[0], "open");
        assert!(transport.is_open());
        // Over the server's --max-message-size (4096): it closes with 1009.
        transport.send_text(&"x".repeat(5000));
        wait_for(&log, "close", |l| l.iter().any(|e| e.starts_with("closed"))).await;
        let closed = log.borrow().last().cloned().unwrap_or_default();
        let (head, reason) = closed.split_at("closed 1009 true ".len().min(closed.len()));
        assert_eq!(head, "closed 1009 true ", "{closed}");
        assert!(!reason.is_empty(), "no reason in {closed}");
        assert!(!transport.is_open());
    }

    #[wasm_bindgen_test]
    async fn a_dropped_transport_reports_nothing_more() {
        let Some(url) = url() else { return };
        let (transport, log) = open(url, &[]);
        wait_for(&log, "hello", |l| l.iter().any(|e| e == "text")).await;
        drop(transport);
        let seen = log.borrow().len();
        // The server ticks every 100 ms: a listener left attached would
        // report snapshots, and the close, meanwhile.
        TimeoutFuture::new(500).await;
        assert_eq!(log.borrow().len(), seen, "{:?}", log.borrow());
    }

    #[wasm_bindgen_test]
    async fn offered_subprotocols_go_into_the_handshake() {
        let Some(url) = url() else { return };
        // No protocol offered: opens.
        let (_plain, log) = open(url, &[]);
        wait_for(&log, "open", |l| l.iter().any(|e| e == "open")).await;
        // One the server does not select: the browser fails the
        // connection (it never opens), which proves the offer was sent.
        let (_offered, log) = open(url, &["x-not-a-marketfeed-format"]);
        wait_for(&log, "close", |l| l.iter().any(|e| e.starts_with("closed"))).await;
        let log = log.borrow();
        assert!(!log.iter().any(|e| e == "open"), "{log:?}");
        assert!(
            log.iter().any(|e| e.starts_with("closed 1006 false")),
            "{log:?}"
        );
    }
}
