//! Storage over sqlx's `Any` driver: PostgreSQL for clusters, SQLite (bundled, a file under
//! the data directory) as the embedded default. One set of portable SQL serves both: `$N`
//! placeholders, TEXT ids, BIGINT millisecond times and 0/1 flags, DOUBLE PRECISION rates.
//!
//! Each table has its own file: query functions that run on the pool or inside a
//! transaction, and an `impl Store` block for the reads that need no transaction. Changes to
//! a room go through a [`RoomTx`], which orders them against loads of the room's state.

mod chat;
mod members;
mod migrations;
mod movies;
mod playback;
mod rooms;
mod sqlite;
mod state;
mod tx;
mod users;

pub use rooms::{NewRoom, RoomUpdate};
pub use tx::{RoomLock, RoomTx};
pub use users::UserRecord;

use std::sync::Arc;
use std::time::Duration;

use sqlx::AnyPool;
use sqlx::any::AnyPoolOptions;

use crate::config::DatabaseConfig;
use crate::{Error, Result};

/// Which database the store talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

/// A cheap handle to the connection pool.
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// SQLite only: room transactions take turns through this gate (see [`RoomTx`]).
    write_gate: Option<Arc<tokio::sync::Mutex<()>>>,
}

/// A page of a list: `page` counts from 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    pub page: u32,
    pub per_page: u32,
}

impl PageRequest {
    fn limit(self) -> i64 {
        i64::from(self.per_page)
    }

    fn offset(self) -> i64 {
        i64::from(self.page.saturating_sub(1)) * i64::from(self.per_page)
    }
}

/// One page of items and the total count across all pages.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: u64,
}

impl Store {
    /// Open the pool. For SQLite the file (and its directory) is created, private, if
    /// missing, and every connection uses WAL with `database.sqlite_synchronous` (see
    /// [`sqlite`]). PostgreSQL's durability is the server's `synchronous_commit`.
    pub async fn connect(cfg: &DatabaseConfig) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let (url, backend) = sqlite::prepare_url(&cfg.url)?;
        let sqlite = backend == Backend::Sqlite;
        let pragmas = sqlite::pragmas(cfg.sqlite_synchronous);
        let pool = AnyPoolOptions::new()
            .max_connections(cfg.max_connections)
            .acquire_timeout(Duration::from_secs(cfg.acquire_timeout_secs))
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if sqlite {
                        use sqlx::Executor;
                        for pragma in pragmas {
                            conn.execute(pragma).await?;
                        }
                    }
                    Ok(())
                })
            })
            .connect(&url)
            .await?;
        if sqlite {
            sqlite::restrict_files(&cfg.url)?;
        }
        let write_gate = sqlite.then(|| Arc::new(tokio::sync::Mutex::new(())));
        Ok(Store {
            pool,
            backend,
            write_gate,
        })
    }

    /// Apply pending migrations (numbered files in `migrations/`, embedded in the binary),
    /// then fill what SQL cannot compute (the comparison keys of older usernames).
    /// Concurrent starts against one PostgreSQL are serialized by sqlx's advisory lock.
    pub async fn migrate(&self) -> Result<()> {
        migrations::migrator().run(&self.pool).await?;
        let filled = self.fill_username_keys().await?;
        if filled > 0 {
            tracing::info!(filled, "filled the comparison keys of existing usernames");
        }
        Ok(())
    }

    /// A round trip to the database (readiness probe).
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }
}

/// Map a unique-constraint violation to `Conflict`, everything else to `Database`.
pub(crate) fn conflict_on_unique(e: sqlx::Error, code: &'static str, message: &str) -> Error {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => Error::Conflict {
            code,
            message: message.to_string(),
        },
        _ => Error::Database(e),
    }
}

/// Database integers are i64; counts and times are never negative.
pub(crate) fn to_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

pub(crate) fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::sqlite::prepare_url;
    use super::*;
    use crate::config::SqliteSynchronous;

    #[test]
    fn sqlite_urls_get_create_mode() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/sub/x.db", dir.path().display());
        let (u, b) = prepare_url(&url).unwrap();
        assert_eq!(b, Backend::Sqlite);
        assert!(u.ends_with("?mode=rwc"));
        assert!(dir.path().join("sub").is_dir());
        let (u, _) = prepare_url("sqlite::memory:?cache=shared").unwrap();
        assert_eq!(u, "sqlite::memory:?cache=shared&mode=rwc");
        let (u, b) = prepare_url("postgres://h/db").unwrap();
        assert_eq!((u.as_str(), b), ("postgres://h/db", Backend::Postgres));
        assert!(prepare_url("mysql://h/db").is_err());
    }

    #[tokio::test]
    async fn sqlite_synchronous_is_configured() {
        let dir = tempfile::tempdir().unwrap();
        for (setting, expected) in [(SqliteSynchronous::Full, 2), (SqliteSynchronous::Normal, 1)] {
            let cfg = DatabaseConfig {
                url: format!("sqlite://{}/{expected}.db", dir.path().display()),
                sqlite_synchronous: setting,
                ..DatabaseConfig::default()
            };
            let store = Store::connect(&cfg).await.unwrap();
            let mode: i64 = sqlx::query_scalar("PRAGMA synchronous")
                .fetch_one(store.pool())
                .await
                .unwrap();
            assert_eq!(mode, expected, "{setting:?}");
            let journal: String = sqlx::query_scalar("PRAGMA journal_mode")
                .fetch_one(store.pool())
                .await
                .unwrap();
            assert_eq!(journal, "wal");
            store.close().await;
        }
    }
}
