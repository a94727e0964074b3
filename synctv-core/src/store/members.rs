//! Durable room membership (registered users): role and explicit permissions.

use sqlx::any::AnyRow;
use sqlx::{Any, Executor, Row};

use super::{Page, PageRequest, Store, to_i64, to_u64};
use crate::ids::{RoomId, UserId};
use crate::model::{Member, Permissions, Role};
use crate::{Result, time};

fn member_from_row(r: &AnyRow) -> Result<Member> {
    let role: String = r.try_get("role")?;
    let perms: Option<i64> = r.try_get("permissions")?;
    Ok(Member {
        user_id: UserId::from(r.try_get::<String, _>("user_id")?),
        username: r.try_get("username")?,
        role: Role::parse(&role).unwrap_or(Role::Member),
        permissions: perms.map(Permissions::from_bits),
        joined_at_ms: to_u64(r.try_get("joined_at_ms")?),
    })
}

impl Store {
    pub async fn get_member(&self, room: &RoomId, user: &UserId) -> Result<Option<Member>> {
        let row = sqlx::query(
            "SELECT m.user_id, u.username, m.role, m.permissions, m.joined_at_ms
             FROM room_members m JOIN users u ON u.user_id = m.user_id
             WHERE m.room_id = $1 AND m.user_id = $2",
        )
        .bind(room.as_str())
        .bind(user.as_str())
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(member_from_row).transpose()
    }

    /// Record that a registered user joined (as `member`), unless they already have a row.
    pub async fn ensure_member(&self, room: &RoomId, user: &UserId) -> Result<()> {
        sqlx::query(
            "INSERT INTO room_members (room_id, user_id, role, permissions, joined_at_ms)
             VALUES ($1, $2, $3, NULL, $4) ON CONFLICT (room_id, user_id) DO NOTHING",
        )
        .bind(room.as_str())
        .bind(user.as_str())
        .bind(Role::Member.as_str())
        .bind(to_i64(time::now_ms()))
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Remove a user's membership row; whether there was one.
    pub async fn remove_member(&self, room: &RoomId, user: &UserId) -> Result<bool> {
        let n = sqlx::query("DELETE FROM room_members WHERE room_id = $1 AND user_id = $2")
            .bind(room.as_str())
            .bind(user.as_str())
            .execute(self.pool())
            .await?
            .rows_affected();
        Ok(n > 0)
    }

    /// Ban a user from a room (idempotent).
    pub async fn ban(&self, room: &RoomId, user: &UserId) -> Result<()> {
        sqlx::query(
            "INSERT INTO room_bans (room_id, user_id, banned_at_ms) VALUES ($1, $2, $3)
             ON CONFLICT (room_id, user_id) DO NOTHING",
        )
        .bind(room.as_str())
        .bind(user.as_str())
        .bind(to_i64(time::now_ms()))
        .execute(self.pool())
        .await?;
        Ok(())
    }

    pub async fn is_banned(&self, room: &RoomId, user: &UserId) -> Result<bool> {
        let row = sqlx::query("SELECT 1 AS b FROM room_bans WHERE room_id = $1 AND user_id = $2")
            .bind(room.as_str())
            .bind(user.as_str())
            .fetch_optional(self.pool())
            .await?;
        Ok(row.is_some())
    }

    /// Members of a room, most recently joined first.
    pub async fn list_members(&self, room: &RoomId, page: PageRequest) -> Result<Page<Member>> {
        let total: i64 = sqlx::query("SELECT COUNT(*) AS n FROM room_members WHERE room_id = $1")
            .bind(room.as_str())
            .fetch_one(self.pool())
            .await?
            .try_get("n")?;
        let rows = sqlx::query(
            "SELECT m.user_id, u.username, m.role, m.permissions, m.joined_at_ms
             FROM room_members m JOIN users u ON u.user_id = m.user_id
             WHERE m.room_id = $1
             ORDER BY m.joined_at_ms DESC, m.user_id DESC LIMIT $2 OFFSET $3",
        )
        .bind(room.as_str())
        .bind(page.limit())
        .bind(page.offset())
        .fetch_all(self.pool())
        .await?;
        Ok(Page {
            items: rows.iter().map(member_from_row).collect::<Result<_>>()?,
            total: to_u64(total),
        })
    }
}

/// Set a member's role and explicit permissions (`None` = role defaults); false if the user
/// has no membership row.
pub(super) async fn update_member<'e>(
    e: impl Executor<'e, Database = Any>,
    room: &RoomId,
    user: &UserId,
    role: Role,
    permissions: Option<Permissions>,
) -> Result<bool> {
    let n = sqlx::query(
        "UPDATE room_members SET role = $3, permissions = $4 WHERE room_id = $1 AND user_id = $2",
    )
    .bind(room.as_str())
    .bind(user.as_str())
    .bind(role.as_str())
    .bind(permissions.map(Permissions::bits))
    .execute(e)
    .await?
    .rows_affected();
    Ok(n > 0)
}
