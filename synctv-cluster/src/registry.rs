//! The node registry: which nodes are alive (heartbeats with a TTL), what each reports about
//! itself, and which rooms each has registered presence in (so a survivor can remove a dead
//! node's users). [`LocalRegistry`] serves one process; the Redis registry a cluster.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use async_trait::async_trait;
use synctv_core::ids::{NodeId, RoomId};

use crate::Result;
use crate::node::NodeStatus;

#[async_trait]
pub trait Registry: Send + Sync + 'static {
    /// Record `status` and keep its node alive for `ttl_ms`.
    async fn heartbeat(&self, status: &NodeStatus, ttl_ms: u64) -> Result<()>;

    /// Every registered node with whether its heartbeat is current.
    async fn nodes(&self) -> Result<Vec<(NodeStatus, bool)>>;

    /// `node` has (or may have) presence in `room`.
    async fn add_room(&self, node: &NodeId, room: &RoomId) -> Result<()>;

    async fn remove_room(&self, node: &NodeId, room: &RoomId) -> Result<()>;

    async fn rooms_of(&self, node: &NodeId) -> Result<Vec<RoomId>>;

    /// Remove `node` and its room list (it stopped, or its presence was cleaned up).
    async fn forget(&self, node: &NodeId) -> Result<()>;
}

#[derive(Default)]
pub struct LocalRegistry {
    inner: Mutex<LocalInner>,
}

#[derive(Default)]
struct LocalInner {
    nodes: HashMap<NodeId, (NodeStatus, u64)>,
    rooms: HashMap<NodeId, HashSet<RoomId>>,
}

impl LocalRegistry {
    fn lock(&self) -> std::sync::MutexGuard<'_, LocalInner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait]
impl Registry for LocalRegistry {
    async fn heartbeat(&self, status: &NodeStatus, ttl_ms: u64) -> Result<()> {
        let until = synctv_core::time::now_ms() + ttl_ms;
        self.lock()
            .nodes
            .insert(status.node_id.clone(), (status.clone(), until));
        Ok(())
    }

    async fn nodes(&self) -> Result<Vec<(NodeStatus, bool)>> {
        let now = synctv_core::time::now_ms();
        Ok(self
            .lock()
            .nodes
            .values()
            .map(|(s, until)| (s.clone(), *until > now))
            .collect())
    }

    async fn add_room(&self, node: &NodeId, room: &RoomId) -> Result<()> {
        self.lock()
            .rooms
            .entry(node.clone())
            .or_default()
            .insert(room.clone());
        Ok(())
    }

    async fn remove_room(&self, node: &NodeId, room: &RoomId) -> Result<()> {
        if let Some(r) = self.lock().rooms.get_mut(node) {
            r.remove(room);
        }
        Ok(())
    }

    async fn rooms_of(&self, node: &NodeId) -> Result<Vec<RoomId>> {
        Ok(self
            .lock()
            .rooms
            .get(node)
            .map(|r| r.iter().cloned().collect())
            .unwrap_or_default())
    }

    async fn forget(&self, node: &NodeId) -> Result<()> {
        let mut g = self.lock();
        g.nodes.remove(node);
        g.rooms.remove(node);
        Ok(())
    }
}
