//! One member's WebSocket: connect, wait for its welcome, then read every frame, checking
//! that `seq` goes up by exactly one (a gap or a duplicate is counted, never assumed away)
//! and timing our chat frames. The receive time is read before the frame is parsed, so
//! parsing is not charged to the server.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::clock::now_ns;
use crate::frame::{self, Frame};
use crate::stats::Stats;

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;
pub type Sink = SplitSink<Ws, Message>;

/// What the rest of the tool sees of a member while its reader runs.
#[derive(Default)]
pub struct Progress {
    /// The last `seq` this member saw (its welcome's, then its events').
    pub last_seq: AtomicU64,
}

/// A connected member: its write half (publishers send on it) and its reader task.
pub struct Member {
    pub sink: Sink,
    pub progress: Arc<Progress>,
    pub reader: JoinHandle<()>,
}

/// Everything a reader needs to know about its member.
#[derive(Clone)]
pub struct Who {
    pub user_id: String,
    /// Histogram shard.
    pub shard: usize,
}

/// The socket URL of a room on a node (`http://h:p` -> `ws://h:p/api/rooms/{id}/ws`).
pub fn ws_url(node: &str, room_id: &str, token: &str) -> String {
    let base = node.trim_end_matches('/');
    let base = base.strip_prefix("http://").unwrap_or(base);
    format!("ws://{base}/api/rooms/{room_id}/ws?token={token}")
}

/// Small buffers: thousands of mostly idle sockets, each receiving small frames, and Nagle
/// off so a publisher's frame leaves at once.
fn config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0)
}

/// Connect and wait for the welcome (within `timeout`), then start reading.
/// `closing` is set when the tool itself starts closing sockets: closes after that are
/// expected.
pub async fn connect(
    url: &str,
    who: Who,
    stats: Arc<Stats>,
    closing: Arc<AtomicBool>,
    timeout: Duration,
) -> Result<Member> {
    let (ws, _) = tokio::time::timeout(
        timeout,
        tokio_tungstenite::connect_async_with_config(url, Some(config()), true),
    )
    .await
    .map_err(|_| anyhow!("WebSocket handshake timed out"))?
    .map_err(describe)?;
    let (sink, mut stream) = ws.split();
    let welcome_seq = tokio::time::timeout(timeout, first_welcome(&mut stream))
        .await
        .map_err(|_| anyhow!("no welcome within {timeout:?}"))??;
    let progress = Arc::new(Progress::default());
    progress.last_seq.store(welcome_seq, Relaxed);
    let reader = tokio::spawn(read(
        stream,
        who,
        welcome_seq,
        progress.clone(),
        stats,
        closing,
    ));
    Ok(Member {
        sink,
        progress,
        reader,
    })
}

/// A refused upgrade says why (the node answers with a JSON error before upgrading).
fn describe(e: tokio_tungstenite::tungstenite::Error) -> anyhow::Error {
    use tokio_tungstenite::tungstenite::Error as E;
    match e {
        E::Http(r) => {
            let body = r
                .body()
                .as_ref()
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default();
            anyhow!("upgrade refused: {} {body}", r.status())
        }
        e => anyhow!("WebSocket connect failed: {e}"),
    }
}

async fn first_welcome(stream: &mut SplitStream<Ws>) -> Result<u64> {
    while let Some(msg) = stream.next().await {
        match msg.context("reading the welcome")? {
            Message::Text(t) => match frame::parse(&t) {
                Some(Frame::Welcome { seq, .. }) => return Ok(seq),
                _ => bail!("first frame is not a welcome: {}", t.as_str()),
            },
            Message::Close(c) => bail!("closed before the welcome: {c:?}"),
            _ => {}
        }
    }
    bail!("connection ended before the welcome")
}

/// The per-member order check: what `seq` must come next.
pub struct SeqCheck {
    next: u64,
}

/// What one event's `seq` was, compared with what was due.
#[derive(Debug, PartialEq, Eq)]
pub enum SeqVerdict {
    InOrder,
    /// This many events were skipped.
    Gap(u64),
    /// Already seen (or out of order).
    Duplicate,
}

impl SeqCheck {
    pub fn after_welcome(seq: u64) -> Self {
        Self { next: seq + 1 }
    }

    pub fn check(&mut self, seq: u64) -> SeqVerdict {
        if seq == self.next {
            self.next += 1;
            SeqVerdict::InOrder
        } else if seq < self.next {
            SeqVerdict::Duplicate
        } else {
            let skipped = seq - self.next;
            self.next = seq + 1;
            SeqVerdict::Gap(skipped)
        }
    }
}

async fn read(
    mut stream: SplitStream<Ws>,
    who: Who,
    welcome_seq: u64,
    progress: Arc<Progress>,
    stats: Arc<Stats>,
    closing: Arc<AtomicBool>,
) {
    let mut order = SeqCheck::after_welcome(welcome_seq);
    let mut close_reason = None;
    while let Some(msg) = stream.next().await {
        let text = match msg {
            Ok(Message::Text(t)) => t,
            Ok(Message::Close(c)) => {
                close_reason = Some(c.map_or("close (no code)".to_owned(), |c| {
                    format!("close {}", u16::from(c.code))
                }));
                break;
            }
            Ok(_) => continue,
            Err(e) => {
                close_reason = Some(format!("socket error: {e}"));
                break;
            }
        };
        let recv_ns = now_ns();
        match frame::parse(&text) {
            Some(Frame::Event {
                seq,
                kind,
                user_id,
                text,
            }) => {
                match order.check(seq) {
                    SeqVerdict::InOrder => {}
                    SeqVerdict::Gap(n) => {
                        stats.gaps.fetch_add(n, Relaxed);
                    }
                    SeqVerdict::Duplicate => {
                        stats.duplicates.fetch_add(1, Relaxed);
                    }
                }
                progress.last_seq.fetch_max(seq, Relaxed);
                if kind == "chat"
                    && let Some(send_ns) = text.and_then(|t| t.parse::<u64>().ok())
                {
                    let own = user_id.as_deref() == Some(who.user_id.as_str());
                    stats.on_chat(who.shard, send_ns, recv_ns, own);
                }
            }
            Some(Frame::Welcome { seq, .. }) => {
                stats.resyncs.fetch_add(1, Relaxed);
                order = SeqCheck::after_welcome(seq);
                progress.last_seq.store(seq, Relaxed);
            }
            Some(Frame::Error { code }) => stats.error(format!("error frame: {code}")),
            Some(Frame::Shutdown) => stats.error("shutdown frame"),
            Some(Frame::Other) => {}
            None => stats.error("unparseable frame"),
        }
    }
    if !closing.load(Relaxed) {
        stats.unexpected_closes.fetch_add(1, Relaxed);
        stats.error(close_reason.unwrap_or_else(|| "connection ended".into()));
    }
}

/// Close politely (a close frame, briefly waited for); the reader ends on the echo.
pub async fn close(mut m: Member) {
    let _ = tokio::time::timeout(Duration::from_secs(2), m.sink.send(Message::Close(None))).await;
    if tokio::time::timeout(Duration::from_secs(2), &mut m.reader)
        .await
        .is_err()
    {
        m.reader.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seq_check_counts_gaps_and_duplicates() {
        let mut c = SeqCheck::after_welcome(10);
        assert_eq!(c.check(11), SeqVerdict::InOrder);
        assert_eq!(c.check(11), SeqVerdict::Duplicate);
        assert_eq!(c.check(14), SeqVerdict::Gap(2));
        assert_eq!(c.check(15), SeqVerdict::InOrder);
        assert_eq!(c.check(13), SeqVerdict::Duplicate);
    }

    #[test]
    fn socket_urls() {
        assert_eq!(
            ws_url("http://127.0.0.1:8081/", "r1", "t.k.n"),
            "ws://127.0.0.1:8081/api/rooms/r1/ws?token=t.k.n"
        );
    }
}
