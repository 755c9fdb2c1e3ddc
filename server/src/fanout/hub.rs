//! The client registry and the fan-out.
//!
//! A [`Hub`] is a cheap cloneable handle with synchronous methods; no lock
//! is ever held across an `.await`. Each tick the ticker hands it the
//! stamped snapshot ([`Hub::publish`]). With clients connected the hub has
//! the [`encoder`] turn it into one frame, copies the
//! client list under its lock, releases it, then offers the same
//! refcounted [`Bytes`] to every client's outbox — no per-client
//! serialization and no per-client copy ([`Hub::broadcast`]).
//!
//! With no client connected the snapshot is kept unencoded; the first
//! client to arrive gets it encoded on demand, so an idle server performs
//! zero serializations. The hub's counters are [`Counters`].

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;
use marketfeed_protocol::{CloseCode, MarketSnapshot};
use tokio::net::TcpStream;

use super::clock::Clock;
use super::counters::{Counters, HubStats};
use super::encoder;
use super::outbox::{Client, ClientId, SlowClientPolicy};
use crate::ws::frame;

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
    /// `clients`, `dropped` and `bytes_sent` count only the clients gone;
    /// [`Hub::stats`] adds those of the clients still registered.
    counters: Counters,
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
                counters: Counters::default(),
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

    /// True when at least one client is registered.
    pub fn has_clients(&self) -> bool {
        self.client_count() > 0
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
            reg.latest.frame = Some(encoder::snapshot(snapshot, &self.inner.counters));
        }
        if let Some(latest) = &reg.latest.frame {
            client.offer_snapshot(latest);
        }
        reg.clients.insert(id, client.clone());
        let count = reg.clients.len();
        drop(reg);
        let c = &self.inner.counters;
        c.clients.store(count, Ordering::Relaxed);
        c.peak_clients.fetch_max(count, Ordering::Relaxed);
        Counters::inc(&c.connections);
        client
    }

    /// Removes a client; its drop count joins the hub's total.
    pub fn unregister(&self, client: &Client) {
        let mut reg = self.registry();
        reg.clients.remove(&client.id());
        let count = reg.clients.len();
        // Under the lock, so `stats` never sees them twice or not at all.
        let c = &self.inner.counters;
        c.bytes_sent
            .fetch_add(client.bytes_sent(), Ordering::Relaxed);
        c.dropped.fetch_add(client.dropped(), Ordering::Relaxed);
        c.clients.store(count, Ordering::Relaxed);
        drop(reg);
    }

    /// Takes one tick's snapshot: encodes it once and fans it out when
    /// clients are connected, otherwise keeps it for the next joiner.
    pub fn publish(&self, snapshot: MarketSnapshot) {
        let c = &self.inner.counters;
        Counters::inc(&c.ticks);
        c.last_seq.store(snapshot.seq, Ordering::Relaxed);
        if !self.has_clients() {
            let mut reg = self.registry();
            if reg.clients.is_empty() {
                reg.latest.pending = Some(snapshot);
                reg.latest.frame = None;
                return;
            }
        }
        let frame = encoder::snapshot(snapshot, c);
        self.broadcast(frame);
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
        let c = &self.inner.counters;
        Counters::time(&c.last_fanout_us, &c.fanout_us_total, started.elapsed());
        Counters::inc(&c.fanouts);
    }

    /// Queues a control frame (a new `hello`) for every client, in order
    /// with the snapshots offered before and after it.
    pub fn send_all(&self, frame: &Bytes) {
        for client in self.clients() {
            client.send_control(frame.clone());
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
        let reg = self.registry();
        let mut stats = self.inner.counters.read();
        stats.clients = reg.clients.len();
        for client in reg.clients.values() {
            stats.dropped += client.dropped();
            stats.bytes_sent += client.bytes_sent();
        }
        stats
    }
}
