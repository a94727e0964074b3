//! `/api/rooms/{room_id}/movies`: the room's playlist.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use axum::{Json, Router};
use serde::Deserialize;
use synctv_core::ids::{MovieId, RoomId};

use crate::error::Result;
use crate::extract::{Actor, JsonBody, Paging, PathParams, RoomPassword, page_json};
use crate::service::{access, playlist};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/rooms/{room_id}/movies", get(list).post(add))
        .route("/api/rooms/{room_id}/movies/{movie_id}", delete(remove))
}

#[derive(Deserialize)]
struct AddMovie {
    url: String,
    #[serde(default)]
    title: Option<String>,
}

async fn add(
    State(state): State<AppState>,
    actor: Actor,
    PathParams(room): PathParams<String>,
    RoomPassword(password): RoomPassword,
    JsonBody(body): JsonBody<AddMovie>,
) -> Result<Response> {
    let access = access::enter(&state, &RoomId::from(room), &actor, password.as_deref()).await?;
    let movie = playlist::add(&state, &access, &actor, &body.url, body.title.as_deref()).await?;
    Ok((StatusCode::CREATED, Json(movie)).into_response())
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
    let movies = state.store.list_movies(&room, page).await?;
    Ok(Json(page_json(movies.items, page, movies.total)))
}

async fn remove(
    State(state): State<AppState>,
    actor: Actor,
    PathParams((room, movie)): PathParams<(String, String)>,
    RoomPassword(password): RoomPassword,
) -> Result<StatusCode> {
    let access = access::enter(&state, &RoomId::from(room), &actor, password.as_deref()).await?;
    playlist::remove(&state, &access, &actor, &MovieId::from(movie)).await?;
    Ok(StatusCode::NO_CONTENT)
}
