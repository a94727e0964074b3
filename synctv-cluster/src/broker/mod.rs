//! The seam between nodes. A broker owns, per room, the event stream: it assigns the next
//! gapless `seq` (within an `epoch`), keeps the replay history, and hands every publication,
//! in `seq` order, to each interested node's [`PublicationHandler`] (the hub).
//!
//! [`LocalBroker`] serves a single node in memory. A Redis broker implements the same trait
//! for clusters; both must pass the contract tests in `tests/broker_contract.rs`.

mod local;

pub use local::LocalBroker;

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use synctv_core::event::{EventDraft, RoomEvent};
use synctv_core::ids::{Epoch, RoomId};

use crate::Result;

/// A room event with its place in the room's stream.
#[derive(Debug, Clone)]
pub struct Publication {
    pub seq: u64,
    pub epoch: Epoch,
    pub ts_ms: u64,
    /// The encoded `event` frame, shared by every socket.
    pub frame: Bytes,
    pub event: Arc<RoomEvent>,
}

/// The latest point of a room's stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamPosition {
    pub seq: u64,
    pub epoch: Epoch,
}

/// Receives a node's publications, in `seq` order per room (the hub implements it).
pub trait PublicationHandler: Send + Sync + 'static {
    fn handle(&self, room: &RoomId, publication: &Publication);
}

#[async_trait]
pub trait Broker: Send + Sync + 'static {
    /// Give `draft` the room's next `seq`, retain it for replay and deliver it to every
    /// node's handler. Returns once the event is in the stream.
    async fn publish(&self, room: &RoomId, draft: EventDraft) -> Result<Publication>;

    /// The room's latest position (seq 0 in a fresh epoch if the room has no stream yet).
    async fn position(&self, room: &RoomId) -> Result<StreamPosition>;

    /// The frames with `since < seq <= upto` of `epoch`, or `None` if any of them is no
    /// longer retained (or the epoch is not the current one).
    async fn history(
        &self,
        room: &RoomId,
        epoch: &Epoch,
        since: u64,
        upto: u64,
    ) -> Result<Option<Vec<Bytes>>>;

    /// This node has local subscribers for `room`: deliver its publications here, and keep
    /// its stream (seq and epoch) alive.
    async fn subscribe(&self, room: &RoomId) -> Result<()>;

    /// This node no longer has local subscribers for `room`.
    async fn unsubscribe(&self, room: &RoomId) -> Result<()>;

    /// Periodic upkeep: expire history, forget idle streams.
    fn sweep(&self, now_ms: u64);

    /// "local" or "redis" (for status and logs).
    fn kind(&self) -> &'static str;
}
