//! The seam between nodes. A broker owns, per room, the event stream and the cluster-wide
//! presence: it assigns the next gapless `seq` (within an `epoch`), keeps the replay history,
//! counts every node's connections per user, and carries events to the other nodes.
//!
//! Delivery is asynchronous: `publish` returns the event's position as soon as the event is
//! in the stream, and the node that published delivers it to its own sockets itself. Other
//! nodes' events arrive through the [`BrokerSink`] given to [`Broker::start`], in `seq` order
//! per room as far as the transport keeps it; when a subscription may have lost messages the
//! sink hears [`BrokerSink::resubscribed`] and the node reconciles from the stream. A broker
//! never hands a node its own events back (the Redis broker drops their echo and only tells
//! the sink it saw it).
//!
//! [`LocalBroker`] keeps streams in process memory: one node alone, or several nodes sharing
//! a [`LocalBus`] in one process (tests). [`crate::redis::RedisBroker`] serves clusters. Both
//! pass the contract tests in `tests/broker_contract.rs`.

mod local;
mod presence;

pub use local::{LocalBroker, LocalBus};

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use synctv_core::event::{Envelope, EventDraft, MemberInfo, RoomEvent};
use synctv_core::ids::{Epoch, EventId, NodeId, RoomId, UserId};

use crate::Result;

/// A room event with its place in the room's stream.
#[derive(Debug, Clone)]
pub struct Publication {
    pub seq: u64,
    pub epoch: Epoch,
    pub ts_ms: u64,
    pub event_id: EventId,
    pub origin: NodeId,
    /// The encoded `event` frame, shared by every socket.
    pub frame: Bytes,
    pub event: Arc<RoomEvent>,
}

impl Publication {
    /// The publication of `draft` at `seq` in `epoch`.
    pub fn of(draft: &EventDraft, seq: u64, epoch: Epoch) -> Publication {
        Publication {
            seq,
            epoch,
            ts_ms: draft.ts_ms,
            event_id: draft.event_id.clone(),
            origin: draft.origin_node.clone(),
            frame: draft.encode(seq),
            event: draft.event.clone(),
        }
    }

    pub fn from_envelope(e: Envelope) -> Publication {
        Publication {
            seq: e.seq,
            epoch: e.epoch,
            ts_ms: e.ts_ms,
            event_id: e.event_id,
            origin: e.origin_node,
            frame: e.frame,
            event: Arc::new(e.event),
        }
    }
}

/// A point of a room's stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamPosition {
    pub seq: u64,
    pub epoch: Epoch,
}

/// A room's stream position and its online members, read together: what a node needs to
/// load the room.
#[derive(Debug, Clone)]
pub struct RoomPoint {
    pub position: StreamPosition,
    /// Every online member (any node) and their total connections.
    pub members: Vec<(MemberInfo, u32)>,
}

/// The outcome of registering one connection of a member.
#[derive(Debug, Clone)]
pub struct PresenceJoin {
    /// `member_joined`, when this was the user's first connection anywhere.
    pub event: Option<Publication>,
    /// Users' total connections after the join.
    pub counts: HashMap<UserId, u32>,
}

/// A range of a room's stream, read together with the stream's head.
#[derive(Debug, Clone)]
pub struct HistoryRead {
    pub position: StreamPosition,
    /// The events `since < seq <= upto`, or `None` when any of them is no longer retained.
    pub events: Option<Vec<Publication>>,
}

/// Identity for events a broker composes itself (presence changes): origin, id, time.
/// Several events from one call get ids `<event_id>-<n>`.
#[derive(Debug, Clone)]
pub struct EventMeta {
    pub origin: NodeId,
    pub event_id: EventId,
    pub ts_ms: u64,
}

impl EventMeta {
    pub fn new(origin: NodeId) -> Self {
        Self {
            origin,
            event_id: EventId::generate(),
            ts_ms: synctv_core::time::now_ms(),
        }
    }

    /// The draft of `event` with this identity (the `n`-th of a call when `n > 0`).
    pub fn draft(&self, event: RoomEvent, n: usize) -> EventDraft {
        let mut d = EventDraft::at(self.origin.clone(), event, self.ts_ms);
        d.event_id = if n == 0 {
            self.event_id.clone()
        } else {
            EventId::from(format!("{}-{n}", self.event_id))
        };
        d
    }
}

/// Something about a room that is not an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoomControl {
    /// The room's stream starts over in `epoch`: reload the room and give clients a fresh
    /// snapshot.
    Resync { epoch: Epoch },
}

/// Whether the broker is doing its job right now (`/ready`'s `redis` check).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BrokerHealth {
    /// In-process broker: nothing can fail.
    Local,
    /// Connected, and the canary comes back through the subscription.
    Ok,
    /// Unreachable, or the subscription stopped delivering.
    Failing,
}

/// Where a broker hands what arrives for this node. Calls come from the broker's reader and
/// must not block (queue work, do not await it).
pub trait BrokerSink: Send + Sync + 'static {
    /// Another node's event of a room this node subscribes to.
    fn publication(&self, room: &RoomId, p: Publication);
    /// The subscription carried this node's own event `seq` (dropped as a duplicate): every
    /// earlier event of the room has passed the subscription too.
    fn own_echo(&self, room: &RoomId, epoch: &Epoch, seq: u64);
    fn control(&self, room: &RoomId, control: RoomControl);
    /// A message on the cluster-wide broadcast channel (from another node).
    fn broadcast(&self, payload: Bytes);
    /// The subscriptions were re-established after a loss: messages may have been missed in
    /// between, so every room must be reconciled with its stream.
    fn resubscribed(&self);
}

#[async_trait]
pub trait Broker: Send + Sync + 'static {
    /// Connect and start delivering to `sink`. Fails when the backing service is
    /// unreachable.
    async fn start(&self, sink: Arc<dyn BrokerSink>) -> Result<()>;

    /// Stop delivering and close connections.
    async fn close(&self);

    /// Give `draft` the room's next `seq`, retain it for replay and send it to every node
    /// subscribed to the room. Returns once the event is in the stream.
    async fn publish(&self, room: &RoomId, draft: &EventDraft) -> Result<Publication>;

    /// Register one connection of `member` on this node; publishes `draft` (its
    /// `member_joined`) when it is the user's first connection anywhere.
    async fn join(
        &self,
        room: &RoomId,
        member: &MemberInfo,
        draft: &EventDraft,
    ) -> Result<PresenceJoin>;

    /// Unregister one connection of `user` on this node; publishes `member_left` when it was
    /// the user's last connection anywhere.
    async fn leave(
        &self,
        room: &RoomId,
        user: &UserId,
        meta: &EventMeta,
    ) -> Result<Option<Publication>>;

    /// Make this node's registered connections in `room` exactly `local` (after an outage),
    /// publishing `member_joined`/`member_left` where a user's total crosses zero.
    async fn sync_presence(
        &self,
        room: &RoomId,
        local: &[(MemberInfo, u32)],
        meta: &EventMeta,
    ) -> Result<Vec<Publication>>;

    /// Remove every connection `node` registered in `room` (the node died), publishing
    /// `member_left` for users who were only there.
    async fn drop_node(
        &self,
        room: &RoomId,
        node: &NodeId,
        meta: &EventMeta,
    ) -> Result<Vec<Publication>>;

    /// The room's position and online members, read together. A room without a stream gets
    /// one (seq 0 in a fresh epoch).
    async fn load_point(&self, room: &RoomId) -> Result<RoomPoint>;

    /// The events after `since` up to `upto` (default: the head), with the head.
    async fn read(&self, room: &RoomId, since: u64, upto: Option<u64>) -> Result<HistoryRead>;

    /// Start the room's stream over in a new epoch (seq 0, history dropped) and tell every
    /// subscribed node to resync it.
    async fn new_epoch(&self, room: &RoomId) -> Result<StreamPosition>;

    /// Deliver the room's events to this node from now on. Returns once the subscription is
    /// confirmed; on failure the room stays wanted and is subscribed on reconnect.
    async fn subscribe(&self, room: &RoomId) -> Result<()>;

    async fn unsubscribe(&self, room: &RoomId) -> Result<()>;

    /// Send `payload` to every other node.
    async fn broadcast(&self, payload: &[u8]) -> Result<()>;

    /// Users online in the room, cluster-wide.
    async fn member_count(&self, room: &RoomId) -> Result<usize>;

    fn health(&self) -> BrokerHealth;

    /// Periodic upkeep of in-process state.
    fn sweep(&self, now_ms: u64);

    /// "local" or "redis" (for status and logs).
    fn kind(&self) -> &'static str;
}
