//! A room as stored (`RoomRecord`, with its password hash) and as shown to clients
//! (`RoomInfo`, which only says whether a password is set).

use serde::{Deserialize, Serialize};

use super::RoomSettings;
use crate::ids::{RoomId, UserId};

/// The stored room row.
#[derive(Debug, Clone)]
pub struct RoomRecord {
    pub room_id: RoomId,
    pub name: String,
    pub owner_id: UserId,
    /// argon2 PHC string; `None` for rooms without a password.
    pub password_hash: Option<String>,
    pub settings: RoomSettings,
    pub created_at_ms: u64,
    /// Grows by one with every change (compare-and-set updates; nodes apply the newest).
    pub version: u64,
}

impl RoomRecord {
    pub fn info(&self) -> RoomInfo {
        RoomInfo {
            room_id: self.room_id.clone(),
            name: self.name.clone(),
            owner_id: self.owner_id.clone(),
            has_password: self.password_hash.is_some(),
            settings: self.settings.clone(),
            created_at_ms: self.created_at_ms,
            version: self.version,
        }
    }
}

/// What every client may know about a room.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoomInfo {
    pub room_id: RoomId,
    pub name: String,
    pub owner_id: UserId,
    pub has_password: bool,
    pub settings: RoomSettings,
    pub created_at_ms: u64,
    /// The room's version: every change bumps it (extension to the contract).
    #[serde(default)]
    pub version: u64,
}

/// The room object of the REST API and of `room_updated`: the room, how many users are
/// online now, and the current playback.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoomObject {
    #[serde(flatten)]
    pub info: RoomInfo,
    pub member_count: usize,
    pub playback: super::PlaybackState,
}
