//! Shared by the cluster integration tests and the benchmarks: stores, managers and brokers
//! on real backends (SQLite files, the shared Redis, redis-servers the test starts).

#![allow(dead_code)]

pub mod recorder;

use std::path::Path;
use std::sync::Arc;

use synctv_cluster::broker::{Broker, LocalBus};
use synctv_cluster::dedup::MessageDeduplicator;
use synctv_cluster::history::HistoryLimits;
use synctv_cluster::manager::{ClusterManager, ClusterOptions, Timings};
use synctv_cluster::metrics::ClusterMetrics;
use synctv_cluster::node::NodeInfo;
use synctv_cluster::redis::RedisBroker;
use synctv_core::config::{DatabaseConfig, RedisConfig};
use synctv_core::ids::{NodeId, RoomId, UserId};
use synctv_core::model::RoomSettings;
use synctv_core::store::{NewRoom, Store};

pub async fn sqlite_store(dir: &Path, name: &str) -> Store {
    let store = Store::connect(&DatabaseConfig {
        url: format!("sqlite://{}/{name}.db", dir.display()),
        ..DatabaseConfig::default()
    })
    .await
    .unwrap();
    store.migrate().await.unwrap();
    store
}

pub async fn create_room(store: &Store, name: &str) -> RoomId {
    store
        .create_room(NewRoom {
            name: name.into(),
            owner_id: UserId::from("owner"),
            owner_registered: false,
            password_hash: None,
            settings: RoomSettings::default(),
        })
        .await
        .unwrap()
        .room_id
}

pub fn options(name: &str, history: HistoryLimits, recent_chat: usize) -> ClusterOptions {
    ClusterOptions {
        node: NodeInfo::new(name.into(), "127.0.0.1:0".into()),
        history,
        recent_chat,
        conn_limits: synctv_cluster::connection::ConnLimits::global(20_000),
        metrics: ClusterMetrics::default(),
        timings: Timings::default(),
        cache_capacity: 100,
        cache_ttl_ms: 30_000,
        dedup_capacity: 10_000,
        dedup_window_ms: 60_000,
    }
}

/// A single-node manager over a fresh SQLite store holding one room.
pub async fn sqlite_manager(
    dir: &Path,
    name: &str,
    history: HistoryLimits,
    recent_chat: usize,
) -> (ClusterManager, RoomId, Store) {
    let store = sqlite_store(dir, name).await;
    let room = create_room(&store, name).await;
    let mgr = ClusterManager::local(store.clone(), options(name, history, recent_chat));
    mgr.start().await.unwrap();
    (mgr, room, store)
}

/// Managers of `n` nodes sharing one store and one in-process bus.
pub async fn bus_managers(store: &Store, n: usize, history: HistoryLimits) -> Vec<ClusterManager> {
    let bus = LocalBus::new(history);
    let mut out = Vec::new();
    for i in 0..n {
        let mgr = ClusterManager::on_bus(
            &bus,
            store.clone(),
            options(&format!("n{i}"), history, 10_000),
        );
        mgr.start().await.unwrap();
        out.push(mgr);
    }
    out
}

pub fn redis_config(url: &str, prefix: &str, cluster: bool) -> RedisConfig {
    RedisConfig {
        url: url.into(),
        key_prefix: prefix.into(),
        cluster_mode: cluster,
        canary_interval_ms: 100,
        canary_timeout_ms: 1000,
        ..RedisConfig::default()
    }
}

/// A Redis broker of a new node (not started).
pub async fn redis_broker(cfg: &RedisConfig, history: HistoryLimits) -> (NodeId, Arc<dyn Broker>) {
    let node = NodeId::generate();
    let dedup = Arc::new(MessageDeduplicator::new(10_000, 60_000));
    let b = RedisBroker::connect(cfg, history, node.clone(), dedup, ClusterMetrics::default())
        .await
        .unwrap();
    (node, Arc::new(b))
}
