//! Odd input that used to slip through: arbitrary method names as metric labels, bodies that
//! are not JSON objects, path segments that are not UTF-8.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::*;

/// Send `body` verbatim (no content type unless given) and read the JSON answer.
async fn send_raw(
    app: &TestApp,
    method: Method,
    path: &str,
    token: Option<&str>,
    content_type: Option<&str>,
    body: &'static str,
) -> (StatusCode, Value) {
    let mut req = app.http.request(method, app.url(path)).body(body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    let resp = req.send().await.expect("http request");
    let status = resp.status();
    let is_json = resp
        .headers()
        .get("content-type")
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    let text = resp.text().await.unwrap();
    assert!(is_json || text.is_empty(), "not JSON ({status}): {text}");
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap()
    };
    (status, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_methods_share_one_metric_label() {
    let app = TestApp::spawn(DbKind::Sqlite).await;
    for (i, path) in ["/health", "/api/rooms", "/no/such/route"]
        .iter()
        .enumerate()
    {
        let method = Method::from_bytes(format!("M000{i}").as_bytes()).unwrap();
        let (status, body) = send_raw(&app, method, path, None, None, "").await;
        assert!(status.is_client_error(), "{path}: {status} {body}");
        assert!(body["error"]["code"].is_string(), "{body}");
    }
    let (status, _) = send_raw(&app, Method::GET, "/health", None, None, "").await;
    assert_eq!(status, StatusCode::OK);
    let text = app.metrics().await;
    let series: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("synctv_http_request"))
        .collect();
    assert!(
        !text.contains("M000"),
        "custom methods became labels:\n{text}"
    );
    assert!(
        series.iter().any(|l| l.contains(r#"method="other""#)),
        "{series:#?}"
    );
    assert!(
        series
            .iter()
            .any(|l| l.contains(r#"method="GET",route="/health",status="200""#)),
        "{series:#?}"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_must_be_json_objects_of_the_right_shape() {
    let app = TestApp::spawn(DbKind::Sqlite).await;
    let owner = app.register("owner").await;
    let room = app.create_room(&owner, json!({"name": "strict"})).await;
    let room_id = room["room_id"].as_str().unwrap();
    let room_path = format!("/api/rooms/{room_id}");
    let movies = format!("{room_path}/movies");
    let member = format!("{room_path}/members/{}", owner.user_id);
    let t = Some(owner.token.as_str());
    let endpoints: [(Method, &str, Option<&str>); 7] = [
        (Method::POST, "/api/auth/register", None),
        (Method::POST, "/api/auth/login", None),
        (Method::POST, "/api/auth/guest", None),
        (Method::POST, "/api/rooms", t),
        (Method::PATCH, &room_path, t),
        (Method::POST, &movies, t),
        (Method::PATCH, &member, t),
    ];
    let bad: [(&'static str, StatusCode, &str); 10] = [
        ("", StatusCode::BAD_REQUEST, "invalid_json"),
        ("  \n", StatusCode::BAD_REQUEST, "invalid_json"),
        ("{\"name\":", StatusCode::BAD_REQUEST, "invalid_json"),
        (
            "[\"alice\",\"secret\"]",
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
        ("[]", StatusCode::UNPROCESSABLE_ENTITY, "invalid_body"),
        (
            "\"alice\"",
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
        ("42", StatusCode::UNPROCESSABLE_ENTITY, "invalid_body"),
        ("true", StatusCode::UNPROCESSABLE_ENTITY, "invalid_body"),
        ("null", StatusCode::UNPROCESSABLE_ENTITY, "invalid_body"),
        (
            "{\"name\":[\"x\"],\"username\":1,\"url\":2,\"role\":3}",
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
    ];
    for (method, path, token) in &endpoints {
        for (body, status, code) in &bad {
            let (s, resp) = send_raw(&app, method.clone(), path, *token, None, body).await;
            assert_eq!(s, *status, "{method} {path} {body:?} -> {resp}");
            assert_eq!(
                resp["error"]["code"], *code,
                "{method} {path} {body:?} -> {resp}"
            );
            assert!(resp["error"]["message"].is_string(), "{resp}");
        }
    }
    // Nested structs come from objects too.
    for body in [
        r#"{"name":"r","settings":[true]}"#,
        r#"{"name":"r","settings":"hidden"}"#,
    ] {
        let (s, resp) = send_raw(&app, Method::POST, "/api/rooms", t, None, body).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body} -> {resp}");
        let (s, _) = send_raw(&app, Method::PATCH, &room_path, t, None, body).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    }

    // None of that changed anything: the list did not register "alice", the room is as it was.
    let (s, body) = app
        .post(
            "/api/auth/register",
            None,
            json!({"username": "alice", "password": "secret"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    let (s, now) = app.get(&room_path, t).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(now["name"], "strict");
    assert_eq!(now["settings"], room["settings"]);

    // Valid objects are read whatever the content type, as before.
    for ct in [None, Some("text/plain"), Some("application/json")] {
        let (s, body) = send_raw(
            &app,
            Method::POST,
            "/api/auth/guest",
            None,
            ct,
            r#"{"name":"g"}"#,
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{ct:?}: {body}");
        let (s, body) = send_raw(&app, Method::POST, "/api/auth/guest", None, ct, "{}").await;
        assert_eq!(s, StatusCode::OK, "{ct:?}: {body}");
        assert!(body["token"].is_string());
    }
    let (s, body) = send_raw(
        &app,
        Method::PATCH,
        &room_path,
        t,
        None,
        r#"{"name":"renamed"}"#,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["name"], "renamed");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn path_segments_that_are_not_utf8_get_json_400() {
    let app = TestApp::spawn_with(DbKind::Sqlite, |c| {
        c.cluster.operator_token = "operator-token-0123456789".into();
    })
    .await;
    let owner = app.register("owner").await;
    let t = Some(owner.token.as_str());
    let routes = [
        (Method::GET, "/api/rooms/%FF"),
        (Method::PATCH, "/api/rooms/%FF"),
        (Method::DELETE, "/api/rooms/%FF"),
        (Method::GET, "/api/rooms/%FF/movies"),
        (Method::POST, "/api/rooms/%FF/movies"),
        (Method::DELETE, "/api/rooms/%FF/movies/%FE"),
        (Method::DELETE, "/api/rooms/ok/movies/%FE"),
        (Method::GET, "/api/rooms/%FF/members"),
        (Method::PATCH, "/api/rooms/%FF/members/%FE"),
        (Method::GET, "/api/rooms/%FF/chat"),
        (Method::GET, "/api/rooms/%FF/ws"),
        (Method::POST, "/api/rooms/%C3%28/resync"),
        (Method::DELETE, "/api/cluster/nodes/%FF"),
    ];
    for (method, path) in routes {
        let (s, body) = send_raw(&app, method.clone(), path, t, None, "{}").await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{method} {path} -> {body}");
        assert_eq!(
            body["error"]["code"], "invalid_path",
            "{method} {path} -> {body}"
        );
    }
    app.stop().await;
}
