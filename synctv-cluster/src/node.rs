//! This node's identity and the status rows of `GET /api/cluster/status`.

use serde::Serialize;
use synctv_core::ids::NodeId;

/// Who this node is. `node_id` is new on every start.
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
}

/// One live node as reported by cluster status (times in RFC 3339).
#[derive(Debug, Clone, Serialize)]
pub struct NodeStatus {
    pub node_id: NodeId,
    pub name: String,
    pub address: String,
    pub started_at: String,
    pub last_heartbeat: String,
    pub connections: usize,
    /// "ok" or "draining".
    pub health: &'static str,
}
