//! Shared by the cluster integration tests and the fan-out benchmark: a single-node
//! `ClusterManager` over a fresh SQLite store holding one room.

#![allow(dead_code)]

use std::path::Path;

use synctv_cluster::history::HistoryLimits;
use synctv_cluster::manager::{ClusterManager, ClusterOptions};
use synctv_cluster::metrics::ClusterMetrics;
use synctv_cluster::node::NodeInfo;
use synctv_core::config::DatabaseConfig;
use synctv_core::ids::{RoomId, UserId};
use synctv_core::model::RoomSettings;
use synctv_core::store::{NewRoom, Store};

pub async fn sqlite_manager(
    dir: &Path,
    name: &str,
    history: HistoryLimits,
    recent_chat: usize,
) -> (ClusterManager, RoomId, Store) {
    let store = Store::connect(&DatabaseConfig {
        url: format!("sqlite://{}/{name}.db", dir.display()),
        ..DatabaseConfig::default()
    })
    .await
    .unwrap();
    store.migrate().await.unwrap();
    let room = store
        .create_room(NewRoom {
            name: name.into(),
            owner_id: UserId::from("owner"),
            owner_registered: false,
            password_hash: None,
            settings: RoomSettings::default(),
        })
        .await
        .unwrap()
        .room_id;
    let mgr = ClusterManager::local(
        store.clone(),
        ClusterOptions {
            node: NodeInfo::new(name.into(), "127.0.0.1:0".into()),
            history,
            recent_chat,
            max_connections: 20_000,
            metrics: ClusterMetrics::default(),
        },
    );
    (mgr, room, store)
}
