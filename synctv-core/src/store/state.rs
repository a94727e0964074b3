//! Loading a room's materialized state (room, playlist, playback, recent chat) from storage.

use sqlx::AnyConnection;

use super::{chat, movies, playback, rooms};
use crate::Result;
use crate::ids::RoomId;
use crate::room_state::RoomState;

/// The room's state as stored, or `None` if the room does not exist. Online members are not
/// stored; the caller adds them from the presence registry.
pub(super) async fn load_room_state(
    c: &mut AnyConnection,
    id: &RoomId,
    recent_chat: usize,
) -> Result<Option<RoomState>> {
    let Some(room) = rooms::get_room(&mut *c, id).await? else {
        return Ok(None);
    };
    let playlist = movies::playlist(&mut *c, id).await?;
    let playback = playback::get_playback(&mut *c, id).await?;
    let chat = chat::recent_chat(&mut *c, id, recent_chat).await?;
    Ok(Some(RoomState::new(
        room.info(),
        playlist,
        playback,
        chat,
        recent_chat,
    )))
}
