//! The node registry and distributed locks in Redis.
//!
//! Registry keys share the `{nodes}` hash tag (one slot): `{p}{nodes}:all` maps node id to
//! status JSON, `{p}{nodes}:alive:<id>` exists while the node heartbeats (its TTL is the
//! node TTL), `{p}{nodes}:rooms:<id>` lists the rooms it registered presence in. A lock is
//! `SET {p}lock:<name> <token> NX PX <ttl>`, released by a script that deletes it only if it
//! still holds the caller's token.

use async_trait::async_trait;
use redis::Value;
use synctv_core::ids::{NodeId, RoomId};

use super::RedisBroker;
use crate::Result;
use crate::lock::{LockService, token};
use crate::node::NodeStatus;
use crate::registry::Registry;

#[async_trait]
impl Registry for RedisBroker {
    async fn heartbeat(&self, status: &NodeStatus, ttl_ms: u64) -> Result<()> {
        let json = serde_json::to_string(status).expect("status serializes");
        let mut c = self.cmds.clone();
        redis::pipe()
            .cmd("SET")
            .arg(self.keys.node_alive(&status.node_id))
            .arg(1)
            .arg("PX")
            .arg(ttl_ms.max(1))
            .ignore()
            .cmd("HSET")
            .arg(self.keys.nodes())
            .arg(status.node_id.as_str())
            .arg(json)
            .ignore()
            .query_async::<()>(&mut c)
            .await
            .map_err(|e| self.err(e))
    }

    async fn nodes(&self) -> Result<Vec<(NodeStatus, bool)>> {
        let mut c = self.cmds.clone();
        let all: Vec<(String, String)> = redis::cmd("HGETALL")
            .arg(self.keys.nodes())
            .query_async(&mut c)
            .await
            .map_err(|e| self.err(e))?;
        if all.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for (id, _) in &all {
            pipe.cmd("EXISTS")
                .arg(self.keys.node_alive(&NodeId::from(id.as_str())));
        }
        let alive: Vec<bool> = pipe.query_async(&mut c).await.map_err(|e| self.err(e))?;
        Ok(all
            .into_iter()
            .zip(alive)
            .filter_map(|((_, json), alive)| {
                serde_json::from_str::<NodeStatus>(&json)
                    .ok()
                    .map(|s| (s, alive))
            })
            .collect())
    }

    async fn add_room(&self, node: &NodeId, room: &RoomId) -> Result<()> {
        let mut c = self.cmds.clone();
        redis::cmd("SADD")
            .arg(self.keys.node_rooms(node))
            .arg(room.as_str())
            .query_async::<Value>(&mut c)
            .await
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    async fn remove_room(&self, node: &NodeId, room: &RoomId) -> Result<()> {
        let mut c = self.cmds.clone();
        redis::cmd("SREM")
            .arg(self.keys.node_rooms(node))
            .arg(room.as_str())
            .query_async::<Value>(&mut c)
            .await
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    async fn rooms_of(&self, node: &NodeId) -> Result<Vec<RoomId>> {
        let mut c = self.cmds.clone();
        let rooms: Vec<String> = redis::cmd("SMEMBERS")
            .arg(self.keys.node_rooms(node))
            .query_async(&mut c)
            .await
            .map_err(|e| self.err(e))?;
        Ok(rooms.into_iter().map(RoomId::from).collect())
    }

    async fn forget(&self, node: &NodeId) -> Result<()> {
        let mut c = self.cmds.clone();
        redis::pipe()
            .cmd("DEL")
            .arg(self.keys.node_alive(node))
            .ignore()
            .cmd("DEL")
            .arg(self.keys.node_rooms(node))
            .ignore()
            .cmd("HDEL")
            .arg(self.keys.nodes())
            .arg(node.as_str())
            .ignore()
            .query_async::<()>(&mut c)
            .await
            .map_err(|e| self.err(e))
    }
}

#[async_trait]
impl LockService for RedisBroker {
    async fn try_lock(&self, name: &str, ttl_ms: u64) -> Result<Option<String>> {
        let t = token();
        let mut c = self.cmds.clone();
        let set: Option<String> = redis::cmd("SET")
            .arg(self.keys.lock(name))
            .arg(&t)
            .arg("NX")
            .arg("PX")
            .arg(ttl_ms.max(1))
            .query_async(&mut c)
            .await
            .map_err(|e| self.err(e))?;
        Ok(set.map(|_| t))
    }

    async fn unlock(&self, name: &str, token: &str) -> Result<bool> {
        let mut inv = self.scripts.unlock.prepare_invoke();
        inv.key(self.keys.lock(name)).arg(token);
        let n: i64 = self.run(&inv).await?;
        Ok(n == 1)
    }
}
