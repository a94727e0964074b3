//! Operator endpoints: liveness, readiness, Prometheus metrics, cluster status. They need no
//! token (probes and scrapers carry none).

use std::time::Duration;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/metrics", get(metrics))
        .route("/api/cluster/status", get(cluster_status))
}

async fn health(State(state): State<AppState>) -> Json<serde_json::Value> {
    Json(json!({
        "status": "ok",
        "node_id": state.cluster.node().node_id,
        "uptime_seconds": state.started.elapsed().as_secs(),
    }))
}

/// 503 while the database is unreachable or the node is draining (then `status` says
/// `not_ready` with every check `ok`).
async fn ready(State(state): State<AppState>) -> Response {
    let db_ok = matches!(
        tokio::time::timeout(Duration::from_secs(2), state.store.ping()).await,
        Ok(Ok(()))
    );
    let cluster_mode = state.config.redis.enabled();
    let ready = db_ok && !state.is_draining();
    let body = json!({
        "status": if ready { "ready" } else { "not_ready" },
        "checks": {
            "database": if db_ok { "ok" } else { "error" },
            "redis": if cluster_mode { "error" } else { "disabled" },
            "cluster_mode": cluster_mode,
        },
    });
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body)).into_response()
}

async fn metrics(State(state): State<AppState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}

async fn cluster_status(State(state): State<AppState>) -> Json<serde_json::Value> {
    Json(json!({ "nodes": state.cluster.nodes() }))
}
