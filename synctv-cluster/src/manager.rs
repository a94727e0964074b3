//! `ClusterManager`: the one API the gateway uses to change rooms and follow them. Its shape
//! does not depend on the broker behind it (local now, Redis in cluster mode).
//!
//! Every mutation of a room goes through a [`RoomGuard`] (the room's write lock on this
//! node): validate against the materialized state, persist, then publish. Publishing while
//! holding the lock makes "persisted before published" and "seq order = commit order" hold.
//! Joining takes the same lock: the snapshot, the subscription and the stream position are
//! taken together, so a client's first event is exactly `welcome.seq + 1`.

use std::sync::Arc;

use bytes::Bytes;
use serde_json::value::RawValue;
use synctv_core::event::{EventDraft, MemberRef, RoomEvent};
use synctv_core::ids::{ConnId, Epoch, RoomId, UserId};
use synctv_core::model::{Permissions, Role};
use synctv_core::room_state::RoomState;
use synctv_core::store::Store;

use crate::broker::{Broker, LocalBroker};
use crate::connection::ConnectionManager;
use crate::history::HistoryLimits;
use crate::hub::{HubRoom, RoomMessageHub};
use crate::metrics::ClusterMetrics;
use crate::node::{NodeInfo, NodeStatus};
use crate::outbound::ConnSender;
use crate::{Error, Result};

/// How to build a manager.
#[derive(Clone)]
pub struct ClusterOptions {
    pub node: NodeInfo,
    pub history: HistoryLimits,
    /// Chat messages kept in room snapshots.
    pub recent_chat: usize,
    pub max_connections: usize,
    pub metrics: ClusterMetrics,
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
    conns: ConnectionManager,
    recent_chat: usize,
    metrics: ClusterMetrics,
}

/// Who is joining a room.
#[derive(Debug, Clone)]
pub struct Joiner {
    pub user_id: UserId,
    pub username: String,
    pub role: Role,
    pub permissions: Option<Permissions>,
}

/// The result of joining: what the `welcome` frame says and the frames to replay.
pub struct Joined {
    pub seq: u64,
    pub epoch: Epoch,
    pub resumed: bool,
    pub snapshot: Box<RawValue>,
    pub replay: Vec<Bytes>,
    pub membership: Membership,
}

impl ClusterManager {
    /// A single-node manager: events stay in this process.
    pub fn local(store: Store, opts: ClusterOptions) -> Self {
        let hub = Arc::new(RoomMessageHub::new(opts.metrics.clone()));
        let broker = Arc::new(LocalBroker::new(opts.history, hub.clone()));
        Self::with_broker(store, opts, hub, broker)
    }

    /// A manager over any broker (whose publications must be handed to `hub`).
    pub fn with_broker(
        store: Store,
        opts: ClusterOptions,
        hub: Arc<RoomMessageHub>,
        broker: Arc<dyn Broker>,
    ) -> Self {
        let conns = ConnectionManager::new(opts.max_connections, opts.metrics.clone());
        Self {
            inner: Arc::new(Inner {
                node: opts.node,
                store,
                hub,
                broker,
                conns,
                recent_chat: opts.recent_chat,
                metrics: opts.metrics,
            }),
        }
    }

    pub fn node(&self) -> &NodeInfo {
        &self.inner.node
    }

    pub fn connections(&self) -> &ConnectionManager {
        &self.inner.conns
    }

    pub fn hub(&self) -> &RoomMessageHub {
        &self.inner.hub
    }

    /// Users online in `room` now.
    pub fn member_count(&self, room: &RoomId) -> usize {
        self.inner.hub.member_count(room)
    }

    /// Every live node (in single-node mode, this one).
    pub fn nodes(&self) -> Vec<NodeStatus> {
        let n = &self.inner.node;
        vec![NodeStatus {
            node_id: n.node_id.clone(),
            name: n.name.clone(),
            address: n.address.clone(),
            started_at: synctv_core::time::rfc3339(n.started_at_ms),
            last_heartbeat: synctv_core::time::rfc3339(synctv_core::time::now_ms()),
            connections: self.inner.conns.active(),
            health: if self.inner.conns.is_draining() {
                "draining"
            } else {
                "ok"
            },
        }]
    }

    /// Take the room's write lock on this node.
    pub async fn lock_room(&self, room: &RoomId) -> RoomGuard {
        let hub_room = self.inner.hub.room(room);
        let write = hub_room.write.clone().lock_owned().await;
        RoomGuard {
            mgr: self.clone(),
            id: room.clone(),
            room: hub_room,
            _write: write,
        }
    }

    /// Subscribe `sender` to `room` and produce its welcome: snapshot and position, plus
    /// the missed frames when `resume` (since, epoch) is still replayable. Publishes
    /// `member_joined` when this is the user's first connection.
    pub async fn join(
        &self,
        room: &RoomId,
        who: Joiner,
        sender: ConnSender,
        resume: Option<(u64, Epoch)>,
    ) -> Result<Joined> {
        let g = self.lock_room(room).await;
        let conn = sender.id();
        let joined = self.join_locked(&g, who, sender, resume).await;
        if joined.is_err() {
            // Undo whatever part of the join happened; the broker pin must not leak.
            g.room.lock().remove_subscriber(conn);
            g.release_broker().await;
        }
        joined
    }

    async fn join_locked(
        &self,
        g: &RoomGuard,
        who: Joiner,
        sender: ConnSender,
        resume: Option<(u64, Epoch)>,
    ) -> Result<Joined> {
        let room = &g.id;
        g.subscribe_broker().await?;
        if !g.load().await? || g.room.lock().deleted {
            return Err(Error::RoomNotFound);
        }
        let conn = sender.id();
        let (snapshot, position, first) = {
            let mut local = g.room.lock();
            let state = local.state.as_ref().expect("loaded above");
            let snapshot = state.snapshot_json();
            let first = !state.members.contains_key(&who.user_id);
            let position = local.position.clone().expect("loaded with state");
            local.subscribers.push(sender);
            (snapshot, position, first)
        };
        let replay = match resume {
            Some((since, epoch)) if epoch == position.epoch => {
                self.inner
                    .broker
                    .history(room, &epoch, since, position.seq)
                    .await?
            }
            _ => None,
        };
        if first {
            g.publish(RoomEvent::MemberJoined(MemberRef {
                user_id: who.user_id.clone(),
                username: who.username.clone(),
            }))
            .await?;
        }
        g.with_state(|s| {
            if !first && let Some(m) = s.members.get_mut(&who.user_id) {
                m.connections += 1;
            }
            s.set_member_role(&who.user_id, who.role, who.permissions);
        });
        Ok(Joined {
            seq: position.seq,
            epoch: position.epoch,
            resumed: replay.is_some(),
            snapshot,
            replay: replay.unwrap_or_default(),
            membership: Membership {
                mgr: Some(self.clone()),
                room: room.clone(),
                user: MemberRef {
                    user_id: who.user_id,
                    username: who.username,
                },
                conn,
            },
        })
    }

    async fn leave(&self, room: &RoomId, user: &MemberRef, conn: ConnId) -> Result<()> {
        let g = self.lock_room(room).await;
        let last = {
            let mut local = g.room.lock();
            local.remove_subscriber(conn);
            match local
                .state
                .as_mut()
                .and_then(|s| s.members.get_mut(&user.user_id))
            {
                Some(m) if m.connections > 1 => {
                    m.connections -= 1;
                    false
                }
                Some(_) => !local.deleted,
                None => false,
            }
        };
        if last {
            g.publish(RoomEvent::MemberLeft(user.clone())).await?;
        }
        g.release_broker().await;
        Ok(())
    }

    /// Periodic upkeep: expire history, forget idle rooms and streams.
    pub fn sweep(&self, now_ms: u64) {
        self.inner.hub.sweep();
        self.inner.broker.sweep(now_ms);
    }
}

/// A room's write lock, held while validating, persisting and publishing.
pub struct RoomGuard {
    mgr: ClusterManager,
    id: RoomId,
    room: Arc<HubRoom>,
    _write: tokio::sync::OwnedMutexGuard<()>,
}

impl RoomGuard {
    pub fn room_id(&self) -> &RoomId {
        &self.id
    }

    /// Make sure the room's state is materialized; false if the room does not exist.
    pub async fn load(&self) -> Result<bool> {
        if self.room.lock().state.is_some() {
            return Ok(true);
        }
        let inner = &self.mgr.inner;
        let Some(state) = inner
            .store
            .load_room_state(&self.id, inner.recent_chat)
            .await?
        else {
            return Ok(false);
        };
        let position = inner.broker.position(&self.id).await?;
        let mut local = self.room.lock();
        local.state = Some(state);
        local.position = Some(position);
        Ok(true)
    }

    /// Read the materialized state (`None` if not loaded).
    pub fn read<R>(&self, f: impl FnOnce(&RoomState) -> R) -> Option<R> {
        self.room.lock().state.as_ref().map(f)
    }

    fn with_state<R>(&self, f: impl FnOnce(&mut RoomState) -> R) -> Option<R> {
        self.room.lock().state.as_mut().map(f)
    }

    /// Publish an event of this room; returns its `seq`. Call after persisting its effects.
    pub async fn publish(&self, event: RoomEvent) -> Result<u64> {
        self.publish_at(event, synctv_core::time::now_ms()).await
    }

    /// `publish` with the event time given (so a stored row and its event agree on it).
    pub async fn publish_at(&self, event: RoomEvent, ts_ms: u64) -> Result<u64> {
        let inner = &self.mgr.inner;
        let draft = EventDraft::at(inner.node.node_id.clone(), event, ts_ms);
        let p = inner.broker.publish(&self.id, draft).await?;
        inner.metrics.events_published.increment(1);
        Ok(p.seq)
    }

    async fn subscribe_broker(&self) -> Result<()> {
        if self.room.lock().broker_subscribed {
            return Ok(());
        }
        self.mgr.inner.broker.subscribe(&self.id).await?;
        self.room.lock().broker_subscribed = true;
        Ok(())
    }

    /// Drop the broker subscription once no local subscriber is left.
    async fn release_broker(&self) {
        let release = {
            let mut local = self.room.lock();
            let release = local.broker_subscribed && local.subscribers.is_empty();
            if release {
                local.broker_subscribed = false;
                local.state = None;
                local.position = None;
            }
            release
        };
        if release && let Err(e) = self.mgr.inner.broker.unsubscribe(&self.id).await {
            tracing::warn!(room = %self.id, error = %e, "broker unsubscribe failed");
        }
    }
}

/// A socket's presence in a room. `leave` publishes `member_left` when it was the user's
/// last connection; dropping it without `leave` (e.g. a panicking task) leaves in the
/// background, so presence never leaks.
pub struct Membership {
    mgr: Option<ClusterManager>,
    room: RoomId,
    user: MemberRef,
    conn: ConnId,
}

impl Membership {
    pub async fn leave(mut self) -> Result<()> {
        match self.mgr.take() {
            Some(mgr) => mgr.leave(&self.room, &self.user, self.conn).await,
            None => Ok(()),
        }
    }
}

impl Drop for Membership {
    fn drop(&mut self) {
        if let Some(mgr) = self.mgr.take()
            && let Ok(rt) = tokio::runtime::Handle::try_current()
        {
            let (room, user, conn) = (self.room.clone(), self.user.clone(), self.conn);
            rt.spawn(async move { mgr.leave(&room, &user, conn).await });
        }
    }
}
