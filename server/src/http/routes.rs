//! The HTTP surface, as warp filters built by functions.
//!
//! | route | what |
//! |---|---|
//! | `GET /ws/market` | WebSocket upgrade: `hello`, the newest snapshot, then one per tick |
//! | `GET /healthz` | `ok` while the process runs |
//! | `GET /readyz` | 200 once the feed produced a snapshot; 503 (body: why) before it, while the feed is stale or its input ended, and while draining |
//! | `GET /metrics` | Prometheus/OpenMetrics text (see [`crate::ops::metrics`]) |
//! | `GET /` and files | the price board from `--www-dir` |

use std::convert::Infallible;
use std::path::PathBuf;

use hyper::upgrade::OnUpgrade;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection, Reply};

use crate::http::state::{AppState, PeerAddr};
use crate::http::upgrade::{reject, upgrade};

/// Every route of the server.
pub fn routes(
    state: AppState,
    www: Option<PathBuf>,
) -> impl Filter<Extract = (Response,), Error = Infallible> + Clone {
    ws_market(state.clone())
        .or(healthz())
        .unify()
        .or(readyz(state.clone()))
        .unify()
        .or(metrics(state))
        .unify()
        .or(static_files(www))
        .unify()
        .recover(handle_rejection)
        .unify()
}

/// `GET /ws/market`.
pub fn ws_market(state: AppState) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("ws" / "market")
        .and(warp::get())
        .and(warp::header::headers_cloned())
        .and(optional_query())
        .and(warp::ext::optional::<OnUpgrade>())
        .and(warp::ext::optional::<PeerAddr>())
        .and(with_state(state))
        .map(upgrade)
}

/// `GET /healthz`.
pub fn healthz() -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("healthz")
        .and(warp::get())
        .map(|| "ok\n".into_response())
}

/// `GET /readyz`: whether a load balancer should send new clients.
pub fn readyz(state: AppState) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("readyz")
        .and(warp::get())
        .and(with_state(state))
        .map(|state: AppState| {
            match crate::ops::readiness::not_ready(&state.hub, &state.draining, &state.feed) {
                None => "ready\n".into_response(),
                Some(why) => reject(StatusCode::SERVICE_UNAVAILABLE, why),
            }
        })
}

/// `GET /metrics`.
pub fn metrics(state: AppState) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("metrics")
        .and(warp::get())
        .and(with_state(state))
        .map(|state: AppState| {
            warp::reply::with_header(
                state.metrics.render(),
                "content-type",
                crate::ops::metrics::CONTENT_TYPE,
            )
            .into_response()
        })
}

/// The raw query string, `None` when the URI has none.
fn optional_query() -> impl Filter<Extract = (Option<String>,), Error = Infallible> + Clone {
    warp::query::raw()
        .map(Some)
        .or(warp::any().map(|| None))
        .unify()
}

/// The board: files under `www`, `index.html` at `/`.
pub fn static_files(
    www: Option<PathBuf>,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let enabled = www.is_some();
    let dir = www.unwrap_or_default();
    warp::get()
        .and(warp::any().and_then(move || async move {
            if enabled {
                Ok(())
            } else {
                Err(warp::reject::not_found())
            }
        }))
        .untuple_one()
        .and(warp::fs::dir(dir))
        .map(Reply::into_response)
}

fn with_state(state: AppState) -> impl Filter<Extract = (AppState,), Error = Infallible> + Clone {
    warp::any().map(move || state.clone())
}

async fn handle_rejection(err: Rejection) -> Result<Response, Infallible> {
    let (status, reason) = if err.is_not_found() {
        (StatusCode::NOT_FOUND, "not found")
    } else if err.find::<warp::reject::MethodNotAllowed>().is_some() {
        (StatusCode::METHOD_NOT_ALLOWED, "method not allowed")
    } else {
        (StatusCode::BAD_REQUEST, "bad request")
    };
    Ok(reject(status, reason))
}
