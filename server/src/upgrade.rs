//! The `/ws/market` handshake: validate, answer 101, and hand the raw
//! socket to a session once hyper releases it.

use std::net::SocketAddr;

use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use warp::http::{header, HeaderMap, HeaderValue, StatusCode};
use warp::reply::{Reply, Response};

use crate::session;
use crate::state::{AppState, PeerAddr};
use crate::ws::handshake;

/// Answers an upgrade request; on success the session starts in the
/// background once the 101 response has been written.
pub fn upgrade(
    headers: HeaderMap,
    on_upgrade: Option<OnUpgrade>,
    peer: Option<PeerAddr>,
    state: AppState,
) -> Response {
    let key = match handshake::check_request(&headers) {
        Ok(key) => key,
        Err(e) => return reject(e.status(), &e.to_string()),
    };
    let (Some(on_upgrade), Some(PeerAddr(peer))) = (on_upgrade, peer) else {
        return reject(StatusCode::BAD_REQUEST, "connection cannot be upgraded");
    };
    if state.shutdown.is_cancelled() {
        return reject(StatusCode::SERVICE_UNAVAILABLE, "server is shutting down");
    }
    let tasks = state.tasks.clone();
    tasks.spawn(async move {
        match on_upgrade.await {
            Ok(upgraded) => match upgraded.downcast::<TokioIo<TcpStream>>() {
                Ok(parts) => {
                    start_session(state, peer, parts.io.into_inner(), parts.read_buf).await
                }
                Err(_) => tracing::error!(%peer, "upgraded connection is not a TCP stream"),
            },
            Err(e) => tracing::debug!(%peer, error = %e, "upgrade failed"),
        }
    });
    switching_protocols(&handshake::accept_key(&key))
}

async fn start_session(
    state: AppState,
    peer: SocketAddr,
    stream: TcpStream,
    leftover: bytes::Bytes,
) {
    let client = state.hub.register(peer, stream, state.hello.clone());
    tracing::info!(client = client.id(), %peer, "client connected");
    session::run(client, state.hub, leftover, state.session).await;
}

fn switching_protocols(accept: &str) -> Response {
    let mut res = warp::reply().into_response();
    *res.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = res.headers_mut();
    h.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    if let Ok(v) = HeaderValue::from_str(accept) {
        h.insert(header::SEC_WEBSOCKET_ACCEPT, v);
    }
    res
}

/// A plain-text error response.
pub fn reject(status: StatusCode, reason: &str) -> Response {
    let mut res = warp::reply::with_status(format!("{reason}\n"), status).into_response();
    if status == StatusCode::UPGRADE_REQUIRED {
        res.headers_mut().insert(
            header::SEC_WEBSOCKET_VERSION,
            HeaderValue::from_static("13"),
        );
    }
    res
}
