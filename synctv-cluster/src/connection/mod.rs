//! `ConnectionManager`: every WebSocket of this node. It enforces the connection limits
//! (global, per user, per room, per client address: [`limits`]) with RAII guards (a slot is
//! released when its guard drops, whatever the path), drives the one shared heartbeat (pings,
//! idle checks and the maximum session length for all sockets: no timer per socket), and
//! closes sockets by room and user when their access changes.

mod limits;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use bytes::Bytes;
use dashmap::DashMap;
use synctv_core::ids::{ConnId, RoomId, UserId};

use limits::Counts;
pub use limits::{ConnKey, ConnLimits, Refusal};

use crate::metrics::ClusterMetrics;
use crate::outbound::{CloseReason, ConnSender, Outbound};

/// What the registry knows about one socket.
#[derive(Debug, Clone)]
pub struct ConnEntry {
    pub sender: ConnSender,
    pub room: RoomId,
    pub user: UserId,
    /// When the socket was opened (for `ws.max_connection_secs`).
    pub opened_ms: u64,
    /// Whether the socket's identity is a guest (for access changes).
    pub guest: bool,
    /// When the socket's token expires (0: never); the heartbeat closes it then.
    pub expires_ms: u64,
}

#[derive(Clone)]
pub struct ConnectionManager {
    inner: Arc<Inner>,
}

struct Inner {
    conns: DashMap<ConnId, ConnEntry>,
    /// Reserved slots: sockets being upgraded plus sockets registered.
    reserved: AtomicUsize,
    limits: ConnLimits,
    per_user: Counts<UserId>,
    per_room: Counts<RoomId>,
    per_address: Counts<std::net::IpAddr>,
    next_id: AtomicU64,
    draining: AtomicBool,
    metrics: ClusterMetrics,
}

/// A reserved connection slot (taken before the WebSocket upgrade). Dropping it frees the slot.
pub struct ConnPermit {
    mgr: ConnectionManager,
    key: Option<ConnKey>,
}

/// A registered socket. Dropping it unregisters the socket and frees its slot.
pub struct ConnSlot {
    mgr: ConnectionManager,
    id: ConnId,
    key: Option<ConnKey>,
}

/// What one heartbeat round did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Heartbeat {
    pub pinged: usize,
    pub closed_idle: usize,
    pub closed_expired: usize,
}

impl ConnectionManager {
    pub fn new(limits: ConnLimits, metrics: ClusterMetrics) -> Self {
        metrics.connections_limit.set(limits.global as f64);
        Self {
            inner: Arc::new(Inner {
                conns: DashMap::new(),
                reserved: AtomicUsize::new(0),
                limits,
                per_user: Counts::new(),
                per_room: Counts::new(),
                per_address: Counts::new(),
                next_id: AtomicU64::new(1),
                draining: AtomicBool::new(false),
                metrics,
            }),
        }
    }

    /// Reserve a slot against the global limit only, or `None` when the node is full or
    /// draining.
    pub fn try_reserve(&self) -> Option<ConnPermit> {
        if self.is_draining() {
            return None;
        }
        let reserved = self.inner.reserved.fetch_add(1, Ordering::AcqRel);
        let permit = ConnPermit {
            mgr: self.clone(),
            key: None,
        };
        (reserved < self.inner.limits.global).then_some(permit)
    }

    /// Reserve a slot for `key`: refused when draining, when the node is full, or when the
    /// user, the room or the client address already has its maximum of sockets here.
    pub fn reserve(&self, key: ConnKey) -> Result<ConnPermit, Refusal> {
        let mut permit = self.try_reserve().ok_or(if self.is_draining() {
            Refusal::Draining
        } else {
            Refusal::NodeFull
        })?;
        let (i, l) = (&self.inner, self.inner.limits);
        if !i.per_user.try_add(&key.user, l.per_user) {
            return Err(Refusal::User);
        }
        if !i.per_room.try_add(&key.room, l.per_room) {
            i.per_user.remove(&key.user);
            return Err(Refusal::Room);
        }
        if let Some(addr) = key.address
            && !i.per_address.try_add(&addr, l.per_address)
        {
            i.per_user.remove(&key.user);
            i.per_room.remove(&key.room);
            return Err(Refusal::Address);
        }
        permit.key = Some(key);
        Ok(permit)
    }

    pub fn limits(&self) -> ConnLimits {
        self.inner.limits
    }

    /// Sockets of `user` on this node (reserved or open).
    pub fn user_count(&self, user: &UserId) -> usize {
        self.inner.per_user.get(user)
    }

    /// Sockets in `room` on this node (reserved or open).
    pub fn room_count(&self, room: &RoomId) -> usize {
        self.inner.per_room.get(room)
    }

    /// The rooms and users with the most sockets here, for bounded per-room/per-user metrics.
    pub fn top_rooms(&self, n: usize) -> Vec<(RoomId, usize)> {
        self.inner.per_room.top(n)
    }

    pub fn top_users(&self, n: usize) -> Vec<(UserId, usize)> {
        self.inner.per_user.top(n)
    }

    /// Rooms and users with at least one socket here.
    pub fn room_and_user_counts(&self) -> (usize, usize) {
        (self.inner.per_room.len(), self.inner.per_user.len())
    }

    /// Close the sockets in `room` for which `pick` says so; how many.
    pub fn close_in_room(
        &self,
        room: &RoomId,
        pick: impl Fn(&ConnEntry) -> bool,
        reason: CloseReason,
    ) -> usize {
        self.close_where(|e| &e.room == room && pick(e), reason)
    }

    /// Close every socket of `user`, in any room.
    pub fn close_user(&self, user: &UserId, reason: CloseReason) -> usize {
        self.close_where(|e| &e.user == user, reason)
    }

    /// Close the open sockets `pick` chooses; how many.
    fn close_where(&self, pick: impl Fn(&ConnEntry) -> bool, reason: CloseReason) -> usize {
        let mut n = 0;
        for c in self.inner.conns.iter() {
            if !c.sender.ctl().is_closing() && pick(&c) {
                c.sender.ctl().close(reason);
                n += 1;
            }
        }
        n
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

    /// Queue a frame of its own on every socket (e.g. the shutdown notice with a delay per
    /// client).
    pub fn send_each(&self, frame: impl Fn(ConnId) -> Bytes) {
        for c in self.inner.conns.iter() {
            c.sender.send_frame(frame(*c.key()));
        }
    }

    /// Ask every socket to close.
    pub fn close_all(&self, reason: CloseReason) {
        for c in self.inner.conns.iter() {
            c.sender.ctl().close(reason);
        }
    }

    /// One round of the shared heartbeat: close sockets silent for longer than `idle_ms`
    /// and sockets open for longer than `max_age_ms` (0: no limit), ping the others.
    pub fn heartbeat(&self, now_ms: u64, idle_ms: u64, max_age_ms: u64) -> Heartbeat {
        let mut hb = Heartbeat::default();
        for c in self.inner.conns.iter() {
            let ctl = c.sender.ctl();
            if ctl.is_closing() {
                continue;
            }
            if now_ms.saturating_sub(ctl.last_seen_ms()) > idle_ms {
                ctl.close(CloseReason::IDLE);
                hb.closed_idle += 1;
            } else if max_age_ms > 0 && now_ms.saturating_sub(c.opened_ms) > max_age_ms {
                ctl.close(CloseReason::MAX_DURATION);
                hb.closed_expired += 1;
            } else if c.expires_ms > 0 && now_ms >= c.expires_ms {
                ctl.close(CloseReason::TOKEN_EXPIRED);
                hb.closed_expired += 1;
            } else {
                c.sender.send(Outbound::Ping);
                hb.pinged += 1;
            }
        }
        hb
    }

    fn release(&self, key: Option<&ConnKey>) {
        self.inner.reserved.fetch_sub(1, Ordering::AcqRel);
        if let Some(k) = key {
            self.inner.per_user.remove(&k.user);
            self.inner.per_room.remove(&k.room);
            if let Some(a) = &k.address {
                self.inner.per_address.remove(a);
            }
        }
    }
}

impl ConnPermit {
    /// Turn the reservation into a registered socket.
    pub fn register(mut self, entry: ConnEntry) -> ConnSlot {
        let mgr = self.mgr.clone();
        let key = self.key.take();
        std::mem::forget(self); // the reservation moves into the slot
        let id = entry.sender.id();
        mgr.inner.conns.insert(id, entry);
        mgr.inner.metrics.connections_total.increment(1);
        mgr.inner.metrics.connections_active.increment(1.0);
        ConnSlot { mgr, id, key }
    }
}

impl Drop for ConnPermit {
    fn drop(&mut self) {
        self.mgr.release(self.key.as_ref());
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
        self.mgr.release(self.key.as_ref());
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
                opened_ms: 0,
                guest: false,
                expires_ms: 0,
            },
            rx,
        )
    }

    #[test]
    fn slots_are_limited_and_released_on_drop() {
        let mgr = ConnectionManager::new(ConnLimits::global(2), ClusterMetrics::default());
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
        let mgr = ConnectionManager::new(ConnLimits::global(10), ClusterMetrics::default());
        mgr.start_draining();
        assert!(mgr.try_reserve().is_none());
    }

    #[tokio::test]
    async fn heartbeat_pings_live_and_closes_idle() {
        let mgr = ConnectionManager::new(ConnLimits::global(10), ClusterMetrics::default());
        let (live, mut live_rx) = entry(&mgr);
        let (idle, _idle_rx) = entry(&mgr);
        live.sender.ctl().touch(1_000);
        let idle_ctl = idle.sender.ctl().clone();
        let _s1 = mgr.try_reserve().unwrap().register(live);
        let _s2 = mgr.try_reserve().unwrap().register(idle);
        let hb = mgr.heartbeat(1_500, 1_000, 0);
        assert_eq!(
            hb,
            Heartbeat {
                pinged: 1,
                closed_idle: 1,
                closed_expired: 0,
            }
        );
        assert!(matches!(live_rx.recv().await, Some(Outbound::Ping)));
        assert_eq!(idle_ctl.close_reason(), Some(CloseReason::IDLE));
    }

    fn key(user: &str, room: &str, addr: &str) -> ConnKey {
        ConnKey {
            user: UserId::from(user),
            room: RoomId::from(room),
            address: Some(addr.parse().unwrap()),
        }
    }

    #[test]
    fn per_user_room_and_address_limits_hold_and_release() {
        let limits = ConnLimits {
            global: 100,
            per_user: 2,
            per_room: 3,
            per_address: 4,
        };
        let mgr = ConnectionManager::new(limits, ClusterMetrics::default());
        let a1 = mgr.reserve(key("a", "r1", "10.0.0.1")).unwrap();
        let _a2 = mgr.reserve(key("a", "r1", "10.0.0.1")).unwrap();
        assert_eq!(
            mgr.reserve(key("a", "r2", "10.0.0.2")).err(),
            Some(Refusal::User)
        );
        let _b1 = mgr.reserve(key("b", "r1", "10.0.0.1")).unwrap();
        assert_eq!(
            mgr.reserve(key("c", "r1", "10.0.0.3")).err(),
            Some(Refusal::Room)
        );
        let _c1 = mgr.reserve(key("c", "r2", "10.0.0.1")).unwrap();
        assert_eq!(
            mgr.reserve(key("d", "r3", "10.0.0.1")).err(),
            Some(Refusal::Address)
        );
        // Refusals leave no count behind; releasing frees exactly one of each.
        assert_eq!(mgr.user_count(&UserId::from("d")), 0);
        assert_eq!(mgr.room_count(&RoomId::from("r3")), 0);
        drop(a1);
        assert_eq!(mgr.user_count(&UserId::from("a")), 1);
        assert_eq!(mgr.room_count(&RoomId::from("r1")), 2);
        assert!(mgr.reserve(key("d", "r3", "10.0.0.1")).is_ok());
        assert_eq!(mgr.top_rooms(1), vec![(RoomId::from("r1"), 2)]);
    }

    #[tokio::test]
    async fn heartbeat_closes_sockets_past_their_maximum_duration() {
        let mgr = ConnectionManager::new(ConnLimits::global(10), ClusterMetrics::default());
        let (old, _rx) = entry(&mgr);
        let ctl = old.sender.ctl().clone();
        ctl.touch(10_000);
        let _s = mgr.try_reserve().unwrap().register(old);
        let hb = mgr.heartbeat(10_000, 60_000, 5_000);
        assert_eq!(hb.closed_expired, 1);
        assert_eq!(ctl.close_reason(), Some(CloseReason::MAX_DURATION));
    }
}
