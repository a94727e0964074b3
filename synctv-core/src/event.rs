//! Room events and their one-time encoding.
//!
//! A `RoomEvent` is what happened (its `kind` and `data`, exactly as the contract lists them).
//! An `EventDraft` adds identity (event id, origin node, time) and serializes the event's
//! `{"kind":..,"data":..}` JSON once, when it is made. Everything else is built from those
//! bytes by concatenation, never by serializing again:
//!
//! - the client `event` frame, once the broker gives the event its `seq` ([`frame`]);
//! - the cluster envelope `{"seq","epoch","node_id","message_id","timestamp","event"}` that
//!   travels through Redis (the Redis scripts prepend `seq` and `epoch` themselves, because
//!   only they know them).
//!
//! A node receiving an envelope rebuilds the frame with the same function, so every node
//! sends byte-identical frames for one event and replays are byte-identical too.

use std::sync::Arc;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::ids::{Epoch, EventId, MovieId, NodeId, UserId};
use crate::model::{ChatMessage, Movie, Permissions, PlaybackState, Role, RoomObject};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "data", rename_all = "snake_case")]
pub enum RoomEvent {
    /// A user's first connection to the room (on any node) opened.
    MemberJoined(MemberInfo),
    /// A user's last connection to the room (on every node) closed.
    MemberLeft(MemberInfo),
    Chat(ChatMessage),
    Playback(PlaybackChange),
    MovieAdded {
        movie: Movie,
    },
    MovieRemoved {
        movie_id: MovieId,
    },
    RoomUpdated {
        room: RoomObject,
    },
    RoomDeleted {},
    /// A member's role or explicit permissions changed (extension to the contract).
    MemberUpdated(MemberUpdate),
}

impl RoomEvent {
    pub fn kind(&self) -> &'static str {
        match self {
            RoomEvent::MemberJoined(_) => "member_joined",
            RoomEvent::MemberLeft(_) => "member_left",
            RoomEvent::Chat(_) => "chat",
            RoomEvent::Playback(_) => "playback",
            RoomEvent::MovieAdded { .. } => "movie_added",
            RoomEvent::MovieRemoved { .. } => "movie_removed",
            RoomEvent::RoomUpdated { .. } => "room_updated",
            RoomEvent::RoomDeleted {} => "room_deleted",
            RoomEvent::MemberUpdated(_) => "member_updated",
        }
    }

    /// The event's `{"kind":..,"data":..}` JSON.
    pub fn to_json(&self) -> Bytes {
        // Plain structs of strings and numbers always serialize.
        Bytes::from(serde_json::to_vec(self).expect("room events always serialize"))
    }
}

/// Who a member is and what they may do: the data of `member_joined` and `member_left`
/// (the contract asks for `user_id` and `username`; role and permissions are an extension
/// that lets every node know a member's rights from the event stream alone).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemberInfo {
    pub user_id: UserId,
    pub username: String,
    pub role: Role,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permissions: Option<Permissions>,
}

impl MemberInfo {
    /// The JSON stored for an online member (Redis presence) and used verbatim as event data.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("member info always serializes")
    }
}

/// The full playback state after a change, flat, plus who changed it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlaybackChange {
    #[serde(flatten)]
    pub state: PlaybackState,
    pub user_id: UserId,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemberUpdate {
    pub user_id: UserId,
    pub username: String,
    pub role: Role,
    pub permissions: Option<Permissions>,
}

impl MemberUpdate {
    /// The member as online lists show them after the change.
    pub fn info(&self) -> MemberInfo {
        MemberInfo {
            user_id: self.user_id.clone(),
            username: self.username.clone(),
            role: self.role,
            permissions: self.permissions,
        }
    }
}

/// An event that has not been given its `seq` yet.
#[derive(Debug, Clone)]
pub struct EventDraft {
    pub event_id: EventId,
    pub origin_node: NodeId,
    pub ts_ms: u64,
    /// Shared, so every publication of it points at the same event.
    pub event: Arc<RoomEvent>,
    /// `event` serialized, once.
    pub event_json: Bytes,
}

impl EventDraft {
    /// A draft stamped now.
    pub fn new(origin_node: NodeId, event: RoomEvent) -> Self {
        Self::at(origin_node, event, crate::time::now_ms())
    }

    /// A draft stamped `ts_ms` (so a stored row and its event agree on the time).
    pub fn at(origin_node: NodeId, event: RoomEvent, ts_ms: u64) -> Self {
        let event_json = event.to_json();
        Self {
            event_id: EventId::generate(),
            origin_node,
            ts_ms,
            event: Arc::new(event),
            event_json,
        }
    }

    /// The complete `event` frame for `seq`.
    pub fn encode(&self, seq: u64) -> Bytes {
        frame(
            seq,
            &self.event_id,
            &self.origin_node,
            self.ts_ms,
            &self.event_json,
        )
    }
}

/// Build an `event` frame from its parts: `{"type":"event","seq":..,"event_id":..,
/// "origin_node":..,"ts_ms":..,"kind":..,"data":..}`, where the last two come from the
/// event's own JSON object (`{"kind":..,"data":..}`).
pub fn frame(
    seq: u64,
    event_id: &EventId,
    origin: &NodeId,
    ts_ms: u64,
    event_json: &[u8],
) -> Bytes {
    let body = event_json.strip_prefix(b"{").unwrap_or(event_json);
    let mut out =
        Vec::with_capacity(96 + event_id.as_str().len() + origin.as_str().len() + body.len());
    out.extend_from_slice(b"{\"type\":\"event\",\"seq\":");
    out.extend_from_slice(seq.to_string().as_bytes());
    out.extend_from_slice(b",\"event_id\":");
    json_string(&mut out, event_id.as_str());
    out.extend_from_slice(b",\"origin_node\":");
    json_string(&mut out, origin.as_str());
    out.extend_from_slice(b",\"ts_ms\":");
    out.extend_from_slice(ts_ms.to_string().as_bytes());
    out.push(b',');
    out.extend_from_slice(body);
    Bytes::from(out)
}

fn json_string(out: &mut Vec<u8>, s: &str) {
    serde_json::to_writer(&mut *out, s).expect("writing to a Vec cannot fail");
}

/// An envelope as it travels between nodes.
#[derive(Deserialize)]
struct EnvelopeIn<'a> {
    seq: u64,
    epoch: Epoch,
    node_id: NodeId,
    message_id: EventId,
    timestamp: u64,
    #[serde(borrow)]
    event: &'a RawValue,
}

/// An envelope read back: the event, its stream position and its client frame.
#[derive(Debug, Clone)]
pub struct Envelope {
    pub seq: u64,
    pub epoch: Epoch,
    pub origin_node: NodeId,
    pub event_id: EventId,
    pub ts_ms: u64,
    pub event: RoomEvent,
    /// The client frame, built exactly as the origin node built it.
    pub frame: Bytes,
}

impl Envelope {
    pub fn decode(bytes: &[u8]) -> serde_json::Result<Envelope> {
        let e: EnvelopeIn = serde_json::from_slice(bytes)?;
        let event: RoomEvent = serde_json::from_str(e.event.get())?;
        let frame = frame(
            e.seq,
            &e.message_id,
            &e.node_id,
            e.timestamp,
            e.event.get().as_bytes(),
        );
        Ok(Envelope {
            seq: e.seq,
            epoch: e.epoch,
            origin_node: e.node_id,
            event_id: e.message_id,
            ts_ms: e.timestamp,
            event,
            frame,
        })
    }
}

/// The envelope fields a node supplies (all but `seq` and `epoch`), as the JSON text that
/// follows `"epoch":"..",` up to and including `"event":`. The Redis scripts complete it.
pub fn envelope_head(origin: &NodeId, event_id: &EventId, ts_ms: u64) -> String {
    let mut out = Vec::with_capacity(128);
    out.extend_from_slice(b"\"node_id\":");
    json_string(&mut out, origin.as_str());
    out.extend_from_slice(b",\"message_id\":");
    json_string(&mut out, event_id.as_str());
    out.extend_from_slice(b",\"timestamp\":");
    out.extend_from_slice(ts_ms.to_string().as_bytes());
    out.extend_from_slice(b",\"event\":");
    String::from_utf8(out).expect("JSON is UTF-8")
}

/// A whole envelope (what the scripts produce), for tests and the in-process broker.
pub fn envelope(seq: u64, epoch: &Epoch, draft: &EventDraft) -> Bytes {
    let mut out = Vec::with_capacity(160 + draft.event_json.len());
    out.extend_from_slice(b"{\"seq\":");
    out.extend_from_slice(seq.to_string().as_bytes());
    out.extend_from_slice(b",\"epoch\":");
    json_string(&mut out, epoch.as_str());
    out.push(b',');
    out.extend_from_slice(
        envelope_head(&draft.origin_node, &draft.event_id, draft.ts_ms).as_bytes(),
    );
    out.extend_from_slice(&draft.event_json);
    out.push(b'}');
    Bytes::from(out)
}

#[cfg(test)]
mod tests;
