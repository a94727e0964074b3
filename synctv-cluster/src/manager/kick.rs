//! Access changes acting on open sockets, on every node: after a room's settings, password
//! or membership change, the node that made the change closes the sockets that no longer
//! qualify on itself and broadcasts the same `kick` to the others (like a cache
//! invalidation), so every node closes its own. The closed clients may reconnect and are
//! then admitted, or not, by the new rules.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use synctv_core::ids::{RoomId, UserId};
use synctv_core::model::Role;

use super::ClusterManager;
use crate::outbound::CloseReason;

/// Whose sockets in a room to close.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "who", rename_all = "snake_case")]
pub enum Kick {
    /// Guest identities (the room stopped admitting guests): 4008.
    Guests,
    /// Everyone below admin (the password was set or changed): 4008.
    BelowAdmin,
    /// One user (removed or banned from the room): 4007.
    User { user: UserId },
}

impl ClusterManager {
    /// Close the matching sockets in `room` on every node.
    pub async fn kick(&self, room: &RoomId, kick: Kick) {
        self.kick_local(room, &kick);
        let msg = serde_json::json!({"type": "kick", "room": room, "kick": kick});
        if let Err(e) = self
            .inner
            .broker
            .broadcast(msg.to_string().as_bytes())
            .await
        {
            tracing::warn!(error = %e, %room, "kick not broadcast");
        }
    }

    /// Close every socket of `user`, in every room, on every node (account deleted).
    pub async fn kick_everywhere(&self, user: &UserId) {
        self.kick_user_local(user);
        let msg = serde_json::json!({"type": "kick_user", "user": user});
        if let Err(e) = self
            .inner
            .broker
            .broadcast(msg.to_string().as_bytes())
            .await
        {
            tracing::warn!(error = %e, %user, "kick not broadcast");
        }
    }

    pub(super) fn kick_user_local(&self, user: &UserId) -> usize {
        self.inner
            .conns
            .close_user(user, CloseReason::ACCOUNT_DELETED)
    }

    /// Close the matching sockets in `room` on this node; how many.
    pub(super) fn kick_local(&self, room: &RoomId, kick: &Kick) -> usize {
        let conns = &self.inner.conns;
        let n = match kick {
            Kick::Guests => conns.close_in_room(room, |e| e.guest, CloseReason::ACCESS_CHANGED),
            Kick::BelowAdmin => {
                let roles = self.roles_here(room);
                conns.close_in_room(
                    room,
                    |e| roles.get(&e.user).is_none_or(|r| *r < Role::Admin),
                    CloseReason::ACCESS_CHANGED,
                )
            }
            Kick::User { user } => {
                conns.close_in_room(room, |e| &e.user == user, CloseReason::REMOVED)
            }
        };
        if n > 0 {
            tracing::info!(%room, ?kick, closed = n, "closed sockets after an access change");
        }
        n
    }

    /// The current roles of the room's members on this node (from its room state, which
    /// `member_updated` events keep current).
    fn roles_here(&self, room: &RoomId) -> HashMap<UserId, Role> {
        let Some(r) = self.inner.hub.get(room) else {
            return HashMap::new();
        };
        let l = r.lock();
        l.state
            .as_ref()
            .map(|s| s.members.iter().map(|(u, m)| (u.clone(), m.role)).collect())
            .unwrap_or_default()
    }
}
