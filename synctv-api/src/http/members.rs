//! `/api/rooms/{room_id}/members`: durable memberships (roles and explicit permissions).

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, patch};
use axum::{Json, Router};
use synctv_core::ids::{RoomId, UserId};
use synctv_core::model::Member;

use crate::error::Result;
use crate::extract::{Actor, JsonBody, Paging, PathParams, Qs, RoomPassword, page_json};
use crate::service::access;
use crate::service::admin::{self, MemberPatch};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/rooms/{room_id}/members", get(list))
        .route(
            "/api/rooms/{room_id}/members/{user_id}",
            patch(update).delete(remove),
        )
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
    let members = state.store.list_members(&room, page).await?;
    Ok(Json(page_json(members.items, page, members.total)))
}

async fn update(
    State(state): State<AppState>,
    actor: Actor,
    PathParams((room, user)): PathParams<(String, String)>,
    JsonBody(patch): JsonBody<MemberPatch>,
) -> Result<Json<Member>> {
    let access = access::room_access(&state, &RoomId::from(room), &actor).await?;
    Ok(Json(
        admin::update_member(&state, &access, &UserId::from(user), patch).await?,
    ))
}

#[derive(serde::Deserialize)]
struct RemoveQuery {
    #[serde(default)]
    ban: bool,
}

async fn remove(
    State(state): State<AppState>,
    actor: Actor,
    PathParams((room, user)): PathParams<(String, String)>,
    Qs(q): Qs<RemoveQuery>,
) -> Result<StatusCode> {
    let access = access::room_access(&state, &RoomId::from(room), &actor).await?;
    admin::remove_member(&state, &access, &UserId::from(user), q.ban).await?;
    Ok(StatusCode::NO_CONTENT)
}
