//! Odd input that used to slip through: arbitrary method names as metric labels.

use reqwest::{Method, StatusCode};
use serde_json::Value;

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
