//! `/api/rooms`: create, list public rooms, read, change, delete.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use synctv_core::ids::RoomId;
use synctv_core::model::{PlaybackState, RoomObject, RoomSettings, SettingsPatch, validate};
use synctv_core::store::NewRoom;

use crate::error::{Error, Result};
use crate::extract::{Actor, JsonBody, Paging, PathParams, page_json};
use crate::service::admin::{self, RoomPatch};
use crate::service::{access, hash_password, room_object};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/rooms", get(list).post(create))
        .route(
            "/api/rooms/{room_id}",
            get(read).patch(update).delete(remove),
        )
}

#[derive(Deserialize)]
struct CreateRoom {
    name: String,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    settings: Option<SettingsPatch>,
}

async fn create(
    State(state): State<AppState>,
    actor: Actor,
    JsonBody(body): JsonBody<CreateRoom>,
) -> Result<Response> {
    state.throttles.room_creation(actor.client)?;
    if actor.guest && !state.config.auth.guests_may_create_rooms {
        return Err(Error::new(
            StatusCode::FORBIDDEN,
            "guests_cannot_create_rooms",
            "guest identities may not create rooms on this server",
        ));
    }
    let name = validate::display_text("name", &body.name, state.config.rooms.max_name_len)?;
    let mut settings = RoomSettings::default();
    if let Some(patch) = &body.settings {
        settings.apply(patch);
    }
    let password_hash = match body.password.filter(|p| !p.is_empty()) {
        Some(p) => {
            validate::password(&p, state.config.rooms.min_password_len)?;
            Some(hash_password(&state, p).await?)
        }
        None => None,
    };
    let room = state
        .store
        .create_room(NewRoom {
            name,
            owner_id: actor.user_id.clone(),
            owner_registered: !actor.guest,
            password_hash,
            settings,
        })
        .await?;
    // A new room has nobody online and the default playback it was stored with.
    let object = RoomObject {
        info: room.info(),
        member_count: 0,
        playback: PlaybackState::default(),
    };
    Ok((StatusCode::CREATED, Json(object)).into_response())
}

async fn list(
    State(state): State<AppState>,
    _actor: Actor,
    Paging(page): Paging,
) -> Result<Json<serde_json::Value>> {
    let rooms = state.store.list_public_rooms(page).await?;
    let mut items: Vec<RoomObject> = Vec::with_capacity(rooms.items.len());
    for (room, playback) in rooms.items {
        items.push(RoomObject {
            member_count: state.cluster.member_count(&room.room_id).await,
            info: room.info(),
            playback,
        });
    }
    Ok(Json(page_json(items, page, rooms.total)))
}

async fn read(
    State(state): State<AppState>,
    _actor: Actor,
    PathParams(id): PathParams<String>,
) -> Result<Json<RoomObject>> {
    let room = state
        .store
        .get_room(&RoomId::from(id))
        .await?
        .ok_or_else(Error::room_not_found)?;
    Ok(Json(room_object(&state, &room).await?))
}

async fn update(
    State(state): State<AppState>,
    actor: Actor,
    PathParams(id): PathParams<String>,
    JsonBody(patch): JsonBody<RoomPatch>,
) -> Result<Json<RoomObject>> {
    let access = access::room_access(&state, &RoomId::from(id), &actor).await?;
    Ok(Json(admin::update_room(&state, &access, patch).await?))
}

async fn remove(
    State(state): State<AppState>,
    actor: Actor,
    PathParams(id): PathParams<String>,
) -> Result<StatusCode> {
    let access = access::room_access(&state, &RoomId::from(id), &actor).await?;
    admin::delete_room(&state, &access).await?;
    Ok(StatusCode::NO_CONTENT)
}
