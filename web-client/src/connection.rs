//! The connection state machine, free of any browser API.
//!
//! The browser driver (`client.rs`) turns socket events, timer expiries and
//! page-lifecycle events into [`Input`]s, feeds them to [`Machine::handle`]
//! together with the current time and a random sample, and carries out the
//! returned [`Action`]s in order. Every decision — when to reconnect, after
//! how long, when a silent link counts as dead — is made here, so it is
//! unit-tested natively.
//!
//! ```text
//!            Start (online)            Hello
//!   ┌──────────────────────► Connecting ─────► Open
//!   │                          │  ▲              │ close / error / silence
//!   │        timeout, close    │  │ RetryDue,    ▼
//!   │   ┌──────────────────────┘  │ Online  Reconnecting ──► Closed
//!   │   ▼                         │          (backoff)   max attempts,
//!   └ Reconnecting ───────────────┘                      close(), bad version
//! ```

use marketfeed_protocol::close::reconnect_spread_ms;
use marketfeed_protocol::{CloseCode, PROTOCOL_VERSION};
use serde::Serialize;

use crate::backoff::{Backoff, BackoffConfig, InvalidConfig};

// Close codes and their reasons are the protocol's ([`CloseCode`]): the
// client's own live in 4100–4199, apart from the server's.

/// Where the connection is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(not(target_arch = "wasm32"), derive(ts_rs::TS))]
pub enum ConnectionState {
    /// A socket is being opened, or is waiting for the server's `hello`.
    Connecting,
    /// `hello` received; snapshots flow.
    Open,
    /// Waiting before the next attempt (or for the network to return).
    Reconnecting,
    /// Stopped for good: `close()` was called, the attempt limit was reached
    /// or the server speaks an incompatible protocol.
    Closed,
}

impl ConnectionState {
    /// The name JavaScript sees.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Connecting => "connecting",
            Self::Open => "open",
            Self::Reconnecting => "reconnecting",
            Self::Closed => "closed",
        }
    }
}

/// Timers of the connection, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timing {
    /// How long opening the socket and receiving `hello` may take. Needed
    /// because a stalled server still completes TCP handshakes.
    pub connect_timeout_ms: f64,
    /// Expected longest silence of a live server; `None` takes the
    /// `heartbeatIntervalMs` announced in `hello` (or 30 s when it is 0).
    pub liveness_interval_ms: Option<f64>,
    /// Extra silence tolerated on top of the liveness interval.
    pub liveness_grace_ms: f64,
    /// Interval of the client's app-level pings; `None`: half the liveness
    /// interval.
    pub ping_interval_ms: Option<f64>,
    /// A tab hidden at least this long checks the link when shown again.
    pub hidden_check_after_ms: f64,
    /// How long that check waits for any message.
    pub probe_timeout_ms: f64,
}

impl Default for Timing {
    fn default() -> Self {
        Self {
            connect_timeout_ms: 10_000.0,
            liveness_interval_ms: None,
            liveness_grace_ms: 5_000.0,
            ping_interval_ms: None,
            hidden_check_after_ms: 10_000.0,
            probe_timeout_ms: 3_000.0,
        }
    }
}

/// Longest delay a browser timer can wait: `setTimeout` and `setInterval`
/// take a signed 32-bit millisecond count, and a longer delay fires at
/// once. Options past it are refused; delays computed from what the server
/// announces are clamped to it.
pub const MAX_TIMER_MS: f64 = 2_147_483_647.0;

/// Liveness interval used when the server announces no heartbeat.
const DEFAULT_LIVENESS_INTERVAL_MS: f64 = 30_000.0;
/// Shortest ping interval the client uses.
const MIN_PING_INTERVAL_MS: f64 = 250.0;

impl Timing {
    /// Checks that every duration is finite and positive where it must be.
    pub fn validate(&self) -> Result<(), InvalidConfig> {
        let positive = |v: f64| v > 0.0 && v <= MAX_TIMER_MS;
        if !positive(self.connect_timeout_ms) {
            return Err(InvalidConfig(
                "connectTimeoutMs must be a number > 0 and ≤ 2147483647 (the longest delay a browser timer can wait)",
            ));
        }
        if !self.liveness_interval_ms.is_none_or(positive) {
            return Err(InvalidConfig(
                "livenessIntervalMs must be a number > 0 and ≤ 2147483647 (the longest delay a browser timer can wait)",
            ));
        }
        if !(0.0..=MAX_TIMER_MS).contains(&self.liveness_grace_ms) {
            return Err(InvalidConfig(
                "livenessGraceMs must be a number ≥ 0 and ≤ 2147483647 (the longest delay a browser timer can wait)",
            ));
        }
        if !self.ping_interval_ms.is_none_or(positive) {
            return Err(InvalidConfig(
                "pingIntervalMs must be a number > 0 and ≤ 2147483647 (the longest delay a browser timer can wait)",
            ));
        }
        if !(self.hidden_check_after_ms.is_finite() && self.hidden_check_after_ms >= 0.0) {
            return Err(InvalidConfig(
                "hiddenCheckAfterMs must be a finite number ≥ 0",
            ));
        }
        if !positive(self.probe_timeout_ms) {
            return Err(InvalidConfig(
                "probeTimeoutMs must be a number > 0 and ≤ 2147483647 (the longest delay a browser timer can wait)",
            ));
        }
        Ok(())
    }
}

/// Something that happened, as the state machine sees it.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// The client was created.
    Start {
        /// `navigator.onLine`.
        online: bool,
    },
    /// The socket's `open` event.
    SocketOpened,
    /// The server's `hello`.
    Hello {
        /// Its protocol version.
        protocol_version: u32,
        /// Its ping interval (0: none).
        heartbeat_interval_ms: u64,
    },
    /// Any other message from the server.
    Message,
    /// The socket's `close` event.
    SocketClosed {
        /// Close code (1006 when the connection failed).
        code: u16,
        /// Close reason.
        reason: String,
    },
    /// The socket's `error` event (a `close` follows).
    SocketError,
    /// The `getToken` option threw, rejected or returned no token: the
    /// attempt failed before a socket was opened.
    TokenFailed {
        /// What went wrong.
        message: String,
    },
    /// The connect or liveness deadline passed.
    DeadlineExpired,
    /// The backoff delay is over.
    RetryDue,
    /// `online` / `offline` events.
    NetworkChanged {
        /// `navigator.onLine`.
        online: bool,
    },
    /// The page became visible again after being hidden.
    BecameVisible {
        /// How long it was hidden.
        hidden_for_ms: f64,
    },
    /// `close()` was called.
    Close,
}

/// What the driver must do, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Open a new socket (any previous one has been dropped).
    Connect,
    /// Detach the socket's listeners and close it with this code and its
    /// [`CloseCode::reason`].
    DropSocket {
        /// Close code (1000 or 4000–4999, as browsers require).
        code: CloseCode,
    },
    /// (Re)arm the single connect/liveness deadline.
    ArmDeadline(f64),
    /// Disarm the deadline.
    ClearDeadline,
    /// Send an app-level ping every so many milliseconds.
    StartPings(f64),
    /// Stop sending pings.
    StopPings,
    /// Send one app-level ping now.
    SendPing,
    /// Fire [`Input::RetryDue`] after this many milliseconds.
    ScheduleRetry(f64),
    /// Cancel a scheduled retry.
    CancelRetry,
    /// The [`Status`] changed: tell the listeners.
    Emit,
}

/// What status listeners are told (`StatusEvent` in TypeScript).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(
    not(target_arch = "wasm32"),
    derive(ts_rs::TS),
    ts(rename = "StatusEvent")
)]
pub struct Status {
    /// The state.
    pub state: ConnectionState,
    /// Consecutive reconnect attempts since the last stable connection
    /// (0 for the first connection).
    pub attempt: u32,
    /// While reconnecting: the delay drawn before the next attempt.
    pub delay_ms: Option<f64>,
    /// While reconnecting: when the next attempt starts (the clock passed to
    /// [`Machine::handle`], `Date.now()` in the browser).
    pub next_attempt_at: Option<f64>,
    /// Code of the last close received from the server.
    pub close_code: Option<u16>,
    /// Reason of the last close received from the server.
    pub close_reason: Option<String>,
    /// Last error (timeout, socket error, give-up reason).
    pub error: Option<String>,
    /// Reconnecting, but waiting for the browser to be online again.
    pub waiting_for_network: bool,
}

/// The connection state machine.
#[derive(Debug, Clone)]
pub struct Machine {
    timing: Timing,
    backoff: Backoff,
    state: ConnectionState,
    started: bool,
    online: bool,
    opened_at: Option<f64>,
    heartbeat_ms: u64,
    delay_ms: Option<f64>,
    next_attempt_at: Option<f64>,
    close_code: Option<u16>,
    close_reason: Option<String>,
    error: Option<String>,
    waiting_for_network: bool,
}

impl Machine {
    /// A machine that has not started; feed it [`Input::Start`].
    pub fn new(backoff: BackoffConfig, timing: Timing) -> Result<Self, InvalidConfig> {
        backoff.validate()?;
        timing.validate()?;
        Ok(Self {
            timing,
            backoff: Backoff::new(backoff),
            state: ConnectionState::Connecting,
            started: false,
            online: true,
            opened_at: None,
            heartbeat_ms: 0,
            delay_ms: None,
            next_attempt_at: None,
            close_code: None,
            close_reason: None,
            error: None,
            waiting_for_network: false,
        })
    }

    /// The current state.
    pub fn state(&self) -> ConnectionState {
        self.state
    }

    /// Consecutive reconnect attempts since the last stable connection.
    pub fn attempts(&self) -> u32 {
        self.backoff.attempts()
    }

    /// The backoff in use (for its ceilings).
    pub fn backoff(&self) -> &Backoff {
        &self.backoff
    }

    /// Silence after which an open connection counts as dead.
    ///
    /// At most [`MAX_TIMER_MS`]: a server announcing a heartbeat longer than
    /// a browser timer can wait gets the longest wait there is, never an
    /// immediate expiry.
    pub fn liveness_timeout_ms(&self) -> f64 {
        (self.liveness_interval_ms() + self.timing.liveness_grace_ms).min(MAX_TIMER_MS)
    }

    fn liveness_interval_ms(&self) -> f64 {
        match (self.timing.liveness_interval_ms, self.heartbeat_ms) {
            (Some(ms), _) => ms,
            (None, 0) => DEFAULT_LIVENESS_INTERVAL_MS,
            // u64 → f64: exact up to 2^53 ms, far beyond any interval.
            (None, hb) => hb as f64,
        }
    }

    fn ping_interval_ms(&self) -> f64 {
        self.timing
            .ping_interval_ms
            .unwrap_or(self.liveness_interval_ms() / 2.0)
            .clamp(MIN_PING_INTERVAL_MS, MAX_TIMER_MS)
    }

    /// A snapshot of what status listeners see.
    pub fn status(&self) -> Status {
        Status {
            state: self.state,
            attempt: self.backoff.attempts(),
            delay_ms: self.delay_ms,
            next_attempt_at: self.next_attempt_at,
            close_code: self.close_code,
            close_reason: self.close_reason.clone(),
            error: self.error.clone(),
            waiting_for_network: self.waiting_for_network,
        }
    }

    /// Advances the machine. `now` is a millisecond clock, `random` a
    /// uniform sample from `[0, 1)` used if a backoff delay is drawn.
    pub fn handle(&mut self, input: Input, now: f64, random: f64) -> Vec<Action> {
        use ConnectionState::{Closed, Connecting, Open, Reconnecting};
        if self.state == Closed {
            return Vec::new();
        }
        match input {
            Input::Start { online } if !self.started => {
                self.started = true;
                self.online = online;
                if online {
                    self.connect()
                } else {
                    self.wait_for_network()
                }
            }
            Input::Start { .. } | Input::SocketOpened => Vec::new(),
            Input::Hello {
                protocol_version,
                heartbeat_interval_ms,
            } if self.state == Connecting => {
                if protocol_version != PROTOCOL_VERSION {
                    self.error = Some(format!(
                        "server speaks protocol version {protocol_version}, \
                         this client version {PROTOCOL_VERSION}"
                    ));
                    let mut actions = vec![Action::DropSocket {
                        code: CloseCode::PROTOCOL_MISMATCH,
                    }];
                    actions.extend(self.stop());
                    return actions;
                }
                self.state = Open;
                self.opened_at = Some(now);
                self.heartbeat_ms = heartbeat_interval_ms;
                self.error = None;
                vec![
                    Action::ArmDeadline(self.liveness_timeout_ms()),
                    Action::StartPings(self.ping_interval_ms()),
                    Action::Emit,
                ]
            }
            Input::Hello { .. } | Input::Message if self.state == Open => {
                vec![Action::ArmDeadline(self.liveness_timeout_ms())]
            }
            Input::Hello { .. } | Input::Message => Vec::new(),
            Input::SocketClosed { code, reason } if matches!(self.state, Connecting | Open) => {
                if code == CloseCode::TOKEN_EXPIRED.as_u16() {
                    self.error = Some("token expired: reconnecting with a fresh token".to_owned());
                }
                let going_away = code == CloseCode::GOING_AWAY.as_u16();
                let spread_ms = if going_away {
                    reconnect_spread_ms(&reason)
                } else {
                    None
                };
                self.close_code = Some(code);
                self.close_reason = Some(reason);
                self.lost(
                    now,
                    random,
                    going_away.then_some(spread_ms),
                    CloseCode::NORMAL,
                )
            }
            Input::TokenFailed { message } if self.state == Connecting => {
                // Backs off like any failed attempt: a broken token
                // endpoint is never called in a tight loop.
                self.error = Some(format!("getToken failed: {message}"));
                self.close_code = None;
                self.close_reason = None;
                self.lost(now, random, None, CloseCode::NORMAL)
            }
            Input::SocketError if matches!(self.state, Connecting | Open) => {
                self.error = Some("WebSocket error".to_owned());
                Vec::new()
            }
            Input::DeadlineExpired if self.state == Connecting => {
                self.error = Some(format!(
                    "connect timeout: no hello within {} ms",
                    whole_ms(self.timing.connect_timeout_ms)
                ));
                self.lost(now, random, None, CloseCode::CONNECT_TIMEOUT)
            }
            Input::DeadlineExpired if self.state == Open => {
                self.error = Some(format!(
                    "liveness timeout: no message within {} ms",
                    whole_ms(self.liveness_timeout_ms())
                ));
                self.lost(now, random, None, CloseCode::LIVENESS_TIMEOUT)
            }
            Input::RetryDue if self.state == Reconnecting && !self.waiting_for_network => {
                self.connect()
            }
            Input::NetworkChanged { online } => {
                self.online = online;
                match (online, self.state, self.waiting_for_network) {
                    (false, Reconnecting, false) => {
                        // The attempt that was scheduled is not made.
                        self.backoff.forget_one();
                        let mut actions = vec![Action::CancelRetry];
                        actions.extend(self.wait_for_network());
                        actions
                    }
                    (true, Reconnecting, true) => match self.backoff.next_delay(random) {
                        Some(_) => self.connect(),
                        None => self.give_up(),
                    },
                    _ => Vec::new(),
                }
            }
            Input::BecameVisible { hidden_for_ms }
                if hidden_for_ms >= self.timing.hidden_check_after_ms =>
            {
                match self.state {
                    Open => vec![
                        Action::SendPing,
                        Action::ArmDeadline(self.timing.probe_timeout_ms),
                    ],
                    Reconnecting if !self.waiting_for_network => {
                        let mut actions = vec![Action::CancelRetry];
                        actions.extend(self.connect());
                        actions
                    }
                    _ => Vec::new(),
                }
            }
            Input::Close => {
                let mut actions = vec![Action::DropSocket {
                    code: CloseCode::NORMAL,
                }];
                actions.extend(self.stop());
                actions
            }
            Input::SocketClosed { .. }
            | Input::TokenFailed { .. }
            | Input::SocketError
            | Input::DeadlineExpired
            | Input::RetryDue
            | Input::BecameVisible { .. } => Vec::new(),
        }
    }

    /// Enters `state` with no retry scheduled.
    fn enter(&mut self, state: ConnectionState, waiting_for_network: bool) {
        self.state = state;
        self.delay_ms = None;
        self.next_attempt_at = None;
        self.waiting_for_network = waiting_for_network;
    }

    fn connect(&mut self) -> Vec<Action> {
        self.enter(ConnectionState::Connecting, false);
        vec![
            Action::Connect,
            Action::ArmDeadline(self.timing.connect_timeout_ms),
            Action::Emit,
        ]
    }

    fn wait_for_network(&mut self) -> Vec<Action> {
        self.enter(ConnectionState::Reconnecting, true);
        vec![Action::Emit]
    }

    /// The current socket is gone (or given up on): schedule the next try.
    /// `going_away` is `Some` after the server's 1001, with the reconnect
    /// spread its reason carried, if any.
    fn lost(
        &mut self,
        now: f64,
        random: f64,
        going_away: Option<Option<u64>>,
        code: CloseCode,
    ) -> Vec<Action> {
        let mut actions = vec![
            Action::ClearDeadline,
            Action::StopPings,
            Action::DropSocket { code },
        ];
        if let Some(opened_at) = self.opened_at.take() {
            self.backoff.reset_if_stable(opened_at, now);
        }
        if going_away.is_some() {
            // A restarting server: come back promptly, but still spread
            // over the first jitter window.
            self.backoff.reset();
        }
        if !self.online {
            actions.extend(self.wait_for_network());
            return actions;
        }
        match self.backoff.next_delay(random) {
            Some(backoff_delay) => {
                // The server sized the spread so that its clients, each
                // drawing uniformly from it, come back no faster than it
                // accepts: that draw replaces the first window's.
                let delay = match going_away {
                    // u64 → f64: exact up to 2^53 ms.
                    Some(Some(spread_ms)) => (random * spread_ms as f64).min(MAX_TIMER_MS),
                    _ => backoff_delay,
                };
                self.state = ConnectionState::Reconnecting;
                self.delay_ms = Some(delay);
                self.next_attempt_at = Some(now + delay);
                actions.push(Action::ScheduleRetry(delay));
                actions.push(Action::Emit);
            }
            None => actions.extend(self.give_up()),
        }
        actions
    }

    fn give_up(&mut self) -> Vec<Action> {
        self.error = Some(format!(
            "gave up after {} reconnect attempts",
            self.backoff.attempts()
        ));
        self.stop()
    }

    fn stop(&mut self) -> Vec<Action> {
        self.enter(ConnectionState::Closed, false);
        vec![
            Action::CancelRetry,
            Action::ClearDeadline,
            Action::StopPings,
            Action::Emit,
        ]
    }
}

/// The servers a client may connect to, tried in turn: the first attempt
/// goes to one drawn at random (so clients spread over the edges), every
/// later attempt to the next one (a server that failed or went away is
/// not tried again before the others). With one URL, always that one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerList {
    urls: Vec<String>,
    next: usize,
}

impl ServerList {
    /// `urls` (at least one), starting at the one `random` (in `[0, 1)`)
    /// picks.
    pub fn new(urls: Vec<String>, random: f64) -> Self {
        let n = urls.len().max(1);
        // Truncation is the point: [0, 1) onto 0..n.
        let next = ((random.clamp(0.0, 1.0) * n as f64) as usize).min(n - 1);
        Self { urls, next }
    }

    /// The URL for the next connect attempt; the one after it is next.
    pub fn next_url(&mut self) -> &str {
        let i = self.next;
        self.next = (i + 1) % self.urls.len().max(1);
        self.urls.get(i).map_or("", String::as_str)
    }

    /// The URL of the last attempt.
    pub fn current(&self) -> &str {
        let n = self.urls.len().max(1);
        self.urls
            .get((self.next + n - 1) % n)
            .map_or("", String::as_str)
    }
}

/// A validated delay (finite, 0 ..= [`MAX_TIMER_MS`]) as whole
/// milliseconds for a message: an integer is printed without the float
/// formatting machinery, which would otherwise be compiled into the `.wasm`.
fn whole_ms(ms: f64) -> u64 {
    // In range by validation; the cast saturates anyway.
    ms.round() as u64
}

/// `url` with its `token` query parameter set to `encoded_token` (already
/// URI-encoded), replacing any `token` the URL carried.
pub fn url_with_token(url: &str, encoded_token: &str) -> String {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut params: Vec<&str> = query
        .split('&')
        .filter(|p| !p.is_empty() && *p != "token" && !p.starts_with("token="))
        .collect();
    let token = format!("token={encoded_token}");
    params.push(&token);
    format!("{base}?{}", params.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test;
    use Action::*;

    fn urls(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("ws://edge{i}/ws/market")).collect()
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn servers_are_tried_in_turn_from_a_random_start() {
        let mut list = ServerList::new(urls(3), 0.5);
        assert_eq!(list.next_url(), "ws://edge1/ws/market");
        assert_eq!(list.current(), "ws://edge1/ws/market");
        assert_eq!(list.next_url(), "ws://edge2/ws/market");
        assert_eq!(list.next_url(), "ws://edge0/ws/market");
        assert_eq!(list.next_url(), "ws://edge1/ws/market");
        assert_eq!(
            ServerList::new(urls(3), 0.0).next_url(),
            "ws://edge0/ws/market"
        );
        assert_eq!(
            ServerList::new(urls(3), 0.999_999).next_url(),
            "ws://edge2/ws/market"
        );
        let mut one = ServerList::new(urls(1), 0.7);
        assert_eq!(one.next_url(), "ws://edge0/ws/market");
        assert_eq!(one.next_url(), "ws://edge0/ws/market");
    }

    fn machine() -> Machine {
        Machine::new(BackoffConfig::default(), Timing::default()).expect("valid defaults")
    }

    fn hello(hb: u64) -> Input {
        Input::Hello {
            protocol_version: PROTOCOL_VERSION,
            heartbeat_interval_ms: hb,
        }
    }

    fn closed(code: u16) -> Input {
        Input::SocketClosed {
            code,
            reason: String::new(),
        }
    }

    fn open_machine(now: f64) -> Machine {
        let mut m = machine();
        m.handle(Input::Start { online: true }, 0.0, 0.5);
        m.handle(hello(1_000), now, 0.5);
        m
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn start_connects_then_hello_opens() {
        let mut m = machine();
        assert_eq!(
            m.handle(Input::Start { online: true }, 0.0, 0.5),
            [Connect, ArmDeadline(10_000.0), Emit]
        );
        assert_eq!(m.state(), ConnectionState::Connecting);
        assert!(m.handle(Input::SocketOpened, 1.0, 0.5).is_empty());
        assert_eq!(
            m.handle(hello(1_000), 2.0, 0.5),
            [ArmDeadline(6_000.0), StartPings(500.0), Emit]
        );
        assert_eq!(m.state(), ConnectionState::Open);
        assert_eq!(m.handle(Input::Message, 3.0, 0.5), [ArmDeadline(6_000.0)]);
        // A second Start is ignored.
        assert!(m.handle(Input::Start { online: true }, 4.0, 0.5).is_empty());
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn zero_heartbeat_falls_back_to_default_liveness() {
        let mut m = machine();
        m.handle(Input::Start { online: true }, 0.0, 0.5);
        m.handle(hello(0), 0.0, 0.5);
        assert_eq!(m.liveness_timeout_ms(), 35_000.0);
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn abnormal_closes_back_off_exponentially_with_jitter() {
        let mut m = open_machine(0.0);
        let mut ceilings = Vec::new();
        let mut now = 100.0;
        for n in 0..6 {
            let actions = m.handle(closed(1006), now, 0.999);
            let delay = actions
                .iter()
                .find_map(|a| match a {
                    ScheduleRetry(d) => Some(*d),
                    _ => None,
                })
                .expect("a retry is scheduled");
            let ceiling = m.backoff().ceiling(n);
            assert!(
                delay <= ceiling && delay > ceiling * 0.99,
                "{delay} {ceiling}"
            );
            ceilings.push(ceiling);
            let status = m.status();
            assert_eq!(status.state, ConnectionState::Reconnecting);
            assert_eq!(status.attempt, n + 1);
            assert_eq!(status.delay_ms, Some(delay));
            assert_eq!(status.next_attempt_at, Some(now + delay));
            assert_eq!(status.close_code, Some(1006));
            now += delay;
            assert_eq!(
                m.handle(Input::RetryDue, now, 0.5),
                [Connect, ArmDeadline(10_000.0), Emit]
            );
        }
        assert!(ceilings.windows(2).all(|w| w[0] < w[1]));
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn a_stable_connection_resets_the_backoff() {
        let mut m = open_machine(0.0);
        for _ in 0..3 {
            m.handle(closed(1006), 1.0, 0.5);
            m.handle(Input::RetryDue, 2.0, 0.5);
        }
        assert_eq!(m.attempts(), 3);
        m.handle(hello(1_000), 10.0, 0.5);
        // Up for 5 s only: the count carries on.
        m.handle(closed(1006), 5_010.0, 0.5);
        assert_eq!(m.attempts(), 4);
        m.handle(Input::RetryDue, 6_000.0, 0.5);
        m.handle(hello(1_000), 6_000.0, 0.5);
        // Up for 10 s: reset, then this loss is attempt 1.
        m.handle(closed(1006), 16_000.0, 0.5);
        assert_eq!(m.attempts(), 1);
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn going_away_reconnects_promptly_but_jittered() {
        let mut m = open_machine(0.0);
        for _ in 0..5 {
            m.handle(closed(1006), 1.0, 0.5);
            m.handle(Input::RetryDue, 2.0, 0.5);
        }
        m.handle(hello(1_000), 3.0, 0.5);
        let actions = m.handle(closed(CloseCode::GOING_AWAY.as_u16()), 4.0, 0.6);
        assert!(actions.contains(&ScheduleRetry(300.0)), "{actions:?}");
        assert_eq!(m.attempts(), 1);
        let actions = m.handle(closed(CloseCode::GOING_AWAY.as_u16()), 4.0, 0.0);
        assert!(actions.is_empty(), "a stale close is ignored: {actions:?}");
    }

    fn closed_with(code: u16, reason: &str) -> Input {
        Input::SocketClosed {
            code,
            reason: reason.to_owned(),
        }
    }

    fn retry_delay(actions: &[Action]) -> f64 {
        actions
            .iter()
            .find_map(|a| match a {
                ScheduleRetry(d) => Some(*d),
                _ => None,
            })
            .expect("a retry is scheduled")
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn going_away_with_a_spread_draws_the_first_delay_uniformly_from_it() {
        let reason = marketfeed_protocol::close::going_away_reason(20_000);
        for (random, want) in [
            (0.0, 0.0),
            (0.25, 5_000.0),
            (0.5, 10_000.0),
            (0.999, 19_980.0),
        ] {
            let mut m = open_machine(0.0);
            // Earlier failures do not lengthen it: the spread is the server's.
            let actions = m.handle(closed_with(1001, &reason), 50_000.0, random);
            let delay = retry_delay(&actions);
            assert!((delay - want).abs() < 1e-6, "{random}: {delay}");
            let status = m.status();
            assert_eq!(status.state, ConnectionState::Reconnecting);
            assert_eq!(status.delay_ms, Some(delay));
            assert_eq!(status.next_attempt_at, Some(50_000.0 + delay));
            assert_eq!(status.close_reason.as_deref(), Some(reason.as_str()));
            assert_eq!(m.attempts(), 1);
        }
        // Far beyond the backoff's first window (1 s by default).
        assert!(BackoffConfig::default().initial_ms < 20_000.0 * 0.5);
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn a_failed_attempt_after_the_spread_backs_off_as_usual() {
        let mut m = open_machine(0.0);
        let reason = marketfeed_protocol::close::going_away_reason(60_000);
        m.handle(closed_with(1001, &reason), 1.0, 0.5);
        m.handle(Input::RetryDue, 30_001.0, 0.5);
        // The restarted node refuses: the second delay is the backoff's.
        let delay = retry_delay(&m.handle(closed(1006), 30_002.0, 0.999));
        let ceiling = m.backoff().ceiling(1);
        assert!(
            delay <= ceiling && delay > ceiling * 0.99,
            "{delay} {ceiling}"
        );
        assert_eq!(m.attempts(), 2);
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn a_spread_on_another_code_or_a_malformed_one_is_ignored() {
        for (code, reason) in [
            (4000, "going away; reconnect-spread=20000ms"),
            (1006, "going away; reconnect-spread=20000ms"),
            (1001, "going away; reconnect-spread=20000"),
            (1001, "going away"),
        ] {
            let mut m = open_machine(0.0);
            let delay = retry_delay(&m.handle(closed_with(code, reason), 1.0, 0.999));
            let ceiling = m.backoff().ceiling(0);
            assert!(delay <= ceiling, "{code} {reason}: {delay} > {ceiling}");
        }
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn silence_triggers_a_liveness_reconnect() {
        let mut m = open_machine(0.0);
        let actions = m.handle(Input::DeadlineExpired, 6_000.0, 0.5);
        assert_eq!(
            actions,
            [
                ClearDeadline,
                StopPings,
                DropSocket {
                    code: CloseCode::LIVENESS_TIMEOUT,
                },
                ScheduleRetry(250.0),
                Emit
            ]
        );
        let status = m.status();
        assert_eq!(status.state, ConnectionState::Reconnecting);
        assert!(status.error.unwrap_or_default().contains("liveness"));
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn a_stalled_handshake_times_out() {
        let mut m = machine();
        m.handle(Input::Start { online: true }, 0.0, 0.5);
        let actions = m.handle(Input::DeadlineExpired, 10_000.0, 0.5);
        assert!(actions.contains(&DropSocket {
            code: CloseCode::CONNECT_TIMEOUT,
        }));
        assert_eq!(m.state(), ConnectionState::Reconnecting);
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn close_stops_everything_for_good() {
        let mut m = open_machine(0.0);
        let actions = m.handle(Input::Close, 1.0, 0.5);
        assert_eq!(
            actions,
            [
                DropSocket {
                    code: CloseCode::NORMAL,
                },
                CancelRetry,
                ClearDeadline,
                StopPings,
                Emit
            ]
        );
        assert_eq!(m.state(), ConnectionState::Closed);
        for input in [
            closed(1006),
            Input::RetryDue,
            Input::DeadlineExpired,
            Input::NetworkChanged { online: true },
            Input::Close,
        ] {
            assert!(m.handle(input, 2.0, 0.5).is_empty());
        }
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn max_attempts_gives_up() {
        let mut m = Machine::new(
            BackoffConfig {
                max_attempts: Some(2),
                ..BackoffConfig::default()
            },
            Timing::default(),
        )
        .expect("valid");
        m.handle(Input::Start { online: true }, 0.0, 0.5);
        m.handle(closed(1006), 1.0, 0.5);
        m.handle(Input::RetryDue, 2.0, 0.5);
        m.handle(closed(1006), 3.0, 0.5);
        m.handle(Input::RetryDue, 4.0, 0.5);
        let actions = m.handle(closed(1006), 5.0, 0.5);
        assert!(!actions.iter().any(|a| matches!(a, ScheduleRetry(_))));
        let status = m.status();
        assert_eq!(status.state, ConnectionState::Closed);
        assert!(status.error.unwrap_or_default().contains("gave up after 2"));
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn offline_waits_instead_of_burning_attempts() {
        let mut m = open_machine(0.0);
        m.handle(Input::NetworkChanged { online: false }, 1.0, 0.5);
        assert_eq!(m.state(), ConnectionState::Open, "an open link is kept");
        let actions = m.handle(closed(1006), 2.0, 0.5);
        assert!(!actions.iter().any(|a| matches!(a, ScheduleRetry(_))));
        assert!(m.status().waiting_for_network);
        assert_eq!(m.attempts(), 0);
        assert!(m.handle(Input::RetryDue, 3.0, 0.5).is_empty());
        assert_eq!(
            m.handle(Input::NetworkChanged { online: true }, 4.0, 0.5),
            [Connect, ArmDeadline(10_000.0), Emit]
        );
        assert_eq!(m.attempts(), 1);
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn going_offline_cancels_a_scheduled_retry() {
        let mut m = open_machine(0.0);
        m.handle(closed(1006), 1.0, 0.5);
        assert_eq!(m.attempts(), 1);
        assert_eq!(
            m.handle(Input::NetworkChanged { online: false }, 2.0, 0.5),
            [CancelRetry, Emit]
        );
        assert_eq!(m.attempts(), 0);
        m.handle(Input::NetworkChanged { online: true }, 3.0, 0.5);
        assert_eq!(m.state(), ConnectionState::Connecting);
        assert_eq!(m.attempts(), 1);
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn starting_offline_waits_for_the_network() {
        let mut m = machine();
        assert_eq!(m.handle(Input::Start { online: false }, 0.0, 0.5), [Emit]);
        assert_eq!(m.state(), ConnectionState::Reconnecting);
        assert_eq!(
            m.handle(Input::NetworkChanged { online: true }, 1.0, 0.5),
            [Connect, ArmDeadline(10_000.0), Emit]
        );
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn showing_a_long_hidden_tab_probes_the_link() {
        let mut m = open_machine(0.0);
        assert!(m
            .handle(
                Input::BecameVisible {
                    hidden_for_ms: 500.0
                },
                1.0,
                0.5
            )
            .is_empty());
        assert_eq!(
            m.handle(
                Input::BecameVisible {
                    hidden_for_ms: 60_000.0
                },
                2.0,
                0.5
            ),
            [SendPing, ArmDeadline(3_000.0)]
        );
        // Reconnecting with a (throttled) timer: try at once.
        m.handle(closed(1006), 3.0, 0.5);
        assert_eq!(
            m.handle(
                Input::BecameVisible {
                    hidden_for_ms: 60_000.0
                },
                4.0,
                0.5
            ),
            [CancelRetry, Connect, ArmDeadline(10_000.0), Emit]
        );
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn another_protocol_version_is_fatal() {
        let mut m = machine();
        m.handle(Input::Start { online: true }, 0.0, 0.5);
        let actions = m.handle(
            Input::Hello {
                protocol_version: PROTOCOL_VERSION + 1,
                heartbeat_interval_ms: 1_000,
            },
            1.0,
            0.5,
        );
        assert_eq!(
            actions[0],
            DropSocket {
                code: CloseCode::PROTOCOL_MISMATCH,
            }
        );
        assert_eq!(m.state(), ConnectionState::Closed);
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn a_failing_token_source_backs_off_and_says_why() {
        let mut m = machine();
        m.handle(Input::Start { online: true }, 0.0, 0.5);
        let mut now = 0.0;
        let mut delays = Vec::new();
        for n in 0..5 {
            let actions = m.handle(
                Input::TokenFailed {
                    message: "401 from /token".to_owned(),
                },
                now,
                0.999,
            );
            let delay = actions
                .iter()
                .find_map(|a| match a {
                    ScheduleRetry(d) => Some(*d),
                    _ => None,
                })
                .expect("a retry is scheduled, not an immediate reconnect");
            let status = m.status();
            assert_eq!(status.state, ConnectionState::Reconnecting);
            assert_eq!(status.attempt, n + 1);
            assert_eq!(
                status.error.as_deref(),
                Some("getToken failed: 401 from /token")
            );
            delays.push(delay);
            now += delay;
            m.handle(Input::RetryDue, now, 0.5);
        }
        assert!(delays.windows(2).all(|w| w[0] < w[1]), "{delays:?}");
        // Late results of an old attempt change nothing once open.
        m.handle(hello(1_000), now, 0.5);
        assert!(m
            .handle(
                Input::TokenFailed {
                    message: "late".to_owned()
                },
                now,
                0.5
            )
            .is_empty());
        assert_eq!(m.state(), ConnectionState::Open);
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn token_expiry_close_is_surfaced_and_retried_promptly() {
        let mut m = open_machine(0.0);
        // Open for an hour (a stable connection), then the token expires.
        let actions = m.handle(
            Input::SocketClosed {
                code: CloseCode::TOKEN_EXPIRED.as_u16(),
                reason: "token expired".to_owned(),
            },
            3_600_000.0,
            0.5,
        );
        let status = m.status();
        assert_eq!(status.close_code, Some(4001));
        assert_eq!(status.close_reason.as_deref(), Some("token expired"));
        assert!(status
            .error
            .as_deref()
            .is_some_and(|e| e.contains("token expired")));
        let delay = actions
            .iter()
            .find_map(|a| match a {
                ScheduleRetry(d) => Some(*d),
                _ => None,
            })
            .expect("a retry is scheduled");
        assert!(delay <= m.backoff().ceiling(0), "{delay}");
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn token_goes_in_the_query_once() {
        assert_eq!(
            url_with_token("ws://h/ws/market", "a.b.c"),
            "ws://h/ws/market?token=a.b.c"
        );
        assert_eq!(
            url_with_token("wss://h/ws/market?x=1&token=old&y=2", "new"),
            "wss://h/ws/market?x=1&y=2&token=new"
        );
        assert_eq!(url_with_token("ws://h/?", "t"), "ws://h/?token=t");
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn invalid_timing_is_rejected() {
        let bad = Timing {
            connect_timeout_ms: 0.0,
            ..Timing::default()
        };
        assert!(Machine::new(BackoffConfig::default(), bad).is_err());
        let bad = Timing {
            ping_interval_ms: Some(f64::INFINITY),
            ..Timing::default()
        };
        assert!(Machine::new(BackoffConfig::default(), bad).is_err());
    }

    /// Longest delay `setTimeout` / `setInterval` can wait (a signed 32-bit
    /// millisecond count); anything longer fires at once.
    const BROWSER_TIMER_MAX_MS: f64 = 2_147_483_647.0;

    fn timer_delays(actions: &[Action]) -> Vec<f64> {
        actions
            .iter()
            .filter_map(|a| match a {
                ArmDeadline(ms) | StartPings(ms) | ScheduleRetry(ms) => Some(*ms),
                _ => None,
            })
            .collect()
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn a_huge_announced_heartbeat_never_arms_an_unschedulable_timer() {
        // `--heartbeat-interval 25d`: 2.16e9 ms, past what a timer can wait.
        let mut m = machine();
        m.handle(Input::Start { online: true }, 0.0, 0.5);
        let actions = m.handle(hello(25 * 24 * 3_600_000), 1.0, 0.5);
        let delays = timer_delays(&actions);
        assert_eq!(delays.len(), 2, "{actions:?}");
        for ms in delays {
            assert!(
                ms > 0.0 && ms <= BROWSER_TIMER_MAX_MS,
                "{ms} ms cannot be scheduled: {actions:?}"
            );
        }
        // Messages re-arm the deadline with the same bound.
        for ms in timer_delays(&m.handle(Input::Message, 2.0, 0.5)) {
            assert!(ms <= BROWSER_TIMER_MAX_MS, "{ms}");
        }
        assert_eq!(m.state(), ConnectionState::Open);
        // The largest heartbeat a u64 can announce is bounded too.
        let mut m = machine();
        m.handle(Input::Start { online: true }, 0.0, 0.5);
        for ms in timer_delays(&m.handle(hello(u64::MAX), 1.0, 0.5)) {
            assert!(ms > 0.0 && ms <= BROWSER_TIMER_MAX_MS, "{ms}");
        }
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn options_a_browser_timer_cannot_wait_are_rejected_by_name() {
        let too_long = BROWSER_TIMER_MAX_MS + 1.0;
        let timings: [(&str, Timing); 5] = [
            (
                "connectTimeoutMs",
                Timing {
                    connect_timeout_ms: too_long,
                    ..Timing::default()
                },
            ),
            (
                "livenessIntervalMs",
                Timing {
                    liveness_interval_ms: Some(too_long),
                    ..Timing::default()
                },
            ),
            (
                "livenessGraceMs",
                Timing {
                    liveness_grace_ms: too_long,
                    ..Timing::default()
                },
            ),
            (
                "pingIntervalMs",
                Timing {
                    ping_interval_ms: Some(too_long),
                    ..Timing::default()
                },
            ),
            (
                "probeTimeoutMs",
                Timing {
                    probe_timeout_ms: too_long,
                    ..Timing::default()
                },
            ),
        ];
        for (name, timing) in timings {
            let err = Machine::new(BackoffConfig::default(), timing)
                .expect_err(name)
                .to_string();
            assert!(err.contains(name) && err.contains("2147483647"), "{err}");
        }
        for (name, backoff) in [
            (
                "initialDelayMs",
                BackoffConfig {
                    initial_ms: too_long,
                    max_ms: too_long,
                    ..BackoffConfig::default()
                },
            ),
            (
                "maxDelayMs",
                BackoffConfig {
                    max_ms: too_long,
                    ..BackoffConfig::default()
                },
            ),
        ] {
            let err = Machine::new(backoff, Timing::default())
                .expect_err(name)
                .to_string();
            assert!(err.contains(name) && err.contains("2147483647"), "{err}");
        }
        // The longest schedulable delay itself is fine, and a liveness
        // interval plus grace past the limit is clamped, not refused.
        let longest = Timing {
            connect_timeout_ms: BROWSER_TIMER_MAX_MS,
            liveness_interval_ms: Some(BROWSER_TIMER_MAX_MS),
            liveness_grace_ms: BROWSER_TIMER_MAX_MS,
            ping_interval_ms: Some(BROWSER_TIMER_MAX_MS),
            hidden_check_after_ms: 10_000.0,
            probe_timeout_ms: BROWSER_TIMER_MAX_MS,
        };
        let mut m = Machine::new(BackoffConfig::default(), longest).expect("schedulable");
        m.handle(Input::Start { online: true }, 0.0, 0.5);
        for ms in timer_delays(&m.handle(hello(1_000), 1.0, 0.5)) {
            assert!(ms <= BROWSER_TIMER_MAX_MS, "{ms}");
        }
    }
}
