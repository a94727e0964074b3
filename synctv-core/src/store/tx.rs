//! `RoomTx`: one room's change (or load) as a database transaction, ordered against the
//! room's other changes and loads by a lock on the room's row.
//!
//! Why: in cluster mode a change is stored, then published (which gives it its `seq`), then
//! committed. A node that loads the room's state must see exactly the changes whose events
//! it will not receive. On PostgreSQL every change holds `FOR KEY SHARE` on the room row
//! until it commits (changes of one room run concurrently), and a load holds `FOR UPDATE`
//! (it waits for changes in flight, and changes wait for it). A load therefore sees every
//! change published before it read the stream position and none published after, so its
//! snapshot lines up exactly with the events that follow.
//!
//! SQLite serves a single node, where the node's room lock already orders changes and loads,
//! so no row lock is taken there. SQLite allows one writer at a time, and a second one does
//! not queue: it gets `SQLITE_BUSY` and its busy handler sleeps (1, 2, 5, 10, ... ms) and
//! retries. With `synchronous = FULL` a commit holds the write lock through its fsync, so
//! changes of several rooms at once spent most of their time asleep (measured: 1000 chat
//! messages/s over 20 rooms queued for seconds). Room transactions on SQLite therefore take
//! the store's write gate first, an async mutex that hands the database to one transaction
//! at a time, in arrival order, without sleeping.
//!
//! Those that read before they write (`Change`, `Exclusive`) also begin with `BEGIN
//! IMMEDIATE`, taking the write lock before reading anything. A deferred transaction takes
//! the write lock at its first write, and if a write outside the gate (chat retention, an
//! account or a room being created) committed since its first read, SQLite fails that write
//! at once (`SQLITE_BUSY_SNAPSHOT`, "database is locked"): the transaction's snapshot is
//! stale, so waiting cannot help and the busy handler is not used. Taken first, the lock is
//! waited for in the busy handler like any other. `ByInsert` starts with its write, which
//! SQLite retries through the busy handler, so it stays deferred (the chat hot path).

use sqlx::{Any, Transaction};
use tokio::sync::OwnedMutexGuard;

use super::{Backend, RoomUpdate, Store, chat, members, movies, playback, rooms, state};
use crate::ids::{MovieId, RoomId, UserId};
use crate::model::{ChatMessage, Movie, Permissions, PlaybackState, Role, RoomRecord};
use crate::room_state::RoomState;
use crate::{Error, Result};

/// What a transaction is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoomLock {
    /// A change that runs alongside the room's other changes (`FOR KEY SHARE`).
    Change,
    /// A change whose first statement inserts a row referencing the room: the foreign-key
    /// check takes the same `FOR KEY SHARE` lock, so no separate statement is sent (one
    /// round trip less on the hot path of chat). A missing room then fails that insert.
    ByInsert,
    /// Deleting the room, or loading its state: alone (`FOR UPDATE`).
    Exclusive,
}

pub struct RoomTx {
    // Declared before the gate: dropped (rolled back) before the gate opens.
    tx: Transaction<'static, Any>,
    room: RoomId,
    _gate: Option<OwnedMutexGuard<()>>,
}

impl Store {
    /// Begin a transaction on `room` holding `lock` on its row; `NotFound("room")` when the
    /// room does not exist.
    pub async fn room_tx(&self, room: &RoomId, lock: RoomLock) -> Result<RoomTx> {
        let gate = match &self.write_gate {
            Some(g) => Some(g.clone().lock_owned().await),
            None => None,
        };
        let mut tx = match (self.backend(), lock) {
            // Reads come before writes: take SQLite's write lock first (see the header).
            (Backend::Sqlite, RoomLock::Change | RoomLock::Exclusive) => {
                self.pool().begin_with("BEGIN IMMEDIATE").await?
            }
            _ => self.pool().begin().await?,
        };
        if lock == RoomLock::ByInsert {
            return Ok(RoomTx {
                tx,
                room: room.clone(),
                _gate: gate,
            });
        }
        let sql = match (self.backend(), lock) {
            (Backend::Postgres, RoomLock::Change) => {
                "SELECT 1 AS one FROM rooms WHERE room_id = $1 FOR KEY SHARE"
            }
            (Backend::Postgres, RoomLock::Exclusive) => {
                "SELECT 1 AS one FROM rooms WHERE room_id = $1 FOR UPDATE"
            }
            (Backend::Sqlite, _) => "SELECT 1 AS one FROM rooms WHERE room_id = $1",
            (_, RoomLock::ByInsert) => unreachable!("returned above"),
        };
        let found = sqlx::query(sql)
            .bind(room.as_str())
            .fetch_optional(&mut *tx)
            .await?;
        if found.is_none() {
            return Err(Error::not_found("room"));
        }
        Ok(RoomTx {
            tx,
            room: room.clone(),
            _gate: gate,
        })
    }
}

impl RoomTx {
    pub fn room_id(&self) -> &RoomId {
        &self.room
    }

    pub async fn commit(self) -> Result<()> {
        self.tx.commit().await?;
        Ok(())
    }

    pub async fn rollback(self) -> Result<()> {
        self.tx.rollback().await?;
        Ok(())
    }

    /// The room's state (taken with [`RoomLock::Exclusive`] for an exact load).
    pub async fn load_state(&mut self, recent_chat: usize) -> Result<Option<RoomState>> {
        state::load_room_state(&mut self.tx, &self.room, recent_chat).await
    }

    pub async fn room(&mut self) -> Result<RoomRecord> {
        rooms::get_room(&mut *self.tx, &self.room)
            .await?
            .ok_or(Error::not_found("room"))
    }

    pub async fn insert_chat(&mut self, msg: &ChatMessage, ts_ms: u64) -> Result<()> {
        chat::insert_chat(&mut *self.tx, &self.room, msg, ts_ms).await
    }

    pub async fn playback(&mut self) -> Result<PlaybackState> {
        playback::get_playback(&mut *self.tx, &self.room).await
    }

    /// Store `next` if the stored playback is still at version `expected` (one conditional
    /// update: of two nodes racing from the same version, exactly one wins).
    pub async fn save_playback(
        &mut self,
        next: &PlaybackState,
        by: &UserId,
        expected: u64,
    ) -> Result<bool> {
        playback::save_playback(&mut *self.tx, &self.room, next, by, expected).await
    }

    /// Movies in the playlist and their URL and title bytes together.
    pub async fn playlist_usage(&mut self) -> Result<(u64, u64)> {
        movies::playlist_usage(&mut *self.tx, &self.room).await
    }

    pub async fn add_movie(&mut self, url: &str, title: &str, by: &UserId) -> Result<Movie> {
        movies::add_movie(&mut *self.tx, &self.room, url, title, by).await
    }

    pub async fn delete_movie(&mut self, movie: &MovieId) -> Result<bool> {
        movies::delete_movie(&mut *self.tx, &self.room, movie).await
    }

    /// Apply `update` to the room as stored now, compare-and-set on its version (retried
    /// when a concurrent change won), and return the room as stored afterwards.
    pub async fn update_room(&mut self, update: &RoomUpdate) -> Result<RoomRecord> {
        loop {
            let mut room = self.room().await?;
            update.apply_to(&mut room);
            if rooms::save_room(&mut *self.tx, &room).await? {
                room.version += 1;
                return Ok(room);
            }
        }
    }

    pub async fn delete_room(&mut self) -> Result<bool> {
        rooms::delete_room(&mut self.tx, &self.room).await
    }

    pub async fn update_member(
        &mut self,
        user: &UserId,
        role: Role,
        permissions: Option<Permissions>,
    ) -> Result<bool> {
        members::update_member(&mut *self.tx, &self.room, user, role, permissions).await
    }
}
