//! Room operations shared by the REST routes and the WebSocket gateway. Each one authorizes
//! the caller, validates input, then (under the room's write lock, in a room transaction)
//! stores, publishes and commits, so an acknowledged change is durable and reaches every
//! member, on every node, in `seq` order.

pub mod access;
pub mod admin;
pub mod chat;
pub mod identity;
pub mod playback;
pub mod playlist;

use synctv_core::model::{RoomObject, RoomRecord};

use crate::Result;
use crate::state::AppState;

/// The room object of the contract: stored room, users online now, current playback.
pub async fn room_object(state: &AppState, room: &RoomRecord) -> Result<RoomObject> {
    Ok(RoomObject {
        info: room.info(),
        member_count: state.cluster.member_count(&room.room_id).await,
        playback: state.store.get_playback(&room.room_id).await?,
    })
}

/// Run argon2 off the async executor, on one of the bounded hashing slots.
pub async fn hash_password(state: &AppState, password: String) -> Result<String> {
    let _slot = state.throttles.hashing().await?;
    let hasher = state.hasher.clone();
    let phc = tokio::task::spawn_blocking(move || hasher.hash(&password))
        .await
        .map_err(|e| synctv_core::Error::PasswordHash(e.to_string()))??;
    Ok(phc)
}

/// Verify a password against a PHC string off the async executor, on one of the bounded
/// hashing slots.
pub async fn verify_password(state: &AppState, password: String, phc: String) -> Result<bool> {
    let _slot = state.throttles.hashing().await?;
    let hasher = state.hasher.clone();
    let ok = tokio::task::spawn_blocking(move || hasher.verify(&password, &phc))
        .await
        .map_err(|e| synctv_core::Error::PasswordHash(e.to_string()))??;
    Ok(ok)
}
