//! The accept loop: every TCP connection is tuned, tracked and served by
//! hyper's HTTP/1 connection with upgrades, in front of the warp filters.
//!
//! Owning this loop (rather than `warp::serve`) gives the server what warp
//! does not expose: a bound on how long a client may take to send its
//! request head (slow-loris), socket options per connection, the peer
//! address as a request extension, and connections that shutdown can wait
//! for.

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
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

use crate::http::state::PeerAddr;

/// Connection settings.
#[derive(Debug, Clone, Copy)]
pub struct ConnConfig {
    /// Bound on reading a request head.
    pub request_timeout: Duration,
    /// SO_SNDBUF for each socket, 0 for the system default.
    pub send_buffer: usize,
}

/// Accepts connections until `shutdown` fires, serving each with `filter`.
pub async fn accept_loop<F>(
    listener: TcpListener,
    filter: F,
    cfg: ConnConfig,
    shutdown: CancellationToken,
    tasks: TaskTracker,
) where
    F: Filter<Extract = (Response,), Error = Infallible> + Clone + Send + Sync + 'static,
{
    let service = warp::service(filter);
    loop {
        let accepted = tokio::select! {
            biased;
            () = shutdown.cancelled() => break,
            r = listener.accept() => r,
        };
        match accepted {
            Ok((stream, peer)) => {
                configure(&stream, cfg);
                let svc = service.clone();
                let shutdown = shutdown.clone();
                tasks.spawn(serve_connection(stream, peer, svc, cfg, shutdown));
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
}

async fn serve_connection<S>(
    stream: TcpStream,
    peer: SocketAddr,
    svc: S,
    cfg: ConnConfig,
    shutdown: CancellationToken,
) where
    S: Service<Request<Incoming>, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send,
{
    let handler = service_fn(move |mut req: Request<Incoming>| {
        req.extensions_mut().insert(PeerAddr(peer));
        let mut svc = svc.clone();
        async move { svc.call(req).await }
    });
    let conn = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(cfg.request_timeout)
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
    if let Err(e) = result {
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
