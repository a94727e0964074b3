//! Who the caller is in a room, and whether they may enter it.
//!
//! Roles: the owner is the room's creator; admins and members come from the durable
//! membership rows; any other registered user counts as a member, and guest identities as
//! guests. Entering a room (WebSocket, playlist, chat history) additionally requires that
//! guests are admitted and, for password rooms, the password, except for the owner and
//! admins. Room rows and memberships come from the node's metadata cache, which every
//! change invalidates on every node.

use axum::http::StatusCode;
use synctv_core::ids::RoomId;
use synctv_core::model::{Permission, Permissions, Role, RoomRecord, allowed};

use super::verify_password;
use crate::error::{Error, Result};
use crate::extract::Actor;
use crate::state::AppState;

/// The caller's standing in one room.
#[derive(Debug, Clone)]
pub struct Access {
    pub room: RoomRecord,
    pub role: Role,
    pub permissions: Option<Permissions>,
    /// Whether the caller has a durable membership row in this room.
    pub stored_member: bool,
}

impl Access {
    pub fn may(&self, perm: Permission) -> bool {
        allowed(self.role, self.permissions, &self.room.settings, perm)
    }

    pub fn is_admin(&self) -> bool {
        self.role >= Role::Admin
    }

    pub fn require(&self, perm: Permission) -> Result<()> {
        if self.may(perm) {
            return Ok(());
        }
        let what = match perm {
            Permission::Chat => "chat in this room",
            Permission::Playback => "control playback in this room",
            Permission::Playlist => "edit this room's playlist",
        };
        Err(Error::forbidden(format!("your role may not {what}")))
    }

    pub fn require_admin(&self) -> Result<()> {
        if self.is_admin() {
            Ok(())
        } else {
            Err(Error::forbidden(
                "only the room's owner or an admin may do this",
            ))
        }
    }
}

/// The room and the caller's role in it (no admission checks).
pub async fn room_access(state: &AppState, room_id: &RoomId, actor: &Actor) -> Result<Access> {
    let room = state
        .cluster
        .cached_room(room_id)
        .await?
        .ok_or_else(Error::room_not_found)?;
    let row = if actor.guest {
        None
    } else {
        state.cluster.cached_member(room_id, &actor.user_id).await?
    };
    let stored_member = row.is_some();
    let (role, permissions) = if actor.user_id == room.owner_id {
        (Role::Owner, None)
    } else if actor.guest {
        (Role::Guest, None)
    } else {
        row.map_or((Role::Member, None), |m| (m.role, m.permissions))
    };
    Ok(Access {
        room,
        role,
        permissions,
        stored_member,
    })
}

/// `room_access` plus admission: guests must be admitted, and everyone below admin must
/// give the password of a password room.
pub async fn enter(
    state: &AppState,
    room_id: &RoomId,
    actor: &Actor,
    password: Option<&str>,
) -> Result<Access> {
    let access = room_access(state, room_id, actor).await?;
    if access.role != Role::Owner && state.store.is_banned(room_id, &actor.user_id).await? {
        return Err(Error::new(
            StatusCode::FORBIDDEN,
            "banned",
            "you were banned from this room",
        ));
    }
    if access.role == Role::Guest && !access.room.settings.guests_allowed {
        return Err(Error::new(
            StatusCode::FORBIDDEN,
            "guests_not_allowed",
            "this room does not admit guests",
        ));
    }
    if let Some(phc) = &access.room.password_hash
        && !access.is_admin()
    {
        let ok = match password {
            Some(pw) if !pw.is_empty() => {
                check_room_password(state, &access, actor, pw, phc).await?
            }
            _ => false,
        };
        if !ok {
            return Err(Error::new(
                StatusCode::FORBIDDEN,
                "wrong_room_password",
                if password.is_none_or(str::is_empty) {
                    "this room needs a password"
                } else {
                    "wrong room password"
                },
            ));
        }
    }
    Ok(access)
}

/// A room password given by `actor`: remembered right answers cost nothing; anything else
/// is an attempt (limited per room and client address) verified with argon2.
async fn check_room_password(
    state: &AppState,
    access: &Access,
    actor: &Actor,
    password: &str,
    phc: &str,
) -> Result<bool> {
    let room = &access.room.room_id;
    let t = &state.throttles;
    if t.known_password(&actor.user_id, room, password, phc) {
        return Ok(true);
    }
    t.room_password_attempt(room, actor.client)?;
    let ok = verify_password(state, password.to_string(), phc.to_string()).await?;
    if ok {
        t.remember_password(&actor.user_id, room, password, phc);
    }
    Ok(ok)
}
