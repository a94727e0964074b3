//! Chat history.

use sqlx::any::AnyRow;
use sqlx::{Any, Executor, Row};

use super::{Page, PageRequest, Store, to_i64, to_u64};
use crate::ids::{MessageId, RoomId, UserId};
use crate::model::ChatMessage;
use crate::room_state::ChatEntry;
use crate::{Error, Result};

fn entry_from_row(r: &AnyRow) -> Result<ChatEntry> {
    Ok(ChatEntry {
        message: ChatMessage {
            message_id: MessageId::from(r.try_get::<String, _>("message_id")?),
            user_id: UserId::from(r.try_get::<String, _>("user_id")?),
            username: r.try_get("username")?,
            text: r.try_get("body")?,
        },
        ts_ms: to_u64(r.try_get("created_at_ms")?),
    })
}

pub(super) async fn insert_chat<'e>(
    e: impl Executor<'e, Database = Any>,
    room: &RoomId,
    msg: &ChatMessage,
    ts_ms: u64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO chat_messages (message_id, room_id, user_id, username, body, created_at_ms)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(msg.message_id.as_str())
    .bind(room.as_str())
    .bind(msg.user_id.as_str())
    .bind(&msg.username)
    .bind(&msg.text)
    .bind(to_i64(ts_ms))
    .execute(e)
    .await
    .map_err(|e| match &e {
        sqlx::Error::Database(d) if d.is_foreign_key_violation() => Error::not_found("room"),
        _ => Error::Database(e),
    })?;
    Ok(())
}

/// The last `n` messages, oldest first.
pub(super) async fn recent_chat<'e>(
    e: impl Executor<'e, Database = Any>,
    room: &RoomId,
    n: usize,
) -> Result<Vec<ChatEntry>> {
    let rows = sqlx::query(
        "SELECT message_id, user_id, username, body, created_at_ms FROM chat_messages
         WHERE room_id = $1 ORDER BY created_at_ms DESC, message_id DESC LIMIT $2",
    )
    .bind(room.as_str())
    .bind(i64::try_from(n).unwrap_or(i64::MAX))
    .fetch_all(e)
    .await?;
    let mut out: Vec<ChatEntry> = rows.iter().map(entry_from_row).collect::<Result<_>>()?;
    out.reverse();
    Ok(out)
}

impl Store {
    /// A page of the chat history, newest first.
    pub async fn list_chat(&self, room: &RoomId, page: PageRequest) -> Result<Page<ChatEntry>> {
        let total: i64 = sqlx::query("SELECT COUNT(*) AS n FROM chat_messages WHERE room_id = $1")
            .bind(room.as_str())
            .fetch_one(self.pool())
            .await?
            .try_get("n")?;
        let rows = sqlx::query(
            "SELECT message_id, user_id, username, body, created_at_ms FROM chat_messages
             WHERE room_id = $1 ORDER BY created_at_ms DESC, message_id DESC LIMIT $2 OFFSET $3",
        )
        .bind(room.as_str())
        .bind(page.limit())
        .bind(page.offset())
        .fetch_all(self.pool())
        .await?;
        Ok(Page {
            items: rows.iter().map(entry_from_row).collect::<Result<_>>()?,
            total: to_u64(total),
        })
    }

    /// Chat retention: delete messages sent before `before_ms` (0: none by age), and all but
    /// the newest `keep_per_room` of each room (0: no limit). Returns the rows deleted.
    pub async fn prune_chat(&self, before_ms: u64, keep_per_room: u64) -> Result<u64> {
        let mut deleted = 0;
        if before_ms > 0 {
            deleted += sqlx::query("DELETE FROM chat_messages WHERE created_at_ms < $1")
                .bind(to_i64(before_ms))
                .execute(self.pool())
                .await?
                .rows_affected();
        }
        if keep_per_room > 0 {
            deleted += sqlx::query(
                "DELETE FROM chat_messages WHERE message_id IN (
                   SELECT message_id FROM (
                     SELECT message_id, ROW_NUMBER() OVER (
                       PARTITION BY room_id ORDER BY created_at_ms DESC, message_id DESC) AS n
                     FROM chat_messages) ranked
                   WHERE n > $1)",
            )
            .bind(to_i64(keep_per_room))
            .execute(self.pool())
            .await?
            .rows_affected();
        }
        Ok(deleted)
    }
}
