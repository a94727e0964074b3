//! This node's identity and the status rows of `GET /api/cluster/status`.

use serde::{Deserialize, Serialize};
use synctv_core::ids::NodeId;

/// Who this node is. `node_id` is new on every start (a restarted node is a new node);
/// `name` is the operator's (`NODE_NAME`) and survives restarts.
#[derive(Debug, Clone)]
pub struct NodeInfo {
    pub node_id: NodeId,
    pub name: String,
    pub address: String,
    pub started_at_ms: u64,
}

impl NodeInfo {
    pub fn new(name: String, address: String) -> Self {
        Self {
            node_id: NodeId::generate(),
            name,
            address,
            started_at_ms: synctv_core::time::now_ms(),
        }
    }

    /// This node's status row now.
    pub fn status(&self, connections: usize, health: &str) -> NodeStatus {
        NodeStatus {
            node_id: self.node_id.clone(),
            name: self.name.clone(),
            address: self.address.clone(),
            started_at: synctv_core::time::rfc3339(self.started_at_ms),
            last_heartbeat: synctv_core::time::rfc3339(synctv_core::time::now_ms()),
            connections,
            health: health.to_string(),
        }
    }
}

/// One live node as reported by cluster status (times in RFC 3339).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeStatus {
    pub node_id: NodeId,
    pub name: String,
    pub address: String,
    pub started_at: String,
    pub last_heartbeat: String,
    pub connections: usize,
    /// "ok", "degraded" (its Redis is failing) or "draining".
    pub health: String,
}
