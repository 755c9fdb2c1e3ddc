//! One connected client as the hub sees it: its socket, its bounded
//! outbox and its counters.
//!
//! Frames are written straight from the broadcasting thread when the
//! client is caught up (`try_write` on a non-blocking socket: no task
//! wake-up, no copy). Only what the kernel does not take at once goes into
//! the outbox, which the client's session task flushes when the socket
//! becomes writable again. The outbox is bounded by the slow-client policy.
//!
//! v2 frames (keyframes and deltas) form a chain: each delta applies to
//! the frame before it. The outbox keeps the chain whole: a delta that
//! does not follow what was queued, or that the policy would have to drop,
//! is replaced — together with every v2 frame still queued — by one
//! keyframe of the current tick, so a slow client catches up at once and
//! never holds a broken chain ([`Client::offer_delta`]).

use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

use bytes::Bytes;
use marketfeed_protocol::Subprotocol;
use tokio::net::TcpStream;
use tokio::sync::Notify;

use crate::fanout::clock::Clock;
use crate::fanout::counters::FormatCell;
use crate::fanout::encoder::Encoded;

/// Most frames handed to one `writev`.
const MAX_BATCH: usize = 16;
/// Least time between two "dropping frames" log lines of one client.
const DROP_LOG_EVERY_MS: u64 = 10_000;

/// Server-assigned connection id, unique within a run.
pub type ClientId = u64;

/// A frame waiting in an outbox.
#[derive(Debug)]
enum Queued {
    /// A v1 market snapshot; the slow-client policy may drop it.
    Snapshot(Bytes),
    /// A v2 keyframe or delta: never dropped alone, only replaced with
    /// every other queued one by a keyframe.
    Chain(Bytes),
    /// hello, subscribed, pong, error, ping: kept unless the outbox is
    /// full of them.
    Control(Bytes),
}

impl Queued {
    fn bytes(&self) -> &Bytes {
        match self {
            Self::Snapshot(b) | Self::Chain(b) | Self::Control(b) => b,
        }
    }

    fn is_market(&self) -> bool {
        !matches!(self, Self::Control(_))
    }
}

/// A v2 delta offered to a client: its frame and where it sits in the chain.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DeltaOffer<'a> {
    /// The encoded delta.
    pub(crate) frame: &'a Encoded,
    /// The tick it leads to.
    pub(crate) seq: u64,
    /// The tick it applies to.
    pub(crate) base: u64,
}

/// The close a session has been asked to perform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseRequest {
    /// WebSocket close code.
    pub code: u16,
    /// Close reason sent to the client and logged.
    pub reason: String,
}

#[derive(Debug, Default)]
struct Outbox {
    /// A frame the kernel took only part of, and how much of it.
    partial: Option<(Bytes, usize)>,
    queue: VecDeque<Queued>,
    /// Set once a close is requested: nothing else is queued after it.
    close: Option<CloseRequest>,
    /// The close frame is in the queue (always its last frame).
    close_queued: bool,
    /// The close frame has been handed to the kernel in full.
    close_written: bool,
    /// The socket failed; nothing more will be written.
    broken: bool,
    /// Subscription generation the hub's frames must carry: bumped on
    /// every subscription change, so a frame encoded for the old set and
    /// offered late is ignored.
    generation: u64,
    /// `seq` of the last v2 frame accepted (the state the client will hold
    /// once everything queued is written); `None` before its first keyframe.
    chain: Option<u64>,
}

impl Outbox {
    fn is_idle(&self) -> bool {
        self.partial.is_none() && self.queue.is_empty()
    }
}

/// What the session should do after a flush.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flush {
    /// Everything queued went out.
    Done,
    /// The socket is full: wait until it is writable and flush again.
    Blocked,
    /// The close frame went out: stop writing, await the peer's close.
    Closed,
    /// The socket failed.
    Broken,
}

/// Shared state of one connection, referenced by the hub and its session.
#[derive(Debug)]
pub struct Client {
    id: ClientId,
    peer: SocketAddr,
    stream: TcpStream,
    policy: SlowClientPolicy,
    capacity: usize,
    outbox: Mutex<Outbox>,
    wake: Notify,
    clock: Clock,
    last_seen_ms: AtomicU64,
    dropped: AtomicU64,
    delivered: AtomicU64,
    bytes_sent: AtomicU64,
    format: FormatCell,
    last_drop_log_ms: AtomicU64,
    drop_logged: AtomicBool,
    connected_at: Instant,
    /// permessage-deflate was negotiated: snapshots go out deflated.
    deflate: bool,
}

impl Client {
    /// Wraps an upgraded socket.
    pub fn new(
        id: ClientId,
        peer: SocketAddr,
        stream: TcpStream,
        policy: SlowClientPolicy,
        capacity: usize,
        clock: Clock,
    ) -> Self {
        Self {
            id,
            peer,
            stream,
            policy,
            capacity,
            outbox: Mutex::new(Outbox::default()),
            wake: Notify::new(),
            last_seen_ms: AtomicU64::new(clock.now_ms()),
            clock,
            dropped: AtomicU64::new(0),
            delivered: AtomicU64::new(0),
            bytes_sent: AtomicU64::new(0),
            format: FormatCell::default(),
            last_drop_log_ms: AtomicU64::new(0),
            drop_logged: AtomicBool::new(false),
            connected_at: Instant::now(),
            deflate: false,
        }
    }

    /// With `on`, the client negotiated permessage-deflate: it is offered
    /// the deflated variant of each snapshot.
    pub fn with_deflate(mut self, on: bool) -> Self {
        self.deflate = on;
        self
    }

    /// Whether the client negotiated permessage-deflate.
    pub fn deflate(&self) -> bool {
        self.deflate
    }

    /// Connection id.
    pub fn id(&self) -> ClientId {
        self.id
    }

    /// Remote address.
    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// The socket (reads are the session's; writes go through [`Self::flush`]).
    pub fn stream(&self) -> &TcpStream {
        &self.stream
    }

    /// Frames dropped (or replaced by a keyframe) for this client by the
    /// slow-client policy.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Market frames (snapshots, keyframes, deltas) handed to the kernel
    /// for this client.
    pub fn delivered(&self) -> u64 {
        self.delivered.load(Ordering::Relaxed)
    }

    /// Bytes handed to the kernel for this client (frames of every kind).
    pub fn bytes_sent(&self) -> u64 {
        self.bytes_sent.load(Ordering::Relaxed)
    }

    /// The connection's wire format (its subprotocol); its bytes are
    /// counted under this format's name.
    pub fn format(&self) -> Subprotocol {
        self.format.get()
    }

    /// Sets the wire format (what the handshake negotiated; until then a
    /// client is [`Subprotocol::DEFAULT`]). Set it before the first
    /// write: the bytes sent are counted under the format of the moment
    /// they are read.
    pub fn set_format(&self, format: Subprotocol) {
        self.format.set(format);
    }

    /// When the connection was accepted.
    pub fn connected_at(&self) -> Instant {
        self.connected_at
    }

    /// Records that something arrived from the client.
    pub fn touch(&self) {
        self.last_seen_ms
            .store(self.clock.now_ms(), Ordering::Relaxed);
    }

    /// Milliseconds since anything arrived from the client.
    pub fn silent_for_ms(&self, now_ms: u64) -> u64 {
        now_ms.saturating_sub(self.last_seen_ms.load(Ordering::Relaxed))
    }

    /// Resolves when the outbox has work or a close was requested.
    pub async fn notified(&self) {
        self.wake.notified().await;
    }

    fn outbox(&self) -> MutexGuard<'_, Outbox> {
        // A poisoned outbox only means a panic elsewhere mid-push; the
        // queue itself is still consistent, so keep serving.
        self.outbox.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The bytes of `encoded` this client's connection takes: the one
    /// place a representation is chosen per client (a refcount bump, never
    /// a copy).
    fn wire(&self, encoded: &Encoded) -> Bytes {
        encoded.for_client(self.deflate).clone()
    }

    /// Forgets where the client's v2 chain stands: the next keyframe
    /// offered is taken whatever its `seq` (a new stream).
    pub(crate) fn restart_chain(&self) {
        self.outbox().chain = None;
    }

    /// Starts a new subscription generation: frames offered for the
    /// previous one are ignored from now on.
    pub(crate) fn next_generation(&self) -> u64 {
        let mut out = self.outbox();
        out.generation += 1;
        out.generation
    }

    /// Offers one tick's v1 snapshot frame, encoded for the subscription
    /// generation `generation` (ignored when the client has moved on):
    /// written at once when the client is caught up, otherwise queued
    /// under the slow-client policy.
    pub(crate) fn offer_snapshot_for(&self, frame: &Encoded, generation: u64) {
        let out = self.outbox();
        if out.generation == generation {
            self.offer_locked(out, Queued::Snapshot(self.wire(frame)));
        }
    }

    /// Offers the keyframe of tick `seq` (v2). Every v2 frame still queued
    /// is superseded by it and removed (counted as dropped). With
    /// `generation`, a stale generation or a chain already at `seq` or
    /// beyond ignores it; without, it is always taken (a new client, a
    /// subscription change, a resync).
    pub(crate) fn offer_keyframe(&self, frame: &Encoded, seq: u64, generation: Option<u64>) {
        let out = self.outbox();
        if let Some(g) = generation {
            if g != out.generation || out.chain.is_some_and(|c| c >= seq) {
                return;
            }
        }
        self.take_keyframe(out, frame, seq);
    }

    /// Offers a keyframe restating tick `seq`, which the chain may already
    /// be at (an edge marking its last state stale repeats that tick):
    /// ignored only by a stale generation or a chain beyond `seq`.
    pub(crate) fn offer_restated(&self, frame: &Encoded, seq: u64, generation: u64) {
        let out = self.outbox();
        if generation != out.generation || out.chain.is_some_and(|c| c > seq) {
            return;
        }
        self.take_keyframe(out, frame, seq);
    }

    fn take_keyframe(&self, mut out: MutexGuard<'_, Outbox>, frame: &Encoded, seq: u64) {
        if out.close.is_some() || out.broken {
            return;
        }
        out.chain = Some(seq);
        let superseded = remove_chain(&mut out.queue);
        if superseded > 0 {
            self.note_drops(superseded);
        }
        self.offer_locked(out, Queued::Chain(self.wire(frame)));
    }

    /// Offers a v2 delta of the subscription generation `generation`:
    /// appended when it follows the chain and the policy lets it in;
    /// otherwise the queued v2 frames and the delta are replaced by the
    /// keyframe of the same tick, which `keyframe` encodes on demand (once
    /// per tick for all clients of the set).
    pub(crate) fn offer_delta(
        &self,
        delta: DeltaOffer<'_>,
        generation: u64,
        keyframe: impl FnOnce() -> Encoded,
    ) {
        let mut out = self.outbox();
        if out.close.is_some() || out.broken || generation != out.generation {
            return;
        }
        if out.chain.is_some_and(|c| c >= delta.seq) {
            return; // a keyframe already covers this tick
        }
        let follows = out.chain == Some(delta.base);
        let queued_market = out.queue.iter().any(Queued::is_market);
        let would_drop = match self.policy {
            SlowClientPolicy::Conflate => queued_market,
            SlowClientPolicy::DropOldest => out.queue.len() >= self.capacity,
        };
        out.chain = Some(delta.seq);
        if follows && !would_drop {
            self.offer_locked(out, Queued::Chain(self.wire(delta.frame)));
            return;
        }
        // The delta itself is not sent: one drop, plus what the keyframe
        // supersedes in the queue.
        let dropped = remove_chain(&mut out.queue) + u64::from(follows);
        if dropped > 0 {
            self.note_drops(dropped);
        }
        let frame = self.wire(&keyframe());
        self.offer_locked(out, Queued::Chain(frame));
    }

    /// Queues a control frame (hello, pong, error, ping).
    pub fn send_control(&self, frame: Bytes) {
        self.offer(Queued::Control(frame));
    }

    fn offer(&self, frame: Queued) {
        self.offer_locked(self.outbox(), frame);
    }

    fn offer_locked(&self, mut out: MutexGuard<'_, Outbox>, frame: Queued) {
        if out.close.is_some() || out.broken {
            return;
        }
        if out.is_idle() {
            let is_snapshot = frame.is_market();
            let written = self.stream.try_write(frame.bytes());
            if let Ok(n) = written {
                self.bytes_sent.fetch_add(n as u64, Ordering::Relaxed);
            }
            match written {
                Ok(n) if n == frame.bytes().len() => {
                    if is_snapshot {
                        self.delivered.fetch_add(1, Ordering::Relaxed);
                    }
                    return;
                }
                Ok(n) => {
                    if is_snapshot {
                        self.delivered.fetch_add(1, Ordering::Relaxed);
                    }
                    out.partial = Some((frame.bytes().clone(), n));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => out.queue.push_back(frame),
                Err(_) => out.broken = true,
            }
            drop(out);
            self.wake.notify_one();
            return;
        }
        let dropped = self.enqueue(&mut out, frame);
        drop(out);
        if dropped > 0 {
            self.note_drops(dropped);
        }
        self.wake.notify_one();
    }

    /// Applies the slow-client policy; returns how many frames it dropped.
    fn enqueue(&self, out: &mut Outbox, frame: Queued) -> u64 {
        let mut dropped = 0;
        if matches!(frame, Queued::Snapshot(_)) && self.policy == SlowClientPolicy::Conflate {
            if let Some(pos) = out
                .queue
                .iter()
                .position(|q| matches!(q, Queued::Snapshot(_)))
            {
                out.queue.remove(pos);
                dropped += 1;
            }
        }
        if out.queue.len() >= self.capacity {
            match out
                .queue
                .iter()
                .position(|q| matches!(q, Queued::Snapshot(_)))
            {
                Some(pos) => {
                    out.queue.remove(pos);
                }
                // A v2 frame is never dropped alone (the chain would
                // break): it may exceed the bound by itself, since at
                // most one keyframe replaces all the others.
                None if matches!(frame, Queued::Chain(_)) => {
                    out.queue.push_back(frame);
                    return dropped;
                }
                None => return dropped + 1, // full of control frames: drop the new one
            }
            dropped += 1;
        }
        out.queue.push_back(frame);
        dropped
    }

    fn note_drops(&self, n: u64) {
        let total = self.dropped.fetch_add(n, Ordering::Relaxed) + n;
        let now = self.clock.now_ms();
        let last = self.last_drop_log_ms.load(Ordering::Relaxed);
        let first = !self.drop_logged.swap(true, Ordering::Relaxed);
        if first || now.saturating_sub(last) >= DROP_LOG_EVERY_MS {
            self.last_drop_log_ms.store(now, Ordering::Relaxed);
            tracing::warn!(client = self.id, peer = %self.peer, dropped = total, policy = ?self.policy, "slow client: dropping frames");
        }
    }

    /// Asks the session to close the connection with `code` and `reason`
    /// once the frame in flight is out. Queued snapshots are discarded.
    /// The first request wins.
    pub fn request_close(&self, code: u16, reason: impl Into<String>) {
        let mut out = self.outbox();
        if out.close.is_none() {
            out.queue.retain(|q| matches!(q, Queued::Control(_)));
            out.close = Some(CloseRequest {
                code,
                reason: reason.into(),
            });
        }
        drop(out);
        self.wake.notify_one();
    }

    /// Whether a close was requested.
    pub fn close_requested(&self) -> bool {
        self.outbox().close.is_some()
    }

    /// The close requested so far, if any.
    pub fn close_request(&self) -> Option<CloseRequest> {
        self.outbox().close.clone()
    }

    /// Writes as much of the outbox as the socket takes, then the close
    /// frame built by `close_frame` if a close was requested.
    pub fn flush(&self, close_frame: impl Fn(&CloseRequest) -> Bytes) -> Flush {
        let mut out = self.outbox();
        loop {
            if out.broken {
                return Flush::Broken;
            }
            if out.is_idle() {
                // Nothing is queued behind the close frame, so an idle
                // outbox after it was queued means it went out in full.
                if out.close_queued {
                    out.close_written = true;
                    return Flush::Closed;
                }
                let Some(req) = out.close.clone() else {
                    return Flush::Done;
                };
                out.queue.push_back(Queued::Control(close_frame(&req)));
                out.close_queued = true;
            }
            match self.write_batch(&mut out) {
                Ok(true) => continue,
                Ok(false) => return Flush::Blocked,
                Err(_) => {
                    out.broken = true;
                    return Flush::Broken;
                }
            }
        }
    }

    /// One vectored write of the partial frame and the queue head.
    /// `Ok(true)` when everything offered was taken.
    fn write_batch(&self, out: &mut Outbox) -> io::Result<bool> {
        let mut slices: [IoSlice<'_>; MAX_BATCH] = [IoSlice::new(&[]); MAX_BATCH];
        let mut count = 0;
        let mut offered = 0;
        if let Some((bytes, done)) = &out.partial {
            slices[0] = IoSlice::new(&bytes[*done..]);
            offered += bytes.len() - done;
            count = 1;
        }
        for q in out.queue.iter().take(MAX_BATCH - count) {
            slices[count] = IoSlice::new(q.bytes());
            offered += q.bytes().len();
            count += 1;
        }
        let written = match self.stream.try_write_vectored(&slices[..count]) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => 0,
            Err(e) => return Err(e),
        };
        self.bytes_sent.fetch_add(written as u64, Ordering::Relaxed);
        self.consume(out, written);
        Ok(written == offered)
    }

    /// Removes `n` written bytes from the front of the outbox.
    fn consume(&self, out: &mut Outbox, mut n: usize) {
        if let Some((bytes, done)) = out.partial.take() {
            let left = bytes.len() - done;
            if n < left {
                out.partial = Some((bytes, done + n));
                return;
            }
            n -= left;
        }
        while let Some(front) = out.queue.front() {
            let len = front.bytes().len();
            if n == 0 {
                break;
            }
            let Some(q) = out.queue.pop_front() else {
                break;
            };
            if q.is_market() {
                self.delivered.fetch_add(1, Ordering::Relaxed);
            }
            if n < len {
                out.partial = Some((q.bytes().clone(), n));
                return;
            }
            n -= len;
        }
        if out.queue.is_empty() && out.queue.capacity() > self.capacity.min(64) {
            out.queue.shrink_to_fit();
        }
    }

    /// True when frames are waiting for the socket to become writable.
    pub fn has_backlog(&self) -> bool {
        let out = self.outbox();
        !out.is_idle() || (out.close.is_some() && !out.close_written)
    }
}

/// Removes every queued v2 frame; returns how many.
fn remove_chain(queue: &mut VecDeque<Queued>) -> u64 {
    let before = queue.len();
    queue.retain(|q| !matches!(q, Queued::Chain(_)));
    (before - queue.len()) as u64
}

/// What to do with a client whose queue is full or that has fallen behind.
///
/// Either way a v2 client is never dropped a single delta: what the policy
/// would drop is replaced, with the v2 frames still queued, by one keyframe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SlowClientPolicy {
    /// Keep at most one unsent snapshot per client: a newer snapshot
    /// replaces an older one still waiting (snapshots carry full state, so
    /// the newest is all a lagging client needs). Each replaced one counts
    /// as a drop.
    Conflate,
    /// Queue up to `--client-queue` frames and drop the oldest queued
    /// snapshot when full.
    DropOldest,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::time::Duration;

    use tokio::io::AsyncReadExt;
    use tokio::net::TcpListener;

    use super::*;
    use crate::ws::frame;

    /// A connected socket pair with small buffers: the server side wrapped
    /// in a [`Client`], and the peer.
    async fn pair() -> (Client, TcpStream) {
        pair_with(SlowClientPolicy::Conflate).await
    }

    async fn pair_with(policy: SlowClientPolicy) -> (Client, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        let peer = socket
            .connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (server, addr) = listener.accept().await.unwrap();
        socket2::SockRef::from(&server)
            .set_send_buffer_size(4096)
            .unwrap();
        let client = Client::new(1, addr, server, policy, 8, Clock::new());
        (client, peer)
    }

    /// Writes raw bytes until the kernel takes no more; returns how many.
    fn fill(client: &Client) -> usize {
        let chunk = [0u8; 1024];
        let mut total = 0;
        loop {
            match client.stream().try_write(&chunk) {
                Ok(n) => total += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return total,
                Err(e) => panic!("write failed: {e}"),
            }
        }
    }

    /// Flushes until the close frame is out, waiting for writability.
    async fn flush_until_closed(client: &Client, close: &Bytes) {
        let mut flushes = 0;
        loop {
            match client.flush(|_| close.clone()) {
                Flush::Closed => return,
                Flush::Blocked => client.stream().writable().await.unwrap(),
                other => panic!("unexpected {other:?}"),
            }
            flushes += 1;
            assert!(flushes < 10_000, "never closed");
        }
    }

    #[tokio::test]
    async fn close_frame_queued_on_a_full_socket_is_sent_once_it_drains() {
        for reason in ["", "x", "going away", &"r".repeat(123)] {
            let (client, mut peer) = pair().await;
            let filled = fill(&client);
            let close = frame::close(1001u16, reason);
            client.request_close(1001, reason);
            // The socket is full: the close frame cannot go out yet.
            assert_eq!(client.flush(|_| close.clone()), Flush::Blocked);
            assert!(client.has_backlog());

            let mut junk = vec![0u8; filled];
            let reading = async {
                peer.read_exact(&mut junk).await.unwrap();
                let mut got = vec![0u8; close.len()];
                tokio::time::timeout(Duration::from_secs(2), peer.read_exact(&mut got))
                    .await
                    .expect("the close frame arrives")
                    .unwrap();
                got
            };
            let (got, ()) = tokio::join!(reading, flush_until_closed(&client, &close));
            assert_eq!(got, close.as_ref(), "reason {reason:?}");
            assert!(!client.has_backlog());
        }
    }

    fn encoded(text: &str) -> Encoded {
        Encoded::new(
            Bytes::from(text.to_owned()),
            frame::OpCode::Text,
            text.len(),
            std::sync::Arc::default(),
        )
    }

    fn queued(client: &Client) -> Vec<String> {
        client
            .outbox()
            .queue
            .iter()
            .map(|q| String::from_utf8_lossy(q.bytes()).into_owned())
            .collect()
    }

    /// Offers the deltas `from..=to`, each with the keyframe of its tick.
    fn deltas(client: &Client, from: u64, to: u64, generation: u64) {
        for seq in from..=to {
            let delta = encoded(&format!("D{seq}"));
            let offer = DeltaOffer {
                frame: &delta,
                seq,
                base: seq - 1,
            };
            client.offer_delta(offer, generation, || encoded(&format!("K{seq}")));
        }
    }

    #[tokio::test]
    async fn a_delta_the_policy_would_drop_is_replaced_with_the_keyframe_of_its_tick() {
        let (client, _peer) = pair_with(SlowClientPolicy::Conflate).await;
        fill(&client);
        client.offer_keyframe(&encoded("K1"), 1, None);
        deltas(&client, 2, 20, 0);
        // At most one v2 frame waits, and it is the newest state.
        assert_eq!(queued(&client), ["K20"]);
        assert_eq!(client.dropped(), 2 * 19);

        let (client, _peer) = pair_with(SlowClientPolicy::DropOldest).await;
        fill(&client);
        client.offer_keyframe(&encoded("K1"), 1, None);
        deltas(&client, 2, 20, 0);
        // Deltas queue up to the bound (8); the one that would overflow it
        // and all queued v2 frames become one keyframe, and the chain goes on.
        assert_eq!(queued(&client), ["K17", "D18", "D19", "D20"]);
    }

    #[tokio::test]
    async fn the_chain_is_never_broken_nor_fed_a_stale_subscription() {
        let (client, _peer) = pair_with(SlowClientPolicy::DropOldest).await;
        fill(&client);
        // Before any keyframe, a delta cannot apply: its keyframe goes instead.
        deltas(&client, 5, 5, 0);
        assert_eq!(queued(&client), ["K5"]);
        deltas(&client, 6, 6, 0);
        // A delta that skips a tick does not follow: keyframe.
        let skipping = encoded("D8");
        let offer = DeltaOffer {
            frame: &skipping,
            seq: 8,
            base: 7,
        };
        client.offer_delta(offer, 0, || encoded("K8"));
        assert_eq!(queued(&client), ["K8"]);
        // A periodic keyframe the chain already passed is ignored; a forced
        // one (resync) is taken.
        client.offer_keyframe(&encoded("K8bis"), 8, Some(0));
        assert_eq!(queued(&client), ["K8"]);
        client.offer_keyframe(&encoded("K8again"), 8, None);
        assert_eq!(queued(&client), ["K8again"]);
        // After a subscription change, frames of the old set are ignored.
        let generation = client.next_generation();
        deltas(&client, 9, 9, generation - 1);
        client.offer_snapshot_for(&encoded("S9"), generation - 1);
        client.offer_keyframe(&encoded("K9old"), 9, Some(generation - 1));
        assert_eq!(queued(&client), ["K8again"]);
        deltas(&client, 9, 9, generation);
        assert_eq!(queued(&client), ["K8again", "D9"]);
    }
}
