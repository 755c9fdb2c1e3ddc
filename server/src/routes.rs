//! The HTTP surface, as warp filters built by functions.
//!
//! | route | what |
//! |---|---|
//! | `GET /ws/market` | WebSocket upgrade: `hello`, the newest snapshot, then one per tick |
//! | `GET /healthz` | `ok` while the process runs |
//! | `GET /` and files | the price board from `--www-dir` |

use std::convert::Infallible;
use std::path::PathBuf;

use hyper::upgrade::OnUpgrade;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection, Reply};

use crate::state::{AppState, PeerAddr};
use crate::upgrade::{reject, upgrade};

/// Every route of the server.
pub fn routes(
    state: AppState,
    www: Option<PathBuf>,
) -> impl Filter<Extract = (Response,), Error = Infallible> + Clone {
    ws_market(state)
        .or(healthz())
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
