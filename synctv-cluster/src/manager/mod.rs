//! `ClusterManager`: the one API the gateway uses to change rooms and follow them, the same
//! in single-node and cluster mode (only the broker, registry and locks behind it differ).
//!
//! - [`guard`]: a room's changes: validate against the materialized state, store in a
//!   database transaction, publish, commit, deliver locally.
//! - [`join`]: sockets joining and leaving rooms: snapshot, replay, presence.
//! - [`repair`]: what keeps every node's rooms exact: gap fills, reloads, detaching from an
//!   unreachable broker and reconciling when it is back.
//! - [`ops`]: the node registry, heartbeats, dead-node cleanup, housekeeping, operator API.
//! - [`sink`]: what arrives from the broker.

mod guard;
mod join;
mod kick;
mod ops;
mod repair;
mod sink;

pub use kick::Kick;

pub use guard::RoomGuard;
pub use join::{Joined, Joiner, Membership};
pub use ops::DropNode;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use serde_json::value::RawValue;
use synctv_core::config::Config;
use synctv_core::ids::{ConnId, NodeId, RoomId, UserId};
use synctv_core::model::{Member, RoomRecord};
use synctv_core::protocol::{ServerFrame, conn_id_string};
use synctv_core::store::Store;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::Result;
use crate::broker::{Broker, BrokerHealth, LocalBroker, LocalBus, StreamPosition};
use crate::cache::MetaCache;
use crate::connection::ConnectionManager;
use crate::dedup::MessageDeduplicator;
use crate::history::HistoryLimits;
use crate::hub::RoomMessageHub;
use crate::lock::LockService;
use crate::metrics::ClusterMetrics;
use crate::node::{NodeInfo, NodeStatus};
use crate::registry::Registry;

/// Timings of the cluster's background work.
#[derive(Debug, Clone)]
pub struct Timings {
    pub gap_timeout: Duration,
    pub heartbeat_interval: Duration,
    pub node_ttl: Duration,
    pub housekeeping_interval: Duration,
    pub lock_ttl: Duration,
    /// How often detached rooms are checked for reconciliation.
    pub reconcile_interval: Duration,
    /// Chat retention: how often, the age limit (zero: none) and the per-room limit (0:
    /// none).
    pub retention_interval: Duration,
    pub chat_max_age: Duration,
    pub chat_per_room: u64,
}

impl Timings {
    pub fn from_config(c: &Config) -> Self {
        Self {
            gap_timeout: Duration::from_millis(c.redis.gap_timeout_ms),
            heartbeat_interval: Duration::from_millis(c.cluster.heartbeat_interval_ms()),
            node_ttl: Duration::from_secs(c.cluster.node_ttl_secs),
            housekeeping_interval: Duration::from_secs(c.cluster.housekeeping_interval_secs),
            lock_ttl: Duration::from_secs(c.cluster.lock_ttl_secs),
            reconcile_interval: Duration::from_millis(250),
            retention_interval: Duration::from_secs(c.rooms.chat_retention_interval_secs),
            chat_max_age: Duration::from_secs(c.rooms.chat_retention_days * 86_400),
            chat_per_room: c.rooms.chat_retention_per_room,
        }
    }
}

impl Default for Timings {
    fn default() -> Self {
        Self::from_config(&Config::default())
    }
}

/// How to build a manager.
#[derive(Clone)]
pub struct ClusterOptions {
    pub node: NodeInfo,
    pub history: HistoryLimits,
    /// Chat messages kept in room snapshots.
    pub recent_chat: usize,
    pub conn_limits: crate::connection::ConnLimits,
    pub metrics: ClusterMetrics,
    pub timings: Timings,
    pub cache_capacity: usize,
    pub cache_ttl_ms: u64,
    pub dedup_capacity: usize,
    pub dedup_window_ms: u64,
}

impl ClusterOptions {
    pub fn from_config(c: &Config, node: NodeInfo, metrics: ClusterMetrics) -> Self {
        Self {
            node,
            history: HistoryLimits {
                size: c.rooms.history_size,
                ttl_ms: c.rooms.history_ttl_secs * 1000,
            },
            recent_chat: c.rooms.recent_chat,
            conn_limits: crate::connection::ConnLimits::from_config(c),
            metrics,
            timings: Timings::from_config(c),
            cache_capacity: c.cluster.cache_capacity,
            cache_ttl_ms: c.cluster.cache_ttl_secs * 1000,
            dedup_capacity: c.redis.dedup_capacity,
            dedup_window_ms: c.redis.dedup_window_secs * 1000,
        }
    }
}

/// The backends a manager runs on.
pub struct Backend {
    pub broker: Arc<dyn Broker>,
    pub registry: Arc<dyn Registry>,
    pub locks: Arc<dyn LockService>,
    /// The ids of this node's recent events, when its broker echoes them back (Redis).
    pub dedup: Option<Arc<MessageDeduplicator>>,
}

#[derive(Clone)]
pub struct ClusterManager {
    inner: Arc<Inner>,
}

struct Inner {
    node: NodeInfo,
    store: Store,
    hub: Arc<RoomMessageHub>,
    broker: Arc<dyn Broker>,
    registry: Arc<dyn Registry>,
    locks: Arc<dyn LockService>,
    dedup: Option<Arc<MessageDeduplicator>>,
    conns: ConnectionManager,
    recent_chat: usize,
    metrics: ClusterMetrics,
    timings: Timings,
    /// Rooms whose stream may disagree with what clients saw (local-only events during an
    /// outage, an event published but not committed): a new epoch once the broker is back.
    dirty: Mutex<HashSet<RoomId>>,
    rooms_cache: MetaCache<Option<RoomRecord>>,
    members_cache: MetaCache<Option<Member>>,
    /// Whether a registered account still exists (tokens outlive deleted accounts).
    users_cache: MetaCache<bool>,
    stop: CancellationToken,
    /// `node{node_id, node}`: the parent of every log line of this node's background work.
    span: tracing::Span,
}

impl ClusterManager {
    /// Build the manager the configuration asks for: in-process broker without `redis.url`,
    /// the Redis broker (connected now: fails when Redis is unreachable) with it. Call
    /// [`ClusterManager::start`] before serving.
    pub async fn from_config(
        config: &Config,
        store: Store,
        opts: ClusterOptions,
    ) -> Result<ClusterManager> {
        if !config.redis.enabled() {
            return Ok(Self::local(store, opts));
        }
        let dedup = Arc::new(MessageDeduplicator::new(
            opts.dedup_capacity,
            opts.dedup_window_ms,
        ));
        let redis = crate::redis::RedisBroker::connect(
            &config.redis,
            opts.history,
            opts.node.node_id.clone(),
            dedup.clone(),
            opts.metrics.clone(),
        )
        .await?;
        let redis = Arc::new(redis);
        let backend = Backend {
            broker: redis.clone(),
            registry: redis.clone(),
            locks: redis,
            dedup: Some(dedup),
        };
        Ok(Self::with_backend(store, opts, backend))
    }

    /// A single-node manager: events stay in this process.
    pub fn local(store: Store, opts: ClusterOptions) -> Self {
        let bus = LocalBus::new(opts.history);
        Self::on_bus(&bus, store, opts)
    }

    /// A manager on a shared in-process bus (several nodes in one process, for tests).
    pub fn on_bus(bus: &LocalBus, store: Store, opts: ClusterOptions) -> Self {
        let broker: LocalBroker = bus.broker(opts.node.node_id.clone());
        let backend = Backend {
            broker: Arc::new(broker),
            registry: bus.registry(),
            locks: bus.locks(),
            dedup: None, // the bus never hands a node its own events
        };
        Self::with_backend(store, opts, backend)
    }

    pub fn with_backend(store: Store, opts: ClusterOptions, backend: Backend) -> Self {
        fn cache<V: Clone>(opts: &ClusterOptions) -> MetaCache<V> {
            let m = &opts.metrics;
            MetaCache::new(
                opts.cache_capacity,
                opts.cache_ttl_ms,
                m.cache_hits.clone(),
                m.cache_misses.clone(),
                m.cache_invalidations.clone(),
            )
        }
        let span =
            tracing::info_span!("node", node_id = %opts.node.node_id, node = %opts.node.name);
        Self {
            inner: Arc::new(Inner {
                hub: Arc::new(RoomMessageHub::new(opts.metrics.clone())),
                conns: ConnectionManager::new(opts.conn_limits, opts.metrics.clone()),
                rooms_cache: cache(&opts),
                members_cache: cache(&opts),
                users_cache: cache(&opts),
                node: opts.node,
                store,
                broker: backend.broker,
                registry: backend.registry,
                locks: backend.locks,
                dedup: backend.dedup,
                recent_chat: opts.recent_chat,
                metrics: opts.metrics,
                timings: opts.timings,
                dirty: Mutex::new(HashSet::new()),
                stop: CancellationToken::new(),
                span,
            }),
        }
    }

    /// Start receiving from the broker and the background work (heartbeats, housekeeping,
    /// reconciliation). The node registers itself now.
    pub async fn start(&self) -> Result<()> {
        let span = self.inner.span.clone();
        async {
            self.inner
                .broker
                .start(Arc::new(sink::Sink::new(self)))
                .await?;
            self.heartbeat().await;
            let mgr = self.clone();
            tokio::spawn(async move { mgr.background().await }.in_current_span());
            Ok(())
        }
        .instrument(span)
        .await
    }

    /// The span of this node (`node{node_id, node}`) for its log lines.
    pub fn span(&self) -> &tracing::Span {
        &self.inner.span
    }

    /// Stop the background work, leave the registry (other nodes drop this node at once) and
    /// close the broker. Call after every socket has left.
    pub async fn close(&self) {
        self.inner.stop.cancel();
        if let Err(e) = self.inner.registry.forget(&self.inner.node.node_id).await {
            tracing::warn!(error = %e, "leaving the node registry failed");
        }
        self.inner.broker.close().await;
    }

    pub fn node(&self) -> &NodeInfo {
        &self.inner.node
    }

    pub fn node_id(&self) -> &NodeId {
        &self.inner.node.node_id
    }

    pub fn connections(&self) -> &ConnectionManager {
        &self.inner.conns
    }

    pub fn hub(&self) -> &RoomMessageHub {
        &self.inner.hub
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// "local" or "redis".
    pub fn broker_kind(&self) -> &'static str {
        self.inner.broker.kind()
    }

    pub fn broker_health(&self) -> BrokerHealth {
        self.inner.broker.health()
    }

    /// Users online in `room` now, cluster-wide.
    pub async fn member_count(&self, room: &RoomId) -> usize {
        match self.inner.broker.member_count(room).await {
            Ok(n) => n,
            Err(_) => self.inner.hub.member_count(room),
        }
    }

    /// The room's current stream position as the broker has it.
    pub async fn position(&self, room: &RoomId) -> Result<StreamPosition> {
        Ok(self.inner.broker.read(room, u64::MAX, None).await?.position)
    }

    /// The locks shared by the cluster's nodes.
    pub fn locks(&self) -> &Arc<dyn LockService> {
        &self.inner.locks
    }

    /// Take the room's write lock on this node.
    pub async fn lock_room(&self, room: &RoomId) -> RoomGuard {
        RoomGuard::lock(self, room).await
    }

    /// A room row, from the cache when fresh.
    pub async fn cached_room(&self, id: &RoomId) -> Result<Option<RoomRecord>> {
        let store = &self.inner.store;
        Ok(self
            .inner
            .rooms_cache
            .get_or_load(&format!("room:{id}"), || store.get_room(id))
            .await?)
    }

    /// A membership row, from the cache when fresh.
    pub async fn cached_member(&self, room: &RoomId, user: &UserId) -> Result<Option<Member>> {
        let store = &self.inner.store;
        Ok(self
            .inner
            .members_cache
            .get_or_load(&format!("member:{room}:{user}"), || {
                store.get_member(room, user)
            })
            .await?)
    }

    /// Whether the registered account `user` exists, from the cache when fresh.
    pub async fn cached_user_exists(&self, user: &UserId) -> Result<bool> {
        let store = &self.inner.store;
        Ok(self
            .inner
            .users_cache
            .get_or_load(&format!("user:{user}"), || store.user_exists(user))
            .await?)
    }

    /// An account was deleted: every node forgets it and closes its sockets (4007).
    pub async fn user_deleted(&self, user: &UserId) {
        self.invalidate(format!("user:{user}")).await;
        self.kick_everywhere(user).await;
    }

    /// A room row changed: drop it from every node's cache.
    pub async fn invalidate_room(&self, id: &RoomId) {
        self.invalidate(format!("room:{id}")).await
    }

    /// A membership row changed: drop it from every node's cache.
    pub async fn invalidate_member(&self, room: &RoomId, user: &UserId) {
        self.invalidate(format!("member:{room}:{user}")).await
    }

    async fn invalidate(&self, key: String) {
        self.invalidate_local(&key);
        let msg = serde_json::json!({"type": "cache_invalidate", "key": key});
        if let Err(e) = self
            .inner
            .broker
            .broadcast(msg.to_string().as_bytes())
            .await
        {
            tracing::warn!(error = %e, key, "cache invalidation not broadcast");
        }
    }

    fn invalidate_local(&self, key: &str) {
        if key.starts_with("room:") {
            self.inner.rooms_cache.invalidate(key);
        } else if key.starts_with("user:") {
            self.inner.users_cache.invalidate(key);
        } else {
            self.inner.members_cache.invalidate(key);
        }
    }

    /// Drop every cached entry on every node.
    pub async fn clear_caches(&self) {
        self.clear_caches_local();
        let msg = serde_json::json!({"type": "cache_clear"});
        if let Err(e) = self
            .inner
            .broker
            .broadcast(msg.to_string().as_bytes())
            .await
        {
            tracing::warn!(error = %e, "cache clear not broadcast");
        }
    }

    fn clear_caches_local(&self) {
        self.inner.rooms_cache.clear();
        self.inner.members_cache.clear();
        self.inner.users_cache.clear();
    }

    /// Periodic upkeep: expire history, forget idle rooms and streams.
    pub fn sweep(&self, now_ms: u64) {
        self.inner.hub.sweep();
        self.inner.broker.sweep(now_ms);
    }

    /// This node's status row now.
    pub fn own_status(&self) -> NodeStatus {
        let health = if self.inner.conns.is_draining() {
            "draining"
        } else if self.inner.broker.health() == BrokerHealth::Failing {
            "degraded"
        } else {
            "ok"
        };
        self.inner.node.status(self.inner.conns.active(), health)
    }

    /// The `welcome` frame (fresh snapshot) for socket `conn` at `pos`.
    fn welcome(&self, conn: ConnId, pos: &StreamPosition, snapshot: &RawValue) -> Bytes {
        let node = &self.inner.node.node_id;
        ServerFrame::Welcome {
            conn_id: conn_id_string(node, conn),
            node_id: node,
            server_time_ms: synctv_core::time::now_ms(),
            seq: pos.seq,
            epoch: &pos.epoch,
            resumed: false,
            room: snapshot,
        }
        .encode()
    }

    /// Remember an event id this node is about to publish (to drop its echo).
    fn note_sent(&self, id: &synctv_core::ids::EventId) {
        if let Some(d) = &self.inner.dedup {
            d.sent(id, synctv_core::time::now_ms());
        }
    }

    /// The publish failed: its echo, if any, must not be dropped.
    fn forget_sent(&self, id: &synctv_core::ids::EventId) {
        if let Some(d) = &self.inner.dedup {
            d.forget(id);
        }
    }

    fn mark_dirty(&self, room: &RoomId) {
        let mut dirty = self.inner.dirty.lock().unwrap_or_else(|p| p.into_inner());
        dirty.insert(room.clone());
        self.inner
            .metrics
            .rooms_unreconciled
            .set(dirty.len() as f64);
    }

    fn dirty_rooms(&self) -> Vec<RoomId> {
        self.inner
            .dirty
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .cloned()
            .collect()
    }

    fn clear_dirty(&self, room: &RoomId) {
        let mut dirty = self.inner.dirty.lock().unwrap_or_else(|p| p.into_inner());
        dirty.remove(room);
        self.inner
            .metrics
            .rooms_unreconciled
            .set(dirty.len() as f64);
    }
}
