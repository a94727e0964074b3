//! The path from fan-out to one socket: a bounded queue of outbound items plus a small
//! shared control block (`ConnCtl`) through which anyone may ask the socket to close.
//!
//! Fan-out never waits: `ConnSender::send` is a `try_send`. A full queue means the client is
//! not reading fast enough; the socket is then closed with `SLOW_CONSUMER` instead of
//! buffering without bound.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use synctv_core::ids::ConnId;
use synctv_core::protocol::close;
use tokio::sync::{Notify, mpsc};

/// What the writer of a socket sends.
#[derive(Debug, Clone)]
pub enum Outbound {
    /// A complete JSON text frame (shared bytes: one serialization serves every socket).
    Frame(Bytes),
    /// A WebSocket ping (heartbeat).
    Ping,
}

/// Why and how a socket closes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CloseReason {
    pub code: u16,
    pub reason: &'static str,
    /// Write the frames already queued before the close frame (false for slow consumers:
    /// their backlog is the problem).
    pub drain: bool,
}

impl CloseReason {
    pub const SLOW_CONSUMER: CloseReason = CloseReason {
        code: close::SLOW_CONSUMER,
        reason: "send queue overflow: client too slow",
        drain: false,
    };
    pub const SHUTDOWN: CloseReason = CloseReason {
        code: close::GOING_AWAY,
        reason: "server shutting down",
        drain: true,
    };
    pub const ROOM_DELETED: CloseReason = CloseReason {
        code: close::ROOM_DELETED,
        reason: "room deleted",
        drain: true,
    };
    pub const MAX_DURATION: CloseReason = CloseReason {
        code: close::MAX_DURATION,
        reason: "maximum session length reached",
        drain: true,
    };
    pub const REMOVED: CloseReason = CloseReason {
        code: close::REMOVED,
        reason: "removed from the room",
        drain: true,
    };
    pub const ACCOUNT_DELETED: CloseReason = CloseReason {
        code: close::REMOVED,
        reason: "account deleted",
        drain: true,
    };
    pub const ACCESS_CHANGED: CloseReason = CloseReason {
        code: close::ACCESS_CHANGED,
        reason: "access changed",
        drain: true,
    };
    pub const TOKEN_EXPIRED: CloseReason = CloseReason {
        code: close::ACCESS_CHANGED,
        reason: "token expired",
        drain: true,
    };
    pub const IDLE: CloseReason = CloseReason {
        code: close::IDLE_TIMEOUT,
        reason: "idle timeout",
        drain: false,
    };
    pub const RESYNC: CloseReason = CloseReason {
        code: close::RESYNC,
        reason: "room stream interrupted: reconnect for a fresh snapshot",
        drain: true,
    };
}

/// Shared between a socket's reader, writer, the hub and the connection registry.
#[derive(Debug)]
pub struct ConnCtl {
    id: ConnId,
    reason: OnceLock<CloseReason>,
    notify: Notify,
    last_seen_ms: AtomicU64,
}

impl ConnCtl {
    pub fn new(id: ConnId, now_ms: u64) -> Self {
        Self {
            id,
            reason: OnceLock::new(),
            notify: Notify::new(),
            last_seen_ms: AtomicU64::new(now_ms),
        }
    }

    pub fn id(&self) -> ConnId {
        self.id
    }

    /// Ask the socket to close. The first reason wins; returns whether this call set it.
    pub fn close(&self, reason: CloseReason) -> bool {
        let first = self.reason.set(reason).is_ok();
        self.notify.notify_waiters();
        first
    }

    pub fn close_reason(&self) -> Option<CloseReason> {
        self.reason.get().copied()
    }

    pub fn is_closing(&self) -> bool {
        self.reason.get().is_some()
    }

    /// Resolves once `close` has been called (immediately if it already was).
    pub async fn closed(&self) {
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.is_closing() {
                return;
            }
            notified.await;
        }
    }

    /// Record that the client showed signs of life.
    pub fn touch(&self, now_ms: u64) {
        self.last_seen_ms.store(now_ms, Ordering::Relaxed);
    }

    pub fn last_seen_ms(&self) -> u64 {
        self.last_seen_ms.load(Ordering::Relaxed)
    }
}

/// Outcome of queuing one item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Queued {
    Yes,
    /// The queue was full: the socket is now closing as a slow consumer.
    Overflow,
    /// The socket is gone.
    Closed,
}

/// The sending side of a socket's queue. Cloning is cheap (two pointers).
#[derive(Debug, Clone)]
pub struct ConnSender {
    tx: mpsc::Sender<Outbound>,
    ctl: Arc<ConnCtl>,
}

impl ConnSender {
    pub fn id(&self) -> ConnId {
        self.ctl.id
    }

    pub fn ctl(&self) -> &Arc<ConnCtl> {
        &self.ctl
    }

    /// Queue without waiting; on overflow, close the socket as a slow consumer.
    pub fn send(&self, item: Outbound) -> Queued {
        match self.tx.try_send(item) {
            Ok(()) => Queued::Yes,
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.ctl.close(CloseReason::SLOW_CONSUMER);
                Queued::Overflow
            }
            Err(mpsc::error::TrySendError::Closed(_)) => Queued::Closed,
        }
    }

    pub fn send_frame(&self, frame: Bytes) -> Queued {
        self.send(Outbound::Frame(frame))
    }
}

/// A socket's queue: the sender (for fan-out), the receiver (for its writer) and the
/// shared control block.
pub fn channel(id: ConnId, capacity: usize, now_ms: u64) -> (ConnSender, mpsc::Receiver<Outbound>) {
    let (tx, rx) = mpsc::channel(capacity.max(1));
    let ctl = Arc::new(ConnCtl::new(id, now_ms));
    (ConnSender { tx, ctl }, rx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn overflow_closes_as_slow_consumer() {
        let (tx, mut rx) = channel(ConnId(1), 2, 0);
        assert_eq!(tx.send_frame(Bytes::from_static(b"1")), Queued::Yes);
        assert_eq!(tx.send_frame(Bytes::from_static(b"2")), Queued::Yes);
        assert_eq!(tx.send_frame(Bytes::from_static(b"3")), Queued::Overflow);
        assert_eq!(tx.ctl().close_reason(), Some(CloseReason::SLOW_CONSUMER));
        tx.ctl().closed().await;
        assert!(matches!(rx.recv().await, Some(Outbound::Frame(b)) if b == "1"));
        drop(rx);
        assert_eq!(tx.send(Outbound::Ping), Queued::Closed);
    }

    #[tokio::test]
    async fn first_close_reason_wins_and_wakes_waiters() {
        let (tx, _rx) = channel(ConnId(2), 4, 0);
        let ctl = tx.ctl().clone();
        let waiter = tokio::spawn({
            let ctl = ctl.clone();
            async move { ctl.closed().await }
        });
        assert!(ctl.close(CloseReason::SHUTDOWN));
        assert!(!ctl.close(CloseReason::IDLE));
        waiter.await.unwrap();
        assert_eq!(ctl.close_reason(), Some(CloseReason::SHUTDOWN));
    }
}
