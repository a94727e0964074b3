//! Registered users.

use sqlx::Row;

use super::{Store, conflict_on_unique, to_i64};
use crate::ids::UserId;
use crate::{Result, time};

/// A stored user: id, name and password hash.
#[derive(Debug, Clone)]
pub struct UserRecord {
    pub user_id: UserId,
    pub username: String,
    pub password_hash: String,
}

impl Store {
    /// Create a user; `Conflict("username_taken")` if the name is in use.
    pub async fn create_user(&self, username: &str, password_hash: &str) -> Result<UserId> {
        let id = UserId::generate();
        sqlx::query(
            "INSERT INTO users (user_id, username, password_hash, created_at_ms) VALUES ($1, $2, $3, $4)",
        )
        .bind(id.as_str())
        .bind(username)
        .bind(password_hash)
        .bind(to_i64(time::now_ms()))
        .execute(self.pool())
        .await
        .map_err(|e| conflict_on_unique(e, "username_taken", "this username is taken"))?;
        Ok(id)
    }

    pub async fn find_user_by_name(&self, username: &str) -> Result<Option<UserRecord>> {
        let row =
            sqlx::query("SELECT user_id, username, password_hash FROM users WHERE username = $1")
                .bind(username)
                .fetch_optional(self.pool())
                .await?;
        row.map(|r| {
            Ok(UserRecord {
                user_id: UserId::from(r.try_get::<String, _>("user_id")?),
                username: r.try_get("username")?,
                password_hash: r.try_get("password_hash")?,
            })
        })
        .transpose()
    }
}
