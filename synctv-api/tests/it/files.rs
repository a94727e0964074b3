//! The data directory and the SQLite files are private to the server's user: the
//! directory 0700, the database, its -wal and -shm files and the generated JWT secret
//! 0600, whatever the umask; a database file left world-readable by an older version is
//! tightened at start.

#![cfg(unix)]

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use serde_json::json;

use crate::common::*;

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .permissions()
        .mode()
        & 0o777
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_dir_and_sqlite_files_are_private() {
    let db = TestDb::new(DbKind::Sqlite).await;
    let data = db.dir.path().join("data");
    let file = data.join("synctv.db");
    let app = TestApp::spawn_on(db.clone(), |c| {
        c.database.url = format!("sqlite://{}", file.display());
        c.server.data_dir = data.clone();
        // Generate the JWT secret into the data directory, as a single node does.
        c.auth.jwt_secret = String::new();
    })
    .await;
    // A write, so the WAL and its index exist.
    let owner = app.register("owner").await;
    app.create_room(&owner, json!({"name": "r"})).await;
    assert_eq!(mode(&data), 0o700, "data directory");
    for name in ["synctv.db", "synctv.db-wal", "synctv.db-shm", "jwt_secret"] {
        assert_eq!(mode(&data.join(name)), 0o600, "{name}");
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_existing_open_database_file_is_tightened() {
    let db = TestDb::new(DbKind::Sqlite).await;
    let file = db.dir.path().join("synctv.db");
    std::fs::write(&file, b"").unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let app = TestApp::spawn_on(db.clone(), |_| {}).await;
    app.register("owner").await;
    assert_eq!(mode(&file), 0o600);
    assert_eq!(mode(&db.dir.path().join("synctv.db-wal")), 0o600);
    app.stop().await;
}
