//! The HTTP surface: one file per resource, each exposing `router()`, assembled here with
//! the JSON fallbacks (404, 405, panics), body limit and request metrics.

mod auth;
mod chat;
mod cluster;
mod members;
mod movies;
mod ops;
mod rooms;
mod web;

use std::time::Instant;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tower_http::catch_panic::CatchPanicLayer;
use tracing::Instrument;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

use crate::error::Error;
use crate::state::AppState;

pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(ops::router())
        .merge(cluster::router())
        .merge(auth::router(state.clone()))
        .merge(rooms::router())
        .merge(movies::router())
        .merge(members::router())
        .merge(chat::router())
        .merge(web::router())
        .route("/api/rooms/{room_id}/ws", get(crate::ws::handler))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(state.config.server.max_body_bytes))
        .layer(middleware::from_fn_with_state(state.clone(), track))
        .layer(CatchPanicLayer::custom(
            |_: Box<dyn std::any::Any + Send>| {
                Error::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal_error",
                    "internal server error",
                )
                .into_response()
            },
        ))
        .with_state(state)
}

async fn not_found() -> Error {
    Error::not_found("not_found", "no such route")
}

async fn method_not_allowed() -> Error {
    Error::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "method not allowed on this route",
    )
}

/// Count requests by method (the standard ones; `other` for the rest), route template and
/// status, and time them; log them under a span with a correlation id (the client's
/// `X-Request-Id` when it sent one, echoed back).
async fn track(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".into());
    let request_id = req
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 64 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map(String::from)
        .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
    let span = tracing::info_span!(
        parent: state.cluster.span(),
        "http",
        method = %method,
        route = %route,
        request_id = %request_id,
    );
    let mut resp = next.run(req).instrument(span).await;
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        resp.headers_mut().insert(REQUEST_ID, v);
    }
    state
        .metrics
        .http_request(&method, &route, resp.status().as_u16(), started.elapsed());
    resp
}
