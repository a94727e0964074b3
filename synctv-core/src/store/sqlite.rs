//! The embedded SQLite database: its URL, its files and how every connection is set up.
//!
//! Files: the directory is created 0700 and the database file is created 0600 before
//! SQLite opens it (SQLite then gives its `-wal` and `-shm` files the same mode); files of
//! an older installation are tightened to 0600 after connecting. See `private_files`.
//!
//! Durability: every connection runs in WAL mode with `synchronous` as configured
//! (`database.sqlite_synchronous`). With `FULL` (the default) a commit returns only after
//! the WAL is fsynced, so what the server acknowledged survives a power loss or a kernel
//! crash; with `NORMAL` WAL commits are not fsynced (only checkpoints are), so the last
//! transactions before a power loss can be lost, while the database stays consistent and
//! a mere process crash loses nothing. An `ack` promises durability, hence `FULL`.

use std::path::{Path, PathBuf};

use super::Backend;
use crate::config::SqliteSynchronous;
use crate::{Error, Result, private_files};

/// The statements run on every new SQLite connection.
pub(super) fn pragmas(sync: SqliteSynchronous) -> [&'static str; 4] {
    [
        "PRAGMA journal_mode = WAL",
        match sync {
            SqliteSynchronous::Full => "PRAGMA synchronous = FULL",
            SqliteSynchronous::Normal => "PRAGMA synchronous = NORMAL",
        },
        "PRAGMA foreign_keys = ON",
        "PRAGMA busy_timeout = 5000",
    ]
}

/// Normalize a database URL: SQLite files get their directory and the file itself created
/// (private) and `mode=rwc`.
pub(super) fn prepare_url(url: &str) -> Result<(String, Backend)> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok((url.to_string(), Backend::Postgres));
    }
    if !url.starts_with("sqlite:") {
        return Err(Error::Config(format!(
            "database.url: unsupported scheme in {url:?}"
        )));
    }
    if let Some(file) = file_of(url) {
        if let Some(dir) = file.parent()
            && !dir.as_os_str().is_empty()
        {
            private_files::create_dir(dir)?;
        }
        if !url.contains("mode=ro") {
            private_files::create_file(&file)?;
        }
    }
    let url = if url.contains("mode=") {
        url.to_string()
    } else if url.contains('?') {
        format!("{url}&mode=rwc")
    } else {
        format!("{url}?mode=rwc")
    };
    Ok((url, Backend::Sqlite))
}

/// Make the database file and its companions private, once connections have created them.
pub(super) fn restrict_files(url: &str) -> Result<()> {
    let Some(file) = file_of(url) else {
        return Ok(());
    };
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut name = file.clone().into_os_string();
        name.push(suffix);
        private_files::restrict(Path::new(&name))?;
    }
    Ok(())
}

/// The file of a file-backed SQLite URL (`None` for in-memory databases).
fn file_of(url: &str) -> Option<PathBuf> {
    let rest = url.strip_prefix("sqlite:")?;
    let path = rest.strip_prefix("//").unwrap_or(rest);
    let file = path.split('?').next().unwrap_or("");
    (!file.is_empty() && !file.starts_with(":memory:")).then(|| PathBuf::from(file))
}
