//! The node registry and the cluster's background work: heartbeats, dead-node cleanup,
//! reconciliation of rooms served alone during an outage; and the operator API on top.

use std::collections::HashSet;

use synctv_core::ids::NodeId;

use super::ClusterManager;
use crate::Result;
use crate::broker::{BrokerHealth, EventMeta};
use crate::lock;
use crate::node::NodeStatus;

/// Outcome of the operator's "drop this node".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropNode {
    Dropped,
    /// It still heartbeats.
    Alive,
    NotFound,
}

impl ClusterManager {
    /// Every live node (in single-node mode, this one).
    pub async fn nodes(&self) -> Vec<NodeStatus> {
        let me = self.own_status();
        let mut out = vec![me.clone()];
        match self.inner.registry.nodes().await {
            Ok(nodes) => out.extend(
                nodes
                    .into_iter()
                    .filter(|(s, alive)| *alive && s.node_id != me.node_id)
                    .map(|(s, _)| s),
            ),
            Err(e) => tracing::warn!(error = %e, "reading the node registry failed"),
        }
        out.sort_by(|a, b| a.name.cmp(&b.name).then(a.node_id.cmp(&b.node_id)));
        out
    }

    pub(super) async fn heartbeat(&self) {
        let ttl = self.inner.timings.node_ttl.as_millis() as u64;
        if let Err(e) = self.inner.registry.heartbeat(&self.own_status(), ttl).await {
            tracing::debug!(error = %e, "heartbeat failed");
        }
    }

    /// The background loop: heartbeats, housekeeping, reconciliation.
    pub(super) async fn background(&self) {
        let t = self.inner.timings.clone();
        let mut heartbeat = tokio::time::interval(t.heartbeat_interval);
        let mut housekeeping = tokio::time::interval(t.housekeeping_interval);
        let mut reconcile = tokio::time::interval(t.reconcile_interval);
        let mut retention = tokio::time::interval(t.retention_interval);
        for i in [
            &mut heartbeat,
            &mut housekeeping,
            &mut reconcile,
            &mut retention,
        ] {
            i.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        }
        loop {
            tokio::select! {
                _ = self.inner.stop.cancelled() => return,
                _ = heartbeat.tick() => self.heartbeat().await,
                _ = housekeeping.tick() => self.housekeeping().await,
                _ = reconcile.tick() => self.reconcile_dirty().await,
                _ = retention.tick() => self.chat_retention().await,
            }
        }
    }

    /// One node at a time: remove the presence of nodes that stopped heartbeating.
    async fn housekeeping(&self) {
        if self.inner.broker.health() == BrokerHealth::Failing {
            return;
        }
        let ttl = self.inner.timings.lock_ttl.as_millis() as u64;
        let guard = match lock::try_acquire(&self.inner.locks, "housekeeping", ttl).await {
            Ok(Some(g)) => g,
            Ok(None) => return,
            Err(e) => {
                tracing::debug!(error = %e, "housekeeping lock unavailable");
                return;
            }
        };
        match self.inner.registry.nodes().await {
            Ok(nodes) => {
                for (status, alive) in nodes {
                    if !alive && status.node_id != self.inner.node.node_id {
                        tracing::warn!(node = %status.node_id, name = %status.name, "node stopped heartbeating: removing its presence");
                        if let Err(e) = self.cleanup_node(&status.node_id).await {
                            tracing::warn!(node = %status.node_id, error = %e, "dead node cleanup failed");
                        }
                    }
                }
            }
            Err(e) => tracing::debug!(error = %e, "reading the node registry failed"),
        }
        if let Err(e) = guard.release().await {
            tracing::debug!(error = %e, "releasing the housekeeping lock failed");
        }
    }

    /// One node at a time: delete chat beyond the retention limits.
    async fn chat_retention(&self) {
        let t = &self.inner.timings;
        if t.chat_max_age.is_zero() && t.chat_per_room == 0 {
            return;
        }
        // Held for one interval and never released: whichever node runs it first, the others
        // find it taken until the next interval, so it runs about once per interval
        // cluster-wide (and a holder that dies simply lets it expire).
        let ttl = (t.retention_interval.as_millis() as u64)
            .saturating_sub(100)
            .max(1);
        let Ok(Some(guard)) = lock::try_acquire(&self.inner.locks, "chat-retention", ttl).await
        else {
            return;
        };
        let before = if t.chat_max_age.is_zero() {
            0
        } else {
            synctv_core::time::now_ms().saturating_sub(t.chat_max_age.as_millis() as u64)
        };
        match self.inner.store.prune_chat(before, t.chat_per_room).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(deleted = n, "chat retention"),
            Err(e) => tracing::warn!(error = %e, "chat retention failed"),
        }
        drop(guard); // left to expire (see above)
    }

    /// Remove `node`'s presence from every room it had registered, then the node itself.
    async fn cleanup_node(&self, node: &NodeId) -> Result<()> {
        let rooms: HashSet<_> = self
            .inner
            .registry
            .rooms_of(node)
            .await?
            .into_iter()
            .collect();
        for room in rooms {
            let meta = EventMeta::new(self.inner.node.node_id.clone());
            let events = self.inner.broker.drop_node(&room, node, &meta).await?;
            if events.is_empty() {
                continue;
            }
            let g = self.lock_room(&room).await;
            for p in events {
                self.inner.metrics.events_published.record(&room, &p.event);
                g.offer_own(p);
            }
        }
        self.inner.registry.forget(node).await
    }

    /// Operator: drop a node that stopped heartbeating, and its presence, now.
    pub async fn drop_node(&self, node: &NodeId) -> Result<DropNode> {
        let nodes = self.inner.registry.nodes().await?;
        match nodes.iter().find(|(s, _)| &s.node_id == node) {
            None => Ok(DropNode::NotFound),
            Some((_, true)) => Ok(DropNode::Alive),
            Some(_) if node == &self.inner.node.node_id => Ok(DropNode::Alive),
            Some(_) => {
                self.cleanup_node(node).await?;
                Ok(DropNode::Dropped)
            }
        }
    }
}
