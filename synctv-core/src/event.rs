//! Room events and their one-time encoding.
//!
//! A `RoomEvent` is what happened (its `kind` and `data`, exactly as the contract lists them).
//! An `EventDraft` adds identity (event id, origin node, time) and becomes an `event` frame once
//! the broker gives it its `seq`: `encode` serializes the whole frame once, and those bytes are
//! what every socket, the replay history and (in cluster mode) the other nodes receive.

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::ids::{EventId, MovieId, NodeId, UserId};
use crate::model::{ChatMessage, Movie, Permissions, PlaybackState, Role, RoomObject};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "data", rename_all = "snake_case")]
pub enum RoomEvent {
    /// A user's first connection to the room opened.
    MemberJoined(MemberRef),
    /// A user's last connection to the room closed.
    MemberLeft(MemberRef),
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
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemberRef {
    pub user_id: UserId,
    pub username: String,
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
    pub role: Role,
    pub permissions: Option<Permissions>,
}

/// An event that has not been given its `seq` yet.
#[derive(Debug, Clone)]
pub struct EventDraft {
    pub event_id: EventId,
    pub origin_node: NodeId,
    pub ts_ms: u64,
    pub event: RoomEvent,
}

#[derive(Serialize)]
struct FrameOut<'a> {
    #[serde(rename = "type")]
    ty: &'static str,
    seq: u64,
    event_id: &'a EventId,
    origin_node: &'a NodeId,
    ts_ms: u64,
    #[serde(flatten)]
    event: &'a RoomEvent,
}

/// An `event` frame read back from its bytes (cluster mode: from another node).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct DecodedEvent {
    pub seq: u64,
    pub event_id: EventId,
    pub origin_node: NodeId,
    pub ts_ms: u64,
    #[serde(flatten)]
    pub event: RoomEvent,
}

impl EventDraft {
    /// A draft stamped now.
    pub fn new(origin_node: NodeId, event: RoomEvent) -> Self {
        Self::at(origin_node, event, crate::time::now_ms())
    }

    /// A draft stamped `ts_ms` (so a stored row and its event agree on the time).
    pub fn at(origin_node: NodeId, event: RoomEvent, ts_ms: u64) -> Self {
        Self {
            event_id: EventId::generate(),
            origin_node,
            ts_ms,
            event,
        }
    }

    /// The complete `event` frame for `seq`, serialized once.
    pub fn encode(&self, seq: u64) -> Bytes {
        let frame = FrameOut {
            ty: "event",
            seq,
            event_id: &self.event_id,
            origin_node: &self.origin_node,
            ts_ms: self.ts_ms,
            event: &self.event,
        };
        // Serializing plain structs of strings and numbers into a Vec cannot fail.
        Bytes::from(serde_json::to_vec(&frame).expect("event frames always serialize"))
    }
}

impl DecodedEvent {
    pub fn decode(bytes: &[u8]) -> serde_json::Result<Self> {
        serde_json::from_slice(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::MessageId;
    use serde_json::{Value, json};

    fn draft(event: RoomEvent) -> EventDraft {
        EventDraft {
            event_id: EventId::from("e1"),
            origin_node: NodeId::from("n1"),
            ts_ms: 42,
            event,
        }
    }

    #[test]
    fn chat_frame_matches_the_contract() {
        let d = draft(RoomEvent::Chat(ChatMessage {
            message_id: MessageId::from("m"),
            user_id: UserId::from("u"),
            username: "alice".into(),
            text: "hi".into(),
        }));
        let v: Value = serde_json::from_slice(&d.encode(7)).unwrap();
        assert_eq!(
            v,
            json!({"type":"event","seq":7,"event_id":"e1","origin_node":"n1","ts_ms":42,
                   "kind":"chat","data":{"message_id":"m","user_id":"u","username":"alice","text":"hi"}})
        );
    }

    #[test]
    fn playback_data_is_flat_with_user_id() {
        let d = draft(RoomEvent::Playback(PlaybackChange {
            state: PlaybackState::default(),
            user_id: UserId::from("u"),
        }));
        let v: Value = serde_json::from_slice(&d.encode(1)).unwrap();
        assert_eq!(
            v["data"],
            json!({"movie_id":null,"playing":false,"position_ms":0,"rate":1.0,
                   "updated_at_ms":0,"version":0,"user_id":"u"})
        );
    }

    #[test]
    fn room_deleted_has_empty_object_data() {
        let v: Value = serde_json::from_slice(&draft(RoomEvent::RoomDeleted {}).encode(3)).unwrap();
        assert_eq!(v["kind"], "room_deleted");
        assert_eq!(v["data"], json!({}));
    }

    #[test]
    fn frames_decode_back_to_the_same_event() {
        let events = [
            RoomEvent::MemberJoined(MemberRef {
                user_id: UserId::from("u"),
                username: "bob".into(),
            }),
            RoomEvent::MovieRemoved {
                movie_id: MovieId::from("mv"),
            },
            RoomEvent::RoomDeleted {},
            RoomEvent::Playback(PlaybackChange {
                state: PlaybackState::default(),
                user_id: UserId::from("u"),
            }),
        ];
        for e in events {
            let d = draft(e.clone());
            let back = DecodedEvent::decode(&d.encode(9)).unwrap();
            assert_eq!(back.seq, 9);
            assert_eq!(back.event, e);
            assert_eq!(back.event.kind(), e.kind());
        }
    }
}
