//! Accounts and tokens over HTTP.

use reqwest::StatusCode;
use serde_json::json;
use synctv_core::auth::{Claims, TokenKeys};
use synctv_core::ids::UserId;

use crate::common::*;
use crate::dual;

async fn register_login_and_guest(db: DbKind) {
    let app = TestApp::spawn(db).await;
    let alice = app.register("alice").await;
    assert!(!alice.user_id.is_empty());

    let (s, body) = app
        .post(
            "/api/auth/register",
            None,
            json!({"username": "alice", "password": "other-pw"}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_eq!(body["error"]["code"], "username_taken");

    let (s, body) = app
        .post(
            "/api/auth/login",
            None,
            json!({"username": "alice", "password": "secret-pw"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["user_id"], alice.user_id.as_str());
    let token = body["token"].as_str().unwrap().to_string();
    let (s, _) = app.get("/api/rooms", Some(&token)).await;
    assert_eq!(s, StatusCode::OK, "a login token authenticates");

    let (s, body) = app
        .post(
            "/api/auth/login",
            None,
            json!({"username": "alice", "password": "wrong-pw"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "invalid_credentials");
    let (s, body) = app
        .post(
            "/api/auth/login",
            None,
            json!({"username": "nobody", "password": "secret-pw"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "invalid_credentials");

    let guest = app.guest("visitor").await;
    assert_ne!(guest.user_id, alice.user_id);
    let (s, _) = app.get("/api/rooms", Some(&guest.token)).await;
    assert_eq!(s, StatusCode::OK, "a guest token authenticates");
    app.stop().await;
}
dual!(register_login_and_guest);

async fn passwords_are_stored_as_argon2_hashes(db: DbKind) {
    let app = TestApp::spawn(db).await;
    app.register("hashcheck").await;
    let store = synctv_core::store::Store::connect(&app.config.database)
        .await
        .unwrap();
    let user = store
        .find_user_by_name("hashcheck")
        .await
        .unwrap()
        .expect("row stored");
    assert!(
        user.password_hash.starts_with("$argon2id$"),
        "{}",
        user.password_hash
    );
    assert!(!user.password_hash.contains("secret-pw"));
    store.close().await;
    app.stop().await;
}
dual!(passwords_are_stored_as_argon2_hashes);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_input_gets_json_errors() {
    let app = TestApp::spawn(DbKind::Sqlite).await;
    let cases = [
        (
            json!({"username": "", "password": "secret-pw"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            json!({"username": "bob", "password": "123"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            json!({"username": "bob"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
        (
            json!({"username": 5, "password": "secret-pw"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
    ];
    for (body, status, code) in cases {
        let (s, resp) = app.post("/api/auth/register", None, body.clone()).await;
        assert_eq!(s, status, "{body} -> {resp}");
        assert_eq!(resp["error"]["code"], code, "{body} -> {resp}");
        assert!(
            resp["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
    }
    let resp = app
        .http
        .post(app.url("/api/auth/register"))
        .header("content-type", "application/json")
        .body("{\"username\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_json");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_forged_and_expired_tokens_are_401() {
    let app = TestApp::spawn(DbKind::Sqlite).await;
    let (s, body) = app.get("/api/rooms", None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "missing_token");

    let forger = TokenKeys::new(b"not-the-server-secret-not-the-server", 3600);
    let forged = forger
        .issue(&UserId::from("someone"), "mallory", false)
        .unwrap();
    let (s, body) = app.get("/api/rooms", Some(&forged)).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "invalid_token");

    let (s, body) = app.get("/api/rooms", Some("not.a.jwt")).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "invalid_token");

    let keys = TokenKeys::new(TEST_SECRET.as_bytes(), 3600);
    let expired = keys
        .encode(&Claims {
            sub: UserId::from("u"),
            name: "old".into(),
            guest: false,
            iat: 1,
            exp: 2,
        })
        .unwrap();
    let (s, body) = app.get("/api/rooms", Some(&expired)).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "token_expired");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_attempts_are_rate_limited_per_ip() {
    let app = TestApp::spawn_with(DbKind::Sqlite, |c| {
        c.limits.auth_per_sec = 1;
        c.limits.auth_burst = 3;
    })
    .await;
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let (s, body) = app
            .post(
                "/api/auth/login",
                None,
                json!({"username": "x", "password": "y"}),
            )
            .await;
        if s == StatusCode::TOO_MANY_REQUESTS {
            assert_eq!(body["error"]["code"], "rate_limited");
        }
        statuses.push(s);
    }
    assert!(
        statuses[..3].iter().all(|s| *s == StatusCode::UNAUTHORIZED),
        "{statuses:?}"
    );
    assert!(
        statuses.contains(&StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
    // Guests are not limited by it.
    app.guest("g").await;
    app.stop().await;
}
