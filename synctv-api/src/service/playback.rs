//! Changing the shared playback state (last-writer-wins by `version`).

use synctv_core::event::{PlaybackChange, RoomEvent};
use synctv_core::ids::RoomId;
use synctv_core::model::{Permission, PlaybackCommand};

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
    state
        .store
        .save_playback(room, &next, &actor.user_id)
        .await?;
    let change = PlaybackChange {
        state: next,
        user_id: actor.user_id.clone(),
    };
    Ok(g.publish_at(RoomEvent::Playback(change), now).await?)
}
