//! Playlists. Play order is the movie id's order (UUID v7: creation order), which every node
//! computes the same way whether it loaded the playlist or built it from events.

use sqlx::any::AnyRow;
use sqlx::{Any, Executor, Row};

use super::{Page, PageRequest, Store, to_i64, to_u64};
use crate::ids::{MovieId, RoomId, UserId};
use crate::model::Movie;
use crate::{Result, time};

fn movie_from_row(r: &AnyRow) -> Result<Movie> {
    Ok(Movie {
        movie_id: MovieId::from(r.try_get::<String, _>("movie_id")?),
        url: r.try_get("url")?,
        title: r.try_get("title")?,
    })
}

pub(super) async fn add_movie<'e>(
    e: impl Executor<'e, Database = Any>,
    room: &RoomId,
    url: &str,
    title: &str,
    by: &UserId,
) -> Result<Movie> {
    let movie = Movie {
        movie_id: MovieId::generate(),
        url: url.to_string(),
        title: title.to_string(),
    };
    sqlx::query(
        "INSERT INTO movies (movie_id, room_id, url, title, added_by, created_at_ms)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(movie.movie_id.as_str())
    .bind(room.as_str())
    .bind(&movie.url)
    .bind(&movie.title)
    .bind(by.as_str())
    .bind(to_i64(time::now_ms()))
    .execute(e)
    .await?;
    Ok(movie)
}

/// How many movies a playlist holds and their URL and title bytes together.
pub(super) async fn playlist_usage<'e>(
    e: impl Executor<'e, Database = Any>,
    room: &RoomId,
) -> Result<(u64, u64)> {
    let row = sqlx::query(
        "SELECT COUNT(*) AS n,
                CAST(COALESCE(SUM(octet_length(url) + octet_length(title)), 0) AS BIGINT) AS b
         FROM movies WHERE room_id = $1",
    )
    .bind(room.as_str())
    .fetch_one(e)
    .await?;
    Ok((to_u64(row.try_get("n")?), to_u64(row.try_get("b")?)))
}

/// The whole playlist in play order, for room snapshots.
pub(super) async fn playlist<'e>(
    e: impl Executor<'e, Database = Any>,
    room: &RoomId,
) -> Result<Vec<Movie>> {
    let rows = sqlx::query(
        "SELECT movie_id, url, title FROM movies WHERE room_id = $1 ORDER BY movie_id ASC",
    )
    .bind(room.as_str())
    .fetch_all(e)
    .await?;
    rows.iter().map(movie_from_row).collect()
}

/// Remove a movie; false if the room has no such movie.
pub(super) async fn delete_movie<'e>(
    e: impl Executor<'e, Database = Any>,
    room: &RoomId,
    movie: &MovieId,
) -> Result<bool> {
    let n = sqlx::query("DELETE FROM movies WHERE room_id = $1 AND movie_id = $2")
        .bind(room.as_str())
        .bind(movie.as_str())
        .execute(e)
        .await?
        .rows_affected();
    Ok(n > 0)
}

impl Store {
    pub async fn count_movies(&self, room: &RoomId) -> Result<u64> {
        Ok(playlist_usage(self.pool(), room).await?.0)
    }

    /// A page of the playlist, newest first (the contract's order for lists).
    pub async fn list_movies(&self, room: &RoomId, page: PageRequest) -> Result<Page<Movie>> {
        let total = self.count_movies(room).await?;
        let rows = sqlx::query(
            "SELECT movie_id, url, title FROM movies WHERE room_id = $1
             ORDER BY movie_id DESC LIMIT $2 OFFSET $3",
        )
        .bind(room.as_str())
        .bind(page.limit())
        .bind(page.offset())
        .fetch_all(self.pool())
        .await?;
        Ok(Page {
            items: rows.iter().map(movie_from_row).collect::<Result<_>>()?,
            total,
        })
    }

    pub async fn playlist(&self, room: &RoomId) -> Result<Vec<Movie>> {
        playlist(self.pool(), room).await
    }
}
