//! Rooms, playlists, members and chat history over HTTP.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::*;
use crate::dual;

fn ids(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["room_id"].as_str().unwrap().to_string())
        .collect()
}

async fn rooms_are_created_listed_and_paginated(db: DbKind) {
    let app = TestApp::spawn(db).await;
    let alice = app.register("alice").await;
    let room = app
        .create_room(&alice, json!({"name": "  Movie night  "}))
        .await;
    assert_eq!(room["name"], "Movie night");
    assert_eq!(room["owner_id"], alice.user_id.as_str());
    assert_eq!(room["has_password"], false);
    assert_eq!(room["member_count"], 0);
    assert_eq!(room["settings"]["hidden"], false);
    assert_eq!(room["playback"]["version"], 0);
    assert_eq!(room["playback"]["movie_id"], Value::Null);

    let mut created = vec![room["room_id"].as_str().unwrap().to_string()];
    for i in 0..4 {
        let r = app
            .create_room(&alice, json!({"name": format!("room {i}")}))
            .await;
        created.push(r["room_id"].as_str().unwrap().to_string());
    }
    let hidden = app
        .create_room(
            &alice,
            json!({"name": "secret", "settings": {"hidden": true}}),
        )
        .await;
    assert_eq!(hidden["settings"]["hidden"], true);
    let locked = app
        .create_room(&alice, json!({"name": "locked", "password": "pw-pw-pw"}))
        .await;
    assert_eq!(locked["has_password"], true);
    created.push(locked["room_id"].as_str().unwrap().to_string());

    let (s, page1) = app
        .get("/api/rooms?page=1&per_page=4", Some(&alice.token))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        (
            page1["page"].as_u64(),
            page1["per_page"].as_u64(),
            page1["total"].as_u64()
        ),
        (Some(1), Some(4), Some(6))
    );
    let (_, page2) = app
        .get("/api/rooms?page=2&per_page=4", Some(&alice.token))
        .await;
    let mut listed = ids(&page1);
    listed.extend(ids(&page2));
    let mut newest_first = created.clone();
    newest_first.reverse();
    assert_eq!(
        listed, newest_first,
        "public rooms, newest first, hidden one left out"
    );
    let locked_listed = &page1["items"][0];
    assert_eq!(locked_listed["has_password"], true);
    assert!(
        locked_listed.get("password").is_none() && locked_listed.get("password_hash").is_none()
    );
    let (_, defaults) = app.get("/api/rooms", Some(&alice.token)).await;
    assert_eq!(
        (defaults["page"].as_u64(), defaults["per_page"].as_u64()),
        (Some(1), Some(20))
    );
    let (_, beyond) = app.get("/api/rooms?page=9", Some(&alice.token)).await;
    assert_eq!(beyond["items"], json!([]));
    for bad in ["page=0", "page=abc", "per_page=-1"] {
        let (s, body) = app
            .get(&format!("/api/rooms?{bad}"), Some(&alice.token))
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(body["error"]["code"], "invalid_query");
    }
    // Hidden rooms are still reachable by id.
    let (s, got) = app
        .get(
            &format!("/api/rooms/{}", hidden["room_id"].as_str().unwrap()),
            Some(&alice.token),
        )
        .await;
    assert_eq!((s, got["name"].as_str()), (StatusCode::OK, Some("secret")));
    let (s, body) = app
        .get("/api/rooms/does-not-exist", Some(&alice.token))
        .await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("room_not_found"))
    );
    let (s, body) = app
        .post("/api/rooms", Some(&alice.token), json!({"name": ""}))
        .await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("validation_failed"))
    );
    app.stop().await;
}
dual!(rooms_are_created_listed_and_paginated);

async fn only_owner_or_admin_may_change_or_delete(db: DbKind) {
    let app = TestApp::spawn(db).await;
    let owner = app.register("owner").await;
    let bob = app.register("bob").await;
    let guest = app.guest("g").await;
    let room = app.create_room(&owner, json!({"name": "r"})).await;
    let id = room["room_id"].as_str().unwrap();
    for u in [&bob, &guest] {
        let (s, body) = app
            .patch(
                &format!("/api/rooms/{id}"),
                Some(&u.token),
                json!({"name": "mine"}),
            )
            .await;
        assert_eq!(
            (s, body["error"]["code"].as_str()),
            (StatusCode::FORBIDDEN, Some("forbidden"))
        );
        let (s, _) = app
            .delete(&format!("/api/rooms/{id}"), Some(&u.token))
            .await;
        assert_eq!(s, StatusCode::FORBIDDEN);
    }
    // Bob joins (becomes a member), the owner promotes him to admin: now he may.
    let mut b = app.ws(id, &bob, "").await;
    b.welcome().await;
    b.close().await;
    let (s, m) = app
        .patch(
            &format!("/api/rooms/{id}/members/{}", bob.user_id),
            Some(&owner.token),
            json!({"role": "admin"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{m}");
    let (s, patched) = app
        .patch(
            &format!("/api/rooms/{id}"),
            Some(&bob.token),
            json!({"name": "renamed", "password": "pw-pw-pw", "settings": {"hidden": true}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{patched}");
    assert_eq!(patched["name"], "renamed");
    assert_eq!(patched["has_password"], true);
    assert_eq!(patched["settings"]["hidden"], true);
    assert_eq!(
        patched["settings"]["guests_allowed"], true,
        "other settings kept"
    );
    let (_, p) = app
        .patch(
            &format!("/api/rooms/{id}"),
            Some(&owner.token),
            json!({"password": null}),
        )
        .await;
    assert_eq!(p["has_password"], false);
    // An admin cannot demote another admin or touch the owner.
    let (s, _) = app
        .patch(
            &format!("/api/rooms/{id}/members/{}", owner.user_id),
            Some(&bob.token),
            json!({"role": "member"}),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = app
        .delete(&format!("/api/rooms/{id}"), Some(&bob.token))
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = app
        .get(&format!("/api/rooms/{id}"), Some(&owner.token))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, body) = app
        .delete(&format!("/api/rooms/{id}"), Some(&owner.token))
        .await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("room_not_found"))
    );
    app.stop().await;
}
dual!(only_owner_or_admin_may_change_or_delete);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_failure_is_a_json_error() {
    let app = TestApp::spawn_with(DbKind::Sqlite, |c| c.server.max_body_bytes = 2048).await;
    let u = app.register("u").await;
    let (s, body) = app.get("/no/such/route", None).await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
    let (s, body) = app.send_put("/api/rooms").await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (StatusCode::METHOD_NOT_ALLOWED, Some("method_not_allowed"))
    );
    let (s, body) = app
        .post(
            "/api/rooms",
            Some(&u.token),
            json!({"name": "x".repeat(5000)}),
        )
        .await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, Some("payload_too_large"))
    );
    let (s, body) = app
        .post(
            "/api/rooms",
            Some(&u.token),
            json!({"name": ["not", "text"]}),
        )
        .await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_body"))
    );
    let (s, body) = app
        .post(
            "/api/rooms",
            Some(&u.token),
            json!({"name": "r", "settings": {"playback_role": "god"}}),
        )
        .await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_body"))
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guests_may_be_barred_from_creating_rooms() {
    let app = TestApp::spawn_with(DbKind::Sqlite, |c| c.auth.guests_may_create_rooms = false).await;
    let g = app.guest("g").await;
    let (s, body) = app
        .post("/api/rooms", Some(&g.token), json!({"name": "r"}))
        .await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("guests_cannot_create_rooms"))
    );
    app.stop().await;
}
