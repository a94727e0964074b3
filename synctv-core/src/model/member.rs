//! Room membership: the durable `Member` row (role and explicit permissions of a registered
//! user in a room) and `MemberPresence`, a user who is online in the room right now.

use serde::{Deserialize, Serialize};

use super::{Permissions, Role};
use crate::ids::UserId;

/// A stored membership row (registered users only; guests are never stored).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Member {
    pub user_id: UserId,
    pub username: String,
    pub role: Role,
    /// Explicit permissions replacing the role's defaults; `None` = role defaults.
    pub permissions: Option<Permissions>,
    pub joined_at_ms: u64,
}

/// An online member as listed in a room snapshot: each user once, with how many
/// connections they have open.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemberPresence {
    pub user_id: UserId,
    pub username: String,
    pub role: Role,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub permissions: Option<Permissions>,
    pub connections: u32,
}
