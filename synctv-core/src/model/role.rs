//! Roles and permissions. A member's role is owner (the creator), admin, member (a registered
//! user who joined) or guest (a guest identity). Room settings give, per permission, the least
//! role that has it; a member may carry an explicit permission set that replaces the role's.
//! The owner always has every permission, so a room can never lock out its owner.

use serde::{Deserialize, Serialize};

use super::RoomSettings;

/// Ordered from least to most privileged, so `role >= settings.playback_role` reads naturally.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Guest,
    Member,
    Admin,
    Owner,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Guest => "guest",
            Role::Member => "member",
            Role::Admin => "admin",
            Role::Owner => "owner",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Some(match s {
            "guest" => Role::Guest,
            "member" => Role::Member,
            "admin" => Role::Admin,
            "owner" => Role::Owner,
            _ => return None,
        })
    }
}

/// One thing a member may do in a room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    Chat,
    Playback,
    Playlist,
}

impl Permission {
    pub const ALL: [Permission; 3] = [Permission::Chat, Permission::Playback, Permission::Playlist];

    fn bit(self) -> u8 {
        match self {
            Permission::Chat => 1,
            Permission::Playback => 2,
            Permission::Playlist => 4,
        }
    }
}

/// A set of permissions: stored as a small bit set, serialized as a list of names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Permissions(u8);

impl Permissions {
    pub fn contains(self, p: Permission) -> bool {
        self.0 & p.bit() != 0
    }

    pub fn from_bits(bits: i64) -> Permissions {
        Permissions((bits & 7) as u8)
    }

    pub fn bits(self) -> i64 {
        i64::from(self.0)
    }
}

impl FromIterator<Permission> for Permissions {
    fn from_iter<I: IntoIterator<Item = Permission>>(iter: I) -> Self {
        Permissions(iter.into_iter().fold(0, |acc, p| acc | p.bit()))
    }
}

impl Serialize for Permissions {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let list: Vec<Permission> = Permission::ALL
            .into_iter()
            .filter(|p| self.contains(*p))
            .collect();
        list.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Permissions {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Vec::<Permission>::deserialize(d)?.into_iter().collect())
    }
}

/// Whether a member with `role` (and optional explicit `grant`) may do `perm` under `settings`.
pub fn allowed(
    role: Role,
    grant: Option<Permissions>,
    settings: &RoomSettings,
    perm: Permission,
) -> bool {
    if role == Role::Owner {
        return true;
    }
    match grant {
        Some(g) => g.contains(perm),
        None => role >= settings.min_role(perm),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_let_members_do_everything_and_guests_only_chat() {
        let s = RoomSettings::default();
        for p in Permission::ALL {
            assert!(allowed(Role::Member, None, &s, p));
            assert!(allowed(Role::Admin, None, &s, p));
            assert!(allowed(Role::Owner, None, &s, p));
        }
        assert!(allowed(Role::Guest, None, &s, Permission::Chat));
        assert!(!allowed(Role::Guest, None, &s, Permission::Playback));
        assert!(!allowed(Role::Guest, None, &s, Permission::Playlist));
    }

    #[test]
    fn settings_raise_the_bar_but_never_for_the_owner() {
        let s = RoomSettings {
            playback_role: Role::Owner,
            ..RoomSettings::default()
        };
        assert!(!allowed(Role::Admin, None, &s, Permission::Playback));
        assert!(allowed(Role::Owner, None, &s, Permission::Playback));
    }

    #[test]
    fn explicit_grants_replace_role_defaults() {
        let s = RoomSettings::default();
        let muted: Permissions = [Permission::Playback, Permission::Playlist]
            .into_iter()
            .collect();
        assert!(!allowed(Role::Member, Some(muted), &s, Permission::Chat));
        assert!(allowed(Role::Member, Some(muted), &s, Permission::Playback));
    }

    #[test]
    fn permissions_round_trip_as_names() {
        let p: Permissions = [Permission::Chat, Permission::Playlist]
            .into_iter()
            .collect();
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(json, r#"["chat","playlist"]"#);
        assert_eq!(serde_json::from_str::<Permissions>(&json).unwrap(), p);
        assert_eq!(Permissions::from_bits(p.bits()), p);
    }

    #[test]
    fn roles_are_ordered() {
        assert!(
            Role::Guest < Role::Member && Role::Member < Role::Admin && Role::Admin < Role::Owner
        );
        assert_eq!(Role::parse("admin"), Some(Role::Admin));
        assert_eq!(Role::parse("root"), None);
    }
}
