//! One client cannot exhaust the node's CPU or brute-force a room's password: room-password
//! attempts are limited per room and client and per room overall (429 with `Retry-After`),
//! right answers are remembered, guest identities and room creation are rate limited, and
//! room passwords have a minimum length.

use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::json;

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_flood_is_refused_while_health_and_logins_answer() {
    let app = TestApp::spawn(DbKind::Sqlite).await;
    let owner = app.register("owner").await;
    let alice = app.register("alice").await;
    let mallory = app.register("mallory").await;
    let room = app
        .create_room(&owner, json!({"name": "locked", "password": "open-sesame"}))
        .await;
    let id = room["room_id"].as_str().unwrap().to_string();
    // Alice knows the password and gets in before the attack.
    let (s, _) = app
        .get(
            &format!("/api/rooms/{id}/movies?password=open-sesame"),
            Some(&alice.token),
        )
        .await;
    assert_eq!(s, StatusCode::OK);

    let attempts = join_all((0..200).map(|i| {
        let (app, id, token) = (&app, id.clone(), mallory.token.clone());
        async move {
            let resp = app
                .http
                .get(app.url(&format!("/api/rooms/{id}/movies?password=guess-{i}")))
                .bearer_auth(token)
                .send()
                .await
                .unwrap();
            let retry = resp
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_string());
            let status = resp.status();
            let body: serde_json::Value = resp.json().await.unwrap();
            (
                status,
                body["error"]["code"].as_str().unwrap_or("").to_string(),
                retry,
            )
        }
    }));
    let health = async {
        let (s, _) = app.get("/health", None).await;
        let (l, body) = app
            .post(
                "/api/auth/login",
                None,
                json!({"username": "owner", "password": "secret-pw"}),
            )
            .await;
        (s, l, body)
    };
    let (results, (health, login, body)) = tokio::join!(attempts, health);
    assert_eq!(health, StatusCode::OK);
    assert_eq!(login, StatusCode::OK, "{body}");
    let wrong = results
        .iter()
        .filter(|r| r.1 == "wrong_room_password")
        .count();
    let limited: Vec<_> = results
        .iter()
        .filter(|r| r.1 == "too_many_attempts")
        .collect();
    let limit = app.config.limits.room_password_attempts_per_min as usize;
    // Everyone here is 127.0.0.1: Alice's right answer was the address's first attempt.
    assert_eq!(
        wrong,
        limit - 1,
        "only the attempts within the limit were verified"
    );
    assert_eq!(limited.len(), 200 - (limit - 1));
    for (status, _, retry) in &limited {
        assert_eq!(*status, StatusCode::TOO_MANY_REQUESTS);
        let secs: u64 = retry.as_deref().expect("Retry-After").parse().unwrap();
        assert!((1..=60).contains(&secs), "Retry-After {secs}");
    }
    // Even the right password is refused to the attacker's address now...
    let (s, body) = app
        .get(
            &format!("/api/rooms/{id}/movies?password=open-sesame"),
            Some(&mallory.token),
        )
        .await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (StatusCode::TOO_MANY_REQUESTS, Some("too_many_attempts"))
    );
    // ...while Alice, who gave it before, still gets in (without another attempt), by
    // REST and by WebSocket.
    let (s, _) = app
        .get(
            &format!("/api/rooms/{id}/movies?password=open-sesame"),
            Some(&alice.token),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let mut ws = app.ws(&id, &alice, "&password=open-sesame").await;
    ws.welcome().await;
}

/// Many addresses (behind a trusted proxy) guessing at one room: the per-room limit holds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guesses_from_many_addresses_hit_the_per_room_limit() {
    let app = TestApp::spawn_with(DbKind::Sqlite, |c| {
        c.server.trusted_proxies = vec!["127.0.0.1".into()];
        c.limits.room_password_attempts_per_room_per_min = 15;
    })
    .await;
    let owner = app.register("owner").await;
    let mallory = app.register("mallory").await;
    let room = app
        .create_room(&owner, json!({"name": "locked", "password": "open-sesame"}))
        .await;
    let id = room["room_id"].as_str().unwrap();
    let mut codes = Vec::new();
    for i in 0..30 {
        let resp = app
            .http
            .get(app.url(&format!("/api/rooms/{id}/movies?password=guess")))
            .bearer_auth(&mallory.token)
            .header("x-forwarded-for", format!("198.51.100.{i}"))
            .send()
            .await
            .unwrap();
        let body: serde_json::Value = resp.json().await.unwrap();
        codes.push(body["error"]["code"].as_str().unwrap().to_string());
    }
    assert!(
        codes[..15].iter().all(|c| c == "wrong_room_password"),
        "{codes:?}"
    );
    assert!(
        codes[15..].iter().all(|c| c == "too_many_attempts"),
        "{codes:?}"
    );
    // Another room is not affected.
    let other = app
        .create_room(&owner, json!({"name": "other", "password": "open-sesame"}))
        .await;
    let (s, _) = app
        .get(
            &format!(
                "/api/rooms/{}/movies?password=open-sesame",
                other["room_id"].as_str().unwrap()
            ),
            Some(&mallory.token),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guests_and_room_creation_are_rate_limited_per_address() {
    let app = TestApp::spawn_with(DbKind::Sqlite, |c| {
        c.limits.guests_per_min = 3;
        c.limits.rooms_per_min = 2;
    })
    .await;
    for i in 0..3 {
        app.guest(&format!("g{i}")).await;
    }
    let resp = app
        .http
        .post(app.url("/api/auth/guest"))
        .json(&json!({"name": "g3"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(resp.headers().contains_key("retry-after"));
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limited");

    let owner = app.register("owner").await;
    app.create_room(&owner, json!({"name": "a"})).await;
    app.create_room(&owner, json!({"name": "b"})).await;
    let (s, body) = app
        .post("/api/rooms", Some(&owner.token), json!({"name": "c"}))
        .await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (StatusCode::TOO_MANY_REQUESTS, Some("rate_limited"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn room_passwords_have_a_minimum_length() {
    let app = TestApp::spawn(DbKind::Sqlite).await;
    let owner = app.register("owner").await;
    let (s, body) = app
        .post(
            "/api/rooms",
            Some(&owner.token),
            json!({"name": "r", "password": "abc"}),
        )
        .await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("validation_failed"))
    );
    let room = app.create_room(&owner, json!({"name": "r"})).await;
    let id = room["room_id"].as_str().unwrap();
    let (s, _) = app
        .patch(
            &format!("/api/rooms/{id}"),
            Some(&owner.token),
            json!({"password": "abc"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
}
