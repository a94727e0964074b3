//! Metric handles the cluster layer updates. The API registers them with its Prometheus
//! recorder and passes them in; handles are atomics, so updating one on the hot path is a
//! single atomic add. `ClusterMetrics::default()` is a no-op set (unit tests).

use metrics::{Counter, Gauge};

#[derive(Clone)]
pub struct ClusterMetrics {
    /// Room events this node published.
    pub events_published: Counter,
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
}

impl Default for ClusterMetrics {
    fn default() -> Self {
        Self {
            events_published: Counter::noop(),
            deliveries: Counter::noop(),
            slow_consumers: Counter::noop(),
            connections_total: Counter::noop(),
            connections_active: Gauge::noop(),
            rooms_active: Gauge::noop(),
        }
    }
}
