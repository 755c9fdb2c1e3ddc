//! The `/ws/market` handshake: validate, authenticate, take a connection
//! slot, answer 101, and hand the raw socket to a session once hyper
//! releases it.
//!
//! Every refusal happens here, before the upgrade, as a plain-text answer
//! whose status, reason and metrics label come from its
//! [`Rejection`]; checked in this order: draining, handshake headers,
//! the `Sec-WebSocket-Protocol` offer (only unknown names: 400 naming the
//! supported ones; the chosen name is echoed in the 101), `Origin`, token, connection slot (per IP of the client, which behind a
//! `--trusted-proxy` is the address its forwarding header names; logged
//! with port 0 then).

use std::net::SocketAddr;

use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use marketfeed_protocol::Subprotocol;
use tokio::net::TcpStream;
use tracing::Instrument;
use warp::http::{header, HeaderMap, HeaderValue, StatusCode};
use warp::reply::{Reply, Response};

use crate::admission::auth::{token_from_request, AuthError, Claims};
use crate::admission::limits::Permit;
use crate::admission::Rejection;
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
    let refuse = |rejection: Rejection, res: Response| {
        tracing::debug!(peer = ?peer.map(|p| p.0), reason = rejection.label(), "handshake refused");
        state.metrics.rejected(rejection);
        res
    };
    let answer =
        |rejection: Rejection| refuse(rejection, refusal(rejection, state.retry_after_secs));
    if state.draining.is_cancelled() {
        return answer(Rejection::Draining);
    }
    let key = match handshake::check_request(&headers) {
        Ok(key) => key,
        Err(e) => return refuse(Rejection::BadHandshake, from_handshake(e.to_response())),
    };
    let Ok(offer) = negotiate(&headers) else {
        let body = format!(
            "{}: offer one of {}",
            Rejection::UnsupportedSubprotocol.reason(),
            Subprotocol::supported_list()
        );
        return refuse(
            Rejection::UnsupportedSubprotocol,
            reject(Rejection::UnsupportedSubprotocol.status(), &body),
        );
    };
    let format = offer.unwrap_or(Subprotocol::DEFAULT);
    if !state.origins.allows(&headers) {
        return answer(Rejection::ForbiddenOrigin);
    }
    let claims = match authenticate(&state, query.as_deref(), &headers) {
        Ok(claims) => claims,
        Err(e) => return answer(e.rejection()),
    };
    let (Some(on_upgrade), Some(PeerAddr(peer))) = (on_upgrade, peer) else {
        return refuse(
            Rejection::BadHandshake,
            reject(StatusCode::BAD_REQUEST, "connection cannot be upgraded"),
        );
    };
    // Behind a trusted proxy the client is who its forwarding header names.
    let client_ip = state.proxies.client_ip(peer.ip(), &headers);
    let peer = if client_ip == peer.ip() {
        peer
    } else {
        SocketAddr::new(client_ip, 0)
    };
    let permit = match state.limiter.acquire(peer.ip()) {
        Ok(permit) => permit,
        Err(e) => return answer(e.rejection()),
    };
    // permessage-deflate, when the server compresses and the client
    // offered terms it can honour; otherwise the upgrade goes on without.
    let deflate = state
        .compression
        .then(|| handshake::negotiate_deflate(&headers))
        .flatten();
    state.metrics.accepted();
    let span = match &claims {
        Some(c) => tracing::info_span!("conn", sub = %c.sub),
        None => tracing::Span::none(),
    };
    let compressed = deflate.is_some();
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
                            format,
                            deflate: compressed,
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
    let mut res = switching_protocols(&key);
    if let Some(chosen) = offer {
        res.headers_mut().insert(
            header::SEC_WEBSOCKET_PROTOCOL,
            HeaderValue::from_static(chosen.name()),
        );
    }
    if let Some(extensions) = deflate {
        res.headers_mut()
            .insert(header::SEC_WEBSOCKET_EXTENSIONS, extensions);
    }
    res
}

/// The format the client's `Sec-WebSocket-Protocol` offer chooses (the
/// first name it lists that marketfeed knows, every header line read as
/// one list): `Ok(None)` when it offers none, `Err` when it offers only
/// names marketfeed does not speak.
fn negotiate(headers: &HeaderMap) -> Result<Option<Subprotocol>, ()> {
    let mut offered = false;
    for value in headers.get_all(header::SEC_WEBSOCKET_PROTOCOL) {
        let Ok(list) = value.to_str() else {
            offered = true;
            continue;
        };
        if let Some(chosen) = Subprotocol::choose(list) {
            return Ok(Some(chosen));
        }
        offered |= list.split(',').any(|t| !t.trim().is_empty());
    }
    if offered {
        Err(())
    } else {
        Ok(None)
    }
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
    /// The negotiated wire format.
    format: Subprotocol,
    /// permessage-deflate was negotiated.
    deflate: bool,
}

async fn start_session(state: AppState, conn: Conn, stream: TcpStream, leftover: bytes::Bytes) {
    let started = tokio::time::Instant::now();
    let expires_at = conn.claims.as_ref().map(|c| started + c.remaining());
    let client = state.hub.register(
        conn.peer,
        stream,
        state.greeting.frame(conn.format),
        conn.format,
        conn.deflate,
    );
    tracing::info!(client = client.id(), peer = %conn.peer, "client connected");
    let ended = session::run(client, state.hub, leftover, state.session, expires_at).await;
    state.metrics.disconnected(&ended, started.elapsed());
    drop(conn.permit);
}

/// The 101 answer `ws::handshake` builds for `client_key`.
fn switching_protocols(client_key: &str) -> Response {
    let (parts, ()) = handshake::switching_protocols(client_key).into_parts();
    let mut res = warp::reply().into_response();
    *res.status_mut() = parts.status;
    *res.headers_mut() = parts.headers;
    res
}

/// A plain-text error response.
pub fn reject(status: StatusCode, reason: &str) -> Response {
    warp::reply::with_status(format!("{reason}\n"), status).into_response()
}

/// The answer to `rejection`: its status and reason, `Retry-After` when
/// the refusal is about load, and an RFC 6750 challenge on a 401.
fn refusal(rejection: Rejection, retry_after_secs: u64) -> Response {
    let mut res = reject(rejection.status(), rejection.reason());
    let headers = res.headers_mut();
    if rejection.retry_later() {
        headers.insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
    }
    if rejection.status() == StatusCode::UNAUTHORIZED {
        headers.insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(r#"Bearer realm="marketfeed", error="invalid_token""#),
        );
    }
    res
}

/// A refusal of `ws::handshake` (400, or 426 with `Sec-WebSocket-Version`),
/// its text as the body.
fn from_handshake(refusal: warp::http::Response<String>) -> Response {
    let (parts, body) = refusal.into_parts();
    let mut res = reject(parts.status, &body);
    res.headers_mut().extend(parts.headers);
    res
}
