//! A socket's writer task, started once the welcome is out (see `upgrade`). It drains the
//! socket's queue, feeding every frame already queued before one flush, so a backlog goes
//! out in few `send()` calls. On close it writes what must still go out (when the reason
//! drains), the close frame, and flushes, all within a grace period: a client that stopped
//! reading cannot hold the task forever.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::SinkExt;
use futures_util::stream::SplitSink;
use synctv_cluster::outbound::{CloseReason, ConnCtl, Outbound};
use tokio::sync::mpsc;
use tungstenite::protocol::CloseFrame;
use tungstenite::{Message, Utf8Bytes};

use super::Socket;

type Sink = SplitSink<Socket, Message>;

/// Frames written per flush at most (bounds the latency added for the first of them).
const BATCH: usize = 64;

fn to_message(item: Outbound) -> Option<Message> {
    match item {
        // Frames are serialized by serde_json, hence valid UTF-8; the check is a cheap scan.
        Outbound::Frame(bytes) => Utf8Bytes::try_from(bytes).ok().map(Message::Text),
        Outbound::Ping => Some(Message::Ping(Bytes::new())),
    }
}

async fn feed(sink: &mut Sink, item: Outbound) -> Result<(), tungstenite::Error> {
    match to_message(item) {
        Some(m) => sink.feed(m).await,
        None => Ok(()),
    }
}

/// Write `first` and whatever else is queued, then flush.
async fn write_batch(
    sink: &mut Sink,
    rx: &mut mpsc::Receiver<Outbound>,
    first: Outbound,
) -> Result<(), tungstenite::Error> {
    feed(sink, first).await?;
    for _ in 1..BATCH {
        match rx.try_recv() {
            Ok(item) => feed(sink, item).await?,
            Err(_) => break,
        }
    }
    sink.flush().await
}

pub(super) async fn run(
    mut sink: Sink,
    mut rx: mpsc::Receiver<Outbound>,
    ctl: Arc<ConnCtl>,
    grace: Duration,
) {
    let drains = |ctl: &ConnCtl| ctl.close_reason().is_some_and(|r| r.drain);
    loop {
        let item = tokio::select! {
            biased;
            _ = ctl.closed() => break,
            item = rx.recv() => match item {
                Some(item) => item,
                None => break,
            },
        };
        let batch = write_batch(&mut sink, &mut rx, item);
        tokio::pin!(batch);
        let written = tokio::select! {
            r = &mut batch => r,
            _ = ctl.closed() => {
                if drains(&ctl) {
                    tokio::time::timeout(grace, &mut batch).await.unwrap_or(Ok(()))
                } else {
                    break;
                }
            }
        };
        if written.is_err() {
            return; // the connection is gone
        }
    }
    let reason = ctl.close_reason().unwrap_or(CloseReason {
        code: 1000,
        reason: "",
        drain: false,
    });
    let close = async {
        if reason.drain {
            while let Ok(item) = rx.try_recv() {
                feed(&mut sink, item).await?;
            }
        }
        let frame = CloseFrame {
            code: reason.code.into(),
            reason: Utf8Bytes::from_static(reason.reason),
        };
        // After a client-initiated close this fails (the reply is already queued); the
        // flush below still pushes that reply out.
        let _ = sink.feed(Message::Close(Some(frame))).await;
        sink.flush().await
    };
    let _ = tokio::time::timeout(grace, close).await;
}
