//! The materialized state of one room on one node: room info, who is online, playlist,
//! playback and recent chat, kept current by applying the room's events in `seq` order.
//!
//! Because the state and the room's applied `seq` change together (under the hub's room
//! lock), a snapshot taken at `seq = N` holds exactly the effects of events 1..=N: a client
//! that receives the snapshot and then events N+1.. sees every change once. The state is
//! loaded from the database when a room becomes active on a node and dropped when it goes
//! idle, so idle rooms cost no memory.

use std::collections::{BTreeMap, VecDeque};

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::event::RoomEvent;
use crate::ids::{MovieId, UserId};
use crate::model::{
    ChatMessage, MemberPresence, Movie, Permission, Permissions, PlaybackState, Role, RoomInfo,
    RoomObject, allowed,
};

/// A chat message as listed in a snapshot's `recent_chat`, with when it was sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatEntry {
    #[serde(flatten)]
    pub message: ChatMessage,
    pub ts_ms: u64,
}

#[derive(Debug, Clone)]
pub struct RoomState {
    pub info: RoomInfo,
    pub members: BTreeMap<UserId, MemberPresence>,
    pub playlist: Vec<Movie>,
    pub playback: PlaybackState,
    pub recent_chat: VecDeque<ChatEntry>,
    recent_cap: usize,
}

#[derive(Serialize)]
struct SnapshotOut<'a> {
    #[serde(flatten)]
    info: &'a RoomInfo,
    member_count: usize,
    playback: &'a PlaybackState,
    members: Vec<&'a MemberPresence>,
    playlist: &'a [Movie],
    recent_chat: &'a VecDeque<ChatEntry>,
}

impl RoomState {
    pub fn new(
        info: RoomInfo,
        playlist: Vec<Movie>,
        playback: PlaybackState,
        recent_chat: Vec<ChatEntry>,
        recent_cap: usize,
    ) -> Self {
        let mut recent: VecDeque<ChatEntry> = recent_chat.into();
        while recent.len() > recent_cap {
            recent.pop_front();
        }
        Self {
            info,
            members: BTreeMap::new(),
            playlist,
            playback,
            recent_chat: recent,
            recent_cap,
        }
    }

    /// Apply one event (in `seq` order). `ts_ms` is the event's time.
    pub fn apply(&mut self, event: &RoomEvent, ts_ms: u64) {
        match event {
            RoomEvent::MemberJoined(m) => {
                self.members
                    .entry(m.user_id.clone())
                    .or_insert_with(|| MemberPresence {
                        user_id: m.user_id.clone(),
                        username: m.username.clone(),
                        role: Role::Member,
                        permissions: None,
                        connections: 1,
                    });
            }
            RoomEvent::MemberLeft(m) => {
                self.members.remove(&m.user_id);
            }
            RoomEvent::Chat(c) => {
                self.recent_chat.push_back(ChatEntry {
                    message: c.clone(),
                    ts_ms,
                });
                while self.recent_chat.len() > self.recent_cap {
                    self.recent_chat.pop_front();
                }
            }
            RoomEvent::Playback(p) => self.playback = p.state.clone(),
            RoomEvent::MovieAdded { movie } => {
                if !self.has_movie(&movie.movie_id) {
                    self.playlist.push(movie.clone());
                }
            }
            RoomEvent::MovieRemoved { movie_id } => {
                self.playlist.retain(|m| &m.movie_id != movie_id)
            }
            RoomEvent::RoomUpdated { room } => self.info = room.info.clone(),
            RoomEvent::RoomDeleted {} => {}
            RoomEvent::MemberUpdated(u) => {
                if let Some(p) = self.members.get_mut(&u.user_id) {
                    p.role = u.role;
                    p.permissions = u.permissions;
                }
            }
        }
    }

    pub fn has_movie(&self, id: &MovieId) -> bool {
        self.playlist.iter().any(|m| &m.movie_id == id)
    }

    /// Users online now.
    pub fn member_count(&self) -> usize {
        self.members.len()
    }

    /// Whether the online user `user` may do `perm` (false when not online here).
    pub fn may(&self, user: &UserId, perm: Permission) -> bool {
        self.members
            .get(user)
            .is_some_and(|m| allowed(m.role, m.permissions, &self.info.settings, perm))
    }

    /// Record the role and explicit permissions of an online member (known to the node that
    /// holds the member's connection).
    pub fn set_member_role(&mut self, user: &UserId, role: Role, permissions: Option<Permissions>) {
        if let Some(m) = self.members.get_mut(user) {
            m.role = role;
            m.permissions = permissions;
        }
    }

    pub fn room_object(&self) -> RoomObject {
        RoomObject {
            info: self.info.clone(),
            member_count: self.member_count(),
            playback: self.playback.clone(),
        }
    }

    /// The snapshot sent in `welcome`, serialized once: the room object plus members,
    /// playlist (play order) and recent chat (oldest first).
    pub fn snapshot_json(&self) -> Box<RawValue> {
        let out = SnapshotOut {
            info: &self.info,
            member_count: self.member_count(),
            playback: &self.playback,
            members: self.members.values().collect(),
            playlist: &self.playlist,
            recent_chat: &self.recent_chat,
        };
        serde_json::value::to_raw_value(&out).expect("snapshots always serialize")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{MemberRef, PlaybackChange};
    use crate::ids::{MessageId, RoomId};
    use crate::model::RoomSettings;

    fn state(cap: usize) -> RoomState {
        let info = RoomInfo {
            room_id: RoomId::from("r"),
            name: "r".into(),
            owner_id: UserId::from("o"),
            has_password: false,
            settings: RoomSettings::default(),
            created_at_ms: 1,
        };
        RoomState::new(info, vec![], PlaybackState::default(), vec![], cap)
    }

    fn chat(n: u32) -> RoomEvent {
        RoomEvent::Chat(ChatMessage {
            message_id: MessageId::from(format!("m{n}")),
            user_id: UserId::from("u"),
            username: "u".into(),
            text: format!("{n}"),
        })
    }

    #[test]
    fn recent_chat_is_bounded_and_ordered() {
        let mut s = state(2);
        for n in 0..5 {
            s.apply(&chat(n), u64::from(n));
        }
        let texts: Vec<_> = s
            .recent_chat
            .iter()
            .map(|c| c.message.text.as_str())
            .collect();
        assert_eq!(texts, ["3", "4"]);
    }

    #[test]
    fn members_join_leave_and_carry_permissions() {
        let mut s = state(10);
        let alice = UserId::from("a");
        let m = MemberRef {
            user_id: alice.clone(),
            username: "alice".into(),
        };
        s.apply(&RoomEvent::MemberJoined(m.clone()), 0);
        assert_eq!(s.member_count(), 1);
        assert!(s.may(&alice, Permission::Playback));
        s.set_member_role(&alice, Role::Guest, None);
        assert!(!s.may(&alice, Permission::Playback));
        assert!(s.may(&alice, Permission::Chat));
        s.apply(&RoomEvent::MemberLeft(m), 0);
        assert_eq!(s.member_count(), 0);
        assert!(!s.may(&alice, Permission::Chat));
    }

    #[test]
    fn playlist_and_playback_follow_events() {
        let mut s = state(10);
        let movie = Movie {
            movie_id: MovieId::from("mv"),
            url: "https://x/y".into(),
            title: "t".into(),
        };
        s.apply(
            &RoomEvent::MovieAdded {
                movie: movie.clone(),
            },
            0,
        );
        s.apply(
            &RoomEvent::MovieAdded {
                movie: movie.clone(),
            },
            0,
        );
        assert_eq!(s.playlist.len(), 1);
        let pb = PlaybackState {
            movie_id: Some(movie.movie_id.clone()),
            version: 4,
            ..PlaybackState::default()
        };
        s.apply(
            &RoomEvent::Playback(PlaybackChange {
                state: pb.clone(),
                user_id: UserId::from("u"),
            }),
            0,
        );
        assert_eq!(s.playback, pb);
        s.apply(
            &RoomEvent::MovieRemoved {
                movie_id: movie.movie_id,
            },
            0,
        );
        assert!(s.playlist.is_empty());
    }

    #[test]
    fn snapshot_lists_everything() {
        let mut s = state(10);
        s.apply(&chat(1), 5);
        let v: serde_json::Value = serde_json::from_str(s.snapshot_json().get()).unwrap();
        assert_eq!(v["room_id"], "r");
        assert_eq!(v["member_count"], 0);
        assert_eq!(v["recent_chat"][0]["text"], "1");
        assert_eq!(v["recent_chat"][0]["ts_ms"], 5);
        assert!(v["playlist"].as_array().unwrap().is_empty());
        assert_eq!(v["playback"]["version"], 0);
    }
}
