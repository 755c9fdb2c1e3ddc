//! The `#[wasm_bindgen]` `MarketClient` class: the JS surface (camelCase
//! names, errors thrown as JS errors) over the driver in `driver.rs`.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

use js_sys::{Function, Object};
use wasm_bindgen::prelude::*;

use crate::connection::ServerList;
use crate::connection::{Input, Machine};
use crate::driver::{dispatch, online, page_listeners, Inner, Listeners, Shared};
use crate::gaps::GapTracker;
use crate::js::status_object;
use crate::options::{
    format_option, parse_options, symbol_list, symbols_option, token_option, urls_argument,
};
use crate::state::Feed;

// The wire types, generated from marketfeed-protocol by tests/typescript.rs.
#[wasm_bindgen(typescript_custom_section)]
const TS_PROTOCOL_TYPES: &str = include_str!("protocol.d.ts");

// The event types, generated from connection.rs and gaps.rs.
#[wasm_bindgen(typescript_custom_section)]
const TS_EVENT_TYPES: &str = include_str!("events.d.ts");

// The constructor's options, generated from option_names.rs.
#[wasm_bindgen(typescript_custom_section)]
const TS_OPTION_TYPES: &str = include_str!("options.d.ts");

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

#[wasm_bindgen]
impl MarketClient {
    /// Starts connecting to `url` (absolute `ws://` or `wss://`), or to one
    /// of several: given an array (the edges of one publisher), the first
    /// attempt goes to one drawn at random and each reconnect to the next.
    ///
    /// Throws when a URL or an option is invalid.
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(unchecked_param_type = "string | string[]")] url: JsValue,
        options: Option<MarketClientOptions>,
    ) -> Result<MarketClient, JsError> {
        let urls = ServerList::new(urls_argument(&url)?, js_sys::Math::random());
        let options: JsValue = options.map_or(JsValue::UNDEFINED, Into::into);
        let (backoff, timing) = parse_options(&options)?;
        let token = token_option(&options)?;
        let feed = Feed::new(format_option(&options)?, symbols_option(&options)?);
        let machine = Machine::new(backoff, timing).map_err(|e| JsError::new(&e.to_string()))?;
        let shared = Rc::new(Shared {
            inner: RefCell::new(Inner {
                urls,
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
                feed,
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

    /// Calls `listener` with each quote that changed in a tick (a keyframe
    /// reports the quotes that differ from the state before it), before
    /// the tick's `onSnapshot` listeners.
    #[wasm_bindgen(js_name = onQuote)]
    pub fn on_quote(
        &self,
        #[wasm_bindgen(unchecked_param_type = "(quote: Quote) => void")] listener: Function,
    ) {
        self.shared.listeners.borrow_mut().quote.push(listener);
    }

    /// Calls `listener` with the server's `subscribed` answer (the whole
    /// current set) to every subscription change, including the one the
    /// client repeats after a reconnect.
    #[wasm_bindgen(js_name = onSubscribed)]
    pub fn on_subscribed(
        &self,
        #[wasm_bindgen(unchecked_param_type = "(subscribed: Subscribed) => void")]
        listener: Function,
    ) {
        self.shared.listeners.borrow_mut().subscribed.push(listener);
    }

    /// Adds `symbols` to the set of quotes received (the first call narrows
    /// "every symbol" to those named). Kept across reconnects. An unknown
    /// symbol is refused by the server (`onServerError`, code
    /// `unknownSymbol`) and leaves the set as it was.
    ///
    /// Throws unless `symbols` is an array of strings.
    pub fn subscribe(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string[]")] symbols: JsValue,
    ) -> Result<(), JsError> {
        let symbols = symbol_list(&symbols, "subscribe(symbols)")?;
        let mut inner = self.shared.inner.borrow_mut();
        let message = inner.feed.subscribe(&symbols);
        inner.send(&message);
        Ok(())
    }

    /// Removes `symbols` from the set of quotes received. Kept across
    /// reconnects.
    ///
    /// Throws unless `symbols` is an array of strings.
    pub fn unsubscribe(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string[]")] symbols: JsValue,
    ) -> Result<(), JsError> {
        let symbols = symbol_list(&symbols, "unsubscribe(symbols)")?;
        let mut inner = self.shared.inner.borrow_mut();
        let message = inner.feed.unsubscribe(&symbols);
        inner.send(&message);
        Ok(())
    }

    /// The symbols asked for (as the server last confirmed them, or as
    /// requested while not connected); `undefined` for every symbol.
    #[wasm_bindgen(getter, unchecked_return_type = "string[] | undefined")]
    pub fn symbols(&self) -> JsValue {
        match self.shared.inner.borrow().feed.symbols() {
            Some(s) => s
                .into_iter()
                .map(JsValue::from)
                .collect::<js_sys::Array>()
                .into(),
            None => JsValue::UNDEFINED,
        }
    }

    /// The `format` option in effect: `"binary"`, `"json"` or `"full-json"`.
    #[wasm_bindgen(
        getter,
        unchecked_return_type = "\"binary\" | \"json\" | \"full-json\""
    )]
    pub fn format(&self) -> String {
        let format = self.shared.inner.borrow().feed.format;
        crate::option_names::FORMATS
            .iter()
            .find(|(_, p)| *p == format)
            .map_or("binary", |(n, _)| n)
            .to_owned()
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

/// Rust-only hooks for the browser tests (not part of the JS API).
impl MarketClient {
    /// Drops the next delta as if the network had lost it: the one after
    /// it does not fit, so the client asks for a keyframe (fault injection).
    #[doc(hidden)]
    pub fn drop_next_delta(&self) {
        self.shared.inner.borrow_mut().feed.drop_next_delta();
    }
}
