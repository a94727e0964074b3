//! Changing the shared playback state (last-writer-wins by `version`).

use synctv_cluster::manager::RoomGuard;
use synctv_core::event::{PlaybackChange, RoomEvent};
use synctv_core::ids::{RoomId, UserId};
use synctv_core::model::{Permission, PlaybackCommand, PlaybackState};

use crate::error::{Error, Result};
use crate::extract::Actor;
use crate::state::AppState;

/// Apply `cmd` to the room's playback, persist the new state and publish it; returns the
/// event's `seq`. The check, the write and the publish happen under the room lock, so
/// versions are strictly sequential and a stale `base_version` is always detected.
pub async fn control(
    state: &AppState,
    room: &RoomId,
    actor: &Actor,
    cmd: &PlaybackCommand,
) -> Result<u64> {
    let g = state.cluster.lock_room(room).await;
    if !g.load().await? {
        return Err(Error::room_not_found());
    }
    let now = synctv_core::time::now_ms();
    let next = g
        .read(|s| {
            if !s.may(&actor.user_id, Permission::Playback) {
                return Err(Error::forbidden(
                    "your role may not control playback in this room",
                ));
            }
            s.playback
                .apply(cmd, now, |id| s.has_movie(id))
                .map_err(Error::from)
        })
        .ok_or_else(Error::room_not_found)??;
    commit(state, &g, next, &actor.user_id, now).await
}

/// Store a new playback state and publish it as a `playback` event (the caller holds the
/// room lock `g`); returns the event's `seq`.
pub(super) async fn commit(
    state: &AppState,
    g: &RoomGuard,
    next: PlaybackState,
    by: &UserId,
    now: u64,
) -> Result<u64> {
    state.store.save_playback(g.room_id(), &next, by).await?;
    let change = PlaybackChange {
        state: next,
        user_id: by.clone(),
    };
    Ok(g.publish_at(RoomEvent::Playback(change), now).await?)
}
