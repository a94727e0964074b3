//! What keeps every node's rooms exact when events do not arrive as they should.
//!
//! - **Gap fill**: events are missing before ones the room holds. If the subscription is
//!   known to have lost them, read them from the stream at once; otherwise (this node's own
//!   event overtook another node's) wait `redis.gap_timeout_ms` first.
//! - **Reload**: the epoch changed, the stream no longer has what is missing, or another
//!   node asked for it: load state and position again and give every socket a fresh
//!   `welcome` (`resumed: false`).
//! - **Reconcile**: after an outage, for each room this node served alone: re-register its
//!   presence, start a new epoch (telling every node to reload) and reload. After any
//!   subscription loss, every active room re-registers its presence and compares its
//!   position with the stream: a gap is filled, a lost tail or a new epoch reloads.

use std::time::Duration;

use synctv_core::ids::{Epoch, RoomId};
use synctv_core::store::RoomLock;

use tracing::Instrument;

use super::{ClusterManager, RoomGuard};
use crate::broker::{BrokerHealth, EventMeta, StreamPosition};
use crate::hub::{Offer, Source};
use crate::outbound::CloseReason;
use crate::{Error, Result};

impl ClusterManager {
    pub(super) fn handle_offer(&self, room: &RoomId, offer: Offer) {
        match offer {
            Offer::Done => {}
            Offer::Gap { urgent } => {
                let delay = if urgent {
                    Duration::ZERO
                } else {
                    self.inner.timings.gap_timeout
                };
                self.schedule_repair(room, delay, false);
            }
            Offer::Resync => self.schedule_repair(room, Duration::ZERO, true),
        }
    }

    /// Run a gap fill (or a reload) of `room` after `delay`, unless one is already on its
    /// way. Nothing is held while waiting.
    pub(super) fn schedule_repair(&self, room: &RoomId, delay: Duration, reload: bool) {
        let Some(hub_room) = self.inner.hub.get(room) else {
            return;
        };
        {
            let mut l = hub_room.lock();
            if l.repair_scheduled && !reload && delay > Duration::ZERO {
                return;
            }
            l.repair_scheduled = true;
        }
        let (mgr, room) = (self.clone(), room.clone());
        let span = self.inner.span.clone();
        tokio::spawn(
            async move {
                if !delay.is_zero() {
                    tokio::time::sleep(delay).await;
                }
                let g = mgr.lock_room(&room).await;
                g.room.lock().repair_scheduled = false;
                let res = if reload {
                    mgr.reload(&g).await
                } else {
                    mgr.fill(&g).await
                };
                if let Err(e) = res {
                    tracing::warn!(room = %room, error = %e, "room repair failed");
                }
            }
            .instrument(span),
        );
    }

    /// Read what the room is missing from its stream.
    async fn fill(&self, g: &RoomGuard) -> Result<()> {
        let Some((pos, upto)) = g.room.lock().missing() else {
            return Ok(());
        };
        let read = match self.inner.broker.read(&g.id, pos.seq, Some(upto)).await {
            Ok(r) => r,
            Err(e) if e.is_unavailable() => {
                // What we hold cannot be completed now: serve the room alone until reconciled.
                g.detach();
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        match read.events {
            Some(events) if read.position.epoch == pos.epoch => {
                self.inner.metrics.gap_fills.increment(1);
                let mut offer = Offer::Done;
                {
                    let mut l = g.room.lock();
                    for p in events {
                        offer = l.offer(p, Source::Fill, &self.inner.metrics);
                    }
                }
                self.handle_offer(&g.id, offer);
                Ok(())
            }
            _ => self.reload(g).await,
        }
    }

    /// Load the room again and give every socket a fresh snapshot.
    pub(super) async fn reload(&self, g: &RoomGuard) -> Result<()> {
        {
            let mut l = g.room.lock();
            if !l.is_live() && !l.loading {
                return Ok(()); // nobody here needs the room
            }
            l.begin_load();
        }
        self.inner.metrics.resyncs.increment(1);
        let use_broker = self.inner.broker.health() != BrokerHealth::Failing;
        if let Err(e) = self.load_into(g, use_broker).await {
            // Without a state there is nothing consistent to serve: let clients reconnect.
            let mut l = g.room.lock();
            for s in l.subscribers.drain(..) {
                s.ctl().close(CloseReason::RESYNC);
            }
            l.unload();
            return Err(e);
        }
        Ok(())
    }

    /// Load the room's state and stream position together and install them. Without the
    /// broker (`use_broker` false, or unreachable) the room is served detached.
    pub(super) async fn load_into(&self, g: &RoomGuard, use_broker: bool) -> Result<()> {
        let inner = &self.inner;
        let mut tx = match inner.store.room_tx(&g.id, RoomLock::Exclusive).await {
            Ok(tx) => tx,
            Err(synctv_core::Error::NotFound { .. }) => return Err(Error::RoomNotFound),
            Err(e) => return Err(e.into()),
        };
        let mut state = tx
            .load_state(inner.recent_chat)
            .await?
            .ok_or(Error::RoomNotFound)?;
        let point = if use_broker {
            match inner.broker.load_point(&g.id).await {
                Ok(p) => Some(p),
                Err(e) if e.is_unavailable() => None,
                Err(e) => return Err(e),
            }
        } else {
            None
        };
        tx.commit().await?;
        let detached = point.is_none();
        let position = match point {
            Some(p) => {
                for (m, n) in &p.members {
                    state.add_member(m, *n);
                }
                p.position
            }
            None => {
                for (m, n) in g.room.lock().local_members.values() {
                    state.add_member(m, *n);
                }
                StreamPosition {
                    seq: 0,
                    epoch: Epoch::random(),
                }
            }
        };
        let welcome = |c, p: &_, s: &_| self.welcome(c, p, s);
        let offer = {
            let mut l = g.room.lock();
            let offer = l.install(state, position, &welcome, &inner.metrics);
            l.detached = detached;
            offer
        };
        if detached {
            self.mark_dirty(&g.id);
        }
        self.handle_offer(&g.id, offer);
        Ok(())
    }

    /// Reconcile the rooms this node served alone, once the broker is healthy again.
    pub(super) async fn reconcile_dirty(&self) {
        if self.inner.broker.health() == BrokerHealth::Failing {
            return;
        }
        for room in self.dirty_rooms() {
            let g = self.lock_room(&room).await;
            match self.reconcile_room(&g).await {
                Ok(()) => self.clear_dirty(&room),
                Err(e) => {
                    tracing::debug!(room = %room, error = %e, "reconciliation postponed");
                    return;
                }
            }
        }
    }

    async fn reconcile_room(&self, g: &RoomGuard) -> Result<()> {
        let inner = &self.inner;
        let wanted = g.room.lock().broker_subscribed;
        if wanted {
            inner.broker.subscribe(&g.id).await?;
        }
        self.sync_presence(g).await?;
        let epoch = inner.broker.new_epoch(&g.id).await?;
        tracing::info!(room = %g.id, epoch = %epoch.epoch, "room reconciled after an outage: new epoch");
        self.reload(g).await
    }

    /// Make this node's registered presence in the room match its sockets (and the room
    /// listed as this node's, in case Redis lost the registry too).
    async fn sync_presence(&self, g: &RoomGuard) -> Result<()> {
        let local: Vec<_> = g.room.lock().local_members.values().cloned().collect();
        if !local.is_empty() {
            let inner = &self.inner;
            inner.registry.add_room(&inner.node.node_id, &g.id).await?;
        }
        let meta = EventMeta::new(self.inner.node.node_id.clone());
        for p in self
            .inner
            .broker
            .sync_presence(&g.id, &local, &meta)
            .await?
        {
            g.offer_own(p);
        }
        Ok(())
    }

    /// After a subscription loss: bring every active room in line with its stream.
    pub(super) async fn reconcile_all(&self) {
        self.reconcile_dirty().await;
        for room in self.inner.hub.active_rooms() {
            if self.dirty_rooms().contains(&room) {
                continue;
            }
            let g = self.lock_room(&room).await;
            if let Err(e) = self.check_room(&g).await {
                tracing::warn!(room = %room, error = %e, "room check after reconnect failed");
                if e.is_unavailable() {
                    return;
                }
            }
        }
    }

    async fn check_room(&self, g: &RoomGuard) -> Result<()> {
        if g.room.lock().detached {
            return Ok(());
        }
        self.sync_presence(g).await?;
        let Some(pos) = g.room.lock().position.clone() else {
            return Ok(());
        };
        let read = self.inner.broker.read(&g.id, pos.seq, None).await?;
        if read.position.epoch != pos.epoch {
            return self.reload(g).await;
        }
        if read.position.seq < pos.seq {
            // The log lost events this node already delivered: never a silent gap.
            tracing::warn!(room = %g.id, have = pos.seq, stream = read.position.seq, "room stream lost its tail: new epoch");
            self.inner.broker.new_epoch(&g.id).await?;
            return self.reload(g).await;
        }
        match read.events {
            Some(events) => {
                let mut offer = Offer::Done;
                {
                    let mut l = g.room.lock();
                    for p in events {
                        offer = l.offer(p, Source::Fill, &self.inner.metrics);
                    }
                }
                self.handle_offer(&g.id, offer);
                Ok(())
            }
            None => self.reload(g).await,
        }
    }

    /// Operator: start a new epoch for `room`; every node's clients get a fresh snapshot.
    pub async fn resync_room(&self, room: &RoomId) -> Result<StreamPosition> {
        let g = self.lock_room(room).await;
        let pos = self.inner.broker.new_epoch(room).await?;
        self.reload(&g).await?;
        Ok(pos)
    }
}
