//! `/api/cluster/...`: the status of every live node (no token: like the probes), and the
//! operator API, enabled by `cluster.operator_token` and called with it as bearer token:
//! drop a dead node and its presence now, force a room onto a new epoch.

use axum::extract::State;
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde_json::json;
use synctv_cluster::manager::DropNode;
use synctv_core::ids::{NodeId, RoomId};

use crate::error::{Error, Result};
use crate::extract::{PathParams, bearer};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/cluster/status", get(status))
        .route("/api/cluster/nodes/{node_id}", delete(drop_node))
        .route("/api/rooms/{room_id}/resync", post(resync))
}

async fn status(State(state): State<AppState>) -> Json<serde_json::Value> {
    Json(json!({ "nodes": state.cluster.nodes().await }))
}

/// 404 while no operator token is configured, 403 for any other token.
fn operator(state: &AppState, parts: &Parts) -> Result<()> {
    let expected = &state.config.cluster.operator_token;
    if expected.is_empty() {
        return Err(Error::not_found("not_found", "no such route"));
    }
    match bearer(parts) {
        Some(t) if constant_time_eq(t.trim().as_bytes(), expected.as_bytes()) => Ok(()),
        _ => Err(Error::forbidden("the operator token is required")),
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn drop_node(
    State(state): State<AppState>,
    PathParams(node): PathParams<String>,
    parts: Parts,
) -> Result<StatusCode> {
    operator(&state, &parts)?;
    match state.cluster.drop_node(&NodeId::from(node)).await? {
        DropNode::Dropped => Ok(StatusCode::NO_CONTENT),
        DropNode::Alive => Err(Error::new(
            StatusCode::CONFLICT,
            "node_alive",
            "this node still heartbeats; stop it first",
        )),
        DropNode::NotFound => Err(Error::not_found("node_not_found", "no such node")),
    }
}

async fn resync(
    State(state): State<AppState>,
    PathParams(room): PathParams<String>,
    parts: Parts,
) -> Result<Json<serde_json::Value>> {
    operator(&state, &parts)?;
    let room = RoomId::from(room);
    if state.store.get_room(&room).await?.is_none() {
        return Err(Error::room_not_found());
    }
    let pos = state.cluster.resync_room(&room).await?;
    Ok(Json(
        json!({"room_id": room, "epoch": pos.epoch, "seq": pos.seq}),
    ))
}
