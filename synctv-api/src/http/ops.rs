//! Probe endpoints: liveness, readiness, Prometheus metrics, cluster status. They need no
//! token (probes and scrapers carry none). The operator API is in `cluster.rs`.

use std::time::Duration;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use synctv_cluster::broker::BrokerHealth;

use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/metrics", get(metrics))
}

async fn health(State(state): State<AppState>) -> Json<serde_json::Value> {
    Json(json!({
        "status": "ok",
        "node_id": state.cluster.node().node_id,
        "uptime_seconds": state.started.elapsed().as_secs(),
    }))
}

/// 503 while the database is unreachable or the node is draining (then `status` says
/// `not_ready` with every check `ok`). A failing Redis is reported but keeps the node ready:
/// it still serves its own clients.
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
            "redis": match state.cluster.broker_health() {
                BrokerHealth::Local => "disabled",
                BrokerHealth::Ok => "ok",
                BrokerHealth::Failing => "error",
            },
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
        state.metrics.render(
            state.cluster.connections(),
            &state.cluster.node().name,
            &state.config.metrics,
        ),
    )
        .into_response()
}
