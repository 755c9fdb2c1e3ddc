//! The client registry and the fan-out.
//!
//! A [`Hub`] is a cheap cloneable handle with synchronous methods; no lock
//! is ever held across an `.await`. Each tick the ticker hands it one
//! encoded frame ([`Hub::broadcast`]); the hub copies the client list under
//! its lock, releases it, then offers the same refcounted [`Bytes`] to
//! every client — no per-client serialization and no per-client copy.
//!
//! With no client connected the ticker's snapshot is kept unencoded
//! ([`Hub::publish`]); the first client to arrive gets it encoded on demand,
//! so an idle server performs zero serializations.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;
use marketfeed_protocol::{encode_server, CloseCode, MarketSnapshot, ServerMessage};
use tokio::net::TcpStream;

use crate::fanout::clock::Clock;
use crate::fanout::outbox::{Client, ClientId};
use crate::ops::config::SlowClientPolicy;
use crate::ws::frame;

/// Counters the hub keeps; read with [`Hub::stats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HubStats {
    /// Snapshots produced by the feed (ticks).
    pub ticks: u64,
    /// Snapshots serialized (at most one per tick).
    pub serializations: u64,
    /// Clients connected now.
    pub clients: usize,
    /// Most clients connected at once.
    pub peak_clients: usize,
    /// Clients ever registered.
    pub connections: u64,
    /// Frames dropped by the slow-client policy, all clients, all time.
    pub dropped: u64,
    /// `seq` of the newest snapshot.
    pub last_seq: u64,
    /// Time the last fan-out took, microseconds.
    pub last_fanout_us: u64,
    /// Time the last serialization took, microseconds.
    pub last_encode_us: u64,
    /// Time all serializations took, microseconds (÷ `serializations`
    /// for the mean).
    pub encode_us_total: u64,
    /// Time all fan-outs took, microseconds (÷ `fanouts` for the mean).
    pub fanout_us_total: u64,
    /// Fan-outs performed (ticks with at least one client).
    pub fanouts: u64,
    /// Bytes handed to the kernel for all clients, all time.
    pub bytes_sent: u64,
}

/// Settings the hub needs from the server configuration.
#[derive(Debug, Clone, Copy)]
pub struct HubConfig {
    /// Slow-client policy.
    pub policy: SlowClientPolicy,
    /// Outbox bound per client.
    pub client_queue: usize,
}

#[derive(Debug, Default)]
struct Latest {
    /// The newest snapshot, not yet encoded (no client wanted it).
    pending: Option<MarketSnapshot>,
    /// The newest encoded snapshot frame.
    frame: Option<Bytes>,
}

#[derive(Debug)]
struct Registry {
    clients: HashMap<ClientId, Arc<Client>>,
    latest: Latest,
}

#[derive(Debug)]
struct Inner {
    registry: Mutex<Registry>,
    config: HubConfig,
    clock: Clock,
    next_id: AtomicU64,
    ticks: AtomicU64,
    serializations: AtomicU64,
    connections: AtomicU64,
    dropped_gone: AtomicU64,
    bytes_sent_gone: AtomicU64,
    peak: AtomicUsize,
    count: AtomicUsize,
    last_seq: AtomicU64,
    last_fanout_us: AtomicU64,
    last_encode_us: AtomicU64,
    encode_us_total: AtomicU64,
    fanout_us_total: AtomicU64,
    fanouts: AtomicU64,
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
                    latest: Latest::default(),
                }),
                config,
                clock: Clock::new(),
                next_id: AtomicU64::new(1),
                ticks: AtomicU64::new(0),
                serializations: AtomicU64::new(0),
                connections: AtomicU64::new(0),
                dropped_gone: AtomicU64::new(0),
                bytes_sent_gone: AtomicU64::new(0),
                peak: AtomicUsize::new(0),
                count: AtomicUsize::new(0),
                last_seq: AtomicU64::new(0),
                last_fanout_us: AtomicU64::new(0),
                last_encode_us: AtomicU64::new(0),
                encode_us_total: AtomicU64::new(0),
                fanout_us_total: AtomicU64::new(0),
                fanouts: AtomicU64::new(0),
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

    /// The hub's clock.
    pub fn clock(&self) -> Clock {
        self.inner.clock
    }

    /// Clients connected now.
    pub fn client_count(&self) -> usize {
        self.inner.count.load(Ordering::Relaxed)
    }

    /// Clients registered since start.
    pub fn connections(&self) -> u64 {
        self.inner.connections.load(Ordering::Relaxed)
    }

    /// True when at least one client is registered.
    pub fn has_clients(&self) -> bool {
        self.inner.count.load(Ordering::Relaxed) > 0
    }

    /// Registers an upgraded socket. `greeting` (the hello frame) and then
    /// the newest snapshot are queued before any later broadcast can reach
    /// the client, so a late joiner gets state at once and in order.
    pub fn register(&self, peer: SocketAddr, stream: TcpStream, greeting: Bytes) -> Arc<Client> {
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let cfg = self.inner.config;
        let client = Arc::new(Client::new(
            id,
            peer,
            stream,
            cfg.policy,
            cfg.client_queue,
            self.inner.clock,
        ));
        let mut reg = self.registry();
        client.send_control(greeting);
        if let Some(snapshot) = reg.latest.pending.take() {
            reg.latest.frame = Some(self.encode(snapshot));
        }
        if let Some(latest) = &reg.latest.frame {
            client.offer_snapshot(latest);
        }
        reg.clients.insert(id, client.clone());
        let count = reg.clients.len();
        drop(reg);
        self.inner.count.store(count, Ordering::Relaxed);
        self.inner.peak.fetch_max(count, Ordering::Relaxed);
        self.inner.connections.fetch_add(1, Ordering::Relaxed);
        client
    }

    /// Removes a client; its drop count joins the hub's total.
    pub fn unregister(&self, client: &Client) {
        let mut reg = self.registry();
        reg.clients.remove(&client.id());
        let count = reg.clients.len();
        // Under the lock, so `stats` never sees the bytes twice or not at all.
        self.inner
            .bytes_sent_gone
            .fetch_add(client.bytes_sent(), Ordering::Relaxed);
        drop(reg);
        self.inner.count.store(count, Ordering::Relaxed);
        self.inner
            .dropped_gone
            .fetch_add(client.dropped(), Ordering::Relaxed);
    }

    /// Takes one tick's snapshot: encodes it once and fans it out when
    /// clients are connected, otherwise keeps it for the next joiner.
    pub fn publish(&self, snapshot: MarketSnapshot) {
        self.inner.ticks.fetch_add(1, Ordering::Relaxed);
        self.inner.last_seq.store(snapshot.seq, Ordering::Relaxed);
        if !self.has_clients() {
            let mut reg = self.registry();
            if reg.clients.is_empty() {
                reg.latest.pending = Some(snapshot);
                reg.latest.frame = None;
                return;
            }
        }
        let frame = self.encode(snapshot);
        self.broadcast(frame);
    }

    /// Serializes a snapshot into one ready-to-send WebSocket frame.
    fn encode(&self, snapshot: MarketSnapshot) -> Bytes {
        let started = Instant::now();
        let json = encode_server(&ServerMessage::Snapshot(snapshot));
        let frame = frame::text(&json);
        self.inner.serializations.fetch_add(1, Ordering::Relaxed);
        let us = store_us(&self.inner.last_encode_us, started.elapsed());
        self.inner.encode_us_total.fetch_add(us, Ordering::Relaxed);
        frame
    }

    /// Offers one snapshot frame to every client and makes it the newest.
    pub fn broadcast(&self, frame: Bytes) {
        let started = Instant::now();
        let clients: Vec<Arc<Client>> = {
            let mut reg = self.registry();
            reg.latest.pending = None;
            reg.latest.frame = Some(frame.clone());
            reg.clients.values().cloned().collect()
        };
        for client in &clients {
            client.offer_snapshot(&frame);
        }
        let us = store_us(&self.inner.last_fanout_us, started.elapsed());
        self.inner.fanout_us_total.fetch_add(us, Ordering::Relaxed);
        self.inner.fanouts.fetch_add(1, Ordering::Relaxed);
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

    /// Asks every client to close with `code` and its reason.
    pub fn close_all(&self, code: CloseCode) {
        for client in self.clients() {
            client.request_close(code.as_u16(), code.reason());
        }
    }

    fn clients(&self) -> Vec<Arc<Client>> {
        self.registry().clients.values().cloned().collect()
    }

    /// A copy of the counters.
    pub fn stats(&self) -> HubStats {
        let i = &self.inner;
        let (clients, live_drops, bytes_sent) = {
            let reg = self.registry();
            let drops: u64 = reg.clients.values().map(|c| c.dropped()).sum();
            let live_bytes: u64 = reg.clients.values().map(|c| c.bytes_sent()).sum();
            let bytes = i.bytes_sent_gone.load(Ordering::Relaxed) + live_bytes;
            (reg.clients.len(), drops, bytes)
        };
        HubStats {
            ticks: i.ticks.load(Ordering::Relaxed),
            serializations: i.serializations.load(Ordering::Relaxed),
            clients,
            peak_clients: i.peak.load(Ordering::Relaxed),
            connections: i.connections.load(Ordering::Relaxed),
            dropped: i.dropped_gone.load(Ordering::Relaxed) + live_drops,
            last_seq: i.last_seq.load(Ordering::Relaxed),
            last_fanout_us: i.last_fanout_us.load(Ordering::Relaxed),
            last_encode_us: i.last_encode_us.load(Ordering::Relaxed),
            encode_us_total: i.encode_us_total.load(Ordering::Relaxed),
            fanout_us_total: i.fanout_us_total.load(Ordering::Relaxed),
            fanouts: i.fanouts.load(Ordering::Relaxed),
            bytes_sent,
        }
    }
}

/// Stores `d` in microseconds and returns the stored value.
fn store_us(cell: &AtomicU64, d: Duration) -> u64 {
    let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
    cell.store(us, Ordering::Relaxed);
    us
}
