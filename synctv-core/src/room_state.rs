//! The materialized state of one room on one node: room info, who is online, playlist,
//! playback and recent chat, kept current by applying the room's events in `seq` order.
//!
//! The state is a function of the event stream: every change a node sees arrives as an event,
//! and applying an event never depends on which node applies it or on when the state was
//! loaded. Overwriting changes (playback, room info) carry a version and only a newer version
//! is applied, so a state loaded from the database and one built from events converge even
//! when two changes cross in flight. Ordered collections use a key every node agrees on
//! (chat: time then id; playlist: the time-ordered movie id), not arrival order.
//!
//! Because the state and the room's applied `seq` change together (under the hub's room
//! lock), a snapshot taken at `seq = N` holds exactly the effects of events 1..=N. The state
//! is loaded when a room becomes active on a node and dropped when it goes idle, so idle
//! rooms cost no memory.

use std::collections::{BTreeMap, HashMap, VecDeque};

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::event::{MemberInfo, RoomEvent};
use crate::ids::{MovieId, UserId};
use crate::model::{
    ChatMessage, MemberPresence, Movie, Permission, PlaybackState, RoomInfo, RoomObject, allowed,
};

/// A chat message as listed in a snapshot's `recent_chat`, with when it was sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatEntry {
    #[serde(flatten)]
    pub message: ChatMessage,
    pub ts_ms: u64,
}

impl ChatEntry {
    fn order_key(&self) -> (u64, &str) {
        (self.ts_ms, self.message.message_id.as_str())
    }
}

#[derive(Debug, Clone)]
pub struct RoomState {
    pub info: RoomInfo,
    pub members: BTreeMap<UserId, MemberPresence>,
    /// Play order: by movie id (UUID v7, so creation order).
    pub playlist: Vec<Movie>,
    pub playback: PlaybackState,
    /// Oldest first, by (time, message id).
    pub recent_chat: VecDeque<ChatEntry>,
    recent_cap: usize,
}

#[derive(Serialize)]
struct SnapshotHead<'a> {
    #[serde(flatten)]
    info: &'a RoomInfo,
    member_count: usize,
    playback: &'a PlaybackState,
    playlist: &'a [Movie],
    recent_chat: &'a VecDeque<ChatEntry>,
}

/// A snapshot taken under the room lock, finished later: everything is serialized at once
/// except the member list, whose connection counts may be refreshed from the cluster-wide
/// presence before the snapshot is sent.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// The JSON object without its closing brace and without `members`.
    head: String,
    pub members: Vec<MemberPresence>,
}

impl Snapshot {
    /// The `room` object of a `welcome`. `counts` gives users' total connections across
    /// the cluster where known.
    pub fn finish(mut self, counts: &HashMap<UserId, u32>) -> Box<RawValue> {
        for m in &mut self.members {
            if let Some(&c) = counts.get(&m.user_id) {
                m.connections = c.max(1);
            }
        }
        let mut out = self.head;
        out.push_str(",\"members\":");
        out.push_str(&serde_json::to_string(&self.members).expect("members serialize"));
        out.push('}');
        RawValue::from_string(out).expect("a snapshot is a JSON object")
    }
}

impl RoomState {
    pub fn new(
        info: RoomInfo,
        mut playlist: Vec<Movie>,
        playback: PlaybackState,
        mut recent_chat: Vec<ChatEntry>,
        recent_cap: usize,
    ) -> Self {
        playlist.sort_by(|a, b| a.movie_id.cmp(&b.movie_id));
        recent_chat.sort_by(|a, b| a.order_key().cmp(&b.order_key()));
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

    /// Add an online member as the presence registry lists them (when loading).
    pub fn add_member(&mut self, m: &MemberInfo, connections: u32) {
        self.members
            .insert(m.user_id.clone(), presence(m, connections));
    }

    /// Apply one event (in `seq` order). `ts_ms` is the event's time.
    pub fn apply(&mut self, event: &RoomEvent, ts_ms: u64) {
        match event {
            RoomEvent::MemberJoined(m) => {
                let connections = self.members.get(&m.user_id).map_or(1, |p| p.connections);
                self.members
                    .insert(m.user_id.clone(), presence(m, connections));
            }
            RoomEvent::MemberLeft(m) => {
                self.members.remove(&m.user_id);
            }
            RoomEvent::Chat(c) => self.push_chat(ChatEntry {
                message: c.clone(),
                ts_ms,
            }),
            RoomEvent::Playback(p) => {
                if p.state.version > self.playback.version {
                    self.playback = p.state.clone();
                }
            }
            RoomEvent::MovieAdded { movie } => {
                if let Err(i) = self
                    .playlist
                    .binary_search_by(|m| m.movie_id.cmp(&movie.movie_id))
                {
                    self.playlist.insert(i, movie.clone());
                }
            }
            RoomEvent::MovieRemoved { movie_id } => {
                self.playlist.retain(|m| &m.movie_id != movie_id)
            }
            RoomEvent::RoomUpdated { room } => {
                if room.info.version > self.info.version {
                    self.info = room.info.clone();
                }
            }
            RoomEvent::RoomDeleted {} => {}
            RoomEvent::MemberUpdated(u) => {
                if let Some(p) = self.members.get_mut(&u.user_id) {
                    p.role = u.role;
                    p.permissions = u.permissions;
                }
            }
        }
    }

    fn push_chat(&mut self, entry: ChatEntry) {
        let key = entry.order_key();
        let at = self
            .recent_chat
            .iter()
            .rposition(|c| c.order_key() <= key)
            .map_or(0, |i| i + 1);
        if at > 0 && self.recent_chat[at - 1].message.message_id == entry.message.message_id {
            return; // already listed
        }
        self.recent_chat.insert(at, entry);
        while self.recent_chat.len() > self.recent_cap {
            self.recent_chat.pop_front();
        }
    }

    pub fn has_movie(&self, id: &MovieId) -> bool {
        self.playlist.iter().any(|m| &m.movie_id == id)
    }

    /// Users online now.
    pub fn member_count(&self) -> usize {
        self.members.len()
    }

    /// Whether the online user `user` may do `perm` (false when not online).
    pub fn may(&self, user: &UserId, perm: Permission) -> bool {
        self.members
            .get(user)
            .is_some_and(|m| allowed(m.role, m.permissions, &self.info.settings, perm))
    }

    pub fn room_object(&self) -> RoomObject {
        RoomObject {
            info: self.info.clone(),
            member_count: self.member_count(),
            playback: self.playback.clone(),
        }
    }

    /// The snapshot sent in `welcome`: the room object plus members, playlist (play order)
    /// and recent chat (oldest first).
    pub fn snapshot(&self) -> Snapshot {
        let head = SnapshotHead {
            info: &self.info,
            member_count: self.member_count(),
            playback: &self.playback,
            playlist: &self.playlist,
            recent_chat: &self.recent_chat,
        };
        let mut head = serde_json::to_string(&head).expect("snapshots always serialize");
        head.pop(); // the closing brace: `finish` appends the members
        Snapshot {
            head,
            members: self.members.values().cloned().collect(),
        }
    }

    /// The snapshot with the connection counts this node knows.
    pub fn snapshot_json(&self) -> Box<RawValue> {
        self.snapshot().finish(&HashMap::new())
    }
}

fn presence(m: &MemberInfo, connections: u32) -> MemberPresence {
    MemberPresence {
        user_id: m.user_id.clone(),
        username: m.username.clone(),
        role: m.role,
        permissions: m.permissions,
        connections,
    }
}

#[cfg(test)]
mod tests;
