//! Room administration: changing and deleting rooms, and members' roles.

use axum::http::StatusCode;
use serde::Deserialize;
use synctv_cluster::manager::Kick;
use synctv_core::event::{MemberUpdate, RoomEvent};
use synctv_core::ids::UserId;
use synctv_core::model::{Member, Permissions, Role, RoomObject, SettingsPatch, validate};
use synctv_core::store::{RoomLock, RoomUpdate};

use super::access::Access;
use super::hash_password;
use crate::error::{Error, Result};
use crate::state::AppState;

/// Distinguish an absent field (`None`) from an explicit `null` (`Some(None)`).
fn double_option<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> std::result::Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// `PATCH /api/rooms/{id}`: absent fields stay; `"password": null` or `""` removes it.
#[derive(Debug, Default, Deserialize)]
pub struct RoomPatch {
    pub name: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    pub password: Option<Option<String>>,
    pub settings: Option<SettingsPatch>,
}

pub async fn update_room(
    state: &AppState,
    access: &Access,
    patch: RoomPatch,
) -> Result<RoomObject> {
    access.require_admin()?;
    let mut update = RoomUpdate::default();
    if let Some(name) = &patch.name {
        update.name = Some(validate::display_text(
            "name",
            name,
            state.config.rooms.max_name_len,
        )?);
    }
    if let Some(pw) = patch.password {
        update.password_hash = Some(match pw.filter(|p| !p.is_empty()) {
            Some(p) => {
                validate::password(&p, state.config.rooms.min_password_len)?;
                Some(hash_password(state, p).await?)
            }
            None => None,
        });
    }
    update.settings = patch.settings.clone();
    // Who no longer qualifies once this is stored.
    let mut kicks = Vec::new();
    if patch
        .settings
        .as_ref()
        .is_some_and(|s| s.guests_allowed == Some(false))
    {
        kicks.push(Kick::Guests);
    }
    if matches!(&update.password_hash, Some(Some(_))) {
        kicks.push(Kick::BelowAdmin);
    }
    let room_id = &access.room.room_id;
    let g = state.cluster.lock_room(room_id).await;
    let mut tx = state.store.room_tx(room_id, RoomLock::Change).await?;
    let record = tx.update_room(&update).await?;
    let object = RoomObject {
        info: record.info(),
        member_count: state.cluster.member_count(room_id).await,
        playback: tx.playback().await?,
    };
    let event = RoomEvent::RoomUpdated {
        room: object.clone(),
    };
    g.commit(tx, vec![(event, synctv_core::time::now_ms())])
        .await?;
    state.cluster.invalidate_room(room_id).await;
    for kick in kicks {
        state.cluster.kick(room_id, kick).await;
    }
    Ok(object)
}

/// Delete the room: connected clients get `room_deleted` and are closed with 4002.
pub async fn delete_room(state: &AppState, access: &Access) -> Result<()> {
    access.require_admin()?;
    let room_id = &access.room.room_id;
    let g = state.cluster.lock_room(room_id).await;
    let mut tx = state.store.room_tx(room_id, RoomLock::Exclusive).await?;
    if !tx.delete_room().await? {
        return Err(Error::room_not_found());
    }
    g.commit(
        tx,
        vec![(RoomEvent::RoomDeleted {}, synctv_core::time::now_ms())],
    )
    .await?;
    state.cluster.invalidate_room(room_id).await;
    Ok(())
}

/// `PATCH /api/rooms/{id}/members/{user_id}`.
#[derive(Debug, Default, Deserialize)]
pub struct MemberPatch {
    pub role: Option<Role>,
    /// A list of permission names, or `null` for the role's defaults.
    #[serde(default, deserialize_with = "double_option")]
    pub permissions: Option<Option<Permissions>>,
}

pub async fn update_member(
    state: &AppState,
    access: &Access,
    target: &UserId,
    patch: MemberPatch,
) -> Result<Member> {
    access.require_admin()?;
    let room_id = &access.room.room_id;
    // Read the member under the room row's exclusive lock: two concurrent patches (one of
    // the role, one of the permissions) then apply one after the other instead of each
    // writing back what it read before the other's change.
    let g = state.cluster.lock_room(room_id).await;
    let mut tx = state.store.room_tx(room_id, RoomLock::Exclusive).await?;
    let member = state
        .store
        .get_member(room_id, target)
        .await?
        .ok_or_else(|| Error::not_found("member_not_found", "no such member in this room"))?;
    if member.role == Role::Owner {
        return Err(Error::forbidden("the owner's role cannot be changed"));
    }
    let role = patch.role.unwrap_or(member.role);
    if matches!(role, Role::Owner | Role::Guest) {
        return Err(Error::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            "invalid role: must be admin or member",
        ));
    }
    if access.role != Role::Owner && (member.role == Role::Admin || role == Role::Admin) {
        return Err(Error::forbidden("only the owner manages admins"));
    }
    let permissions = patch.permissions.unwrap_or(member.permissions);
    if !tx.update_member(target, role, permissions).await? {
        return Err(Error::not_found(
            "member_not_found",
            "no such member in this room",
        ));
    }
    let event = RoomEvent::MemberUpdated(MemberUpdate {
        user_id: target.clone(),
        username: member.username.clone(),
        role,
        permissions,
    });
    g.commit(tx, vec![(event, synctv_core::time::now_ms())])
        .await?;
    state.cluster.invalidate_member(room_id, target).await;
    Ok(Member {
        role,
        permissions,
        ..member
    })
}

/// `DELETE /api/rooms/{id}/members/{user_id}[?ban=true]`: the user's membership row goes,
/// their open sockets in the room close with 4007 on every node, and with `ban` they cannot
/// enter again. The owner cannot be removed; only the owner removes admins.
pub async fn remove_member(
    state: &AppState,
    access: &Access,
    target: &UserId,
    ban: bool,
) -> Result<()> {
    access.require_admin()?;
    let room_id = &access.room.room_id;
    if target == &access.room.owner_id {
        return Err(Error::forbidden("the owner cannot be removed"));
    }
    let member = state.store.get_member(room_id, target).await?;
    if access.role != Role::Owner && member.as_ref().is_some_and(|m| m.role == Role::Admin) {
        return Err(Error::forbidden("only the owner manages admins"));
    }
    if ban {
        state.store.ban(room_id, target).await?;
    }
    let removed = state.store.remove_member(room_id, target).await?;
    state.cluster.invalidate_member(room_id, target).await;
    state
        .cluster
        .kick(
            room_id,
            Kick::User {
                user: target.clone(),
            },
        )
        .await;
    if !removed && !ban {
        return Err(Error::not_found(
            "member_not_found",
            "no such member in this room",
        ));
    }
    Ok(())
}
