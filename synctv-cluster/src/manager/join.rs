//! Sockets joining and leaving rooms.
//!
//! A join makes the room active on this node if it is not (subscribe, then load state and
//! stream position together), takes the snapshot and adds the socket to the subscribers in
//! one step (so its first event is exactly `welcome.seq + 1`), reads the replay for a
//! resume, then registers the connection in the cluster-wide presence, which publishes
//! `member_joined` for a user's first connection anywhere.

use std::collections::HashMap;

use bytes::Bytes;
use serde_json::value::RawValue;
use synctv_core::event::{EventDraft, MemberInfo, RoomEvent};
use synctv_core::ids::{ConnId, Epoch, RoomId, UserId};
use synctv_core::model::{Permissions, Role};
use tracing::Instrument;

use super::{ClusterManager, RoomGuard};
use crate::broker::{EventMeta, StreamPosition};
use crate::outbound::ConnSender;
use crate::{Error, Result};

/// Who is joining a room.
#[derive(Debug, Clone)]
pub struct Joiner {
    pub user_id: UserId,
    pub username: String,
    pub role: Role,
    pub permissions: Option<Permissions>,
}

impl Joiner {
    fn info(&self) -> MemberInfo {
        MemberInfo {
            user_id: self.user_id.clone(),
            username: self.username.clone(),
            role: self.role,
            permissions: self.permissions,
        }
    }
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
    /// Subscribe `sender` to `room` and produce its welcome: snapshot and position, plus the
    /// missed frames when `resume` (since, epoch) is still replayable.
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
            // Undo whatever part of the join happened; the subscription must not leak.
            g.room.lock().remove_subscriber(conn);
            self.release_if_idle(&g).await;
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
        self.ensure_active(g).await?;
        let member = who.info();
        let conn = sender.id();
        let (snapshot, position, detached, first_local, online) = {
            let mut l = g.room.lock();
            let Some(state) = l.state.as_ref().filter(|_| !l.deleted) else {
                return Err(Error::RoomNotFound);
            };
            let snapshot = state.snapshot();
            let online = state.members.contains_key(&member.user_id);
            let position = l.position.clone().expect("live rooms have a position");
            l.subscribers.push(sender);
            let entry = l
                .local_members
                .entry(member.user_id.clone())
                .or_insert_with(|| (member.clone(), 0));
            entry.0 = member.clone();
            entry.1 += 1;
            let first_local = entry.1 == 1;
            (snapshot, position, l.detached, first_local, online)
        };
        let replay = match resume {
            Some((since, epoch)) if epoch == position.epoch && !detached => {
                self.replay(&g.id, since, &position).await
            }
            _ => None,
        };
        let draft = EventDraft::new(
            self.inner.node.node_id.clone(),
            RoomEvent::MemberJoined(member.clone()),
        );
        let counts = if detached {
            if first_local && !online {
                g.deliver_locally(std::slice::from_ref(&draft));
            }
            HashMap::new()
        } else {
            self.note_sent(&draft.event_id);
            match self.inner.broker.join(&g.id, &member, &draft).await {
                Ok(pj) => {
                    if let Some(p) = pj.event {
                        self.inner.metrics.events_published.record(&g.id, &p.event);
                        g.offer_own(p);
                    }
                    pj.counts
                }
                Err(e) if e.is_unavailable() => {
                    self.forget_sent(&draft.event_id);
                    g.detach();
                    if first_local && !online {
                        g.deliver_locally(std::slice::from_ref(&draft));
                    }
                    HashMap::new()
                }
                Err(e) => {
                    let mut l = g.room.lock();
                    l.remove_subscriber(conn);
                    decrement(&mut l.local_members, &member.user_id);
                    return Err(e);
                }
            }
        };
        Ok(Joined {
            seq: position.seq,
            epoch: position.epoch,
            resumed: replay.is_some(),
            snapshot: snapshot.finish(&counts),
            replay: replay.unwrap_or_default(),
            membership: Membership {
                mgr: Some(self.clone()),
                room: g.id.clone(),
                user: member,
                conn,
            },
        })
    }

    /// The frames after `since` up to `position`, if the stream still has all of them.
    async fn replay(
        &self,
        room: &RoomId,
        since: u64,
        position: &StreamPosition,
    ) -> Option<Vec<Bytes>> {
        match self
            .inner
            .broker
            .read(room, since, Some(position.seq))
            .await
        {
            Ok(read) if read.position.epoch == position.epoch => read
                .events
                .map(|events| events.into_iter().map(|p| p.frame).collect()),
            Ok(_) => None,
            Err(e) => {
                tracing::warn!(room = %room, error = %e, "replay unavailable; sending a snapshot");
                None
            }
        }
    }

    /// Make sure the room is live here: subscribed and loaded.
    pub(super) async fn ensure_active(&self, g: &RoomGuard) -> Result<()> {
        let subscribed = {
            let l = g.room.lock();
            if l.is_live() {
                return Ok(());
            }
            l.broker_subscribed
        };
        let use_broker = subscribed || self.subscribe(g).await?;
        g.room.lock().begin_load();
        self.load_into(g, use_broker).await
    }

    /// Subscribe the room; false when the broker is unreachable (the room is then served
    /// detached and subscribed on reconnect).
    async fn subscribe(&self, g: &RoomGuard) -> Result<bool> {
        let inner = &self.inner;
        match inner.broker.subscribe(&g.id).await {
            Ok(()) => {
                g.room.lock().broker_subscribed = true;
                if let Err(e) = inner.registry.add_room(&inner.node.node_id, &g.id).await {
                    tracing::warn!(room = %g.id, error = %e, "registering the room failed");
                }
                Ok(true)
            }
            Err(e) if e.is_unavailable() => {
                g.room.lock().broker_subscribed = true; // wanted: resubscribed on reconnect
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }

    async fn leave(&self, room: &RoomId, user: &MemberInfo, conn: ConnId) -> Result<()> {
        let g = self.lock_room(room).await;
        let (detached, last_local, deleted) = {
            let mut l = g.room.lock();
            l.remove_subscriber(conn);
            let last = decrement(&mut l.local_members, &user.user_id);
            (l.detached, last, l.deleted)
        };
        let local_left = || {
            if last_local && !deleted {
                let meta = EventMeta::new(self.inner.node.node_id.clone());
                g.deliver_locally(&[meta.draft(RoomEvent::MemberLeft(user.clone()), 0)]);
            }
        };
        if detached {
            local_left();
        } else {
            let meta = EventMeta::new(self.inner.node.node_id.clone());
            self.note_sent(&meta.event_id);
            match self.inner.broker.leave(room, &user.user_id, &meta).await {
                Ok(Some(p)) => {
                    self.inner.metrics.events_published.record(room, &p.event);
                    g.offer_own(p);
                }
                Ok(None) => {}
                Err(e) => {
                    self.forget_sent(&meta.event_id);
                    tracing::warn!(room = %room, error = %e, "leaving the room's presence failed; it will be reconciled");
                    g.detach();
                    local_left();
                }
            }
        }
        self.release_if_idle(&g).await;
        Ok(())
    }

    /// Drop the room's state and subscription once no local subscriber is left.
    pub(super) async fn release_if_idle(&self, g: &RoomGuard) {
        let release = {
            let mut l = g.room.lock();
            if !l.subscribers.is_empty() || !l.local_members.is_empty() {
                return;
            }
            let was = l.broker_subscribed;
            l.broker_subscribed = false;
            l.unload();
            was
        };
        if release {
            let inner = &self.inner;
            if let Err(e) = inner.broker.unsubscribe(&g.id).await {
                tracing::debug!(room = %g.id, error = %e, "unsubscribe failed");
            }
            if let Err(e) = inner.registry.remove_room(&inner.node.node_id, &g.id).await {
                tracing::debug!(room = %g.id, error = %e, "unregistering the room failed");
            }
        }
    }
}

/// One connection fewer of `user`; true when it was their last on this node.
fn decrement(members: &mut HashMap<UserId, (MemberInfo, u32)>, user: &UserId) -> bool {
    match members.get_mut(user) {
        Some(e) if e.1 > 1 => {
            e.1 -= 1;
            false
        }
        Some(_) => {
            members.remove(user);
            true
        }
        None => false,
    }
}

/// A socket's presence in a room. `leave` publishes `member_left` when it was the user's
/// last connection; dropping it without `leave` (e.g. a panicking task) leaves in the
/// background, so presence never leaks.
pub struct Membership {
    mgr: Option<ClusterManager>,
    room: RoomId,
    user: MemberInfo,
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
            let span = mgr.inner.span.clone();
            rt.spawn(async move { mgr.leave(&room, &user, conn).await }.instrument(span));
        }
    }
}
