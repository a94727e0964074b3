//! Room settings: visibility, guest admission and, per permission, the least role that has it.
//! Clients send partial settings (`SettingsPatch`); unknown keys are ignored so that older
//! servers accept newer clients.

use serde::{Deserialize, Serialize};

use super::{Permission, Role};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RoomSettings {
    /// Hidden rooms are not listed by `GET /api/rooms` (still reachable by id).
    pub hidden: bool,
    /// Whether guest identities may join.
    pub guests_allowed: bool,
    /// Least role that may chat.
    pub chat_role: Role,
    /// Least role that may control playback.
    pub playback_role: Role,
    /// Least role that may add and remove movies.
    pub playlist_role: Role,
}

impl Default for RoomSettings {
    fn default() -> Self {
        Self {
            hidden: false,
            guests_allowed: true,
            chat_role: Role::Guest,
            playback_role: Role::Member,
            playlist_role: Role::Member,
        }
    }
}

impl RoomSettings {
    pub fn min_role(&self, p: Permission) -> Role {
        match p {
            Permission::Chat => self.chat_role,
            Permission::Playback => self.playback_role,
            Permission::Playlist => self.playlist_role,
        }
    }

    pub fn apply(&mut self, patch: &SettingsPatch) {
        if let Some(v) = patch.hidden {
            self.hidden = v;
        }
        if let Some(v) = patch.guests_allowed {
            self.guests_allowed = v;
        }
        if let Some(v) = patch.chat_role {
            self.chat_role = v;
        }
        if let Some(v) = patch.playback_role {
            self.playback_role = v;
        }
        if let Some(v) = patch.playlist_role {
            self.playlist_role = v;
        }
    }
}

/// A partial update of [`RoomSettings`]; absent fields keep their value.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct SettingsPatch {
    pub hidden: Option<bool>,
    pub guests_allowed: Option<bool>,
    pub chat_role: Option<Role>,
    pub playback_role: Option<Role>,
    pub playlist_role: Option<Role>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patch_changes_only_given_fields() {
        let mut s = RoomSettings::default();
        let patch: SettingsPatch =
            serde_json::from_str(r#"{"hidden":true,"playback_role":"admin","future":1}"#).unwrap();
        s.apply(&patch);
        assert!(s.hidden);
        assert_eq!(s.playback_role, Role::Admin);
        assert_eq!(s.chat_role, Role::Guest);
        assert!(s.guests_allowed);
    }

    #[test]
    fn stored_settings_fill_missing_fields_with_defaults() {
        let s: RoomSettings = serde_json::from_str(r#"{"hidden":true}"#).unwrap();
        assert!(s.hidden);
        assert_eq!(s.playlist_role, Role::Member);
    }
}
