//! Changing the shared playback state (last-writer-wins by `version`).
//!
//! The stored playback is changed by one conditional update (`WHERE version = <base>`), so
//! of two nodes racing from the same version exactly one wins; the other answers
//! `version_conflict` when the client named a `base_version`, and otherwise recomputes its
//! change on the version that won.

use synctv_cluster::manager::RoomGuard;
use synctv_core::event::{PlaybackChange, RoomEvent};
use synctv_core::ids::{RoomId, UserId};
use synctv_core::model::{Permission, PlaybackCommand, PlaybackError, PlaybackState};
use synctv_core::store::{RoomLock, RoomTx};

use crate::error::{Error, Result};
use crate::extract::Actor;
use crate::state::AppState;

/// Attempts at a change without `base_version` when other nodes keep winning.
const RETRIES: usize = 5;

/// Apply `cmd` to the room's playback, store the new state and publish it; returns the
/// event's `seq`.
pub async fn control(
    state: &AppState,
    room: &RoomId,
    actor: &Actor,
    cmd: &PlaybackCommand,
) -> Result<u64> {
    let g = state.cluster.lock_room(room).await;
    let mut current = g
        .read(|s| s.playback.clone())
        .ok_or_else(Error::room_not_found)?;
    if !g.may(&actor.user_id, Permission::Playback) {
        return Err(Error::forbidden(
            "your role may not control playback in this room",
        ));
    }
    let mut tx = state.store.room_tx(room, RoomLock::Change).await?;
    // This node's view may lag behind a change another node just made: the stored state
    // decides.
    if cmd.base_version.is_some_and(|b| b != current.version) {
        current = tx.playback().await?;
    }
    for _ in 0..RETRIES {
        let now = synctv_core::time::now_ms();
        let next = g
            .read(|s| current.apply(cmd, now, |id| s.has_movie(id)))
            .ok_or_else(Error::room_not_found)??;
        if tx
            .save_playback(&next, &actor.user_id, current.version)
            .await?
        {
            return commit(&g, tx, next, &actor.user_id, now).await;
        }
        let stored = tx.playback().await?;
        if let Some(base) = cmd.base_version {
            return Err(PlaybackError::VersionConflict {
                base,
                current: stored.version,
            }
            .into());
        }
        current = stored;
    }
    Err(Error::new(
        axum::http::StatusCode::CONFLICT,
        "version_conflict",
        "playback keeps changing; try again",
    ))
}

/// Publish a stored playback state as a `playback` event and commit; returns its `seq`.
pub(super) async fn commit(
    g: &RoomGuard,
    tx: RoomTx,
    next: PlaybackState,
    by: &UserId,
    now: u64,
) -> Result<u64> {
    let change = PlaybackChange {
        state: next,
        user_id: by.clone(),
    };
    Ok(g.commit(tx, vec![(RoomEvent::Playback(change), now)])
        .await?)
}
