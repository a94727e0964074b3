//! Adding and removing playlist movies.

use axum::http::StatusCode;
use synctv_core::event::{PlaybackChange, RoomEvent};
use synctv_core::ids::MovieId;
use synctv_core::model::{Movie, Permission, validate};
use synctv_core::store::RoomLock;

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
    let mut tx = state.store.room_tx(room, RoomLock::Change).await?;
    let (count, bytes) = tx.playlist_usage().await?;
    if count >= rooms.max_playlist_len as u64 {
        return Err(Error::new(
            StatusCode::CONFLICT,
            "playlist_full",
            format!("a playlist holds at most {} movies", rooms.max_playlist_len),
        ));
    }
    // Bytes as well as movies: the playlist is part of every welcome snapshot, which must
    // always fit what a socket can be sent (see `RoomsConfig::welcome_max_bytes`).
    if bytes + (url.len() + title.len()) as u64 > rooms.max_playlist_bytes as u64 {
        return Err(Error::new(
            StatusCode::CONFLICT,
            "playlist_full",
            format!(
                "a playlist holds at most {} bytes of URLs and titles",
                rooms.max_playlist_bytes
            ),
        ));
    }
    let movie = tx.add_movie(&url, &title, &actor.user_id).await?;
    let event = RoomEvent::MovieAdded {
        movie: movie.clone(),
    };
    g.commit(tx, vec![(event, synctv_core::time::now_ms())])
        .await?;
    Ok(movie)
}

/// Remove a movie. If it was the current one, playback is cleared (a `playback` event
/// follows the `movie_removed` event, in the same transaction).
pub async fn remove(
    state: &AppState,
    access: &Access,
    actor: &Actor,
    movie_id: &MovieId,
) -> Result<()> {
    access.require(Permission::Playlist)?;
    let room = &access.room.room_id;
    let g = state.cluster.lock_room(room).await;
    let mut tx = state.store.room_tx(room, RoomLock::Change).await?;
    if !tx.delete_movie(movie_id).await? {
        return Err(Error::not_found(
            "movie_not_found",
            "no such movie in this room",
        ));
    }
    let now = synctv_core::time::now_ms();
    let mut events = vec![(
        RoomEvent::MovieRemoved {
            movie_id: movie_id.clone(),
        },
        now,
    )];
    loop {
        let current = tx.playback().await?;
        if current.movie_id.as_ref() != Some(movie_id) {
            break;
        }
        let cleared = current.cleared(now);
        if tx
            .save_playback(&cleared, &actor.user_id, current.version)
            .await?
        {
            let change = PlaybackChange {
                state: cleared,
                user_id: actor.user_id.clone(),
            };
            events.push((RoomEvent::Playback(change), now));
            break;
        }
    }
    g.commit(tx, events).await?;
    Ok(())
}
