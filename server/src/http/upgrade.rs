//! The `/ws/market` handshake: validate, authenticate, take a connection
//! slot, answer 101, and hand the raw socket to a session once hyper
//! releases it.
//!
//! Every refusal happens here, before the upgrade, as a plain-text answer:
//!
//! | status | body | when |
//! |---|---|---|
//! | 503 + `Retry-After` | `server is shutting down` | shutdown (drain) has begun |
//! | 400 / 426 | what is wrong | not a valid WebSocket handshake |
//! | 403 | `origin not allowed` | `Origin` not in `--allowed-origin` |
//! | 401 | `missing token`, `malformed token`, `invalid token signature`, `token expired` | auth on and no valid token |
//! | 503 + `Retry-After` | `server is at its connection limit` | `--max-connections` reached |
//! | 429 + `Retry-After` | `too many connections from this address` | `--max-connections-per-ip` reached |

use std::net::SocketAddr;

use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tracing::Instrument;
use warp::http::{header, HeaderMap, HeaderValue, StatusCode};
use warp::reply::{Reply, Response};

use crate::admission::auth::{token_from_request, AuthError, Claims};
use crate::admission::limits::{LimitError, Permit};
use crate::fanout::session;
use crate::http::state::{AppState, PeerAddr};
use crate::ws::handshake;

/// Answers an upgrade request; on success the session starts in the
/// background once the 101 response has been written.
pub fn upgrade(
    headers: HeaderMap,
    query: Option<String>,
    on_upgrade: Option<OnUpgrade>,
    peer: Option<PeerAddr>,
    state: AppState,
) -> Response {
    let refuse = |reason: &'static str, res: Response| {
        tracing::debug!(peer = ?peer.map(|p| p.0), reason, "handshake refused");
        state.metrics.rejected(reason);
        res
    };
    if state.draining.is_cancelled() {
        let res = reject_retry(
            StatusCode::SERVICE_UNAVAILABLE,
            "server is shutting down",
            state.retry_after_secs,
        );
        return refuse("draining", res);
    }
    let key = match handshake::check_request(&headers) {
        Ok(key) => key,
        Err(e) => return refuse("bad_handshake", reject(e.status(), &e.to_string())),
    };
    if !state.origins.allows(&headers) {
        return refuse(
            "forbidden_origin",
            reject(StatusCode::FORBIDDEN, "origin not allowed"),
        );
    }
    let claims = match authenticate(&state, query.as_deref(), &headers) {
        Ok(claims) => claims,
        Err(e) => return refuse(e.label(), unauthorized(&e)),
    };
    let (Some(on_upgrade), Some(PeerAddr(peer))) = (on_upgrade, peer) else {
        return refuse(
            "bad_handshake",
            reject(StatusCode::BAD_REQUEST, "connection cannot be upgraded"),
        );
    };
    let permit = match state.limiter.acquire(peer.ip()) {
        Ok(permit) => permit,
        Err(e @ LimitError::Global) => {
            let res = reject_retry(
                StatusCode::SERVICE_UNAVAILABLE,
                &e.to_string(),
                state.retry_after_secs,
            );
            return refuse("server_full", res);
        }
        Err(e @ LimitError::PerIp) => {
            let res = reject_retry(
                StatusCode::TOO_MANY_REQUESTS,
                &e.to_string(),
                state.retry_after_secs,
            );
            return refuse("ip_limit", res);
        }
    };
    state.metrics.accepted();
    let span = match &claims {
        Some(c) => tracing::info_span!("conn", sub = %c.sub),
        None => tracing::Span::none(),
    };
    let tasks = state.tasks.clone();
    tasks.spawn(
        async move {
            match on_upgrade.await {
                Ok(upgraded) => match upgraded.downcast::<TokioIo<TcpStream>>() {
                    Ok(parts) => {
                        let conn = Conn {
                            peer,
                            claims,
                            permit,
                        };
                        start_session(state, conn, parts.io.into_inner(), parts.read_buf).await;
                    }
                    Err(_) => tracing::error!(%peer, "upgraded connection is not a TCP stream"),
                },
                Err(e) => tracing::debug!(%peer, error = %e, "upgrade failed"),
            }
        }
        .instrument(span),
    );
    switching_protocols(&handshake::accept_key(&key))
}

/// `Ok(None)` when authentication is off.
fn authenticate(
    state: &AppState,
    query: Option<&str>,
    headers: &HeaderMap,
) -> Result<Option<Claims>, AuthError> {
    let Some(auth) = &state.auth else {
        return Ok(None);
    };
    let token = token_from_request(query, headers).ok_or(AuthError::Missing)?;
    auth.verify(token).map(Some)
}

/// What an accepted handshake hands to its session.
struct Conn {
    peer: SocketAddr,
    claims: Option<Claims>,
    /// Held for the whole session; dropping it frees the slot.
    permit: Permit,
}

async fn start_session(state: AppState, conn: Conn, stream: TcpStream, leftover: bytes::Bytes) {
    let started = tokio::time::Instant::now();
    let expires_at = conn.claims.as_ref().map(|c| started + c.remaining());
    let client = state.hub.register(conn.peer, stream, state.hello.clone());
    tracing::info!(client = client.id(), peer = %conn.peer, "client connected");
    let ended = session::run(client, state.hub, leftover, state.session, expires_at).await;
    state.metrics.disconnected(&ended, started.elapsed());
    drop(conn.permit);
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

/// A plain-text error response with `Retry-After`.
pub fn reject_retry(status: StatusCode, reason: &str, retry_after_secs: u64) -> Response {
    let mut res = reject(status, reason);
    res.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
    res
}

/// 401 with the reason and an RFC 6750 challenge.
fn unauthorized(e: &AuthError) -> Response {
    let mut res = reject(StatusCode::UNAUTHORIZED, &e.to_string());
    res.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static(r#"Bearer realm="marketfeed", error="invalid_token""#),
    );
    res
}
