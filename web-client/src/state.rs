//! The market state of a connection, whatever its format, and the
//! subscription the client keeps for the app.
//!
//! * `marketfeed.v1.json`: every snapshot is the whole state; it is handed
//!   on as `JSON.parse` made it (see `messages.rs`).
//! * `marketfeed.v2.json` / `marketfeed.v2.bin`: a keyframe sets the state,
//!   each delta is applied to it with [`marketfeed_protocol::apply`]. The
//!   Rust [`MarketSnapshot`] is the truth; beside it the client keeps the JS
//!   objects of its quotes, so a delta converts only the quotes it changed
//!   and the new snapshot object shares the others with the previous one
//!   (snapshots already handed out are never mutated). A delta whose `base`
//!   is not the state's `seq` sends `{"type":"resync"}`; deltas are ignored
//!   until the keyframe that answers it.
//!
//! Whatever the format, listeners get the same objects: the snapshot in the
//! shape of the v1 wire message, and each quote that changed in the tick.

use js_sys::{Array, Object, Reflect, JSON};
use marketfeed_protocol::{
    apply, ClientMessage, Delta, ForeignFlow, IndexQuote, MarketSnapshot, Quote, Subprotocol,
    TradingPhase,
};
use serde::Serialize;
use wasm_bindgen::{JsCast, JsValue};

use crate::driver::{Event, Inner};
use crate::js::get;
use crate::messages::observe_seq;

/// The symbols the app asked for, resent after every `hello`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Wanted {
    /// Every symbol (a connection's default): nothing to send.
    All,
    /// Exactly these.
    Only(Vec<String>),
    /// Every symbol but these (an `unsubscribe` before any set was known).
    AllExcept(Vec<String>),
}

/// Per-client feed state (see the module doc).
pub(crate) struct Feed {
    /// The format this client offers.
    pub(crate) format: Subprotocol,
    /// v2: the current state (kept across a reconnect, to tell which
    /// quotes the next keyframe changed).
    state: Option<MarketSnapshot>,
    /// v2: the JS object of each quote of the state, in order.
    quotes_js: Array,
    /// `marketfeed.v2.json`: the `seq` of the state (kept as JS objects).
    json_seq: Option<u64>,
    /// v2: deltas are ignored until the next keyframe.
    awaiting_keyframe: bool,
    /// Test hook: the next delta is dropped as if the network lost it.
    drop_next_delta: bool,
    /// What the app asked for.
    pub(crate) wanted: Wanted,
    /// The last set the server confirmed (`subscribed`) on this connection.
    confirmed: Option<Vec<String>>,
    /// The symbols of the last `hello`.
    universe: Vec<String>,
}

impl Feed {
    pub(crate) fn new(format: Subprotocol, symbols: Option<Vec<String>>) -> Self {
        Self {
            format,
            state: None,
            quotes_js: Array::new(),
            json_seq: None,
            awaiting_keyframe: true,
            drop_next_delta: false,
            wanted: symbols.map_or(Wanted::All, |s| Wanted::Only(dedup(s))),
            confirmed: None,
            universe: Vec::new(),
        }
    }

    /// A new connection starts: its first market message is a keyframe.
    pub(crate) fn reset(&mut self) {
        self.awaiting_keyframe = true;
        self.confirmed = None;
    }

    /// Drops the next delta (client-side fault injection for tests).
    pub(crate) fn drop_next_delta(&mut self) {
        self.drop_next_delta = true;
    }

    /// The message that restores the app's subscription on a connection
    /// that just said `hello` with `universe`; `None` when the default
    /// (every symbol) is wanted.
    pub(crate) fn on_hello(&mut self, universe: Vec<String>) -> Option<ClientMessage> {
        self.universe = universe;
        match &self.wanted {
            Wanted::All => None,
            Wanted::Only(s) if s.is_empty() => Some(ClientMessage::Unsubscribe {
                symbols: self.universe.clone(),
            }),
            Wanted::Only(s) => Some(ClientMessage::Subscribe { symbols: s.clone() }),
            Wanted::AllExcept(s) => Some(ClientMessage::Unsubscribe { symbols: s.clone() }),
        }
    }

    /// The app subscribes to `symbols`: the wanted set grows (a first
    /// subscribe narrows "every symbol" to those named, as on the server).
    pub(crate) fn subscribe(&mut self, symbols: &[String]) -> ClientMessage {
        self.wanted = match std::mem::replace(&mut self.wanted, Wanted::All) {
            Wanted::All => Wanted::Only(dedup(symbols.to_vec())),
            Wanted::Only(mut s) => {
                s.extend(symbols.iter().cloned());
                Wanted::Only(dedup(s))
            }
            Wanted::AllExcept(mut s) => {
                s.retain(|x| !symbols.contains(x));
                if s.is_empty() {
                    Wanted::All
                } else {
                    Wanted::AllExcept(s)
                }
            }
        };
        ClientMessage::Subscribe {
            symbols: symbols.to_vec(),
        }
    }

    /// The app unsubscribes from `symbols`.
    pub(crate) fn unsubscribe(&mut self, symbols: &[String]) -> ClientMessage {
        self.wanted = match std::mem::replace(&mut self.wanted, Wanted::All) {
            Wanted::All if self.universe.is_empty() => Wanted::AllExcept(dedup(symbols.to_vec())),
            Wanted::All => Wanted::Only(
                self.universe
                    .iter()
                    .filter(|s| !symbols.contains(s))
                    .cloned()
                    .collect(),
            ),
            Wanted::Only(mut s) => {
                s.retain(|x| !symbols.contains(x));
                Wanted::Only(s)
            }
            Wanted::AllExcept(mut s) => {
                s.extend(symbols.iter().cloned());
                Wanted::AllExcept(dedup(s))
            }
        };
        ClientMessage::Unsubscribe {
            symbols: symbols.to_vec(),
        }
    }

    /// The server's `subscribed`: its set is the truth from now on.
    pub(crate) fn on_subscribed(&mut self, symbols: Vec<String>) {
        self.confirmed = Some(symbols.clone());
        self.wanted = Wanted::Only(symbols);
    }

    /// The server refused a subscription change (`unknownSymbol`,
    /// `tooManySymbols`): its set is unchanged, so is the wanted one.
    pub(crate) fn on_refused(&mut self) {
        self.wanted = match &self.confirmed {
            Some(s) => Wanted::Only(s.clone()),
            None => Wanted::All,
        };
    }

    /// The wanted set, `None` for every symbol.
    pub(crate) fn symbols(&self) -> Option<Vec<String>> {
        match &self.wanted {
            Wanted::All => None,
            Wanted::Only(s) => Some(s.clone()),
            Wanted::AllExcept(_) if self.universe.is_empty() => None,
            Wanted::AllExcept(s) => Some(
                self.universe
                    .iter()
                    .filter(|x| !s.contains(x))
                    .cloned()
                    .collect(),
            ),
        }
    }
}

fn dedup(symbols: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(symbols.len());
    for s in symbols {
        if !out.contains(&s) {
            out.push(s);
        }
    }
    out
}

/// `value` as the plain JS object `JSON.parse` would give for its JSON
/// (absent optional fields are absent; integers are numbers).
pub(crate) fn to_js<T: Serialize>(value: &T) -> JsValue {
    value
        .serialize(&serde_wasm_bindgen::Serializer::new())
        .unwrap_or(JsValue::NULL)
}

/// The snapshot message's fields in wire order, its quotes already JS.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SnapshotObject<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    seq: u64,
    ts: u64,
    phase: TradingPhase,
    #[serde(with = "serde_wasm_bindgen::preserve")]
    quotes: JsValue,
    indices: &'a [IndexQuote],
    foreign: ForeignFlow,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    stale: bool,
}

fn snapshot_object(s: &MarketSnapshot, quotes: &Array) -> JsValue {
    to_js(&SnapshotObject {
        kind: marketfeed_protocol::kind::SNAPSHOT,
        seq: s.seq,
        ts: s.ts,
        phase: s.phase,
        quotes: quotes.clone().into(),
        indices: &s.indices,
        foreign: s.foreign,
        stale: s.stale,
    })
}

/// Whether a full state of tick `seq` (a keyframe, a v1 snapshot) is to be
/// taken: a newer tick, or the tick the client already holds — the keyframe
/// of a new subscription set, the answer to a `resync` (the server sends the
/// newest tick it has), or a tick restated (an edge marking it stale).
pub(crate) fn keyframe_is_new(inner: &mut Inner, seq: u64, events: &mut Vec<Event>) -> bool {
    inner.gaps.last_seq() == Some(seq) || observe_seq(inner, seq, events)
}

/// A `marketfeed.v2.bin` keyframe.
pub(crate) fn on_keyframe(inner: &mut Inner, snap: MarketSnapshot, events: &mut Vec<Event>) {
    if !keyframe_is_new(inner, snap.seq, events) {
        return;
    }
    let feed = &mut inner.feed;
    let quotes: Array = snap.quotes.iter().map(to_js).collect();
    let object = snapshot_object(&snap, &quotes);
    for (i, q) in snap.quotes.iter().enumerate() {
        let before = feed
            .state
            .as_ref()
            .and_then(|s| s.quotes.iter().find(|p| p.symbol == q.symbol));
        if before != Some(q) {
            events.push(Event::Quote(quotes.get(i as u32)));
        }
    }
    feed.state = Some(snap);
    feed.quotes_js = quotes;
    feed.awaiting_keyframe = false;
    inner.last_snapshot = object.clone();
    events.push(Event::Snapshot(object));
}

/// A `marketfeed.v2.bin` delta: applied to the state, or a `resync` when it does not fit.
pub(crate) fn on_delta(inner: &mut Inner, delta: Delta, events: &mut Vec<Event>) {
    if std::mem::take(&mut inner.feed.drop_next_delta) {
        return;
    }
    if !observe_seq(inner, delta.seq, events) || inner.feed.awaiting_keyframe {
        return;
    }
    let feed = &mut inner.feed;
    let applied = match feed.state.as_mut() {
        Some(state) => apply(state, &delta).map_err(|_| "the delta does not fit the state"),
        None => Err("a delta before any keyframe"),
    };
    if let Err(why) = applied {
        web_sys::console::warn_1(&format!("marketfeed: {why}; asking for a keyframe").into());
        feed.awaiting_keyframe = true;
        inner.send(&ClientMessage::Resync);
        return;
    }
    let Some(state) = feed.state.as_ref() else {
        return;
    };
    let quotes = feed.quotes_js.slice(0, feed.quotes_js.length());
    let mut from = 0;
    for d in &delta.quotes {
        let Some(at) = position(&state.quotes, &d.symbol, from) else {
            continue;
        };
        from = at + 1;
        if let Some(q) = state.quotes.get(at) {
            let object = to_js(q);
            quotes.set(at as u32, object.clone());
            events.push(Event::Quote(object));
        }
    }
    let object = snapshot_object(state, &quotes);
    feed.quotes_js = quotes;
    inner.last_snapshot = object.clone();
    events.push(Event::Snapshot(object));
}

/// Where `symbol` is in `quotes`, searching from `from` first (deltas list
/// quotes in snapshot order).
fn position(quotes: &[Quote], symbol: &str, from: usize) -> Option<usize> {
    (from..quotes.len())
        .chain(0..from.min(quotes.len()))
        .find(|&i| quotes.get(i).is_some_and(|q| q.symbol == symbol))
}

/// A whole number ≥ 0 read from `value[key]`.
fn whole(value: &JsValue, key: &str) -> Option<u64> {
    let n = get(value, key).as_f64()?;
    // An integral f64 ≥ 0 converts exactly (saturating past u64::MAX).
    (n >= 0.0 && n.fract() == 0.0).then_some(n as u64)
}

fn array(value: &JsValue, key: &str) -> Array {
    let a = get(value, key);
    if Array::is_array(&a) {
        a.unchecked_into()
    } else {
        Array::new()
    }
}

/// A `marketfeed.v2.json` keyframe, as `JSON.parse` made it.
pub(crate) fn on_json_keyframe(inner: &mut Inner, value: JsValue, events: &mut Vec<Event>) {
    let Some(seq) = whole(&value, "seq") else {
        web_sys::console::warn_1(&"marketfeed: keyframe without a valid seq".into());
        return;
    };
    if !keyframe_is_new(inner, seq, events) {
        return;
    }
    changed_quotes(&inner.last_snapshot, &value, events);
    let feed = &mut inner.feed;
    feed.quotes_js = array(&value, "quotes");
    feed.json_seq = Some(seq);
    feed.awaiting_keyframe = false;
    inner.last_snapshot = value.clone();
    events.push(Event::Snapshot(value));
}

/// A `marketfeed.v2.json` delta, applied to the JS objects of the state
/// with the rules of [`marketfeed_protocol::apply`]: a changed quote's
/// fields overwrite the old ones (`auction: null` removes the projection),
/// indices are replaced whole, phase, foreign flow and stale flag when
/// present. Nothing is committed unless every entry fits.
pub(crate) fn on_json_delta(inner: &mut Inner, delta: JsValue, events: &mut Vec<Event>) {
    if std::mem::take(&mut inner.feed.drop_next_delta) {
        return;
    }
    let (Some(seq), Some(base)) = (whole(&delta, "seq"), whole(&delta, "base")) else {
        web_sys::console::warn_1(&"marketfeed: delta without a valid seq or base".into());
        return;
    };
    if !observe_seq(inner, seq, events) || inner.feed.awaiting_keyframe {
        return;
    }
    let applied = if inner.feed.json_seq == Some(base) {
        json_apply(&inner.last_snapshot, &inner.feed.quotes_js, &delta, seq)
    } else {
        Err("the delta's base is not the state's seq")
    };
    match applied {
        Ok((object, quotes, changed)) => {
            events.extend(changed.into_iter().map(Event::Quote));
            inner.feed.quotes_js = quotes;
            inner.feed.json_seq = Some(seq);
            inner.last_snapshot = object.clone();
            events.push(Event::Snapshot(object));
        }
        Err(why) => {
            web_sys::console::warn_1(&format!("marketfeed: {why}; asking for a keyframe").into());
            inner.feed.awaiting_keyframe = true;
            inner.send(&ClientMessage::Resync);
        }
    }
}

type Applied = (JsValue, Array, Vec<JsValue>);

fn json_apply(
    before: &JsValue,
    quotes: &Array,
    delta: &JsValue,
    seq: u64,
) -> Result<Applied, &'static str> {
    let quotes = quotes.slice(0, quotes.length());
    let mut changed = Vec::new();
    let mut from = 0;
    for d in array(delta, "quotes").iter() {
        let symbol = get(&d, "symbol");
        let at = find(&quotes, "symbol", &symbol, from)
            .ok_or("the delta quotes a symbol the state does not")?;
        from = at + 1;
        let quote = Object::assign(&Object::new(), &Object::from(quotes.get(at as u32)));
        let quote = Object::assign(&quote, &Object::from(d.clone()));
        if get(&d, "auction").is_null() {
            let _ = Reflect::delete_property(&quote, &"auction".into());
        }
        quotes.set(at as u32, quote.clone().into());
        changed.push(quote.into());
    }
    let indices = array(before, "indices");
    let indices = indices.slice(0, indices.length());
    for i in array(delta, "indices").iter() {
        let code = get(&i, "code");
        let at = find(&indices, "code", &code, 0)
            .ok_or("the delta carries an index the state does not")?;
        indices.set(at as u32, i);
    }
    let or_before = |key: &str| {
        let v = get(delta, key);
        if v.is_undefined() {
            get(before, key)
        } else {
            v
        }
    };
    let object = Object::new();
    let stale = or_before("stale");
    let fields: [(&str, JsValue); 7] = [
        ("type", get(before, "type")),
        ("seq", JsValue::from_f64(seq as f64)),
        ("ts", get(delta, "ts")),
        ("phase", or_before("phase")),
        ("quotes", quotes.clone().into()),
        ("indices", indices.into()),
        ("foreign", or_before("foreign")),
    ];
    for (key, value) in fields {
        let _ = Reflect::set(&object, &key.into(), &value);
    }
    if stale.as_bool() == Some(true) {
        let _ = Reflect::set(&object, &"stale".into(), &stale);
    }
    Ok((object.into(), quotes, changed))
}

/// Where the element whose `key` is `name` is in `items`, searching from
/// `from` first (deltas list entries in snapshot order).
fn find(items: &Array, key: &str, name: &JsValue, from: usize) -> Option<usize> {
    let len = items.length() as usize;
    (from..len)
        .chain(0..from.min(len))
        .find(|&i| get(&items.get(i as u32), key) == *name)
}

/// Each quote of `after` whose JSON differs from the quote of the same
/// symbol in `before` (or that `before` lacks) becomes a quote event.
pub(crate) fn changed_quotes(before: &JsValue, after: &JsValue, events: &mut Vec<Event>) {
    let text = |q: &JsValue| JSON::stringify(q).ok().map(String::from);
    let old: Vec<(JsValue, Option<String>)> = array(before, "quotes")
        .iter()
        .map(|q| (get(&q, "symbol"), text(&q)))
        .collect();
    let mut from = 0;
    for q in array(after, "quotes").iter() {
        let symbol = get(&q, "symbol");
        let found = (from..old.len())
            .chain(0..from.min(old.len()))
            .find(|&i| old.get(i).is_some_and(|(s, _)| *s == symbol));
        let same = found.is_some_and(|i| {
            from = i + 1;
            old.get(i)
                .is_some_and(|(_, t)| t.is_some() && *t == text(&q))
        });
        if !same {
            events.push(Event::Quote(q));
        }
    }
}
