//! Test harness: real servers, real clients.
//!
//! - `TestDb`: a fresh SQLite file in a temp dir, or a fresh PostgreSQL database (created on
//!   the server named by `SYNCTV_TEST_PG_URL`, default postgres://postgres@127.0.0.1:5432/postgres,
//!   dropped when the test ends).
//! - `TestApp`: `synctv_api::run` on 127.0.0.1:0 in this process, with an HTTP client.
//! - `WsClient`: a tokio-tungstenite client speaking JSON frames.
//! - `dual!(test_fn)`: runs `async fn test_fn(DbKind)` once on SQLite and once on PostgreSQL.

#![allow(dead_code)]

mod recording;
mod ws;

pub use recording::Recording;
pub use ws::{Closed, SilentClient, WsClient};

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use synctv_core::config::Config;
use synctv_core::store::Store;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub const TEST_SECRET: &str = "test-secret-test-secret-test-secret-0123";
/// How long a test waits for something that should happen promptly.
pub const WAIT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbKind {
    Sqlite,
    Postgres,
}

/// Run `async fn $name(DbKind)` against both databases, as `$name::sqlite` and `$name::postgres`.
#[macro_export]
macro_rules! dual {
    ($($name:ident),+ $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::common::DbKind::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name($crate::common::DbKind::Postgres).await
            }
        }
    )+};
}

pub fn pg_admin_url() -> String {
    std::env::var("SYNCTV_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A database for one test.
pub struct TestDb {
    pub kind: DbKind,
    pub url: String,
    pub dir: tempfile::TempDir,
    pg_name: Option<String>,
}

impl TestDb {
    pub async fn new(kind: DbKind) -> Arc<TestDb> {
        let dir = tempfile::tempdir().expect("temp dir");
        match kind {
            DbKind::Sqlite => {
                let url = format!("sqlite://{}/synctv.db", dir.path().display());
                Arc::new(TestDb {
                    kind,
                    url,
                    dir,
                    pg_name: None,
                })
            }
            DbKind::Postgres => {
                let name = format!("synctv_test_{}", uuid::Uuid::new_v4().simple());
                pg_exec(&format!("CREATE DATABASE {name}")).await;
                let admin = pg_admin_url();
                let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
                let url = format!("{base}/{name}");
                Arc::new(TestDb {
                    kind,
                    url,
                    dir,
                    pg_name: Some(name),
                })
            }
        }
    }

    /// Make the database unreachable for the app (PostgreSQL only): drop it under the app.
    pub async fn drop_now(&self) {
        if let Some(name) = &self.pg_name {
            pg_exec(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await;
        }
    }
}

async fn pg_exec(sql: &str) {
    use sqlx::Connection;
    let mut conn = sqlx::postgres::PgConnection::connect(&pg_admin_url())
        .await
        .unwrap_or_else(|e| {
            panic!(
                "PostgreSQL at {} is required for tests: {e}",
                pg_admin_url()
            )
        });
    sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
        .execute(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    let _ = conn.close().await;
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(name) = self.pg_name.take() {
            // Best effort, on a thread of its own: Drop cannot await.
            let _ = std::thread::spawn(move || {
                if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    rt.block_on(pg_exec(&format!(
                        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                    )));
                }
            })
            .join();
        }
    }
}

/// The configuration every test app starts from.
pub fn test_config(db: &TestDb) -> Config {
    let mut c = Config::default();
    c.database.url = db.url.clone();
    c.database.acquire_timeout_secs = 2;
    c.server.data_dir = db.dir.path().join("data");
    c.server.shutdown_drain_secs = 0;
    c.auth.jwt_secret = TEST_SECRET.into();
    c.auth.password_hash_memory_kib = 1024;
    // Idle test clients do not answer the server's close frame; do not wait long for them.
    c.ws.close_grace_ms = 300;
    c.limits.auth_per_sec = 0;
    // Every test client comes from 127.0.0.1; the tests of these limits turn them back on.
    c.limits.guests_per_min = 0;
    c.limits.rooms_per_min = 0;
    c.log.level = "warn".into();
    c
}

#[derive(Debug, Clone)]
pub struct User {
    pub user_id: String,
    pub username: String,
    pub token: String,
}

pub struct TestApp {
    pub addr: SocketAddr,
    pub base: String,
    pub http: reqwest::Client,
    pub db: Arc<TestDb>,
    pub config: Config,
    shutdown: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<synctv_api::Result<()>>>,
}

impl TestApp {
    pub async fn spawn(kind: DbKind) -> TestApp {
        Self::spawn_with(kind, |_| {}).await
    }

    pub async fn spawn_with(kind: DbKind, tweak: impl FnOnce(&mut Config)) -> TestApp {
        Self::spawn_on(TestDb::new(kind).await, tweak).await
    }

    /// Start an app on an existing database (e.g. to restart on the same data).
    pub async fn spawn_on(db: Arc<TestDb>, tweak: impl FnOnce(&mut Config)) -> TestApp {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        Self::spawn_listening(db, listener, tweak).await
    }

    /// Start an app on `listener` (e.g. the port a stopped app used, for clients that
    /// reconnect to the same address).
    pub async fn spawn_listening(
        db: Arc<TestDb>,
        listener: tokio::net::TcpListener,
        tweak: impl FnOnce(&mut Config),
    ) -> TestApp {
        let mut config = test_config(&db);
        tweak(&mut config);
        // `run` applies the migrations itself, as the binary does.
        let store = Store::connect(&config.database).await.expect("connect");
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        let handle = tokio::spawn(synctv_api::run(
            config.clone(),
            store,
            listener,
            async move {
                let _ = rx.await;
            },
        ));
        TestApp {
            addr,
            base: format!("http://{addr}"),
            http: reqwest::Client::new(),
            db,
            config,
            shutdown: Some(tx),
            handle: Some(handle),
        }
    }

    /// Ask the app to shut down (like SIGTERM) and return without waiting.
    pub fn trigger_shutdown(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }

    /// Shut down and wait for `run` to return.
    pub async fn stop(mut self) {
        self.trigger_shutdown();
        let handle = self.handle.take().unwrap();
        tokio::time::timeout(Duration::from_secs(30), handle)
            .await
            .expect("run() returns after shutdown")
            .expect("run task")
            .expect("run() returns Ok");
    }

    pub async fn join(&mut self) -> synctv_api::Result<()> {
        let handle = self.handle.take().unwrap();
        tokio::time::timeout(Duration::from_secs(30), handle)
            .await
            .expect("run() returns")
            .expect("task")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn ws_url(&self, path: &str) -> String {
        format!("ws://{}{}", self.addr, path)
    }

    async fn send(&self, req: reqwest::RequestBuilder, token: Option<&str>) -> (StatusCode, Value) {
        let req = match token {
            Some(t) => req.bearer_auth(t),
            None => req,
        };
        let resp = req.send().await.expect("http request");
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text)
                .unwrap_or_else(|_| panic!("response is not JSON ({status}): {text}"))
        };
        (status, body)
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> (StatusCode, Value) {
        self.send(self.http.get(self.url(path)), token).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> (StatusCode, Value) {
        self.send(self.http.post(self.url(path)).json(&body), token)
            .await
    }

    pub async fn patch(&self, path: &str, token: Option<&str>, body: Value) -> (StatusCode, Value) {
        self.send(self.http.patch(self.url(path)).json(&body), token)
            .await
    }

    pub async fn send_put(&self, path: &str) -> (StatusCode, Value) {
        self.send(self.http.put(self.url(path)), None).await
    }

    pub async fn delete(&self, path: &str, token: Option<&str>) -> (StatusCode, Value) {
        self.send(self.http.delete(self.url(path)), token).await
    }

    pub async fn delete_with(
        &self,
        path: &str,
        token: Option<&str>,
        body: Value,
    ) -> (StatusCode, Value) {
        self.send(self.http.delete(self.url(path)).json(&body), token)
            .await
    }

    pub async fn register(&self, name: &str) -> User {
        let (status, body) = self
            .post(
                "/api/auth/register",
                None,
                json!({"username": name, "password": "secret-pw"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "register {name}: {body}");
        User {
            user_id: body["user_id"].as_str().unwrap().into(),
            username: name.into(),
            token: body["token"].as_str().unwrap().into(),
        }
    }

    pub async fn guest(&self, name: &str) -> User {
        let (status, body) = self
            .post("/api/auth/guest", None, json!({"name": name}))
            .await;
        assert_eq!(status, StatusCode::OK, "guest {name}: {body}");
        User {
            user_id: body["user_id"].as_str().unwrap().into(),
            username: name.into(),
            token: body["token"].as_str().unwrap().into(),
        }
    }

    /// Create a room as `owner`; returns the room object.
    pub async fn create_room(&self, owner: &User, body: Value) -> Value {
        let (status, room) = self.post("/api/rooms", Some(&owner.token), body).await;
        assert_eq!(status, StatusCode::CREATED, "create room: {room}");
        room
    }

    pub async fn add_movie(&self, user: &User, room: &str, title: &str) -> Value {
        let (status, movie) = self
            .post(
                &format!("/api/rooms/{room}/movies"),
                Some(&user.token),
                json!({"url": format!("https://example.com/{title}.mp4"), "title": title}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "add movie: {movie}");
        movie
    }

    /// Connect a WebSocket to `room`; `query` is appended to `?token=...` (e.g. "&since=3").
    pub async fn ws(&self, room: &str, user: &User, query: &str) -> WsClient {
        match self.try_ws(room, &user.token, query).await {
            Ok(c) => c,
            Err((status, body)) => panic!("websocket refused with {status}: {body}"),
        }
    }

    /// Connect, returning the HTTP status and JSON body when the upgrade is refused.
    pub async fn try_ws(
        &self,
        room: &str,
        token: &str,
        query: &str,
    ) -> Result<WsClient, (u16, Value)> {
        let url = self.ws_url(&format!("/api/rooms/{room}/ws?token={token}{query}"));
        WsClient::connect(&url).await
    }

    pub async fn metrics(&self) -> String {
        self.http
            .get(self.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// The sum of every series of `name` whose labels include all of `labels` (each
    /// `key="value"`), or `None` when there is none.
    pub async fn metric_where(&self, name: &str, labels: &[&str]) -> Option<f64> {
        let text = self.metrics().await;
        let mut sum = None;
        for l in text.lines() {
            let Some(rest) = l.strip_prefix(name).and_then(|r| r.strip_prefix('{')) else {
                continue;
            };
            let Some((have, v)) = rest.split_once("} ") else {
                continue;
            };
            let have: Vec<&str> = have.split(',').collect();
            if labels.iter().all(|w| have.contains(w)) {
                *sum.get_or_insert(0.0) += v.trim().parse::<f64>().unwrap_or(0.0);
            }
        }
        sum
    }

    /// The value of a metric without labels of its own in the exposition.
    pub async fn metric(&self, name: &str) -> f64 {
        let text = self.metrics().await;
        // `name value` or `name{node="..",...} value` (every series carries `node`).
        text.lines()
            .find_map(|l| {
                let rest = l.strip_prefix(name)?;
                match rest.strip_prefix(' ') {
                    Some(v) => Some(v),
                    None => rest.strip_prefix('{')?.split_once("} ").map(|(_, v)| v),
                }
            })
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("metric {name} not found in:\n{text}"))
    }
}

/// Events among `frames`, as (seq, kind).
pub fn events(frames: &[Value]) -> Vec<(u64, String)> {
    frames
        .iter()
        .filter(|f| f["type"] == "event")
        .map(|f| {
            (
                f["seq"].as_u64().unwrap(),
                f["kind"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Poll `f` until it returns true (used where the outcome is a background effect, e.g. a
/// metric); fails after the wait time.
pub async fn eventually<F, Fut>(what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + WAIT;
    while tokio::time::Instant::now() < deadline {
        if f().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("timed out waiting for: {what}");
}
