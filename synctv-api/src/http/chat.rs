//! `/api/rooms/{room_id}/chat`: the room's chat history, newest first.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use synctv_core::ids::RoomId;

use crate::error::Result;
use crate::extract::{Actor, Paging, PathParams, RoomPassword, page_json};
use crate::service::access;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/rooms/{room_id}/chat", get(list))
}

async fn list(
    State(state): State<AppState>,
    actor: Actor,
    PathParams(room): PathParams<String>,
    RoomPassword(password): RoomPassword,
    Paging(page): Paging,
) -> Result<Json<serde_json::Value>> {
    let room = RoomId::from(room);
    access::enter(&state, &room, &actor, password.as_deref()).await?;
    let chat = state.store.list_chat(&room, page).await?;
    Ok(Json(page_json(chat.items, page, chat.total)))
}
