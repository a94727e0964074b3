//! `RoomMessageHub`: this node's active rooms. For each, the materialized `RoomState` at the
//! stream position it reflects, the events held until their turn, and the local subscribers
//! (sockets) of the room.
//!
//! Publications reach the hub from three places (this node's own `publish`, the broker's
//! subscription, reads from the stream) in any interleaving; [`room::RoomLocal::offer`]
//! applies each exactly once, in `seq` order, and queues the event's shared bytes on every
//! subscriber without waiting: a subscriber whose queue is full is dropped and closed as a
//! slow consumer. Because state, position and subscriber list change under one lock, a
//! snapshot taken together with a subscription is exactly consistent with the events that
//! follow it. The hub never touches the network: what it cannot resolve itself (a gap to
//! fill, a reload) it reports to the manager as an [`Offer`].

pub mod room;

use std::sync::{Arc, Mutex, MutexGuard};

use dashmap::DashMap;
use synctv_core::ids::RoomId;

pub use room::{Offer, RoomLocal, Source, WelcomeFn};

use crate::broker::Publication;
use crate::metrics::ClusterMetrics;

/// One room on this node.
pub struct HubRoom {
    /// Serializes this node's changes, loads and repairs of the room. Held across `.await`,
    /// hence a tokio mutex. (Across nodes, the database row lock and compare-and-set
    /// updates order changes; this lock only keeps one node from racing itself.)
    pub(crate) write: Arc<tokio::sync::Mutex<()>>,
    /// State, position, held events and subscribers. A std mutex, never held across
    /// `.await`.
    inner: Mutex<RoomLocal>,
}

impl HubRoom {
    fn new() -> Self {
        Self {
            write: Arc::new(tokio::sync::Mutex::new(())),
            inner: Mutex::new(RoomLocal::default()),
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, RoomLocal> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

pub struct RoomMessageHub {
    rooms: DashMap<RoomId, Arc<HubRoom>>,
    metrics: ClusterMetrics,
}

impl RoomMessageHub {
    pub fn new(metrics: ClusterMetrics) -> Self {
        Self {
            rooms: DashMap::new(),
            metrics,
        }
    }

    pub fn metrics(&self) -> &ClusterMetrics {
        &self.metrics
    }

    /// The room's entry, created if absent.
    pub(crate) fn room(&self, id: &RoomId) -> Arc<HubRoom> {
        self.rooms
            .entry(id.clone())
            .or_insert_with(|| Arc::new(HubRoom::new()))
            .clone()
    }

    pub(crate) fn get(&self, id: &RoomId) -> Option<Arc<HubRoom>> {
        self.rooms.get(id).map(|r| r.clone())
    }

    /// Offer a publication to the room (ignored when the room is not active here).
    pub fn offer(&self, id: &RoomId, p: Publication, source: Source) -> Offer {
        match self.get(id) {
            Some(room) => room.lock().offer(p, source, &self.metrics),
            None => Offer::Done,
        }
    }

    /// Rooms with local subscribers (or a load in progress).
    pub fn active_rooms(&self) -> Vec<RoomId> {
        self.rooms
            .iter()
            .filter(|r| {
                let l = r.value().lock();
                l.is_live() || l.loading
            })
            .map(|r| r.key().clone())
            .collect()
    }

    /// Users online in `room` in this node's view (0 if the room is not active here).
    pub fn member_count(&self, id: &RoomId) -> usize {
        self.get(id)
            .and_then(|r| r.lock().state.as_ref().map(|s| s.member_count()))
            .unwrap_or(0)
    }

    /// Rooms held in memory.
    pub fn room_count(&self) -> usize {
        self.rooms.len()
    }

    /// Forget rooms nobody uses: no subscribers and no one holding the entry (a join, a
    /// write or a repair in progress holds a clone of the `Arc`, which keeps the room).
    pub fn sweep(&self) {
        self.rooms.retain(|_, room| {
            Arc::strong_count(room) > 1 || {
                let l = room.lock();
                !l.subscribers.is_empty() || l.is_live() || l.loading
            }
        });
        self.metrics.rooms_active.set(self.rooms.len() as f64);
    }
}
