//! Rooms: create (with the owner's membership and an initial playback row), read, list,
//! update, delete.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::playback::playback_from_row;
use super::{Page, PageRequest, Store, to_i64, to_u64};
use crate::ids::{RoomId, UserId};
use crate::model::{PlaybackState, Role, RoomRecord, RoomSettings};
use crate::{Error, Result, time};

/// What `create_room` needs.
#[derive(Debug, Clone)]
pub struct NewRoom {
    pub name: String,
    pub owner_id: UserId,
    /// Registered owners get a durable `owner` membership row; guest owners do not.
    pub owner_registered: bool,
    pub password_hash: Option<String>,
    pub settings: RoomSettings,
}

/// A change to a room; `None` fields stay as they are. `password_hash: Some(None)` removes
/// the password.
#[derive(Debug, Clone, Default)]
pub struct RoomUpdate {
    pub name: Option<String>,
    pub password_hash: Option<Option<String>>,
    pub settings: Option<RoomSettings>,
}

fn room_from_row(r: &AnyRow) -> Result<RoomRecord> {
    let settings: String = r.try_get("settings")?;
    Ok(RoomRecord {
        room_id: RoomId::from(r.try_get::<String, _>("room_id")?),
        name: r.try_get("name")?,
        owner_id: UserId::from(r.try_get::<String, _>("owner_id")?),
        password_hash: r.try_get("password_hash")?,
        settings: serde_json::from_str(&settings).unwrap_or_default(),
        created_at_ms: to_u64(r.try_get("created_at_ms")?),
    })
}

impl Store {
    pub async fn create_room(&self, new: NewRoom) -> Result<RoomRecord> {
        let now = time::now_ms();
        let room = RoomRecord {
            room_id: RoomId::generate(),
            name: new.name,
            owner_id: new.owner_id,
            password_hash: new.password_hash,
            settings: new.settings,
            created_at_ms: now,
        };
        let settings_json = serde_json::to_string(&room.settings).expect("settings serialize");
        let mut tx = self.pool().begin().await?;
        sqlx::query(
            "INSERT INTO rooms (room_id, name, owner_id, password_hash, settings, hidden, created_at_ms, updated_at_ms)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
        )
        .bind(room.room_id.as_str())
        .bind(&room.name)
        .bind(room.owner_id.as_str())
        .bind(room.password_hash.as_deref())
        .bind(settings_json)
        .bind(i64::from(room.settings.hidden))
        .bind(to_i64(now))
        .execute(&mut *tx)
        .await?;
        let pb = PlaybackState::default();
        sqlx::query(
            "INSERT INTO playback_states (room_id, movie_id, playing, position_ms, rate, updated_at_ms, version)
             VALUES ($1, NULL, $2, 0, $3, $4, 0)",
        )
        .bind(room.room_id.as_str())
        .bind(i64::from(pb.playing))
        .bind(pb.rate)
        .bind(to_i64(pb.updated_at_ms))
        .execute(&mut *tx)
        .await?;
        if new.owner_registered {
            sqlx::query(
                "INSERT INTO room_members (room_id, user_id, role, permissions, joined_at_ms) VALUES ($1, $2, $3, NULL, $4)",
            )
            .bind(room.room_id.as_str())
            .bind(room.owner_id.as_str())
            .bind(Role::Owner.as_str())
            .bind(to_i64(now))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(room)
    }

    pub async fn get_room(&self, id: &RoomId) -> Result<Option<RoomRecord>> {
        let row = sqlx::query(
            "SELECT room_id, name, owner_id, password_hash, settings, created_at_ms
             FROM rooms WHERE room_id = $1",
        )
        .bind(id.as_str())
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(room_from_row).transpose()
    }

    /// Non-hidden rooms with their playback, newest first.
    pub async fn list_public_rooms(
        &self,
        page: PageRequest,
    ) -> Result<Page<(RoomRecord, PlaybackState)>> {
        let total: i64 = sqlx::query("SELECT COUNT(*) AS n FROM rooms WHERE hidden = $1")
            .bind(0_i64)
            .fetch_one(self.pool())
            .await?
            .try_get("n")?;
        let rows = sqlx::query(
            "SELECT r.room_id, r.name, r.owner_id, r.password_hash, r.settings, r.created_at_ms,
                    p.movie_id, p.playing, p.position_ms, p.rate, p.updated_at_ms, p.version
             FROM rooms r JOIN playback_states p ON p.room_id = r.room_id
             WHERE r.hidden = $1
             ORDER BY r.created_at_ms DESC, r.room_id DESC LIMIT $2 OFFSET $3",
        )
        .bind(0_i64)
        .bind(page.limit())
        .bind(page.offset())
        .fetch_all(self.pool())
        .await?;
        let items = rows
            .iter()
            .map(|r| Ok((room_from_row(r)?, playback_from_row(r)?)))
            .collect::<Result<_>>()?;
        Ok(Page {
            items,
            total: to_u64(total),
        })
    }

    /// Apply `update` and return the room as stored afterwards.
    pub async fn update_room(&self, id: &RoomId, update: RoomUpdate) -> Result<RoomRecord> {
        let mut room = self.get_room(id).await?.ok_or(Error::not_found("room"))?;
        if let Some(name) = update.name {
            room.name = name;
        }
        if let Some(pw) = update.password_hash {
            room.password_hash = pw;
        }
        if let Some(settings) = update.settings {
            room.settings = settings;
        }
        let settings_json = serde_json::to_string(&room.settings).expect("settings serialize");
        sqlx::query(
            "UPDATE rooms SET name = $2, password_hash = $3, settings = $4, hidden = $5, updated_at_ms = $6 WHERE room_id = $1",
        )
        .bind(id.as_str())
        .bind(&room.name)
        .bind(room.password_hash.as_deref())
        .bind(settings_json)
        .bind(i64::from(room.settings.hidden))
        .bind(to_i64(time::now_ms()))
        .execute(self.pool())
        .await?;
        Ok(room)
    }

    /// Delete a room and everything in it. Returns false if it did not exist.
    pub async fn delete_room(&self, id: &RoomId) -> Result<bool> {
        let mut tx = self.pool().begin().await?;
        // Children first, explicitly, so the result does not depend on foreign-key pragmas.
        for q in [
            "DELETE FROM chat_messages WHERE room_id = $1",
            "DELETE FROM movies WHERE room_id = $1",
            "DELETE FROM room_members WHERE room_id = $1",
            "DELETE FROM playback_states WHERE room_id = $1",
        ] {
            sqlx::query(q).bind(id.as_str()).execute(&mut *tx).await?;
        }
        let n = sqlx::query("DELETE FROM rooms WHERE room_id = $1")
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(n > 0)
    }
}
