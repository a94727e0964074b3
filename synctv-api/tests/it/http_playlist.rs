//! Playlists, members, chat history and password-protected contents over HTTP.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::*;
use crate::dual;

async fn playlist_members_and_chat_history(db: DbKind) {
    let app = TestApp::spawn(db).await;
    let owner = app.register("owner").await;
    let member = app.register("member").await;
    let guest = app.guest("guest").await;
    let room = app.create_room(&owner, json!({"name": "r"})).await;
    let id = room["room_id"].as_str().unwrap();
    let m1 = app.add_movie(&owner, id, "first").await;
    assert_eq!(
        m1.as_object().unwrap().len(),
        3,
        "movie objects are {{movie_id, url, title}}: {m1}"
    );
    let m2 = app.add_movie(&member, id, "second").await;
    let (s, body) = app
        .post(
            &format!("/api/rooms/{id}/movies"),
            Some(&guest.token),
            json!({"url": "https://x.y/z", "title": "t"}),
        )
        .await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("forbidden"))
    );
    let (s, body) = app
        .post(
            &format!("/api/rooms/{id}/movies"),
            Some(&owner.token),
            json!({"url": "ftp://x", "title": "t"}),
        )
        .await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("validation_failed"))
    );

    let (s, list) = app
        .get(&format!("/api/rooms/{id}/movies"), Some(&guest.token))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(list["total"], 2);
    assert_eq!(list["items"], json!([m2, m1]), "newest first");
    let (_, p2) = app
        .get(
            &format!("/api/rooms/{id}/movies?per_page=1&page=2"),
            Some(&owner.token),
        )
        .await;
    assert_eq!(p2["items"], json!([m1]));

    let path = format!(
        "/api/rooms/{id}/movies/{}",
        m1["movie_id"].as_str().unwrap()
    );
    let (s, _) = app.delete(&path, Some(&guest.token)).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = app.delete(&path, Some(&member.token)).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, body) = app.delete(&path, Some(&member.token)).await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("movie_not_found"))
    );

    // Members: the owner's row exists from creation; a registered user becomes a member on joining.
    let mut c = app.ws(id, &member, "").await;
    c.welcome().await;
    c.chat("one").await;
    c.chat("two").await;
    let (s, members) = app
        .get(&format!("/api/rooms/{id}/members"), Some(&owner.token))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(members["total"], 2);
    let roles: Vec<(&str, &str)> = members["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["username"].as_str().unwrap(), m["role"].as_str().unwrap()))
        .collect();
    assert_eq!(roles, [("member", "member"), ("owner", "owner")]);

    let (s, chat) = app
        .get(&format!("/api/rooms/{id}/chat"), Some(&owner.token))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(chat["total"], 2);
    assert_eq!(chat["items"][0]["text"], "two", "newest first");
    assert_eq!(chat["items"][1]["username"], "member");
    c.close().await;
    app.stop().await;
}
dual!(playlist_members_and_chat_history);

async fn removing_the_current_movie_clears_playback(db: DbKind) {
    let app = TestApp::spawn(db).await;
    let owner = app.register("owner").await;
    let room = app.create_room(&owner, json!({"name": "r"})).await;
    let id = room["room_id"].as_str().unwrap();
    let movie = app.add_movie(&owner, id, "m").await;
    let mut c = app.ws(id, &owner, "").await;
    c.welcome().await;
    c.request(json!({"type": "playback", "action": "set_movie", "movie_id": movie["movie_id"]}))
        .await;
    c.request(json!({"type": "playback", "action": "play"}))
        .await;
    c.sync().await;
    let (s, _) = app
        .delete(
            &format!(
                "/api/rooms/{id}/movies/{}",
                movie["movie_id"].as_str().unwrap()
            ),
            Some(&owner.token),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    c.event("movie_removed").await;
    let pb = c.event("playback").await;
    assert_eq!(pb["data"]["movie_id"], Value::Null);
    assert_eq!(pb["data"]["playing"], false);
    assert_eq!(pb["data"]["version"], 3);
    let (_, info) = app
        .get(&format!("/api/rooms/{id}"), Some(&owner.token))
        .await;
    assert_eq!(info["playback"]["version"], 3);
    app.stop().await;
}
dual!(removing_the_current_movie_clears_playback);

async fn password_rooms_guard_their_contents(db: DbKind) {
    let app = TestApp::spawn(db).await;
    let owner = app.register("owner").await;
    let bob = app.register("bob").await;
    let room = app
        .create_room(&owner, json!({"name": "r", "password": "sesame"}))
        .await;
    let id = room["room_id"].as_str().unwrap();
    let (s, body) = app
        .get(&format!("/api/rooms/{id}/movies"), Some(&bob.token))
        .await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("wrong_room_password"))
    );
    let (s, _) = app
        .get(
            &format!("/api/rooms/{id}/movies?password=sesame"),
            Some(&bob.token),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let resp = app
        .http
        .get(app.url(&format!("/api/rooms/{id}/chat")))
        .bearer_auth(&bob.token)
        .header("X-Room-Password", "sesame")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let (s, _) = app
        .get(&format!("/api/rooms/{id}/movies"), Some(&owner.token))
        .await;
    assert_eq!(s, StatusCode::OK, "the owner needs no password");
    // The room's info (not its contents) is public to signed-in users.
    let (s, info) = app.get(&format!("/api/rooms/{id}"), Some(&bob.token)).await;
    assert_eq!(
        (s, info["has_password"].as_bool()),
        (StatusCode::OK, Some(true))
    );
    app.stop().await;
}
dual!(password_rooms_guard_their_contents);
