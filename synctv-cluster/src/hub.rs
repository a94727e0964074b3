//! `RoomMessageHub`: this node's active rooms. For each, the materialized [`RoomState`] at
//! the stream position it reflects, and the local subscribers (sockets) of the room.
//!
//! Publications arrive from the broker in `seq` order (`PublicationHandler::handle`); the
//! hub applies each to the state, advances the position, and queues the event's shared
//! bytes on every subscriber without waiting: a subscriber whose queue is full is dropped
//! and closed as a slow consumer. Because state, position and subscriber list change under
//! one lock, a snapshot taken together with a subscription is exactly consistent with the
//! events that follow it. The hub never touches the network.

use std::sync::{Arc, Mutex, MutexGuard};

use dashmap::DashMap;
use synctv_core::event::RoomEvent;
use synctv_core::ids::{ConnId, RoomId};
use synctv_core::room_state::RoomState;

use crate::broker::{Publication, PublicationHandler, StreamPosition};
use crate::metrics::ClusterMetrics;
use crate::outbound::{CloseReason, ConnSender, Queued};

/// One room on this node.
pub struct HubRoom {
    /// Serializes the room's mutations (validate, persist, publish) and state loads on this
    /// node. Held across `.await`, hence a tokio mutex.
    pub(crate) write: Arc<tokio::sync::Mutex<()>>,
    /// State, position and subscribers. A std mutex, never held across `.await`.
    inner: Mutex<RoomLocal>,
}

#[derive(Default)]
pub(crate) struct RoomLocal {
    /// Loaded lazily; `None` while no local client needs it.
    pub state: Option<RoomState>,
    /// The stream position `state` reflects (`Some` exactly when `state` is).
    pub position: Option<StreamPosition>,
    pub subscribers: Vec<ConnSender>,
    /// Whether the broker delivers this room's publications to this node.
    pub broker_subscribed: bool,
    /// The room was deleted; nobody may join it again.
    pub deleted: bool,
}

impl RoomLocal {
    pub fn remove_subscriber(&mut self, conn: ConnId) {
        if let Some(i) = self.subscribers.iter().position(|s| s.id() == conn) {
            self.subscribers.swap_remove(i);
        }
    }

    /// Forget the state and ask every subscriber to reconnect for a fresh snapshot.
    fn resync(&mut self) {
        self.state = None;
        self.position = None;
        for s in self.subscribers.drain(..) {
            s.ctl().close(CloseReason::RESYNC);
        }
    }
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

    /// Users online in `room` on this node's view (0 if the room is not active here).
    pub fn member_count(&self, id: &RoomId) -> usize {
        self.get(id)
            .and_then(|r| r.lock().state.as_ref().map(RoomState::member_count))
            .unwrap_or(0)
    }

    /// Rooms held in memory.
    pub fn room_count(&self) -> usize {
        self.rooms.len()
    }

    /// Forget rooms nobody uses: no subscribers and no one holding the entry (a join or a
    /// write in progress holds a clone of the `Arc`, which keeps the room).
    pub fn sweep(&self) {
        self.rooms
            .retain(|_, room| Arc::strong_count(room) > 1 || !room.lock().subscribers.is_empty());
        self.metrics.rooms_active.set(self.rooms.len() as f64);
    }
}

impl PublicationHandler for RoomMessageHub {
    fn handle(&self, id: &RoomId, p: &Publication) {
        let Some(room) = self.get(id) else {
            return; // no local interest in this room
        };
        let mut local = room.lock();
        if let Some(pos) = &local.position {
            if pos.epoch == p.epoch && p.seq <= pos.seq {
                return; // already applied (a duplicate delivery)
            }
            if pos.epoch != p.epoch || p.seq != pos.seq + 1 {
                tracing::warn!(room = %id, have = pos.seq, got = p.seq, "room stream gap; resyncing local clients");
                local.resync();
                return;
            }
        }
        if let Some(state) = local.state.as_mut() {
            state.apply(&p.event, p.ts_ms);
            local.position = Some(StreamPosition {
                seq: p.seq,
                epoch: p.epoch.clone(),
            });
        }
        let before = local.subscribers.len();
        local
            .subscribers
            .retain(|s| match s.send_frame(p.frame.clone()) {
                Queued::Yes => true,
                Queued::Overflow => {
                    self.metrics.slow_consumers.increment(1);
                    false
                }
                Queued::Closed => false,
            });
        self.metrics.deliveries.increment(before as u64);
        if matches!(*p.event, RoomEvent::RoomDeleted {}) {
            local.deleted = true;
            local.state = None;
            local.position = None;
            for s in local.subscribers.drain(..) {
                s.ctl().close(CloseReason::ROOM_DELETED);
            }
        }
    }
}
