//! Adding and removing playlist movies.

use axum::http::StatusCode;
use synctv_core::event::RoomEvent;
use synctv_core::ids::MovieId;
use synctv_core::model::{Movie, Permission, validate};

use super::access::Access;
use crate::error::{Error, Result};
use crate::extract::Actor;
use crate::state::AppState;

pub async fn add(
    state: &AppState,
    access: &Access,
    actor: &Actor,
    url: &str,
    title: Option<&str>,
) -> Result<Movie> {
    access.require(Permission::Playlist)?;
    let rooms = &state.config.rooms;
    let url = validate::movie_url(url, rooms.max_movie_url_len)?;
    let title = match title {
        Some(t) => validate::display_text("title", t, rooms.max_movie_title_len)?,
        None => url.chars().take(rooms.max_movie_title_len).collect(),
    };
    let room = &access.room.room_id;
    let g = state.cluster.lock_room(room).await;
    if state.store.count_movies(room).await? >= rooms.max_playlist_len as u64 {
        return Err(Error::new(
            StatusCode::CONFLICT,
            "playlist_full",
            format!("a playlist holds at most {} movies", rooms.max_playlist_len),
        ));
    }
    let movie = state
        .store
        .add_movie(room, &url, &title, &actor.user_id)
        .await?;
    g.publish(RoomEvent::MovieAdded {
        movie: movie.clone(),
    })
    .await?;
    Ok(movie)
}

/// Remove a movie. If it was the current one, playback is cleared (a `playback` event
/// follows the `movie_removed` event).
pub async fn remove(
    state: &AppState,
    access: &Access,
    actor: &Actor,
    movie_id: &MovieId,
) -> Result<()> {
    access.require(Permission::Playlist)?;
    let room = &access.room.room_id;
    let g = state.cluster.lock_room(room).await;
    if !state.store.delete_movie(room, movie_id).await? {
        return Err(Error::not_found(
            "movie_not_found",
            "no such movie in this room",
        ));
    }
    g.publish(RoomEvent::MovieRemoved {
        movie_id: movie_id.clone(),
    })
    .await?;
    let current = match g.read(|s| s.playback.clone()) {
        Some(p) => p,
        None => state.store.get_playback(room).await?,
    };
    if current.movie_id.as_ref() == Some(movie_id) {
        let now = synctv_core::time::now_ms();
        super::playback::commit(state, &g, current.cleared(now), &actor.user_id, now).await?;
    }
    Ok(())
}
