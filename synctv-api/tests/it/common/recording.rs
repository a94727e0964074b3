//! `Recording`: a WebSocket client whose frames are collected in the background, for tests
//! where events arrive from several nodes at their own pace. Requests are matched to their
//! `ack`/`error` by `ref`; waits are on what has arrived, never on time.

use std::sync::{Arc, Mutex};

use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::{Closed, WAIT};

type Sink = SplitSink<WebSocketStream<MaybeTlsStream<TcpStream>>, Message>;

#[derive(Default)]
struct Log {
    frames: Vec<Value>,
    closed: Option<Closed>,
}

pub struct Recording {
    sink: Sink,
    log: Arc<Mutex<Log>>,
    changed: Arc<Notify>,
    task: JoinHandle<()>,
    next_ref: u64,
    pub name: String,
}

impl Recording {
    pub(super) fn start(
        stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
        name: String,
    ) -> Recording {
        let (sink, mut rx) = stream.split();
        let log = Arc::new(Mutex::new(Log::default()));
        let changed = Arc::new(Notify::new());
        let task = tokio::spawn({
            let (log, changed) = (log.clone(), changed.clone());
            async move {
                loop {
                    let closed = match rx.next().await {
                        Some(Ok(Message::Text(t))) => {
                            let v: Value = serde_json::from_str(t.as_str()).expect("JSON frame");
                            log.lock().unwrap().frames.push(v);
                            changed.notify_waiters();
                            continue;
                        }
                        Some(Ok(Message::Close(c))) => Closed::Code(
                            c.as_ref().map_or(1005, |c| u16::from(c.code)),
                            c.map(|c| c.reason.to_string()).unwrap_or_default(),
                        ),
                        Some(Ok(_)) => continue,
                        None | Some(Err(_)) => Closed::Dropped,
                    };
                    log.lock().unwrap().closed = Some(closed);
                    changed.notify_waiters();
                    return;
                }
            }
        });
        Recording {
            sink,
            log,
            changed,
            task,
            next_ref: 0,
            name,
        }
    }

    pub fn frames(&self) -> Vec<Value> {
        self.log.lock().unwrap().frames.clone()
    }

    pub fn closed(&self) -> Option<Closed> {
        self.log.lock().unwrap().closed.as_ref().map(|c| match c {
            Closed::Code(n, r) => Closed::Code(*n, r.clone()),
            Closed::Dropped => Closed::Dropped,
        })
    }

    /// The welcomes received, in order.
    pub fn welcomes(&self) -> Vec<Value> {
        self.frames()
            .into_iter()
            .filter(|f| f["type"] == "welcome")
            .collect()
    }

    /// The last welcome and every event after it.
    pub fn since_last_welcome(&self) -> (Value, Vec<Value>) {
        let frames = self.frames();
        let at = frames
            .iter()
            .rposition(|f| f["type"] == "welcome")
            .expect("a welcome");
        let events = frames[at + 1..]
            .iter()
            .filter(|f| f["type"] == "event")
            .cloned()
            .collect();
        (frames[at].clone(), events)
    }

    /// Wait (at most the test wait time) until `done` holds for the frames received.
    pub async fn wait(&self, what: &str, done: impl Fn(&[Value]) -> bool) {
        let deadline = tokio::time::Instant::now() + WAIT * 2;
        loop {
            let notified = self.changed.notified();
            if done(&self.log.lock().unwrap().frames) {
                return;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                let frames = self.frames();
                let tail: Vec<_> = frames.iter().rev().take(5).collect();
                assert!(
                    done(&frames),
                    "{}: timed out waiting for {what}; last frames {tail:?}; closed {:?}",
                    self.name,
                    self.closed()
                );
                return;
            }
        }
    }

    /// Wait until the client is at `seq` of its current stream: an event with `seq` (or
    /// later) after its last welcome, or a fresh (not resumed) welcome at or past it.
    pub async fn wait_seq(&self, seq: u64) {
        self.wait(&format!("seq {seq}"), |frames| {
            let Some(at) = frames.iter().rposition(|f| f["type"] == "welcome") else {
                return false;
            };
            let w = &frames[at];
            (w["resumed"] == false && w["seq"].as_u64() >= Some(seq))
                || frames[at + 1..]
                    .iter()
                    .any(|f| f["type"] == "event" && f["seq"].as_u64() >= Some(seq))
        })
        .await
    }

    pub async fn wait_closed(&self) -> Closed {
        self.wait("the socket to close", |_| self.closed().is_some())
            .await;
        self.closed().unwrap()
    }

    pub async fn send(&mut self, frame: Value) {
        self.sink
            .send(Message::text(frame.to_string()))
            .await
            .expect("send");
    }

    /// Send `frame` with a fresh ref without waiting; returns the ref.
    pub async fn send_ref(&mut self, mut frame: Value) -> String {
        self.next_ref += 1;
        let r = format!("{}-{}", self.name, self.next_ref);
        frame["ref"] = json!(r);
        self.send(frame).await;
        r
    }

    /// The `ack` or `error` answering `r`, once it arrived.
    pub async fn answer(&self, r: &str) -> Value {
        let r = json!(r);
        self.wait("an answer", |frames| {
            frames
                .iter()
                .any(|f| f["ref"] == r && (f["type"] == "ack" || f["type"] == "error"))
        })
        .await;
        self.frames()
            .into_iter()
            .find(|f| f["ref"] == r && (f["type"] == "ack" || f["type"] == "error"))
            .unwrap()
    }

    /// Send a chat and return its acked seq.
    pub async fn chat(&mut self, text: &str) -> u64 {
        let r = self.send_ref(json!({"type": "chat", "text": text})).await;
        let a = self.answer(&r).await;
        assert_eq!(a["type"], "ack", "{}: chat refused: {a}", self.name);
        a["seq"].as_u64().unwrap()
    }

    pub async fn close(mut self) {
        let _ = self.sink.close().await;
        let _ = tokio::time::timeout(WAIT, &mut self.task).await;
    }
}

impl Drop for Recording {
    fn drop(&mut self) {
        self.task.abort();
    }
}
