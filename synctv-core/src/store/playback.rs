//! The playback state row of each room.

use sqlx::any::AnyRow;
use sqlx::{Any, Executor, Row};

use super::{Store, to_i64, to_u64};
use crate::ids::{MovieId, RoomId, UserId};
use crate::model::PlaybackState;
use crate::{Error, Result};

/// Read the playback columns (`movie_id, playing, position_ms, rate, updated_at_ms, version`).
pub(super) fn playback_from_row(r: &AnyRow) -> Result<PlaybackState> {
    let movie: Option<String> = r.try_get("movie_id")?;
    Ok(PlaybackState {
        movie_id: movie.map(MovieId::from),
        playing: r.try_get::<i64, _>("playing")? != 0,
        position_ms: to_u64(r.try_get("position_ms")?),
        rate: r.try_get("rate")?,
        updated_at_ms: to_u64(r.try_get("updated_at_ms")?),
        version: to_u64(r.try_get("version")?),
    })
}

pub(super) async fn get_playback<'e>(
    e: impl Executor<'e, Database = Any>,
    room: &RoomId,
) -> Result<PlaybackState> {
    let r = sqlx::query(
        "SELECT movie_id, playing, position_ms, rate, updated_at_ms, version
         FROM playback_states WHERE room_id = $1",
    )
    .bind(room.as_str())
    .fetch_optional(e)
    .await?
    .ok_or(Error::not_found("room"))?;
    playback_from_row(&r)
}

/// Store `s` if the stored version is still `expected` (compare-and-set): false when another
/// change got there first.
pub(super) async fn save_playback<'e>(
    e: impl Executor<'e, Database = Any>,
    room: &RoomId,
    s: &PlaybackState,
    by: &UserId,
    expected: u64,
) -> Result<bool> {
    let n = sqlx::query(
        "UPDATE playback_states
         SET movie_id = $2, playing = $3, position_ms = $4, rate = $5, updated_at_ms = $6,
             version = $7, updated_by = $8
         WHERE room_id = $1 AND version = $9",
    )
    .bind(room.as_str())
    .bind(s.movie_id.as_ref().map(MovieId::as_str))
    .bind(i64::from(s.playing))
    .bind(to_i64(s.position_ms))
    .bind(s.rate)
    .bind(to_i64(s.updated_at_ms))
    .bind(to_i64(s.version))
    .bind(by.as_str())
    .bind(to_i64(expected))
    .execute(e)
    .await?
    .rows_affected();
    Ok(n == 1)
}

impl Store {
    pub async fn get_playback(&self, room: &RoomId) -> Result<PlaybackState> {
        get_playback(self.pool(), room).await
    }
}
