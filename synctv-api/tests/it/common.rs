//! Test harness: real servers, real clients.
//!
//! - `TestDb`: a fresh SQLite file in a temp dir, or a fresh PostgreSQL database (created on
//!   the server named by `SYNCTV_TEST_PG_URL`, default postgres://postgres@127.0.0.1:5432/postgres,
//!   dropped when the test ends).
//! - `TestApp`: `synctv_api::run` on 127.0.0.1:0 in this process, with an HTTP client.
//! - `WsClient`: a tokio-tungstenite client speaking JSON frames.
//! - `dual!(test_fn)`: runs `async fn test_fn(DbKind)` once on SQLite and once on PostgreSQL.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use reqwest::StatusCode;
use serde_json::{Value, json};
use synctv_core::config::Config;
use synctv_core::store::Store;
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

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
        let mut config = test_config(&db);
        tweak(&mut config);
        let store = Store::connect(&config.database).await.expect("connect");
        store.migrate().await.expect("migrate");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
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

    /// The value of an unlabelled metric in the exposition.
    pub async fn metric(&self, name: &str) -> f64 {
        let text = self.metrics().await;
        text.lines()
            .find_map(|l| l.strip_prefix(name).and_then(|rest| rest.strip_prefix(' ')))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("metric {name} not found in:\n{text}"))
    }
}

pub struct WsClient {
    stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
    next_ref: u64,
}

/// How a socket ended.
#[derive(Debug, PartialEq)]
pub enum Closed {
    Code(u16, String),
    /// The TCP connection ended without a close frame.
    Dropped,
}

impl WsClient {
    pub async fn connect(url: &str) -> Result<WsClient, (u16, Value)> {
        match tokio_tungstenite::connect_async(url).await {
            Ok((stream, _)) => Ok(WsClient {
                stream,
                next_ref: 0,
            }),
            Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
                let status = resp.status().as_u16();
                let body = resp
                    .body()
                    .as_ref()
                    .map(|b| {
                        serde_json::from_slice(b).unwrap_or_else(|_| {
                            panic!("refusal body is not JSON: {}", String::from_utf8_lossy(b))
                        })
                    })
                    .unwrap_or(Value::Null);
                Err((status, body))
            }
            Err(e) => panic!("websocket connect to {url} failed: {e}"),
        }
    }

    /// The next text frame as JSON (pings and pongs are skipped).
    pub async fn recv(&mut self) -> Value {
        loop {
            let msg = tokio::time::timeout(WAIT, self.stream.next())
                .await
                .expect("a frame within the wait time")
                .expect("socket open")
                .expect("frame");
            match msg {
                Message::Text(t) => return serde_json::from_str(t.as_str()).expect("JSON frame"),
                Message::Ping(_) | Message::Pong(_) => continue,
                Message::Close(c) => panic!("unexpected close: {c:?}"),
                other => panic!("unexpected frame: {other:?}"),
            }
        }
    }

    /// The first frame, which must be `welcome`.
    pub async fn welcome(&mut self) -> Value {
        let w = self.recv().await;
        assert_eq!(w["type"], "welcome", "first frame is welcome: {w}");
        w
    }

    /// The next frame, which must be an `event` of `kind`.
    pub async fn event(&mut self, kind: &str) -> Value {
        let e = self.recv().await;
        assert_eq!(e["type"], "event", "expected an event {kind}, got {e}");
        assert_eq!(e["kind"], kind, "expected an event {kind}, got {e}");
        e
    }

    /// Skip frames until one of `type` (e.g. "error") arrives.
    pub async fn recv_type(&mut self, ty: &str) -> Value {
        loop {
            let f = self.recv().await;
            if f["type"] == ty {
                return f;
            }
        }
    }

    pub async fn send(&mut self, frame: Value) {
        self.send_text(&frame.to_string()).await;
    }

    pub async fn send_text(&mut self, text: &str) {
        self.stream.send(Message::text(text)).await.expect("send");
    }

    /// Send without failing the test when the server has already closed the socket.
    pub async fn try_send(&mut self, frame: Value) -> bool {
        self.stream
            .send(Message::text(frame.to_string()))
            .await
            .is_ok()
    }

    pub async fn send_message(&mut self, msg: Message) {
        self.stream.send(msg).await.expect("send");
    }

    pub fn fresh_ref(&mut self) -> String {
        self.next_ref += 1;
        format!("r{}", self.next_ref)
    }

    /// Send `frame` with a fresh `ref` and return every frame up to its `ack` (exclusive)
    /// and the ack. Panics on an `error` for that ref.
    pub async fn request(&mut self, mut frame: Value) -> (Vec<Value>, Value) {
        let r = self.fresh_ref();
        frame["ref"] = json!(r);
        self.send(frame).await;
        let mut before = Vec::new();
        loop {
            let f = self.recv().await;
            if f["ref"] == json!(r) {
                match f["type"].as_str() {
                    Some("ack") => return (before, f),
                    Some("pong") => continue,
                    _ => panic!("request {r} failed: {f}"),
                }
            }
            before.push(f);
        }
    }

    /// Send `frame` with a fresh ref and return the `error` answering it.
    pub async fn request_error(&mut self, mut frame: Value) -> Value {
        let r = self.fresh_ref();
        frame["ref"] = json!(r);
        self.send(frame).await;
        loop {
            let f = self.recv().await;
            if f["ref"] == json!(r) {
                assert_eq!(f["type"], "error", "expected an error for {r}, got {f}");
                return f;
            }
        }
    }

    /// A barrier: every frame the server queued for this socket before now, in order.
    /// Events caused by another client's acknowledged request are queued here before that
    /// request's ack, so after it a `sync` sees them all.
    pub async fn sync(&mut self) -> Vec<Value> {
        let (frames, _) = self
            .request(json!({"type": "ping", "client_time_ms": 1}))
            .await;
        frames
    }

    pub async fn chat(&mut self, text: &str) -> u64 {
        let (_, ack) = self.request(json!({"type": "chat", "text": text})).await;
        ack["seq"].as_u64().expect("ack carries the event seq")
    }

    /// Read until the socket closes; frames before the close are returned too.
    pub async fn closed(&mut self) -> (Vec<Value>, Closed) {
        let mut frames = Vec::new();
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let next = tokio::time::timeout_at(deadline, self.stream.next())
                .await
                .unwrap_or_else(|_| {
                    panic!("no close within the wait time; frames so far: {frames:?}")
                });
            match next {
                None | Some(Err(_)) => return (frames, Closed::Dropped),
                Some(Ok(Message::Close(c))) => {
                    // Complete the closing handshake: send the reply tungstenite queued.
                    let _ = self.stream.flush().await;
                    let closed = match c {
                        Some(c) => Closed::Code(c.code.into(), c.reason.to_string()),
                        None => Closed::Code(1005, String::new()),
                    };
                    return (frames, closed);
                }
                Some(Ok(Message::Text(t))) => {
                    frames.push(serde_json::from_str(t.as_str()).unwrap())
                }
                Some(Ok(_)) => {}
            }
        }
    }

    /// Connect over a TCP socket with a tiny receive buffer (to simulate a slow reader).
    pub async fn connect_small_buffer(url: &str) -> WsClient {
        let addr = url
            .strip_prefix("ws://")
            .and_then(|rest| rest.split('/').next())
            .expect("ws:// url");
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        let tcp = socket.connect(addr.parse().unwrap()).await.unwrap();
        let (stream, _) = tokio_tungstenite::client_async(url, MaybeTlsStream::Plain(tcp))
            .await
            .expect("upgrade");
        WsClient {
            stream,
            next_ref: 0,
        }
    }

    /// Keep reading in the background (answering pings) until told to stop; then hand the
    /// client back, with how it closed if it did.
    pub fn pump(mut self) -> (oneshot::Sender<()>, JoinHandle<(WsClient, Option<Closed>)>) {
        let (stop, mut stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = &mut stopped => return (self, None),
                    msg = self.stream.next() => match msg {
                        None | Some(Err(_)) => return (self, Some(Closed::Dropped)),
                        Some(Ok(Message::Close(c))) => {
                            let code = c.map(|c| (u16::from(c.code), c.reason.to_string())).unwrap_or((1005, String::new()));
                            return (self, Some(Closed::Code(code.0, code.1)));
                        }
                        Some(Ok(_)) => {}
                    }
                }
            }
        });
        (stop, task)
    }

    pub async fn close(mut self) {
        let _ = self.stream.close(None).await;
        // Read the server's reply so the close handshake completes.
        let _ = tokio::time::timeout(WAIT, async {
            while let Some(Ok(_)) = self.stream.next().await {}
        })
        .await;
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

/// A WebSocket client that, after the handshake, never writes a byte (so it never answers
/// pings, unlike any library client) and reads raw frames only when asked.
pub struct SilentClient {
    tcp: TcpStream,
}

impl SilentClient {
    pub async fn connect(app: &TestApp, path: &str) -> SilentClient {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut tcp = TcpStream::connect(app.addr).await.unwrap();
        let req = format!(
            "GET {path} HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
            app.addr
        );
        tcp.write_all(req.as_bytes()).await.unwrap();
        // Read the response head byte by byte so no frame bytes are consumed.
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            head.push(tcp.read_u8().await.unwrap());
        }
        let head = String::from_utf8(head).unwrap();
        assert!(head.starts_with("HTTP/1.1 101"), "{head}");
        SilentClient { tcp }
    }

    /// Read frames until a close frame; returns (text frames, close code).
    pub async fn read_until_close(mut self) -> (Vec<Value>, Option<u16>) {
        use tokio::io::AsyncReadExt;
        let mut texts = Vec::new();
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let read = async {
                let b0 = self.tcp.read_u8().await?;
                let b1 = self.tcp.read_u8().await?;
                let len = match b1 & 0x7f {
                    126 => u64::from(self.tcp.read_u16().await?),
                    127 => self.tcp.read_u64().await?,
                    n => u64::from(n),
                };
                let mut payload = vec![0; len as usize];
                self.tcp.read_exact(&mut payload).await?;
                Ok::<_, std::io::Error>((b0 & 0x0f, payload))
            };
            match tokio::time::timeout_at(deadline, read)
                .await
                .expect("a frame or close in time")
            {
                Ok((0x1, p)) => texts.push(serde_json::from_slice(&p).unwrap()),
                Ok((0x8, p)) => {
                    return (
                        texts,
                        (p.len() >= 2).then(|| u16::from_be_bytes([p[0], p[1]])),
                    );
                }
                Ok(_) => {}
                Err(_) => return (texts, None),
            }
        }
    }
}
