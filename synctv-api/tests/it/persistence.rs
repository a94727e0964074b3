//! Nothing acknowledged is lost on a clean restart.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::*;
use crate::dual;

/// The durable parts of a welcome snapshot (members are who is online, so they differ).
fn durable(snapshot: &Value) -> Value {
    let mut s = snapshot.clone();
    let o = s.as_object_mut().unwrap();
    o.remove("members");
    o.remove("member_count");
    s
}

async fn restart_keeps_playlist_playback_and_recent_chat(db: DbKind) {
    let app = TestApp::spawn(db).await;
    let owner = app.register("owner").await;
    let room = app
        .create_room(
            &owner,
            json!({"name": "keep me", "password": "pw-pw-pw", "settings": {"chat_role": "member"}}),
        )
        .await;
    let room_id = room["room_id"].as_str().unwrap().to_string();
    let m1 = app.add_movie(&owner, &room_id, "one").await;
    app.add_movie(&owner, &room_id, "two").await;
    let mut c = app.ws(&room_id, &owner, "").await;
    c.welcome().await;
    for i in 0..3 {
        c.chat(&format!("message {i}")).await;
    }
    c.request(json!({"type": "playback", "action": "set_movie", "movie_id": m1["movie_id"]}))
        .await;
    c.request(json!({"type": "playback", "action": "play", "position_ms": 42_000}))
        .await;
    c.request(json!({"type": "playback", "action": "rate", "rate": 1.25}))
        .await;
    c.request(json!({"type": "playback", "action": "pause", "position_ms": 50_000}))
        .await;
    c.sync().await;
    let mut probe = app.ws(&room_id, &owner, "").await;
    let before = probe.welcome().await["room"].clone();
    assert_eq!(before["playback"]["version"], 4);
    assert_eq!(before["recent_chat"].as_array().unwrap().len(), 3);
    let (_, info_before) = app
        .get(&format!("/api/rooms/{room_id}"), Some(&owner.token))
        .await;
    let (_, chat_before) = app
        .get(&format!("/api/rooms/{room_id}/chat"), Some(&owner.token))
        .await;
    let db_handle = app.db.clone();
    app.stop().await;

    let app = TestApp::spawn_on(db_handle, |_| {}).await;
    let (s, info_after) = app
        .get(&format!("/api/rooms/{room_id}"), Some(&owner.token))
        .await;
    assert_eq!(
        s,
        StatusCode::OK,
        "the old token still works and the room is there"
    );
    assert_eq!(
        info_after["playback"], info_before["playback"],
        "playback, version included"
    );
    assert_eq!(info_after["settings"], info_before["settings"]);
    assert_eq!(info_after["has_password"], true);
    let mut c = app.ws(&room_id, &owner, "").await;
    let after = c.welcome().await["room"].clone();
    assert_eq!(
        durable(&after),
        durable(&before),
        "playlist, playback and recent chat are exactly as they were"
    );
    let (_, chat_after) = app
        .get(&format!("/api/rooms/{room_id}/chat"), Some(&owner.token))
        .await;
    assert_eq!(chat_after, chat_before);
    // Versions continue from the stored one.
    let (frames, _) = c
        .request(json!({"type": "playback", "action": "play", "base_version": 4}))
        .await;
    let pb = frames.iter().find(|f| f["kind"] == "playback").unwrap();
    assert_eq!(pb["data"]["version"], 5);
    // Accounts survive too.
    let (s, _) = app
        .post(
            "/api/auth/login",
            None,
            json!({"username": "owner", "password": "secret-pw"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    app.stop().await;
}
dual!(restart_keeps_playlist_playback_and_recent_chat);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_node_keeps_its_generated_secret_across_restarts() {
    let app = TestApp::spawn_with(DbKind::Sqlite, |c| c.auth.jwt_secret.clear()).await;
    let u = app.register("u").await;
    let secret_file = app.config.server.data_dir.join("jwt_secret");
    assert!(
        secret_file.is_file(),
        "the generated secret is kept in the data dir"
    );
    let db = app.db.clone();
    app.stop().await;
    let app = TestApp::spawn_on(db, |c| c.auth.jwt_secret.clear()).await;
    let (s, _) = app.get("/api/rooms", Some(&u.token)).await;
    assert_eq!(
        s,
        StatusCode::OK,
        "tokens issued before the restart still verify"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_starts_a_new_epoch() {
    let app = TestApp::spawn(DbKind::Sqlite).await;
    let u = app.register("u").await;
    let room = app.create_room(&u, json!({"name": "r"})).await;
    let room_id = room["room_id"].as_str().unwrap().to_string();
    let mut c = app.ws(&room_id, &u, "").await;
    let w = c.welcome().await;
    c.event("member_joined").await;
    let seq = c.chat("x").await;
    let epoch = w["epoch"].as_str().unwrap().to_string();
    let db = app.db.clone();
    app.stop().await;
    let app = TestApp::spawn_on(db, |_| {}).await;
    let mut c = app
        .ws(&room_id, &u, &format!("&since={seq}&epoch={epoch}"))
        .await;
    let w = c.welcome().await;
    assert_eq!(
        w["resumed"], false,
        "the event log was in memory: the client gets a snapshot"
    );
    assert_ne!(w["epoch"], epoch.as_str());
    assert_eq!(w["room"]["recent_chat"][0]["text"], "x");
    app.stop().await;
}
