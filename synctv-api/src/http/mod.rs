//! The HTTP surface: one file per resource, each exposing `router()`, assembled here with
//! the JSON fallbacks (404, 405, panics), body limit and request metrics.

mod auth;
mod chat;
mod cluster;
mod members;
mod movies;
mod ops;
mod rooms;

use std::time::Instant;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tower_http::catch_panic::CatchPanicLayer;

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

/// Count requests by method, route template and status, and time them.
async fn track(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".into());
    let resp = next.run(req).await;
    state.metrics.http_request(
        method.as_str(),
        &route,
        resp.status().as_u16(),
        started.elapsed(),
    );
    resp
}
