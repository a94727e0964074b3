//! The WebSocket gateway: `GET /api/rooms/{room_id}/ws`.
//!
//! Everything that can be refused is refused before the upgrade, as a JSON error with a
//! status (401 token, 404 room, 403 guests or password, 409 a guest name that now looks
//! like a registered user's, 503 full or draining), so clients
//! get a readable reason. After the upgrade, [`session`] runs the socket: a reader (this
//! task) and a writer task fed by the socket's bounded queue.

mod commands;
mod session;
mod upgrade;
mod writer;

use axum::extract::State;
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::Response;
use serde::Deserialize;
use synctv_core::ids::{Epoch, RoomId};
use tracing::Instrument;
use tungstenite::protocol::WebSocketConfig;

use synctv_cluster::connection::{ConnKey, Refusal};

use crate::error::{Error, Result};
use crate::extract::{Actor, PathParams, Qs, bearer};
use crate::service::{access, identity};
use crate::state::AppState;

use upgrade::WsUpgrade;

/// A socket after the handshake.
type Socket = tokio_tungstenite::WebSocketStream<upgrade::Io>;

#[derive(Deserialize)]
pub(crate) struct WsQuery {
    token: Option<String>,
    password: Option<String>,
    since: Option<String>,
    epoch: Option<String>,
}

pub(crate) async fn handler(
    State(state): State<AppState>,
    PathParams(room): PathParams<String>,
    Qs(query): Qs<WsQuery>,
    parts: Parts,
    upgrade: Result<WsUpgrade>,
) -> Result<Response> {
    let mut actor = Actor::from_token(&state, query.token.as_deref().or_else(|| bearer(&parts)))?;
    actor.client = state.proxies.of(&parts);
    actor.ensure_account(&state).await?;
    let since = match query
        .since
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        None => None,
        Some(s) => Some(s.parse::<u64>().map_err(|_| {
            Error::bad_request("invalid_query", "since must be a non-negative integer")
        })?),
    };
    // `since` without `epoch` is not a resume: the client gets a snapshot.
    let resume = since.zip(query.epoch.filter(|e| !e.is_empty()).map(Epoch::from));
    let room = RoomId::from(room);
    let access = access::enter(&state, &room, &actor, query.password.as_deref()).await?;
    if actor.guest {
        // The name others will see; an account may have taken it since the token was issued.
        identity::require_guest_name(&state, "name", &actor.username).await?;
    }
    let upgrade = upgrade?;
    let key = ConnKey {
        user: actor.user_id.clone(),
        room: room.clone(),
        address: actor.client,
    };
    let permit = state.cluster.connections().reserve(key).map_err(refused)?;
    if !actor.guest && !access.stored_member {
        // A registered user entering for the first time becomes a durable member.
        state.store.ensure_member(&room, &actor.user_id).await?;
    }
    let ws = &state.config.ws;
    let ctx = session::SessionCtx {
        room,
        actor,
        role: access.role,
        permissions: access.permissions,
        resume,
    };
    let config = WebSocketConfig::default()
        .read_buffer_size(ws.read_buffer_bytes)
        .write_buffer_size(ws.write_buffer_bytes)
        // The welcome goes out before tungstenite takes over (`upgrade::write_text_frames`);
        // this bounds what a stalled client can make the writer hold.
        .max_write_buffer_size(ws.max_message_bytes * 4 + (1 << 20))
        .max_message_size(Some(ws.max_message_bytes))
        .max_frame_size(Some(ws.max_message_bytes));
    let session_state = state.clone();
    Ok(upgrade.accept(move |io| {
        let tracker = session_state.sessions.clone();
        let span = tracing::info_span!(
            parent: session_state.cluster.span(),
            "ws",
            room_id = %ctx.room,
            user_id = %ctx.actor.user_id,
            conn_id = tracing::field::Empty,
        );
        tracker.track_future(session::run(session_state, io, config, ctx, permit).instrument(span))
    }))
}

/// The answer to a refused connection slot, before the upgrade.
fn refused(r: Refusal) -> Error {
    let (status, code, msg) = match r {
        Refusal::Draining => (
            StatusCode::SERVICE_UNAVAILABLE,
            "draining",
            "this node is shutting down",
        ),
        Refusal::NodeFull => (
            StatusCode::SERVICE_UNAVAILABLE,
            "server_at_capacity",
            "this node has no free connection slot",
        ),
        Refusal::User => (
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_connections",
            "this user has the most connections allowed on this node",
        ),
        Refusal::Room => (
            StatusCode::SERVICE_UNAVAILABLE,
            "room_at_capacity",
            "this room has the most connections allowed on this node",
        ),
        Refusal::Address => (
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_connections",
            "this client address has the most connections allowed on this node",
        ),
    };
    Error::new(status, code, msg)
}
