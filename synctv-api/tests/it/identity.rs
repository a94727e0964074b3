//! Names cannot pose as other names: a username that differs from a registered one only in
//! case, compatibility forms or look-alike characters is taken, and a guest cannot appear
//! under such a name, neither when its identity is issued nor when it opens a socket after
//! the name was registered.

use reqwest::StatusCode;
use serde_json::json;

use crate::common::*;
use crate::dual;

const LOOKALIKES: [&str; 5] = [
    "Alice",
    "ALICE",
    "ａｌｉｃｅ",   // fullwidth
    "\u{0430}lice", // Cyrillic a
    "a1ice",        // digit one
];

async fn lookalike_names_are_taken(db: DbKind) {
    let app = TestApp::spawn(db).await;
    app.register("alice").await;
    for name in LOOKALIKES {
        let (s, body) = app
            .post(
                "/api/auth/register",
                None,
                json!({"username": name, "password": "secret-pw"}),
            )
            .await;
        assert_eq!(s, StatusCode::CONFLICT, "register {name:?}: {body}");
        assert_eq!(body["error"]["code"], "username_taken");
    }
    for name in std::iter::once("alice").chain(LOOKALIKES) {
        let (s, body) = app
            .post("/api/auth/guest", None, json!({"name": name}))
            .await;
        assert_eq!(s, StatusCode::CONFLICT, "guest {name:?}: {body}");
        assert_eq!(body["error"]["code"], "username_taken");
    }
    app.register("alicia").await;
    app.guest("bob").await;
    // Login still compares names exactly.
    let (s, _) = app
        .post(
            "/api/auth/login",
            None,
            json!({"username": "Alice", "password": "secret-pw"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    app.stop().await;
}
dual!(lookalike_names_are_taken);

async fn a_guest_loses_a_name_registered_after_it(db: DbKind) {
    let app = TestApp::spawn(db).await;
    let owner = app.register("owner").await;
    let room = app.create_room(&owner, json!({"name": "r"})).await;
    let id = room["room_id"].as_str().unwrap();
    let early = app.guest("carol").await;
    let mut c = app.ws(id, &early, "").await;
    c.welcome().await;
    c.close().await;

    app.register("Carol").await;
    let (status, body) = app
        .try_ws(id, &early.token, "")
        .await
        .err()
        .expect("the socket is refused");
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "username_taken");
    // Another guest name works, and guests are marked as such for everyone.
    let other = app.guest("visitor").await;
    let mut o = app.ws(id, &other, "").await;
    o.welcome().await;
    let joined = o.event("member_joined").await;
    assert_eq!(joined["data"]["role"], "guest");
    o.close().await;
    app.stop().await;
}
dual!(a_guest_loses_a_name_registered_after_it);

/// Accounts from before the key column get their keys at start; two old accounts that
/// differ only in case both keep working, and neither name can be registered again.
async fn existing_usernames_get_keys_on_migration(db: DbKind) {
    let db = TestDb::new(db).await;
    let app = TestApp::spawn_on(db.clone(), |_| {}).await;
    let first = app.register("dave").await;
    app.stop().await;
    // Simulate rows written before migration 8: no key, and a case twin.
    let pool = raw_pool(&db.url).await;
    sqlx::query("UPDATE users SET username_key = NULL")
        .execute(&pool)
        .await
        .unwrap();
    let hash: String =
        sqlx::query_scalar("SELECT password_hash FROM users WHERE username = 'dave'")
            .fetch_one(&pool)
            .await
            .unwrap();
    sqlx::query(
        "INSERT INTO users (user_id, username, password_hash, created_at_ms) \
         VALUES ('legacy-twin', 'Dave', $1, 9999999999999)",
    )
    .bind(&hash)
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;

    let app = TestApp::spawn_on(db.clone(), |_| {}).await;
    for (name, id) in [("dave", first.user_id.as_str()), ("Dave", "legacy-twin")] {
        let (s, body) = app
            .post(
                "/api/auth/login",
                None,
                json!({"username": name, "password": "secret-pw"}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{name}: {body}");
        assert_eq!(body["user_id"], id);
    }
    let (s, body) = app
        .post(
            "/api/auth/register",
            None,
            json!({"username": "DAVE", "password": "secret-pw"}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{body}");
    let (s, _) = app
        .post("/api/auth/guest", None, json!({"name": "dave"}))
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    let pool = raw_pool(&db.url).await;
    let unkeyed: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE username_key IS NULL")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(unkeyed, 0);
    pool.close().await;
    app.stop().await;
}
dual!(existing_usernames_get_keys_on_migration);

async fn raw_pool(url: &str) -> sqlx::AnyPool {
    sqlx::any::install_default_drivers();
    sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .connect(url)
        .await
        .expect("connect to the test database")
}
