//! Rooms: create (with the owner's membership and an initial playback row), read, list,
//! update, delete.

use sqlx::any::AnyRow;
use sqlx::{Any, Executor, Row};

use super::playback::playback_from_row;
use super::{Page, PageRequest, Store, to_i64, to_u64};
use crate::ids::{RoomId, UserId};
use crate::model::{PlaybackState, Role, RoomRecord, RoomSettings};
use crate::{Result, time};

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
    /// Applied to the settings as stored when the update is made (so two concurrent
    /// patches of different settings both take effect).
    pub settings: Option<crate::model::SettingsPatch>,
}

impl RoomUpdate {
    pub(super) fn apply_to(&self, room: &mut RoomRecord) {
        if let Some(name) = &self.name {
            room.name = name.clone();
        }
        if let Some(pw) = &self.password_hash {
            room.password_hash = pw.clone();
        }
        if let Some(patch) = &self.settings {
            room.settings.apply(patch);
        }
    }
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
        version: to_u64(r.try_get("room_version")?),
    })
}

const ROOM_COLUMNS: &str =
    "room_id, name, owner_id, password_hash, settings, created_at_ms, version AS room_version";

pub(super) async fn get_room<'e>(
    e: impl Executor<'e, Database = Any>,
    id: &RoomId,
) -> Result<Option<RoomRecord>> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {ROOM_COLUMNS} FROM rooms WHERE room_id = $1"
    )))
    .bind(id.as_str())
    .fetch_optional(e)
    .await?;
    row.as_ref().map(room_from_row).transpose()
}

/// Write `room` (as changed by the caller) if its stored version is still `room.version`;
/// the stored version becomes `room.version + 1`. False when another change got there first.
pub(super) async fn save_room<'e>(
    e: impl Executor<'e, Database = Any>,
    room: &RoomRecord,
) -> Result<bool> {
    let settings_json = serde_json::to_string(&room.settings).expect("settings serialize");
    let n = sqlx::query(
        "UPDATE rooms SET name = $2, password_hash = $3, settings = $4, hidden = $5,
                updated_at_ms = $6, version = version + 1
         WHERE room_id = $1 AND version = $7",
    )
    .bind(room.room_id.as_str())
    .bind(&room.name)
    .bind(room.password_hash.as_deref())
    .bind(settings_json)
    .bind(i64::from(room.settings.hidden))
    .bind(to_i64(time::now_ms()))
    .bind(to_i64(room.version))
    .execute(e)
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// Delete a room and everything in it (children first, explicitly, so the result does not
/// depend on foreign-key pragmas). False if it did not exist.
pub(super) async fn delete_room(c: &mut sqlx::AnyConnection, id: &RoomId) -> Result<bool> {
    for q in [
        "DELETE FROM chat_messages WHERE room_id = $1",
        "DELETE FROM movies WHERE room_id = $1",
        "DELETE FROM room_members WHERE room_id = $1",
        "DELETE FROM playback_states WHERE room_id = $1",
    ] {
        sqlx::query(q).bind(id.as_str()).execute(&mut *c).await?;
    }
    let n = sqlx::query("DELETE FROM rooms WHERE room_id = $1")
        .bind(id.as_str())
        .execute(&mut *c)
        .await?
        .rows_affected();
    Ok(n > 0)
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
            version: 0,
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
        get_room(self.pool(), id).await
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
            "SELECT r.room_id, r.name, r.owner_id, r.password_hash, r.settings, r.created_at_ms, r.version AS room_version,
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
}
