//! `RoomGuard`: a room's write lock on this node, held while a change is validated against
//! the materialized state, stored and published.
//!
//! The order of a change is: store it in a [`RoomTx`] (which holds the room's row lock, see
//! its docs), publish its events (the broker assigns their `seq`), commit, then deliver them
//! to this node's sockets. Holding the row lock across the publish is what lets a node that
//! loads the room see exactly the changes published before its load.
//!
//! When the broker is unreachable the change is still committed (an ack means durable) and
//! delivered to this node's sockets, numbered in a node-local epoch: the room is detached
//! and reconciled (a new epoch for everyone) once the broker is back.

use std::sync::Arc;
use std::time::Instant;

use synctv_core::event::{EventDraft, RoomEvent};
use synctv_core::ids::{RoomId, UserId};
use synctv_core::model::{Permission, allowed};
use synctv_core::room_state::RoomState;
use synctv_core::store::RoomTx;

use super::ClusterManager;
use crate::Result;
use crate::broker::Publication;
use crate::hub::{HubRoom, Source};

pub struct RoomGuard {
    pub(super) mgr: ClusterManager,
    pub(super) id: RoomId,
    pub(super) room: Arc<HubRoom>,
    _write: tokio::sync::OwnedMutexGuard<()>,
}

impl RoomGuard {
    pub(super) async fn lock(mgr: &ClusterManager, id: &RoomId) -> RoomGuard {
        let room = mgr.inner.hub.room(id);
        let write = room.write.clone().lock_owned().await;
        RoomGuard {
            mgr: mgr.clone(),
            id: id.clone(),
            room,
            _write: write,
        }
    }

    pub fn room_id(&self) -> &RoomId {
        &self.id
    }

    /// Read the materialized state (`None` when the room is not active on this node).
    pub fn read<R>(&self, f: impl FnOnce(&RoomState) -> R) -> Option<R> {
        self.room.lock().state.as_ref().map(f)
    }

    /// Whether `user` may do `perm` here: by their role as the room's online members list
    /// it, or, for a user connected to this node whom the cluster-wide list does not show
    /// yet (while presence is being re-registered after an outage), by the role they joined
    /// with.
    pub fn may(&self, user: &UserId, perm: Permission) -> bool {
        let l = self.room.lock();
        let Some(state) = l.state.as_ref() else {
            return false;
        };
        if state.members.contains_key(user) {
            return state.may(user, perm);
        }
        l.local_members
            .get(user)
            .is_some_and(|(m, _)| allowed(m.role, m.permissions, &state.info.settings, perm))
    }

    /// Publish `events` (each with its time) as the effects of `tx`, commit `tx`, deliver
    /// them here. Returns the `seq` of the last one (0 if the room is not active here and
    /// the broker is unreachable).
    pub async fn commit(&self, tx: RoomTx, events: Vec<(RoomEvent, u64)>) -> Result<u64> {
        self.publish_all(Some(tx), events).await
    }

    /// Publish an event that has nothing to store (transient signals; benchmarks of the
    /// event path). Anything with a durable effect goes through [`RoomGuard::commit`].
    pub async fn publish(&self, event: RoomEvent) -> Result<u64> {
        let now = synctv_core::time::now_ms();
        self.publish_all(None, vec![(event, now)]).await
    }

    async fn publish_all(&self, tx: Option<RoomTx>, events: Vec<(RoomEvent, u64)>) -> Result<u64> {
        let inner = &self.mgr.inner;
        let node = &inner.node.node_id;
        let drafts: Vec<EventDraft> = events
            .into_iter()
            .map(|(e, ts)| EventDraft::at(node.clone(), e, ts))
            .collect();
        if self.room.lock().detached {
            commit(tx).await?;
            return Ok(self.deliver_locally(&drafts));
        }
        let started = Instant::now();
        let mut published: Vec<Publication> = Vec::with_capacity(drafts.len());
        let mut failure = None;
        for d in &drafts {
            self.mgr.note_sent(&d.event_id);
            match inner.broker.publish(&self.id, d).await {
                Ok(p) => published.push(p),
                Err(e) => {
                    self.mgr.forget_sent(&d.event_id);
                    failure = Some(e);
                    break;
                }
            }
        }
        inner
            .metrics
            .publish_seconds
            .record(started.elapsed().as_secs_f64());
        for p in &published {
            inner.metrics.events_published.record(&self.id, &p.event);
        }
        match failure {
            None => {
                if let Err(e) = commit(tx).await {
                    // Published but not durable: every node must reload from the database.
                    tracing::error!(room = %self.id, error = %e, "commit failed after publishing; the room will resync");
                    self.mgr.mark_dirty(&self.id);
                    return Err(e.into());
                }
                let seq = published.last().map_or(0, |p| p.seq);
                for p in published {
                    self.offer_own(p);
                }
                Ok(seq)
            }
            Some(e) if published.is_empty() && !e.is_unavailable() => {
                if let Some(tx) = tx {
                    let _ = tx.rollback().await;
                }
                Err(e)
            }
            Some(e) => {
                tracing::warn!(room = %self.id, error = %e, "broker unreachable: serving this room's local clients alone");
                commit(tx).await?;
                self.mgr.mark_dirty(&self.id);
                let done = published.len();
                for p in published {
                    self.offer_own(p);
                }
                self.detach();
                Ok(self.deliver_locally(&drafts[done..]))
            }
        }
    }

    /// Offer this node's own publication to the room.
    pub(super) fn offer_own(&self, p: Publication) {
        let offer = self
            .room
            .lock()
            .offer(p, Source::Own, &self.mgr.inner.metrics);
        self.mgr.handle_offer(&self.id, offer);
    }

    /// Cut the room off from the broker (fresh `welcome` for its sockets).
    pub(super) fn detach(&self) {
        let mgr = &self.mgr;
        let welcome = |c, p: &_, s: &_| mgr.welcome(c, p, s);
        if self.room.lock().detach(&welcome) {
            mgr.inner.metrics.resyncs.increment(1);
        }
        mgr.mark_dirty(&self.id);
    }

    /// Number and deliver `drafts` on this node alone; the last seq (0 if not active).
    pub(super) fn deliver_locally(&self, drafts: &[EventDraft]) -> u64 {
        let m = &self.mgr.inner.metrics;
        let mut local = self.room.lock();
        let mut seq = 0;
        for d in drafts {
            if let Some(p) = local.publish_local(d, m) {
                seq = p.seq;
                m.events_published.record(&self.id, &d.event);
            }
        }
        seq
    }
}

async fn commit(tx: Option<RoomTx>) -> synctv_core::Result<()> {
    match tx {
        Some(tx) => tx.commit().await,
        None => Ok(()),
    }
}
