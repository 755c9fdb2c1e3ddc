//! The accept loop: every TCP connection is tuned, tracked and served by
//! hyper's HTTP/1 connection with upgrades, in front of the warp filters.
//!
//! Owning this loop (rather than `warp::serve`) gives the server what warp
//! does not expose: a bound on how long a client may take to send its
//! request head (slow-loris) and on its size (`--max-request-head`, 431
//! beyond), a bound on how many connections may be waiting for their
//! upgrade at once (`--max-pending-handshakes`: beyond it a new connection
//! is closed at once), socket options per connection, the peer address as
//! a request extension, and connections that shutdown can wait for.
//!
//! A connection is *pending* from `accept` until hyper hands its socket to
//! the WebSocket session (the upgrade) or the connection ends; plain HTTP
//! connections (the board, `/metrics`) count while they are open.
//!
//! The loop also measures its accept rate ([`AcceptRate`]): at shutdown
//! the 1001's reconnect spread is sized from it and the client count, so
//! that the clients coming back to a restarted node arrive no faster than
//! it accepted before, and never overflow its listen backlog.

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::Request;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower_service::Service;
use warp::reply::Response;
use warp::Filter;

use crate::admission::Rejection;
use crate::http::state::PeerAddr;
use crate::ops::metrics::Metrics;

/// Connection settings.
#[derive(Debug, Clone, Copy)]
pub struct ConnConfig {
    /// Bound on reading a request head.
    pub request_timeout: Duration,
    /// SO_SNDBUF for each socket, 0 for the system default.
    pub send_buffer: usize,
    /// TCP_NOTSENT_LOWAT for each socket, 0 for the system default.
    pub send_lowat: u32,
    /// Largest request head (request line and headers) in bytes; larger is
    /// answered 431.
    pub max_request_head: usize,
    /// Connections accepted but not yet upgraded, at most.
    pub max_pending: usize,
}

/// Counts connections accepted but not yet upgraded (or ended).
#[derive(Debug, Clone, Default)]
struct Pending(Arc<AtomicUsize>);

/// One pending connection; released when dropped.
#[derive(Debug)]
struct PendingSlot(Arc<AtomicUsize>);

impl Pending {
    /// A slot, or `None` when `max` connections are already pending. Only
    /// the accept loop takes slots, so load-then-add cannot overshoot.
    fn try_take(&self, max: usize) -> Option<PendingSlot> {
        if self.0.load(Ordering::Acquire) >= max {
            return None;
        }
        self.0.fetch_add(1, Ordering::AcqRel);
        Some(PendingSlot(self.0.clone()))
    }
}

impl Drop for PendingSlot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Length of one accept-rate measurement window.
const RATE_WINDOW: Duration = Duration::from_millis(250);
/// Accept rate assumed when less was measured: a rate this low is the
/// offered load of a quiet server, not what it can take.
const MIN_ACCEPT_RATE: u64 = 200;
/// Longest reconnect spread announced, whatever the arithmetic says: past
/// it a page's data would be stale for too long.
pub const MAX_RECONNECT_SPREAD: Duration = Duration::from_secs(60);

/// The accept loop's highest measured rate, connections per second over
/// [`RATE_WINDOW`] windows; a cloneable handle.
#[derive(Debug, Clone, Default)]
pub struct AcceptRate(Arc<AtomicU64>);

/// The accept loop's side of [`AcceptRate`]: the window being counted.
#[derive(Debug)]
struct RateWindow {
    started: std::time::Instant,
    count: u64,
}

impl RateWindow {
    fn new() -> Self {
        Self {
            started: std::time::Instant::now(),
            count: 0,
        }
    }

    /// Counts one accept; closes the window into `rate` when it is over.
    fn accepted(&mut self, rate: &AcceptRate) {
        self.count += 1;
        let elapsed = self.started.elapsed();
        if elapsed >= RATE_WINDOW {
            let per_s = self.count.saturating_mul(1000)
                / u64::try_from(elapsed.as_millis())
                    .unwrap_or(u64::MAX)
                    .max(1);
            rate.0.fetch_max(per_s, Ordering::Relaxed);
            *self = Self::new();
        }
    }
}

impl AcceptRate {
    /// Highest accept rate measured so far, per second.
    pub fn peak_per_s(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }

    /// The reconnect spread for `clients` coming back to a node with a
    /// listen backlog of `backlog`: half the backlog may arrive at once;
    /// the rest, spread evenly, arrive no faster than the peak measured
    /// accept rate (at least [`MIN_ACCEPT_RATE`]) so the queue never fills.
    /// Zero when no spread is needed; at most [`MAX_RECONNECT_SPREAD`].
    pub fn spread_for(&self, clients: usize, backlog: u32) -> Duration {
        spread(clients, backlog, self.peak_per_s())
    }
}

fn spread(clients: usize, backlog: u32, rate_per_s: u64) -> Duration {
    let burst = u64::from(backlog / 2);
    let rest = u64::try_from(clients)
        .unwrap_or(u64::MAX)
        .saturating_sub(burst);
    if rest == 0 {
        return Duration::ZERO;
    }
    let ms = rest
        .saturating_mul(1000)
        .div_ceil(rate_per_s.max(MIN_ACCEPT_RATE));
    Duration::from_millis(ms).min(MAX_RECONNECT_SPREAD)
}

/// Accepts connections until `shutdown` fires, serving each with `filter`,
/// and records its accept rate in `rate`.
pub async fn accept_loop<F>(
    listener: TcpListener,
    filter: F,
    cfg: ConnConfig,
    metrics: Metrics,
    shutdown: CancellationToken,
    tasks: TaskTracker,
    rate: AcceptRate,
) where
    F: Filter<Extract = (Response,), Error = Infallible> + Clone + Send + Sync + 'static,
{
    let service = warp::service(filter);
    let pending = Pending::default();
    let mut window = RateWindow::new();
    loop {
        let accepted = tokio::select! {
            biased;
            () = shutdown.cancelled() => break,
            r = listener.accept() => r,
        };
        match accepted {
            Ok((stream, peer)) => {
                window.accepted(&rate);
                let Some(slot) = pending.try_take(cfg.max_pending) else {
                    // Closed before a single byte is read: the cost of a
                    // flood of half-open connections stays bounded.
                    drop(stream);
                    metrics.rejected(Rejection::PendingLimit);
                    tracing::debug!(%peer, "too many pending handshakes; connection closed");
                    continue;
                };
                configure(&stream, cfg);
                let svc = service.clone();
                let conn = Conn {
                    cfg,
                    metrics: metrics.clone(),
                    shutdown: shutdown.clone(),
                    slot,
                };
                tasks.spawn(serve_connection(stream, peer, svc, conn));
            }
            Err(e) => backoff_on_accept_error(&e).await,
        }
    }
    tracing::debug!("stopped accepting connections");
}

fn configure(stream: &TcpStream, cfg: ConnConfig) {
    // Snapshots are written whole; Nagle would only add latency.
    if let Err(e) = stream.set_nodelay(true) {
        tracing::debug!(error = %e, "TCP_NODELAY");
    }
    if cfg.send_buffer > 0 {
        if let Err(e) = socket2::SockRef::from(stream).set_send_buffer_size(cfg.send_buffer) {
            tracing::debug!(error = %e, "SO_SNDBUF");
        }
    }
    // A client that stops reading must not get megabytes of the kernel's
    // autotuned send buffer: past this much unsent data, snapshots wait
    // in the outbox, where the slow-client policy conflates them.
    if cfg.send_lowat > 0 {
        if let Err(e) = socket2::SockRef::from(stream).set_tcp_notsent_lowat(cfg.send_lowat) {
            tracing::debug!(error = %e, "TCP_NOTSENT_LOWAT");
        }
    }
}

/// What one connection's task holds besides its socket.
struct Conn {
    cfg: ConnConfig,
    metrics: Metrics,
    shutdown: CancellationToken,
    /// Released when hyper hands the socket to the upgrade, or the
    /// connection ends: both finish the `serve_connection` future.
    slot: PendingSlot,
}

async fn serve_connection<S>(stream: TcpStream, peer: SocketAddr, svc: S, conn_state: Conn)
where
    S: Service<Request<Incoming>, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send,
{
    let handler = service_fn(move |mut req: Request<Incoming>| {
        req.extensions_mut().insert(PeerAddr(peer));
        let mut svc = svc.clone();
        async move { svc.call(req).await }
    });
    let Conn {
        cfg,
        metrics,
        shutdown,
        slot,
    } = conn_state;
    let conn = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(cfg.request_timeout)
        .max_header_size(cfg.max_request_head)
        .serve_connection(TokioIo::new(stream), handler)
        .with_upgrades();
    tokio::pin!(conn);
    let result = tokio::select! {
        r = conn.as_mut() => r,
        () = shutdown.cancelled() => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    drop(slot);
    if let Err(e) = result {
        if e.is_parse_too_large() {
            // hyper answered 431 (head over --max-request-head, or too
            // many headers).
            metrics.rejected(Rejection::HeadTooLarge);
        }
        tracing::debug!(%peer, error = %e, "http connection ended with an error");
    }
}

/// Running out of file descriptors must not spin the loop.
async fn backoff_on_accept_error(e: &io::Error) {
    match e.kind() {
        io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset => {}
        _ => {
            tracing::warn!(error = %e, "accept failed; pausing 100ms");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_spread_while_half_the_backlog_holds_every_client() {
        assert_eq!(spread(0, 4096, 0), Duration::ZERO);
        assert_eq!(spread(2048, 4096, 10), Duration::ZERO);
        assert_eq!(spread(2049, 4096, 1000), Duration::from_millis(1));
    }

    #[test]
    fn the_rest_arrive_at_the_measured_rate() {
        // 15,000 clients, 2,048 at once, 12,952 at 5,000/s.
        assert_eq!(spread(15_000, 4096, 5_000), Duration::from_millis(2_591));
        // A quiet server's low measurement counts as MIN_ACCEPT_RATE.
        assert_eq!(
            spread(2_148, 4096, 3),
            Duration::from_millis(100 * 1000 / MIN_ACCEPT_RATE)
        );
        assert_eq!(spread(1_000_000, 4096, 1), MAX_RECONNECT_SPREAD);
    }

    #[test]
    fn rate_windows_keep_the_peak() {
        let rate = AcceptRate::default();
        let mut w = RateWindow {
            started: std::time::Instant::now() - Duration::from_secs(1),
            count: 499,
        };
        w.accepted(&rate);
        let peak = rate.peak_per_s();
        assert!((450..=500).contains(&peak), "{peak}");
        let mut w = RateWindow {
            started: std::time::Instant::now() - Duration::from_secs(1),
            count: 9,
        };
        w.accepted(&rate);
        assert_eq!(rate.peak_per_s(), peak, "a slower window keeps the peak");
    }
}
