//! Registered users. Each row stores its username as given and the name's comparison key
//! ([`text::name_key`]), which is unique: two accounts cannot differ only in case,
//! compatibility forms or look-alike characters.

use sqlx::Row;

use super::{Store, conflict_on_unique, to_i64};
use crate::ids::UserId;
use crate::{Result, text, time};

/// A stored user: id, name and password hash.
#[derive(Debug, Clone)]
pub struct UserRecord {
    pub user_id: UserId,
    pub username: String,
    pub password_hash: String,
}

const TAKEN: &str = "this username is taken, or looks like one that is";

impl Store {
    /// Create a user; `Conflict("username_taken")` if the name, or a name with the same
    /// comparison key, is in use.
    pub async fn create_user(&self, username: &str, password_hash: &str) -> Result<UserId> {
        let id = UserId::generate();
        sqlx::query(
            "INSERT INTO users (user_id, username, username_key, password_hash, created_at_ms) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id.as_str())
        .bind(username)
        .bind(text::name_key(username))
        .bind(password_hash)
        .bind(to_i64(time::now_ms()))
        .execute(self.pool())
        .await
        .map_err(|e| conflict_on_unique(e, "username_taken", TAKEN))?;
        Ok(id)
    }

    /// Delete an account; its memberships go with it (rooms it owns stay, as guests' do).
    pub async fn delete_user(&self, user: &UserId) -> Result<bool> {
        let n = sqlx::query("DELETE FROM users WHERE user_id = $1")
            .bind(user.as_str())
            .execute(self.pool())
            .await?
            .rows_affected();
        Ok(n > 0)
    }

    pub async fn user_exists(&self, user: &UserId) -> Result<bool> {
        let row = sqlx::query("SELECT 1 AS x FROM users WHERE user_id = $1")
            .bind(user.as_str())
            .fetch_optional(self.pool())
            .await?;
        Ok(row.is_some())
    }

    /// The user with exactly this username (login compares names exactly).
    pub async fn find_user_by_name(&self, username: &str) -> Result<Option<UserRecord>> {
        self.find_user_where("username", username).await
    }

    /// The registered user whose name looks like `name` (same comparison key), if any.
    pub async fn find_user_like(&self, name: &str) -> Result<Option<UserRecord>> {
        self.find_user_where("username_key", &text::name_key(name))
            .await
    }

    async fn find_user_where(
        &self,
        column: &'static str,
        value: &str,
    ) -> Result<Option<UserRecord>> {
        let sql = format!("SELECT user_id, username, password_hash FROM users WHERE {column} = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(value)
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

    /// Give every user from before migration 8 its comparison key; returns how many rows
    /// were filled. Idempotent. If two old accounts share a key (`alice` and `Alice`), the
    /// older one gets it and the newer one a key of its own that nothing else can have (a
    /// control character cannot be in a key), so both can still log in, and nobody new
    /// can register either name.
    pub(super) async fn fill_username_keys(&self) -> Result<u64> {
        let rows = sqlx::query(
            "SELECT user_id, username FROM users WHERE username_key IS NULL \
             ORDER BY created_at_ms, user_id",
        )
        .fetch_all(self.pool())
        .await?;
        let mut filled = 0;
        for row in rows {
            let user_id: String = row.try_get("user_id")?;
            let username: String = row.try_get("username")?;
            let key = text::name_key(&username);
            let set =
                "UPDATE users SET username_key = $1 WHERE user_id = $2 AND username_key IS NULL";
            let res = sqlx::query(set)
                .bind(&key)
                .bind(&user_id)
                .execute(self.pool())
                .await;
            match res {
                Ok(_) => {}
                Err(sqlx::Error::Database(db)) if db.is_unique_violation() => {
                    tracing::warn!(
                        %user_id,
                        %username,
                        "an older account has a name that looks the same; this one keeps a unique key"
                    );
                    sqlx::query(set)
                        .bind(format!("{key}\u{1}{user_id}"))
                        .bind(&user_id)
                        .execute(self.pool())
                        .await?;
                }
                Err(e) => return Err(e.into()),
            }
            filled += 1;
        }
        Ok(filled)
    }
}
