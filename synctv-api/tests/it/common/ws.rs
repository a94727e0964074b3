//! WebSocket test clients: `WsClient` (tokio-tungstenite, JSON frames) and `SilentClient`
//! (a raw socket that never answers anything).

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::{TestApp, WAIT};

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
        Self::connect_with(url, &[]).await
    }

    /// Connect with extra request headers (e.g. `X-Forwarded-For`).
    pub async fn connect_with(
        url: &str,
        headers: &[(&str, &str)],
    ) -> Result<WsClient, (u16, Value)> {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let mut req = url.into_client_request().expect("websocket request");
        for (k, v) in headers {
            req.headers_mut().insert(
                tokio_tungstenite::tungstenite::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        match tokio_tungstenite::connect_async(req).await {
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

    /// Send any message without failing when the server has already closed the socket.
    pub async fn try_send_message(&mut self, msg: Message) -> bool {
        self.stream.send(msg).await.is_ok()
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

    /// Record every frame in the background from now on.
    pub fn record(self, name: &str) -> super::Recording {
        super::Recording::start(self.stream, name.to_string())
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
