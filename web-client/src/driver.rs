//! The browser driver around [`Machine`]: owns the socket, its listeners
//! and the timers, feeds every browser event to the machine and carries out
//! its actions, then tells the JS listeners.
//!
//! Ownership: the JS `MarketClient` holds the only strong reference to
//! [`Shared`]; every socket listener, timer and page listener holds a
//! [`Weak`] one and is itself owned by [`Inner`] (the socket's
//! [`Transport`], gloo's `EventListener`, `Timeout` and `Interval` remove
//! or cancel themselves on drop). Dropping a socket therefore detaches its
//! listeners, and freeing the client releases everything.
//!
//! Re-entrancy: user code — listeners and `getToken` — is called only
//! after the state borrow is released, so it may call any method,
//! `close()` included. An input that arrives while the state is borrowed
//! anyway is queued and handled by the dispatch in progress, never dropped.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::{Rc, Weak};

use gloo_events::EventListener;
use gloo_timers::callback::{Interval, Timeout};
use js_sys::{Function, Object};
use marketfeed_protocol::{ClientMessage, CloseCode, Subprotocol};
use wasm_bindgen::prelude::*;

use crate::connection::{
    url_with_token, Action, ConnectionState, Input, Machine, ServerList, MAX_TIMER_MS,
};
use crate::gaps::GapTracker;
use crate::js::{js_error_message, message_text, status_object};
use crate::messages::{on_binary, on_text};
use crate::options::TokenSource;
use crate::state::Feed;
use crate::transport::{SocketEvent, Transport};

pub(crate) struct Shared {
    pub(crate) inner: RefCell<Inner>,
    pub(crate) listeners: RefCell<Listeners>,
    /// Inputs waiting for the dispatch in progress.
    pub(crate) queued: RefCell<VecDeque<Input>>,
}

#[derive(Default)]
pub(crate) struct Listeners {
    pub(crate) snapshot: Vec<Function>,
    pub(crate) status: Vec<Function>,
    pub(crate) gap: Vec<Function>,
    pub(crate) hello: Vec<Function>,
    pub(crate) server_error: Vec<Function>,
    pub(crate) quote: Vec<Function>,
    pub(crate) subscribed: Vec<Function>,
}

impl Listeners {
    pub(crate) fn all_mut(&mut self) -> [&mut Vec<Function>; 7] {
        [
            &mut self.snapshot,
            &mut self.status,
            &mut self.gap,
            &mut self.hello,
            &mut self.server_error,
            &mut self.quote,
            &mut self.subscribed,
        ]
    }
}

/// Something to tell JS listeners once the state borrow is released.
pub(crate) enum Event {
    Status(JsValue),
    Snapshot(JsValue),
    Gap(JsValue),
    Hello(JsValue),
    ServerError(JsValue),
    /// A quote that changed in this tick (told before its snapshot).
    Quote(JsValue),
    Subscribed(JsValue),
    /// Call `getToken` for connect attempt `attempt` (user code: run with
    /// no borrow held).
    FetchToken {
        attempt: u64,
        get_token: Function,
    },
}

pub(crate) struct Inner {
    /// The servers to connect to, in turn.
    pub(crate) urls: ServerList,
    pub(crate) token: TokenSource,
    /// Counts connect attempts, so a late `getToken` result for an
    /// abandoned attempt is ignored.
    pub(crate) attempt: u64,
    pub(crate) machine: Machine,
    pub(crate) socket: Option<Socket>,
    pub(crate) deadline: Option<Timeout>,
    pub(crate) retry: Option<Timeout>,
    pub(crate) pings: Option<Interval>,
    pub(crate) page: Vec<EventListener>,
    pub(crate) gaps: GapTracker,
    pub(crate) last_snapshot: JsValue,
    pub(crate) next_ping_id: u64,
    pub(crate) hidden_since: Option<f64>,
    /// The format, the v2 state and the app's subscription (`state.rs`).
    pub(crate) feed: Feed,
}

/// The attempt's socket, its events routed to the machine; dropping it
/// closes it and detaches its listeners ([`Transport`]).
pub(crate) struct Socket {
    transport: Transport,
}

impl Socket {
    fn open(url: &str, protocol: Subprotocol, weak: &Weak<Shared>) -> Result<Self, JsValue> {
        let weak = weak.clone();
        let transport = Transport::open(url, &[protocol.name()], move |event| {
            let Some(shared) = weak.upgrade() else {
                return;
            };
            match event {
                SocketEvent::Open => dispatch(&shared, Input::SocketOpened),
                SocketEvent::Text(text) => on_text(&shared, &text),
                SocketEvent::Binary(bytes) => on_binary(&shared, &bytes),
                SocketEvent::Error => dispatch(&shared, Input::SocketError),
                SocketEvent::Closed { code, reason, .. } => {
                    dispatch(&shared, Input::SocketClosed { code, reason });
                }
            }
        })?;
        Ok(Self { transport })
    }

    fn close(self, code: CloseCode) {
        self.transport.close(code.as_u16(), code.reason());
    }
}

pub(crate) fn now() -> f64 {
    js_sys::Date::now()
}

pub(crate) fn online() -> bool {
    web_sys::window().is_none_or(|w| w.navigator().on_line())
}

/// Feeds one input to the machine, carries out the actions, then tells the
/// listeners. `extra` runs with the state borrowed, after the machine.
pub(crate) fn dispatch_with(
    shared: &Rc<Shared>,
    input: Option<Input>,
    extra: impl FnOnce(&mut Inner, &mut Vec<Event>),
) {
    shared.queued.borrow_mut().extend(input);
    let mut events = Vec::new();
    {
        let Ok(mut inner) = shared.inner.try_borrow_mut() else {
            // A dispatch is in progress further up the stack: it handles
            // the queued input before it returns.
            return;
        };
        let weak = Rc::downgrade(shared);
        let mut pending = VecDeque::new();
        loop {
            let next = pending
                .pop_front()
                .or_else(|| shared.queued.borrow_mut().pop_front());
            let Some(input) = next else { break };
            let actions = inner.machine.handle(input, now(), js_sys::Math::random());
            for action in actions {
                inner.apply(action, &weak, &mut events, &mut pending);
            }
        }
        extra(&mut inner, &mut events);
    }
    emit(shared, events);
}

pub(crate) fn dispatch(shared: &Rc<Shared>, input: Input) {
    dispatch_with(shared, Some(input), |_, _| {});
}

/// Tells the listeners, with no borrow held: each may call any method.
/// A listener removed (`off`, `close()`) by an earlier one is not called.
fn emit(shared: &Rc<Shared>, events: Vec<Event>) {
    for event in events {
        let (kind, arg): (fn(&Listeners) -> &Vec<Function>, JsValue) = match event {
            Event::Status(v) => (|l| &l.status, v),
            Event::Snapshot(v) => (|l| &l.snapshot, v),
            Event::Gap(v) => (|l| &l.gap, v),
            Event::Hello(v) => (|l| &l.hello, v),
            Event::ServerError(v) => (|l| &l.server_error, v),
            Event::Quote(v) => (|l| &l.quote, v),
            Event::Subscribed(v) => (|l| &l.subscribed, v),
            Event::FetchToken { attempt, get_token } => {
                fetch_token(shared, attempt, &get_token);
                continue;
            }
        };
        let listeners = kind(&shared.listeners.borrow()).clone();
        for f in listeners {
            let registered = kind(&shared.listeners.borrow())
                .iter()
                .any(|g| Object::is(g, &f));
            if !registered {
                continue;
            }
            if let Err(e) = f.call1(&JsValue::NULL, &arg) {
                web_sys::console::error_2(&"marketfeed: a listener threw".into(), &e);
            }
        }
    }
}

/// Calls `getToken` for `attempt` unless that attempt was given up
/// meanwhile (e.g. by a status listener calling `close()`), then awaits
/// its result.
fn fetch_token(shared: &Rc<Shared>, attempt: u64, get_token: &Function) {
    if !shared.inner.borrow().awaits_token(attempt) {
        return;
    }
    let called = get_token.call0(&JsValue::NULL);
    wasm_bindgen_futures::spawn_local(connect_with_fetched_token(
        Rc::downgrade(shared),
        attempt,
        called,
    ));
}

impl Inner {
    fn apply(
        &mut self,
        action: Action,
        weak: &Weak<Shared>,
        events: &mut Vec<Event>,
        pending: &mut VecDeque<Input>,
    ) {
        let timer = |input: Input| {
            let weak = weak.clone();
            move || {
                if let Some(shared) = weak.upgrade() {
                    dispatch(&shared, input);
                }
            }
        };
        match action {
            Action::Connect => {
                self.gaps.resync();
                self.feed.reset();
                self.socket = None;
                self.attempt += 1;
                let url = self.urls.next_url().to_owned();
                let url = match &self.token {
                    TokenSource::None => url,
                    TokenSource::Fixed(token) => with_token(&url, token),
                    TokenSource::Callback(get_token) => {
                        // User code: called once the borrow is released.
                        events.push(Event::FetchToken {
                            attempt: self.attempt,
                            get_token: get_token.clone(),
                        });
                        return;
                    }
                };
                if !self.open_socket(&url, weak) {
                    pending.extend(socket_failed());
                }
            }
            Action::DropSocket { code } => {
                if let Some(socket) = self.socket.take() {
                    socket.close(code);
                }
            }
            Action::ArmDeadline(ms) => {
                self.deadline = Some(Timeout::new(timer_ms(ms), timer(Input::DeadlineExpired)));
            }
            Action::ClearDeadline => self.deadline = None,
            Action::StartPings(ms) => {
                let weak = weak.clone();
                self.pings = Some(Interval::new(timer_ms(ms), move || {
                    if let Some(shared) = weak.upgrade() {
                        if let Ok(mut inner) = shared.inner.try_borrow_mut() {
                            inner.send_ping();
                        }
                    }
                }));
            }
            Action::StopPings => self.pings = None,
            Action::SendPing => self.send_ping(),
            Action::ScheduleRetry(ms) => {
                self.retry = Some(Timeout::new(timer_ms(ms), timer(Input::RetryDue)));
            }
            Action::CancelRetry => self.retry = None,
            Action::Emit => {
                if self.machine.state() == ConnectionState::Closed {
                    // Stopped for good: release the page listeners too.
                    self.page.clear();
                }
                events.push(Event::Status(status_object(&self.machine.status())));
            }
        }
    }

    /// Whether connect attempt `attempt` is still waiting for its token.
    fn awaits_token(&self, attempt: u64) -> bool {
        self.attempt == attempt
            && self.socket.is_none()
            && self.machine.state() == ConnectionState::Connecting
    }

    /// Opens the attempt's socket; `false` if the browser refused the URL.
    fn open_socket(&mut self, url: &str, weak: &Weak<Shared>) -> bool {
        match Socket::open(url, self.feed.format, weak) {
            Ok(socket) => {
                self.socket = Some(socket);
                true
            }
            Err(_) => false,
        }
    }

    fn send_ping(&mut self) {
        self.next_ping_id += 1;
        let ping = ClientMessage::Ping {
            id: self.next_ping_id,
        };
        self.send(&ping);
    }

    /// Sends `message` if the socket is open; `false` when it was not sent.
    pub(crate) fn send(&self, message: &ClientMessage) -> bool {
        match &self.socket {
            Some(socket) if socket.transport.is_open() => {
                message_text(message).is_some_and(|text| socket.transport.send_text(&text))
            }
            _ => false,
        }
    }
}

/// A delay as gloo's timers take it. Browsers wait at most
/// [`MAX_TIMER_MS`] (a signed 32-bit count; beyond it they fire at once),
/// so every delay is clamped to it; a negative or NaN delay means "now".
fn timer_ms(ms: f64) -> u32 {
    // In range after the clamp (NaN saturates to 0).
    ms.clamp(0.0, MAX_TIMER_MS) as u32
}

fn socket_failed() -> [Input; 2] {
    [
        Input::SocketError,
        Input::SocketClosed {
            code: CloseCode::ABNORMAL.as_u16(),
            reason: "could not create the WebSocket".to_owned(),
        },
    ]
}

fn with_token(url: &str, token: &str) -> String {
    url_with_token(url, &String::from(js_sys::encode_uri_component(token)))
}

/// Awaits what `getToken()` returned (a token or a promise of one), then
/// opens the socket of attempt `attempt` — unless that attempt was given
/// up meanwhile (timeout, `close()`).
async fn connect_with_fetched_token(
    weak: Weak<Shared>,
    attempt: u64,
    called: Result<JsValue, JsValue>,
) {
    let result = match called {
        Ok(value) => wasm_bindgen_futures::JsFuture::from(js_sys::Promise::resolve(&value)).await,
        Err(thrown) => Err(thrown),
    };
    let Some(shared) = weak.upgrade() else {
        return;
    };
    // Reading a rejection's `message` may run user code (a getter): done
    // before the state is borrowed.
    let result = result.map_err(|e| js_error_message(&e));
    let failed = {
        let Ok(mut inner) = shared.inner.try_borrow_mut() else {
            return;
        };
        if !inner.awaits_token(attempt) {
            return;
        }
        match result.map(|v| v.as_string().filter(|t| !t.is_empty())) {
            Ok(Some(token)) => {
                let url = with_token(inner.urls.current(), &token);
                if inner.open_socket(&url, &weak) {
                    None
                } else {
                    Some(socket_failed().to_vec())
                }
            }
            Ok(None) => Some(vec![Input::TokenFailed {
                message: "it returned no token (a non-empty string is needed)".to_owned(),
            }]),
            Err(message) => Some(vec![Input::TokenFailed { message }]),
        }
    };
    for input in failed.into_iter().flatten() {
        dispatch(&shared, input);
    }
}

/// `online` / `offline` on the window, `visibilitychange` on the document.
pub(crate) fn page_listeners(weak: &Weak<Shared>) -> Vec<EventListener> {
    let Some(window) = web_sys::window() else {
        return Vec::new();
    };
    let network = |kind: &'static str, online: bool| {
        let weak = weak.clone();
        EventListener::new(&window, kind, move |_| {
            if let Some(shared) = weak.upgrade() {
                dispatch(&shared, Input::NetworkChanged { online });
            }
        })
    };
    let mut listeners = vec![network("online", true), network("offline", false)];
    if let Some(document) = window.document() {
        let weak = weak.clone();
        let doc = document.clone();
        listeners.push(EventListener::new(
            &document,
            "visibilitychange",
            move |_| {
                let Some(shared) = weak.upgrade() else {
                    return;
                };
                let hidden = doc.visibility_state() == web_sys::VisibilityState::Hidden;
                let hidden_for = {
                    let Ok(mut inner) = shared.inner.try_borrow_mut() else {
                        return;
                    };
                    if hidden {
                        inner.hidden_since = Some(now());
                        None
                    } else {
                        inner.hidden_since.take().map(|t| now() - t)
                    }
                };
                if let Some(hidden_for_ms) = hidden_for {
                    dispatch(&shared, Input::BecameVisible { hidden_for_ms });
                }
            },
        ));
    }
    listeners
}
