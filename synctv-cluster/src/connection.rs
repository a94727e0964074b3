//! `ConnectionManager`: every WebSocket of this node. It enforces the connection limit with
//! RAII guards (a slot is released when its guard drops, whatever the path), drives the one
//! shared heartbeat (pings and idle checks for all sockets: no timer per socket), and
//! broadcasts the shutdown notice.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use bytes::Bytes;
use dashmap::DashMap;
use synctv_core::ids::{ConnId, RoomId, UserId};

use crate::metrics::ClusterMetrics;
use crate::outbound::{CloseReason, ConnSender, Outbound};

/// What the registry knows about one socket.
#[derive(Debug, Clone)]
pub struct ConnEntry {
    pub sender: ConnSender,
    pub room: RoomId,
    pub user: UserId,
}

#[derive(Clone)]
pub struct ConnectionManager {
    inner: Arc<Inner>,
}

struct Inner {
    conns: DashMap<ConnId, ConnEntry>,
    /// Reserved slots: sockets being upgraded plus sockets registered.
    reserved: AtomicUsize,
    max: usize,
    next_id: AtomicU64,
    draining: AtomicBool,
    metrics: ClusterMetrics,
}

/// A reserved connection slot (taken before the WebSocket upgrade). Dropping it frees the slot.
pub struct ConnPermit {
    mgr: ConnectionManager,
}

/// A registered socket. Dropping it unregisters the socket and frees its slot.
pub struct ConnSlot {
    mgr: ConnectionManager,
    id: ConnId,
}

/// What one heartbeat round did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Heartbeat {
    pub pinged: usize,
    pub closed_idle: usize,
}

impl ConnectionManager {
    pub fn new(max: usize, metrics: ClusterMetrics) -> Self {
        Self {
            inner: Arc::new(Inner {
                conns: DashMap::new(),
                reserved: AtomicUsize::new(0),
                max,
                next_id: AtomicU64::new(1),
                draining: AtomicBool::new(false),
                metrics,
            }),
        }
    }

    /// Reserve a slot, or `None` when the node is full or draining.
    pub fn try_reserve(&self) -> Option<ConnPermit> {
        if self.is_draining() {
            return None;
        }
        let reserved = self.inner.reserved.fetch_add(1, Ordering::AcqRel);
        let permit = ConnPermit { mgr: self.clone() };
        (reserved < self.inner.max).then_some(permit)
    }

    pub fn next_id(&self) -> ConnId {
        ConnId(self.inner.next_id.fetch_add(1, Ordering::Relaxed))
    }

    /// Sockets registered now.
    pub fn active(&self) -> usize {
        self.inner.conns.len()
    }

    pub fn is_draining(&self) -> bool {
        self.inner.draining.load(Ordering::Acquire)
    }

    /// Refuse new sockets from now on (shutdown).
    pub fn start_draining(&self) {
        self.inner.draining.store(true, Ordering::Release);
    }

    /// Queue the same frame on every socket (e.g. the shutdown notice).
    pub fn broadcast(&self, frame: Bytes) {
        for c in self.inner.conns.iter() {
            c.sender.send_frame(frame.clone());
        }
    }

    /// Ask every socket to close.
    pub fn close_all(&self, reason: CloseReason) {
        for c in self.inner.conns.iter() {
            c.sender.ctl().close(reason);
        }
    }

    /// One round of the shared heartbeat: close sockets silent for longer than `idle_ms`,
    /// ping the others.
    pub fn heartbeat(&self, now_ms: u64, idle_ms: u64) -> Heartbeat {
        let mut hb = Heartbeat::default();
        for c in self.inner.conns.iter() {
            let ctl = c.sender.ctl();
            if ctl.is_closing() {
                continue;
            }
            if now_ms.saturating_sub(ctl.last_seen_ms()) > idle_ms {
                ctl.close(CloseReason::IDLE);
                hb.closed_idle += 1;
            } else {
                c.sender.send(Outbound::Ping);
                hb.pinged += 1;
            }
        }
        hb
    }

    fn release(&self) {
        self.inner.reserved.fetch_sub(1, Ordering::AcqRel);
    }
}

impl ConnPermit {
    /// Turn the reservation into a registered socket.
    pub fn register(self, entry: ConnEntry) -> ConnSlot {
        let mgr = self.mgr.clone();
        std::mem::forget(self); // the reservation moves into the slot
        let id = entry.sender.id();
        mgr.inner.conns.insert(id, entry);
        mgr.inner.metrics.connections_total.increment(1);
        mgr.inner.metrics.connections_active.increment(1.0);
        ConnSlot { mgr, id }
    }
}

impl Drop for ConnPermit {
    fn drop(&mut self) {
        self.mgr.release();
    }
}

impl ConnSlot {
    pub fn id(&self) -> ConnId {
        self.id
    }
}

impl Drop for ConnSlot {
    fn drop(&mut self) {
        self.mgr.inner.conns.remove(&self.id);
        self.mgr.inner.metrics.connections_active.decrement(1.0);
        self.mgr.release();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outbound::channel;

    fn entry(mgr: &ConnectionManager) -> (ConnEntry, tokio::sync::mpsc::Receiver<Outbound>) {
        let (tx, rx) = channel(mgr.next_id(), 8, 0);
        (
            ConnEntry {
                sender: tx,
                room: RoomId::from("r"),
                user: UserId::from("u"),
            },
            rx,
        )
    }

    #[test]
    fn slots_are_limited_and_released_on_drop() {
        let mgr = ConnectionManager::new(2, ClusterMetrics::default());
        let a = mgr.try_reserve().unwrap();
        let b = mgr.try_reserve().unwrap();
        assert!(
            mgr.try_reserve().is_none(),
            "third reservation exceeds the limit"
        );
        drop(a);
        let (e, _rx) = entry(&mgr);
        let slot = mgr.try_reserve().unwrap().register(e);
        assert_eq!(mgr.active(), 1);
        assert!(mgr.try_reserve().is_none());
        drop(slot);
        drop(b);
        assert_eq!(mgr.active(), 0);
        assert!(mgr.try_reserve().is_some());
    }

    #[test]
    fn draining_refuses_new_slots() {
        let mgr = ConnectionManager::new(10, ClusterMetrics::default());
        mgr.start_draining();
        assert!(mgr.try_reserve().is_none());
    }

    #[tokio::test]
    async fn heartbeat_pings_live_and_closes_idle() {
        let mgr = ConnectionManager::new(10, ClusterMetrics::default());
        let (live, mut live_rx) = entry(&mgr);
        let (idle, _idle_rx) = entry(&mgr);
        live.sender.ctl().touch(1_000);
        let idle_ctl = idle.sender.ctl().clone();
        let _s1 = mgr.try_reserve().unwrap().register(live);
        let _s2 = mgr.try_reserve().unwrap().register(idle);
        let hb = mgr.heartbeat(1_500, 1_000);
        assert_eq!(
            hb,
            Heartbeat {
                pinged: 1,
                closed_idle: 1
            }
        );
        assert!(matches!(live_rx.recv().await, Some(Outbound::Ping)));
        assert_eq!(idle_ctl.close_reason(), Some(CloseReason::IDLE));
    }
}
