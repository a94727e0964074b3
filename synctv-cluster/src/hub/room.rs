//! One room on one node: its materialized state, the stream position that state reflects,
//! the events that arrived ahead of their turn, and the local subscribers.
//!
//! Events are applied strictly in `seq` order. An event at or below the position is a
//! duplicate and dropped; one beyond the next is held in `pending` until the ones before it
//! arrive (the node's own events come back from `publish` before other nodes' earlier ones
//! may have come through the subscription); an event of another epoch means the room's log
//! started over, and the room is reloaded. Whether a missing event is worth waiting for is
//! decided from what the subscription has carried: the subscription delivers a room's events
//! in order, so once it has carried anything after a missing seq (and that seq is not this
//! node's own event on its way back), the missing one was lost and must be read from the
//! stream now.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use bytes::Bytes;
use synctv_core::event::{MemberInfo, RoomEvent};
use synctv_core::ids::{ConnId, Epoch, UserId};
use synctv_core::room_state::RoomState;

use crate::broker::{Publication, StreamPosition};
use crate::metrics::ClusterMetrics;
use crate::outbound::{CloseReason, ConnSender, Queued};

/// Where a publication came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// This node published it.
    Own,
    /// The broker's subscription (another node's event).
    Remote,
    /// Read from the stream to fill a gap.
    Fill,
}

/// What the room needs after an event was offered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offer {
    /// Delivered, held or dropped: nothing to do.
    Done,
    /// Events are missing before the ones held; `urgent` when they are known to be lost (fill
    /// now) rather than possibly still on their way (fill after a short wait).
    Gap { urgent: bool },
    /// The room's stream changed epoch: reload the room.
    Resync,
}

/// Builds the `welcome` frame for one socket (the manager knows node and connection ids).
pub type WelcomeFn<'a> = &'a dyn Fn(ConnId, &StreamPosition, &serde_json::value::RawValue) -> Bytes;

#[derive(Default)]
pub struct RoomLocal {
    /// Loaded lazily; `None` while no local client needs it.
    pub state: Option<RoomState>,
    /// The stream position `state` reflects (`Some` exactly when `state` is).
    pub position: Option<StreamPosition>,
    /// Subscribed and loading: hold what arrives until the state is there.
    pub loading: bool,
    pending: BTreeMap<u64, Publication>,
    /// Seqs of this node's own events already seen on the subscription (their `publish` reply
    /// is still on its way).
    echoes: BTreeSet<u64>,
    /// Highest seq the subscription carried in the current epoch.
    sub_high: u64,
    pub subscribers: Vec<ConnSender>,
    /// This node's connections per user (for presence resynchronization).
    pub local_members: HashMap<UserId, (MemberInfo, u32)>,
    /// Whether the broker delivers this room's events to this node.
    pub broker_subscribed: bool,
    /// Cut off from the broker: events are numbered and delivered on this node alone, in a
    /// node-local epoch, until the room is reconciled.
    pub detached: bool,
    /// The room was deleted; nobody may join it again.
    pub deleted: bool,
    /// A gap fill or reload is scheduled.
    pub repair_scheduled: bool,
}

impl RoomLocal {
    pub fn remove_subscriber(&mut self, conn: ConnId) {
        if let Some(i) = self.subscribers.iter().position(|s| s.id() == conn) {
            self.subscribers.swap_remove(i);
        }
    }

    pub fn is_live(&self) -> bool {
        self.state.is_some()
    }

    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }

    /// Offer one publication of the room.
    pub fn offer(&mut self, p: Publication, source: Source, m: &ClusterMetrics) -> Offer {
        if self.deleted {
            return Offer::Done;
        }
        let Some(pos) = &self.position else {
            if self.loading {
                self.pending.insert(p.seq, p);
            }
            return Offer::Done;
        };
        if self.detached {
            return Offer::Done;
        }
        if p.epoch != pos.epoch {
            return Offer::Resync;
        }
        if p.seq <= pos.seq {
            m.events_deduplicated.increment(1);
            return Offer::Done;
        }
        if source == Source::Remote {
            self.sub_high = self.sub_high.max(p.seq);
        }
        let next = pos.seq + 1;
        if p.seq == next {
            self.deliver(p, m);
            self.drain(m);
        } else {
            self.pending.insert(p.seq, p);
        }
        self.gap_status()
    }

    /// The subscription carried this node's own event `seq`.
    pub fn note_echo(&mut self, epoch: &Epoch, seq: u64) -> Offer {
        match &self.position {
            Some(pos) if !self.detached && &pos.epoch == epoch && seq > pos.seq => {
                self.echoes.insert(seq);
                self.sub_high = self.sub_high.max(seq);
                self.gap_status()
            }
            _ => Offer::Done,
        }
    }

    /// Whether (and how urgently) events are missing before the held ones.
    pub fn gap_status(&self) -> Offer {
        let (Some(pos), Some((&first, _))) = (&self.position, self.pending.first_key_value())
        else {
            return Offer::Done;
        };
        let lost = (pos.seq + 1..first)
            .take(10_000)
            .any(|s| s < self.sub_high && !self.echoes.contains(&s));
        Offer::Gap { urgent: lost }
    }

    /// The range to read from the stream: after the position, before the first held event.
    pub fn missing(&self) -> Option<(StreamPosition, u64)> {
        let pos = self.position.as_ref()?;
        let (&first, _) = self.pending.first_key_value()?;
        Some((pos.clone(), first - 1))
    }

    fn drain(&mut self, m: &ClusterMetrics) {
        loop {
            let next = match &self.position {
                Some(p) => p.seq + 1,
                None => return,
            };
            match self.pending.first_key_value() {
                Some((&s, _)) if s < next => {
                    self.pending.pop_first();
                }
                Some((&s, _)) if s == next => {
                    let (_, p) = self.pending.pop_first().expect("present");
                    self.deliver(p, m);
                }
                _ => return,
            }
        }
    }

    /// Apply `p` (the next seq) to the state and queue its frame on every subscriber.
    fn deliver(&mut self, p: Publication, m: &ClusterMetrics) {
        let Some(state) = self.state.as_mut() else {
            return;
        };
        state.apply(&p.event, p.ts_ms);
        if let Some(pos) = self.position.as_mut() {
            pos.seq = p.seq;
        }
        while self.echoes.first().is_some_and(|&s| s <= p.seq) {
            self.echoes.pop_first();
        }
        let before = self.subscribers.len();
        self.subscribers
            .retain(|s| match s.send_frame(p.frame.clone()) {
                Queued::Yes => true,
                Queued::Overflow => {
                    m.slow_consumers.increment(1);
                    false
                }
                Queued::Closed => false,
            });
        m.deliveries.increment(before as u64);
        let age_ms = synctv_core::time::now_ms().saturating_sub(p.ts_ms);
        m.delivery_seconds.record(age_ms as f64 / 1000.0);
        if matches!(*p.event, RoomEvent::RoomDeleted {}) {
            self.deleted = true;
            self.state = None;
            self.position = None;
            self.pending.clear();
            for s in self.subscribers.drain(..) {
                s.ctl().close(CloseReason::ROOM_DELETED);
            }
        }
    }

    /// Start loading (or reloading) the room: the state is dropped, subscribers stay and get
    /// a fresh `welcome` when the new state is installed; events arriving meanwhile are held.
    pub fn begin_load(&mut self) {
        self.state = None;
        self.position = None;
        self.loading = true;
        self.pending.clear();
        self.echoes.clear();
        self.sub_high = 0;
    }

    /// Install a loaded state at `pos`; every existing subscriber gets a fresh `welcome`.
    /// Then the held events after `pos` are applied.
    pub fn install(
        &mut self,
        state: RoomState,
        pos: StreamPosition,
        welcome: WelcomeFn<'_>,
        m: &ClusterMetrics,
    ) -> Offer {
        if !self.subscribers.is_empty() {
            let snapshot = state.snapshot_json();
            self.subscribers
                .retain(|s| s.send_frame(welcome(s.id(), &pos, &snapshot)) == Queued::Yes);
        }
        self.sub_high = pos.seq;
        self.state = Some(state);
        self.loading = false;
        self.detached = false;
        let held = std::mem::take(&mut self.pending);
        if held
            .values()
            .any(|p| p.epoch != pos.epoch && p.seq > pos.seq)
        {
            self.position = Some(pos);
            return Offer::Resync;
        }
        self.pending = held
            .into_iter()
            .filter(|(_, p)| p.epoch == pos.epoch)
            .collect();
        self.position = Some(pos);
        self.drain(m);
        self.gap_status()
    }

    /// Cut the room off from the broker: held events are applied (their order gaps no longer
    /// matter), the stream continues in a new node-local epoch and every subscriber gets a
    /// fresh `welcome`. False if the room is not live or already detached.
    pub fn detach(&mut self, welcome: WelcomeFn<'_>) -> bool {
        if self.detached || self.state.is_none() {
            return false;
        }
        let held = std::mem::take(&mut self.pending);
        let state = self.state.as_mut().expect("checked");
        let mut seq = self.position.as_ref().map_or(0, |p| p.seq);
        for p in held.into_values() {
            state.apply(&p.event, p.ts_ms);
            seq = seq.max(p.seq);
        }
        self.echoes.clear();
        let pos = StreamPosition {
            seq,
            epoch: Epoch::random(),
        };
        let snapshot = state.snapshot_json();
        self.subscribers
            .retain(|s| s.send_frame(welcome(s.id(), &pos, &snapshot)) == Queued::Yes);
        self.position = Some(pos);
        self.detached = true;
        true
    }

    /// Number and deliver an event on this node alone (detached). `None` if not live.
    pub fn publish_local(
        &mut self,
        draft: &synctv_core::event::EventDraft,
        m: &ClusterMetrics,
    ) -> Option<Publication> {
        let pos = self.position.as_ref()?;
        let p = Publication::of(draft, pos.seq + 1, pos.epoch.clone());
        self.deliver(p.clone(), m);
        Some(p)
    }

    /// Forget the state (no local subscriber left).
    pub fn unload(&mut self) {
        self.state = None;
        self.position = None;
        self.loading = false;
        self.pending.clear();
        self.echoes.clear();
        self.detached = false;
    }
}

#[cfg(test)]
mod tests;
