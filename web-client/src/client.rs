//! The browser driver: a `#[wasm_bindgen]` class around [`Machine`].
//!
//! Ownership: the JS `MarketClient` holds the only strong reference to
//! [`Shared`]; every socket listener, timer and page listener holds a
//! [`Weak`] one and is itself owned by [`Inner`] (gloo's `EventListener`,
//! `Timeout` and `Interval` remove/cancel themselves on drop). Dropping a
//! socket therefore detaches its listeners, and freeing the client releases
//! everything.
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
use js_sys::{Function, Object, Reflect, JSON};
use marketfeed_protocol::Hello;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{CloseEvent, MessageEvent, WebSocket};

use crate::backoff::BackoffConfig;
use crate::connection::{
    url_with_token, Action, ConnectionState, Input, Machine, Status, Timing, CLOSE_NORMAL,
    MAX_TIMER_MS,
};
use crate::gaps::{GapTracker, SeqOutcome};

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &str = include_str!("types.d.ts");

#[wasm_bindgen]
extern "C" {
    /// Options object (typed in TypeScript as `MarketClientOptions`).
    #[wasm_bindgen(typescript_type = "MarketClientOptions")]
    pub type MarketClientOptions;
}

/// A market-data client that keeps a WebSocket to a marketfeed server open,
/// reconnecting with jittered exponential backoff.
#[wasm_bindgen]
pub struct MarketClient {
    shared: Rc<Shared>,
}

struct Shared {
    inner: RefCell<Inner>,
    listeners: RefCell<Listeners>,
    /// Inputs waiting for the dispatch in progress.
    queued: RefCell<VecDeque<Input>>,
}

#[derive(Default)]
struct Listeners {
    snapshot: Vec<Function>,
    status: Vec<Function>,
    gap: Vec<Function>,
    hello: Vec<Function>,
    server_error: Vec<Function>,
}

impl Listeners {
    fn all_mut(&mut self) -> [&mut Vec<Function>; 5] {
        [
            &mut self.snapshot,
            &mut self.status,
            &mut self.gap,
            &mut self.hello,
            &mut self.server_error,
        ]
    }
}

/// Something to tell JS listeners once the state borrow is released.
enum Event {
    Status(JsValue),
    Snapshot(JsValue),
    Gap(JsValue),
    Hello(JsValue),
    ServerError(JsValue),
    /// Call `getToken` for connect attempt `attempt` (user code: run with
    /// no borrow held).
    FetchToken {
        attempt: u64,
        get_token: Function,
    },
}

/// Where the token for each attempt comes from.
enum TokenSource {
    /// No authentication.
    None,
    /// The `token` option: the same token every attempt.
    Fixed(String),
    /// The `getToken` option: called (and awaited) before every attempt.
    Callback(Function),
}

struct Inner {
    url: String,
    token: TokenSource,
    /// Counts connect attempts, so a late `getToken` result for an
    /// abandoned attempt is ignored.
    attempt: u64,
    machine: Machine,
    socket: Option<Socket>,
    deadline: Option<Timeout>,
    retry: Option<Timeout>,
    pings: Option<Interval>,
    page: Vec<EventListener>,
    gaps: GapTracker,
    last_snapshot: JsValue,
    next_ping_id: u64,
    hidden_since: Option<f64>,
}

/// A WebSocket and the listeners attached to it; dropping it detaches them
/// and closes the socket.
struct Socket {
    ws: WebSocket,
    _listeners: [EventListener; 4],
}

impl Socket {
    fn open(url: &str, weak: &Weak<Shared>) -> Result<Self, JsValue> {
        let ws = WebSocket::new(url)?;
        let on = |kind: &'static str, f: fn(&Rc<Shared>, &web_sys::Event)| {
            let weak = weak.clone();
            EventListener::new(&ws, kind, move |event| {
                if let Some(shared) = weak.upgrade() {
                    f(&shared, event);
                }
            })
        };
        let listeners = [
            on("open", |shared, _| dispatch(shared, Input::SocketOpened)),
            on("message", |shared, event| {
                if let Some(event) = event.dyn_ref::<MessageEvent>() {
                    on_message(shared, event);
                }
            }),
            on("error", |shared, _| dispatch(shared, Input::SocketError)),
            on("close", |shared, event| {
                let (code, reason) = event
                    .dyn_ref::<CloseEvent>()
                    .map_or((1006, String::new()), |e| (e.code(), e.reason()));
                dispatch(shared, Input::SocketClosed { code, reason });
            }),
        ];
        Ok(Self {
            ws,
            _listeners: listeners,
        })
    }

    fn close(self, code: u16, reason: &str) {
        // Closing a socket that is already closing or closed does nothing.
        let _ = self.ws.close_with_code_and_reason(code, reason);
    }
}

impl Drop for Socket {
    fn drop(&mut self) {
        let _ = self
            .ws
            .close_with_code_and_reason(CLOSE_NORMAL, "client closed");
    }
}

fn now() -> f64 {
    js_sys::Date::now()
}

fn online() -> bool {
    web_sys::window().is_none_or(|w| w.navigator().on_line())
}

/// Feeds one input to the machine, carries out the actions, then tells the
/// listeners. `extra` runs with the state borrowed, after the machine.
fn dispatch_with(
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

fn dispatch(shared: &Rc<Shared>, input: Input) {
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

fn on_message(shared: &Rc<Shared>, event: &MessageEvent) {
    let Some(text) = event.data().as_string() else {
        // The protocol is JSON text; a binary frame still proves liveness.
        dispatch(shared, Input::Message);
        return;
    };
    let Ok(value) = JSON::parse(&text) else {
        web_sys::console::warn_1(&"marketfeed: ignoring a non-JSON message".into());
        dispatch(shared, Input::Message);
        return;
    };
    let kind = get(&value, "type").as_string();
    match kind.as_deref() {
        Some("hello") => match serde_wasm_bindgen::from_value::<Hello>(value.clone()) {
            Ok(hello) => dispatch_with(
                shared,
                Some(Input::Hello {
                    protocol_version: hello.protocol_version,
                    heartbeat_interval_ms: hello.heartbeat_interval_ms,
                }),
                |_, events| events.push(Event::Hello(value)),
            ),
            Err(e) => {
                web_sys::console::warn_1(&format!("marketfeed: invalid hello: {e}").into());
                dispatch(shared, Input::Message);
            }
        },
        Some("snapshot") => dispatch_with(shared, Some(Input::Message), |inner, events| {
            inner.on_snapshot(value, events);
        }),
        Some("error") => dispatch_with(shared, Some(Input::Message), |_, events| {
            events.push(Event::ServerError(value));
        }),
        _ => dispatch(shared, Input::Message),
    }
}

fn get(target: &JsValue, key: &str) -> JsValue {
    Reflect::get(target, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

fn set(target: &Object, key: &str, value: JsValue) {
    let _ = Reflect::set(target, &JsValue::from_str(key), &value);
}

fn nullable<T: Into<JsValue>>(value: Option<T>) -> JsValue {
    value.map_or(JsValue::NULL, Into::into)
}

fn status_object(s: &Status) -> JsValue {
    let o = Object::new();
    set(&o, "state", s.state.as_str().into());
    set(&o, "attempt", s.attempt.into());
    set(&o, "delayMs", nullable(s.delay_ms));
    set(&o, "nextAttemptAt", nullable(s.next_attempt_at));
    set(&o, "closeCode", nullable(s.close_code));
    set(&o, "closeReason", nullable(s.close_reason.clone()));
    set(&o, "error", nullable(s.error.clone()));
    set(&o, "waitingForNetwork", s.waiting_for_network.into());
    o.into()
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
                self.socket = None;
                self.attempt += 1;
                let url = match &self.token {
                    TokenSource::None => self.url.clone(),
                    TokenSource::Fixed(token) => with_token(&self.url, token),
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
            Action::DropSocket { code, reason } => {
                if let Some(socket) = self.socket.take() {
                    socket.close(code, reason);
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
        match Socket::open(url, weak) {
            Ok(socket) => {
                self.socket = Some(socket);
                true
            }
            Err(_) => false,
        }
    }

    fn send_ping(&mut self) {
        if let Some(socket) = &self.socket {
            if socket.ws.ready_state() == WebSocket::OPEN {
                self.next_ping_id += 1;
                let _ = socket.ws.send_with_str(&format!(
                    "{{\"type\":\"ping\",\"id\":{}}}",
                    self.next_ping_id
                ));
            }
        }
    }

    fn on_snapshot(&mut self, value: JsValue, events: &mut Vec<Event>) {
        if self.machine.state() != ConnectionState::Open {
            return;
        }
        let seq = get(&value, "seq").as_f64().unwrap_or(-1.0);
        if !(seq >= 0.0 && seq.fract() == 0.0) {
            web_sys::console::warn_1(&"marketfeed: snapshot without a valid seq".into());
            return;
        }
        // An integral f64 ≥ 0 converts exactly (saturating past u64::MAX).
        match self.gaps.observe(seq as u64) {
            SeqOutcome::Stale => return,
            SeqOutcome::Gap {
                expected,
                received,
                missed,
            } => {
                let o = Object::new();
                set(&o, "expected", (expected as f64).into());
                set(&o, "received", (received as f64).into());
                set(&o, "missed", (missed as f64).into());
                set(&o, "gapCount", (self.gaps.gap_count() as f64).into());
                events.push(Event::Gap(o.into()));
            }
            SeqOutcome::Resync | SeqOutcome::InOrder => {}
        }
        self.last_snapshot = value.clone();
        events.push(Event::Snapshot(value));
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
            code: 1006,
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
                let url = with_token(&inner.url, &token);
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

fn js_error_message(e: &JsValue) -> String {
    e.as_string()
        .or_else(|| get(e, "message").as_string())
        .unwrap_or_else(|| "rejected".to_owned())
}

/// The `token` / `getToken` options.
fn token_option(options: &JsValue) -> Result<TokenSource, JsError> {
    if options.is_undefined() || options.is_null() {
        return Ok(TokenSource::None);
    }
    let fixed = get(options, "token");
    let callback = get(options, "getToken");
    let given = |v: &JsValue| !(v.is_undefined() || v.is_null());
    match (given(&fixed), given(&callback)) {
        (true, true) => Err(JsError::new(
            "give either option token or getToken, not both",
        )),
        (true, false) => match fixed.as_string() {
            Some(t) if !t.is_empty() => Ok(TokenSource::Fixed(t)),
            _ => Err(JsError::new("option token must be a non-empty string")),
        },
        (false, true) => callback
            .dyn_into::<Function>()
            .map(TokenSource::Callback)
            .map_err(|_| JsError::new("option getToken must be a function")),
        (false, false) => Ok(TokenSource::None),
    }
}

/// Reads an optional number option; `undefined` and `null` mean "default".
fn number_option(options: &JsValue, key: &str) -> Result<Option<f64>, JsError> {
    let value = get(options, key);
    if value.is_undefined() || value.is_null() {
        return Ok(None);
    }
    value
        .as_f64()
        .map(Some)
        .ok_or_else(|| JsError::new(&format!("option {key} must be a number")))
}

fn parse_options(options: &JsValue) -> Result<(BackoffConfig, Timing), JsError> {
    let mut backoff = BackoffConfig::default();
    let mut timing = Timing::default();
    if options.is_undefined() || options.is_null() {
        return Ok((backoff, timing));
    }
    if !options.is_object() {
        return Err(JsError::new("options must be an object"));
    }
    let fields: [(&str, &mut f64); 8] = [
        ("initialDelayMs", &mut backoff.initial_ms),
        ("maxDelayMs", &mut backoff.max_ms),
        ("multiplier", &mut backoff.multiplier),
        ("resetAfterMs", &mut backoff.reset_after_ms),
        ("connectTimeoutMs", &mut timing.connect_timeout_ms),
        ("livenessGraceMs", &mut timing.liveness_grace_ms),
        ("hiddenCheckAfterMs", &mut timing.hidden_check_after_ms),
        ("probeTimeoutMs", &mut timing.probe_timeout_ms),
    ];
    for (key, slot) in fields {
        if let Some(v) = number_option(options, key)? {
            *slot = v;
        }
    }
    // Unless set, the initial delay also caps the window.
    if number_option(options, "maxDelayMs")?.is_none() {
        backoff.max_ms = backoff.max_ms.max(backoff.initial_ms);
    }
    timing.liveness_interval_ms = number_option(options, "livenessIntervalMs")?;
    timing.ping_interval_ms = number_option(options, "pingIntervalMs")?;
    backoff.max_attempts = match number_option(options, "maxAttempts")? {
        None => None,
        Some(v) if v == f64::INFINITY => None,
        Some(v) if v >= 0.0 && v.fract() == 0.0 && v <= f64::from(u32::MAX) => Some(v as u32),
        Some(_) => {
            return Err(JsError::new(
                "option maxAttempts must be a whole number ≥ 0 or Infinity",
            ))
        }
    };
    Ok((backoff, timing))
}

fn check_url(url: &str) -> Result<(), JsError> {
    let lower = url.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("ws://")
        .or_else(|| lower.strip_prefix("wss://"));
    match rest {
        Some(host) if !host.is_empty() && !host.starts_with('/') => Ok(()),
        _ => Err(JsError::new(&format!(
            "MarketClient needs an absolute ws:// or wss:// URL, got {url:?}"
        ))),
    }
}

#[wasm_bindgen]
impl MarketClient {
    /// Starts connecting to `url` (absolute `ws://` or `wss://`).
    ///
    /// Throws when the URL or an option is invalid.
    #[wasm_bindgen(constructor)]
    pub fn new(url: String, options: Option<MarketClientOptions>) -> Result<MarketClient, JsError> {
        check_url(&url)?;
        let options: JsValue = options.map_or(JsValue::UNDEFINED, Into::into);
        let (backoff, timing) = parse_options(&options)?;
        let token = token_option(&options)?;
        let machine = Machine::new(backoff, timing).map_err(|e| JsError::new(&e.to_string()))?;
        let shared = Rc::new(Shared {
            inner: RefCell::new(Inner {
                url,
                token,
                attempt: 0,
                machine,
                socket: None,
                deadline: None,
                retry: None,
                pings: None,
                page: Vec::new(),
                gaps: GapTracker::new(),
                last_snapshot: JsValue::UNDEFINED,
                next_ping_id: 0,
                hidden_since: None,
            }),
            listeners: RefCell::new(Listeners::default()),
            queued: RefCell::new(VecDeque::new()),
        });
        shared.inner.borrow_mut().page = page_listeners(&Rc::downgrade(&shared));
        dispatch(&shared, Input::Start { online: online() });
        Ok(MarketClient { shared })
    }

    /// Calls `listener` with every snapshot (a plain object shaped like the
    /// wire format).
    #[wasm_bindgen(js_name = onSnapshot)]
    pub fn on_snapshot(
        &self,
        #[wasm_bindgen(unchecked_param_type = "(snapshot: MarketSnapshot) => void")]
        listener: Function,
    ) {
        self.shared.listeners.borrow_mut().snapshot.push(listener);
    }

    /// Calls `listener` at once with the current status, then on every
    /// change.
    #[wasm_bindgen(js_name = onStatus)]
    pub fn on_status(
        &self,
        #[wasm_bindgen(unchecked_param_type = "(status: StatusEvent) => void")] listener: Function,
    ) {
        let status = self.status();
        self.shared
            .listeners
            .borrow_mut()
            .status
            .push(listener.clone());
        if let Err(e) = listener.call1(&JsValue::NULL, &status) {
            web_sys::console::error_2(&"marketfeed: a listener threw".into(), &e);
        }
    }

    /// Calls `listener` when snapshots were skipped within a connection.
    #[wasm_bindgen(js_name = onGap)]
    pub fn on_gap(
        &self,
        #[wasm_bindgen(unchecked_param_type = "(gap: GapEvent) => void")] listener: Function,
    ) {
        self.shared.listeners.borrow_mut().gap.push(listener);
    }

    /// Calls `listener` with the server's `hello` on every (re)connection.
    #[wasm_bindgen(js_name = onHello)]
    pub fn on_hello(
        &self,
        #[wasm_bindgen(unchecked_param_type = "(hello: Hello) => void")] listener: Function,
    ) {
        self.shared.listeners.borrow_mut().hello.push(listener);
    }

    /// Calls `listener` with every `error` message the server sends.
    #[wasm_bindgen(js_name = onServerError)]
    pub fn on_server_error(
        &self,
        #[wasm_bindgen(unchecked_param_type = "(error: ServerError) => void")] listener: Function,
    ) {
        self.shared
            .listeners
            .borrow_mut()
            .server_error
            .push(listener);
    }

    /// Removes `listener` wherever it was registered; returns whether it was.
    pub fn off(&self, listener: &Function) -> bool {
        let mut removed = false;
        for list in self.shared.listeners.borrow_mut().all_mut() {
            let before = list.len();
            list.retain(|f| !Object::is(f, listener));
            removed |= list.len() != before;
        }
        removed
    }

    /// Stops for good: closes the socket with 1000, cancels every timer,
    /// tells status listeners `closed`, then releases every listener.
    pub fn close(&self) {
        dispatch(&self.shared, Input::Close);
        if let Ok(mut inner) = self.shared.inner.try_borrow_mut() {
            inner.socket = None;
            inner.deadline = None;
            inner.retry = None;
            inner.pings = None;
            inner.page.clear();
        }
        if let Ok(mut listeners) = self.shared.listeners.try_borrow_mut() {
            *listeners = Listeners::default();
        }
    }

    /// `"connecting"`, `"open"`, `"reconnecting"` or `"closed"`.
    #[wasm_bindgen(getter, unchecked_return_type = "ConnectionState")]
    pub fn state(&self) -> String {
        self.shared
            .inner
            .borrow()
            .machine
            .state()
            .as_str()
            .to_owned()
    }

    /// The current status, as `onStatus` listeners last saw it.
    #[wasm_bindgen(getter, unchecked_return_type = "StatusEvent")]
    pub fn status(&self) -> JsValue {
        status_object(&self.shared.inner.borrow().machine.status())
    }

    /// `seq` of the last snapshot received, if any.
    #[wasm_bindgen(getter, js_name = lastSeq)]
    pub fn last_seq(&self) -> Option<f64> {
        self.shared.inner.borrow().gaps.last_seq().map(|s| s as f64)
    }

    /// The last snapshot received, if any.
    #[wasm_bindgen(
        getter,
        js_name = lastSnapshot,
        unchecked_return_type = "MarketSnapshot | undefined"
    )]
    pub fn last_snapshot(&self) -> JsValue {
        self.shared.inner.borrow().last_snapshot.clone()
    }

    /// Consecutive reconnect attempts since the last stable connection.
    #[wasm_bindgen(getter, js_name = reconnectAttempts)]
    pub fn reconnect_attempts(&self) -> u32 {
        self.shared.inner.borrow().machine.attempts()
    }

    /// Number of `seq` gaps seen within connections.
    #[wasm_bindgen(getter, js_name = gapCount)]
    pub fn gap_count(&self) -> f64 {
        self.shared.inner.borrow().gaps.gap_count() as f64
    }
}

/// `online` / `offline` on the window, `visibilitychange` on the document.
fn page_listeners(weak: &Weak<Shared>) -> Vec<EventListener> {
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
