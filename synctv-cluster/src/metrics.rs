//! Metric handles the cluster layer updates. The API registers them with its Prometheus
//! recorder and passes them in; handles are atomics, so updating one on the hot path is a
//! single atomic add. `ClusterMetrics::default()` is a no-op set (unit tests).

use std::collections::HashMap;
use std::sync::Arc;

use metrics::{Counter, Gauge, Histogram};
use synctv_core::event::RoomEvent;
use synctv_core::ids::RoomId;

/// The event types, as `synctv_events_published_total{type}` labels them.
pub const EVENT_TYPES: [&str; 9] = [
    "member_joined",
    "member_left",
    "chat",
    "playback",
    "movie_added",
    "movie_removed",
    "room_updated",
    "room_deleted",
    "member_updated",
];

/// A per-room counter maker (`metrics.per_room_events`: one series per room and type,
/// unbounded with the number of rooms, so off by default).
pub type PerRoomCounter = Arc<dyn Fn(&RoomId, &'static str) -> Counter + Send + Sync>;

/// `synctv_events_published_total`: one counter per event type, or per room and type.
#[derive(Clone, Default)]
pub struct EventsPublished {
    by_type: Arc<HashMap<&'static str, Counter>>,
    per_room: Option<PerRoomCounter>,
}

impl EventsPublished {
    pub fn new(by_type: HashMap<&'static str, Counter>, per_room: Option<PerRoomCounter>) -> Self {
        Self {
            by_type: Arc::new(by_type),
            per_room,
        }
    }

    pub fn record(&self, room: &RoomId, event: &RoomEvent) {
        let kind = event.kind();
        match &self.per_room {
            Some(make) => make(room, kind).increment(1),
            None => {
                if let Some(c) = self.by_type.get(kind) {
                    c.increment(1);
                }
            }
        }
    }
}

#[derive(Clone)]
pub struct ClusterMetrics {
    /// The WebSocket connection limit in force on this node.
    pub connections_limit: Gauge,
    /// Room events this node published, by type (and room, if opted in).
    pub events_published: EventsPublished,
    /// Room events of other nodes received through the broker.
    pub events_received: Counter,
    /// Events dropped as duplicates (own echoes, and anything at or below a room's seq).
    pub events_deduplicated: Counter,
    /// Time to publish an event (stream append and fan-out to nodes).
    pub publish_seconds: Histogram,
    /// Event age when delivered to this node's sockets (from the origin's timestamp).
    pub delivery_seconds: Histogram,
    /// Frames queued to local sockets by fan-out.
    pub deliveries: Counter,
    /// Sockets closed because their send queue overflowed.
    pub slow_consumers: Counter,
    /// WebSocket connections accepted since start.
    pub connections_total: Counter,
    /// WebSocket connections open now.
    pub connections_active: Gauge,
    /// Rooms with materialized state on this node now.
    pub rooms_active: Gauge,
    /// Rooms this node served alone during a Redis outage, awaiting reconciliation (a new
    /// epoch and a fresh snapshot for every node's clients) now that Redis is back.
    pub rooms_unreconciled: Gauge,
    /// Missing events read back from a room's stream.
    pub gap_fills: Counter,
    /// Rooms reloaded with a fresh snapshot for their clients (epoch change, lost events,
    /// reconciliation after an outage).
    pub resyncs: Counter,
    /// Failed Redis commands and lost Redis connections.
    pub redis_errors: Counter,
    /// Messages received on Redis subscriptions, by channel kind.
    pub pubsub_room: Counter,
    pub pubsub_broadcast: Counter,
    pub pubsub_canary: Counter,
    /// Room metadata cache.
    pub cache_hits: Counter,
    pub cache_misses: Counter,
    pub cache_invalidations: Counter,
}

impl Default for ClusterMetrics {
    fn default() -> Self {
        Self {
            events_published: EventsPublished::default(),
            connections_limit: Gauge::noop(),
            events_received: Counter::noop(),
            events_deduplicated: Counter::noop(),
            publish_seconds: Histogram::noop(),
            delivery_seconds: Histogram::noop(),
            deliveries: Counter::noop(),
            slow_consumers: Counter::noop(),
            connections_total: Counter::noop(),
            connections_active: Gauge::noop(),
            rooms_active: Gauge::noop(),
            rooms_unreconciled: Gauge::noop(),
            gap_fills: Counter::noop(),
            resyncs: Counter::noop(),
            redis_errors: Counter::noop(),
            pubsub_room: Counter::noop(),
            pubsub_broadcast: Counter::noop(),
            pubsub_canary: Counter::noop(),
            cache_hits: Counter::noop(),
            cache_misses: Counter::noop(),
            cache_invalidations: Counter::noop(),
        }
    }
}
