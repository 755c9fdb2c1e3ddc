//! The client registry and the fan-out.
//!
//! A [`Hub`] is a cheap cloneable handle with synchronous methods; no lock
//! is ever held across an `.await`. Each tick the ticker hands it the
//! stamped snapshot ([`Hub::publish`]). The hub groups the connected
//! clients by [`Audience`] — format and subscription set — and has the
//! [`encoder`] make **one** frame per audience: in v1 the snapshot of the
//! set; in v2 the tick's delta (computed once over the whole universe by
//! `marketfeed_protocol::diff`, restricted per set), or a keyframe every
//! `--keyframe-interval` ticks and when the universe changed. It copies
//! the client list under its lock, releases it, then offers the same
//! refcounted frame to every client of the audience — no per-client
//! serialization and no per-client copy.
//!
//! A client that needs a keyframe outside that rhythm (it just connected,
//! changed its subscription, asked to `resync`, or fell behind so that its
//! outbox replaced its deltas) gets the keyframe of the newest tick for
//! its audience, encoded once per tick and audience and kept for the next
//! one who needs it.
//!
//! With no client connected nothing is encoded: the newest snapshot is
//! kept as it is, and the first client to arrive gets it encoded on
//! demand, so an idle server performs zero encodes. The hub's counters are
//! [`Counters`].
//!
//! Clients that negotiated permessage-deflate get the frame's deflated
//! twin (an [`Encoded`] holds both), compressed at most once per frame and
//! only when such a client is offered it; the outbox picks the variant.

use std::cell::OnceCell;
use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;
use marketfeed_protocol::{
    diff, restrict, CloseCode, ErrorCode, MarketSnapshot, ServerMessage, Subprotocol,
};
use tokio::net::TcpStream;

use super::clock::Clock;
use super::counters::{self, Counters, HubStats};
use super::encoder::{self, Encoded};
use super::outbox::{Client, ClientId, DeltaOffer, SlowClientPolicy};
use crate::ws::frame;

/// Settings the hub needs from the server configuration.
#[derive(Debug, Clone, Copy)]
pub struct HubConfig {
    /// Slow-client policy.
    pub policy: SlowClientPolicy,
    /// Outbox bound per client.
    pub client_queue: usize,
    /// v2: a keyframe instead of a delta every this many ticks (at least 1).
    pub keyframe_interval: u64,
    /// Most symbols one connection may subscribe to.
    pub max_symbols_per_client: usize,
}

/// The clients that receive the same frames: one format, one subscription.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Audience {
    /// The connection's wire format.
    pub(crate) format: Subprotocol,
    /// The subscribed symbols; `None` for every symbol (a connection that
    /// never subscribed).
    pub(crate) symbols: Option<Arc<BTreeSet<String>>>,
}

impl Audience {
    fn keeps(&self, symbol: &str) -> bool {
        self.symbols.as_ref().is_none_or(|s| s.contains(symbol))
    }

    fn is_v2(&self) -> bool {
        self.format != Subprotocol::V1Json
    }
}

/// Why a subscription change was refused (the set is unchanged).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The code of the `error` answer.
    pub code: ErrorCode,
    /// Its message.
    pub message: String,
}

#[derive(Debug)]
struct Entry {
    client: Arc<Client>,
    audience: Audience,
    /// The client's subscription generation (mirrors its outbox's).
    generation: u64,
}

#[derive(Debug)]
struct Registry {
    clients: HashMap<ClientId, Entry>,
    /// The newest snapshot, whole.
    latest: Option<Arc<MarketSnapshot>>,
    /// Keyframes of `latest` encoded so far, by audience.
    keyframes: HashMap<Audience, Encoded>,
}

#[derive(Debug)]
struct Inner {
    registry: Mutex<Registry>,
    config: HubConfig,
    clock: Clock,
    next_id: AtomicU64,
    /// `clients`, `dropped` and `bytes_sent` count only the clients gone;
    /// [`Hub::stats`] adds those of the clients still registered.
    counters: Arc<Counters>,
    ping: Bytes,
}

/// Handle to the client registry; clone freely.
#[derive(Debug, Clone)]
pub struct Hub {
    inner: Arc<Inner>,
}

impl Hub {
    /// An empty hub.
    pub fn new(config: HubConfig) -> Self {
        Self {
            inner: Arc::new(Inner {
                registry: Mutex::new(Registry {
                    clients: HashMap::new(),
                    latest: None,
                    keyframes: HashMap::new(),
                }),
                config: HubConfig {
                    keyframe_interval: config.keyframe_interval.max(1),
                    ..config
                },
                clock: Clock::new(),
                next_id: AtomicU64::new(1),
                counters: Arc::default(),
                ping: frame::ping(b""),
            }),
        }
    }

    fn registry(&self) -> MutexGuard<'_, Registry> {
        self.inner
            .registry
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// Clients connected now.
    pub fn client_count(&self) -> usize {
        self.inner.counters.clients.load(Ordering::Relaxed)
    }

    /// Clients registered since start.
    pub fn connections(&self) -> u64 {
        self.inner.counters.connections.load(Ordering::Relaxed)
    }

    /// Registers an upgraded socket speaking `format`. `greeting` (the
    /// hello frame) and then the newest snapshot (a keyframe in v2) are
    /// queued before any later broadcast can reach the client, so a late
    /// joiner gets state at once and in order.
    /// `deflate`: the client negotiated permessage-deflate.
    pub fn register(
        &self,
        peer: SocketAddr,
        stream: TcpStream,
        greeting: Bytes,
        format: Subprotocol,
        deflate: bool,
    ) -> Arc<Client> {
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let cfg = self.inner.config;
        let client = Arc::new(
            Client::new(
                id,
                peer,
                stream,
                cfg.policy,
                cfg.client_queue,
                self.inner.clock,
            )
            .with_deflate(deflate),
        );
        client.set_format(format);
        let audience = Audience {
            format,
            symbols: None,
        };
        let mut reg = self.registry();
        client.send_control(greeting);
        self.send_keyframe(&mut reg, &client, &audience, 0);
        reg.clients.insert(
            id,
            Entry {
                client: client.clone(),
                audience,
                generation: 0,
            },
        );
        let count = reg.clients.len();
        drop(reg);
        let c = &self.inner.counters;
        c.clients.store(count, Ordering::Relaxed);
        c.peak_clients.fetch_max(count, Ordering::Relaxed);
        Counters::inc(&c.connections);
        client
    }

    /// The keyframe of the newest tick for `audience`, encoded at most
    /// once per tick; with its `seq`. `None` before the first tick.
    fn keyframe(&self, reg: &mut Registry, audience: &Audience) -> Option<(Encoded, u64)> {
        let latest = reg.latest.clone()?;
        let frame = reg
            .keyframes
            .entry(audience.clone())
            .or_insert_with(|| self.encode_keyframe(&latest, audience))
            .clone();
        Some((frame, latest.seq))
    }

    fn encode_keyframe(&self, snapshot: &MarketSnapshot, audience: &Audience) -> Encoded {
        let msg = ServerMessage::Snapshot(match audience.symbols {
            None => snapshot.clone(),
            Some(_) => restrict(snapshot, |s| audience.keeps(s)),
        });
        encoder::market(
            &msg,
            audience.format,
            audience.symbols.is_none(),
            &self.inner.counters,
        )
    }

    /// Queues the newest keyframe of `audience` for `client`, whatever
    /// it already holds.
    fn send_keyframe(
        &self,
        reg: &mut Registry,
        client: &Client,
        audience: &Audience,
        generation: u64,
    ) {
        if let Some((frame, seq)) = self.keyframe(reg, audience) {
            if audience.is_v2() {
                client.offer_keyframe(&frame, seq, None);
            } else {
                client.offer_snapshot_for(&frame, generation);
            }
        }
    }

    /// Changes a client's subscription: adds `symbols` (`add`; a
    /// connection's first subscribe restricts it to them) or removes them.
    /// On success the client gets `subscribed` with its whole set, then a
    /// keyframe of the new set; on refusal nothing changes.
    pub fn subscribe(&self, id: ClientId, symbols: &[String], add: bool) -> Result<(), Refusal> {
        let max = self.inner.config.max_symbols_per_client;
        let mut reg = self.registry();
        let universe: Vec<String> = reg
            .latest
            .as_ref()
            .map(|s| s.quotes.iter().map(|q| q.symbol.clone()).collect())
            .unwrap_or_default();
        let mut unknown: Vec<&str> = symbols
            .iter()
            .filter(|s| !universe.contains(s))
            .map(String::as_str)
            .collect();
        unknown.dedup();
        if !unknown.is_empty() {
            return Err(Refusal {
                code: ErrorCode::UnknownSymbol,
                message: format!("unknown symbols: {}", unknown.join(", ")),
            });
        }
        let Some(entry) = reg.clients.get(&id) else {
            return Ok(());
        };
        let mut set: BTreeSet<String> = match (&entry.audience.symbols, add) {
            (None, true) => BTreeSet::new(),
            (None, false) => universe.iter().cloned().collect(),
            (Some(s), _) => (**s).clone(),
        };
        for s in symbols {
            if add {
                set.insert(s.clone());
            } else {
                set.remove(s);
            }
        }
        if set.len() > max {
            return Err(Refusal {
                code: ErrorCode::TooManySymbols,
                message: format!(
                    "a connection may subscribe to at most {max} symbols; this would make {}",
                    set.len()
                ),
            });
        }
        let listed: Vec<String> = universe.into_iter().filter(|s| set.contains(s)).collect();
        let audience = Audience {
            format: entry.audience.format,
            symbols: Some(Arc::new(set)),
        };
        let client = entry.client.clone();
        let generation = client.next_generation();
        if let Some(entry) = reg.clients.get_mut(&id) {
            entry.audience = audience.clone();
            entry.generation = generation;
        }
        client.send_control(encoder::message(&ServerMessage::Subscribed {
            symbols: listed,
        }));
        self.send_keyframe(&mut reg, &client, &audience, generation);
        Ok(())
    }

    /// A client asked for a keyframe (`resync`): it gets the newest one of
    /// its audience.
    pub fn resync(&self, id: ClientId) {
        let mut reg = self.registry();
        let Some(entry) = reg.clients.get(&id) else {
            return;
        };
        let (client, audience, generation) = (
            entry.client.clone(),
            entry.audience.clone(),
            entry.generation,
        );
        self.send_keyframe(&mut reg, &client, &audience, generation);
    }

    /// Removes a client; its drop count joins the hub's total.
    pub fn unregister(&self, client: &Client) {
        let mut reg = self.registry();
        reg.clients.remove(&client.id());
        let count = reg.clients.len();
        // Under the lock, so `stats` never sees them twice or not at all.
        let c = &self.inner.counters;
        let sent = client.bytes_sent();
        c.bytes_sent.fetch_add(sent, Ordering::Relaxed);
        c.bytes_sent_by_format.add(client.format(), sent);
        c.dropped.fetch_add(client.dropped(), Ordering::Relaxed);
        c.clients.store(count, Ordering::Relaxed);
        drop(reg);
    }

    /// Takes one tick's snapshot: encodes it once per audience and fans
    /// it out when clients are connected, otherwise keeps it for the next
    /// joiner.
    pub fn publish(&self, snapshot: MarketSnapshot) {
        let c = &self.inner.counters;
        Counters::inc(&c.ticks);
        c.last_seq.store(snapshot.seq, Ordering::Relaxed);
        let next = Arc::new(snapshot);
        let started = Instant::now();
        type Members = Vec<(Arc<Client>, u64)>;
        let (prev, groups) = {
            let mut reg = self.registry();
            let prev = reg.latest.replace(next.clone());
            reg.keyframes.clear();
            if reg.clients.is_empty() {
                return;
            }
            let mut groups: HashMap<Audience, Members> = HashMap::new();
            for e in reg.clients.values() {
                groups
                    .entry(e.audience.clone())
                    .or_default()
                    .push((e.client.clone(), e.generation));
            }
            (prev, groups)
        };
        let keyframe_due = next.seq % self.inner.config.keyframe_interval == 0;
        // The same tick again, amended (an edge whose publisher went silent
        // marks its last state stale): v2 clients get it as a keyframe.
        let restated = prev.as_ref().is_some_and(|p| p.seq == next.seq);
        let delta = match (&prev, keyframe_due || restated) {
            (Some(prev), false) if groups.keys().any(Audience::is_v2) => diff(prev, &next),
            _ => None,
        };
        let mut made: Vec<(Audience, Encoded)> = Vec::with_capacity(groups.len());
        for (audience, members) in groups {
            if !audience.is_v2() {
                let frame = self.encode_keyframe(&next, &audience);
                precompress(&frame, &members);
                for (client, generation) in &members {
                    client.offer_snapshot_for(&frame, *generation);
                }
                made.push((audience, frame));
                continue;
            }
            let Some(delta) = &delta else {
                let frame = self.encode_keyframe(&next, &audience);
                precompress(&frame, &members);
                for (client, generation) in &members {
                    if restated {
                        client.offer_restated(&frame, next.seq, *generation);
                    } else {
                        client.offer_keyframe(&frame, next.seq, Some(*generation));
                    }
                }
                made.push((audience, frame));
                continue;
            };
            let part = match audience.symbols {
                None => delta.clone(),
                Some(_) => delta.restricted(|s| audience.keeps(s)),
            };
            let frame = encoder::market(&ServerMessage::Delta(part), audience.format, false, c);
            precompress(&frame, &members);
            let offer = DeltaOffer {
                frame: &frame,
                seq: delta.seq,
                base: delta.base,
            };
            let keyframe: OnceCell<Encoded> = OnceCell::new();
            for (client, generation) in &members {
                client.offer_delta(offer, *generation, || {
                    keyframe
                        .get_or_init(|| self.encode_keyframe(&next, &audience))
                        .clone()
                });
            }
            if let Some(k) = keyframe.into_inner() {
                made.push((audience, k));
            }
        }
        {
            let mut reg = self.registry();
            if reg.latest.as_ref().is_some_and(|l| Arc::ptr_eq(l, &next)) {
                for (audience, frame) in made {
                    reg.keyframes.entry(audience).or_insert(frame);
                }
            }
        }
        let c = &self.inner.counters;
        c.fanned_out(started.elapsed());
    }

    /// A new stream (epoch) begins: every client is queued its format's
    /// `hello` from `hello`, in order with the frames offered before and
    /// after it, and the next tick goes out as a keyframe to every v2
    /// client whatever `seq` it carries (a new stream numbers its ticks
    /// afresh, so the old chain cannot continue).
    pub fn new_stream(&self, hello: impl Fn(Subprotocol) -> Bytes) {
        let mut reg = self.registry();
        reg.latest = None;
        reg.keyframes.clear();
        for e in reg.clients.values() {
            e.client.send_control(hello(e.audience.format));
            e.client.restart_chain();
        }
    }

    /// Pings every client, and asks those silent for longer than `limit`
    /// to close with [`CloseCode::HEARTBEAT_TIMEOUT`]. Returns how many it closed.
    pub fn heartbeat(&self, send_ping: bool, limit: Duration) -> usize {
        let now = self.inner.clock.now_ms();
        let limit_ms = u64::try_from(limit.as_millis()).unwrap_or(u64::MAX);
        let mut closed = 0;
        for client in self.clients() {
            if client.silent_for_ms(now) > limit_ms {
                if client.close_request().is_none() {
                    let code = CloseCode::HEARTBEAT_TIMEOUT;
                    client.request_close(code.as_u16(), code.reason());
                    closed += 1;
                }
            } else if send_ping {
                client.send_control(self.inner.ping.clone());
            }
        }
        closed
    }

    /// Asks every client to close with `code` and `reason`.
    pub fn close_all(&self, code: CloseCode, reason: &str) {
        for client in self.clients() {
            client.request_close(code.as_u16(), reason);
        }
    }

    fn clients(&self) -> Vec<Arc<Client>> {
        self.registry()
            .clients
            .values()
            .map(|e| e.client.clone())
            .collect()
    }

    /// A copy of the counters.
    pub fn stats(&self) -> HubStats {
        let reg = self.registry();
        let mut stats = self.inner.counters.read();
        stats.clients = reg.clients.len();
        for e in reg.clients.values() {
            stats.dropped += e.client.dropped();
            let sent = e.client.bytes_sent();
            stats.bytes_sent += sent;
            counters::add_format(&mut stats.bytes_sent_by_format, e.client.format(), sent);
            stats.deflate_clients += usize::from(e.client.deflate());
        }
        stats
    }
}

/// Compresses `frame` before the fan-out loop when some of `members`
/// negotiated permessage-deflate, so no client waits for it behind the
/// first deflate client.
fn precompress(frame: &Encoded, members: &[(Arc<Client>, u64)]) {
    if members.iter().any(|(c, _)| c.deflate()) {
        frame.deflated();
    }
}
