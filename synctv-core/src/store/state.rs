//! Loading a room's materialized state (room, playlist, playback, recent chat) from storage.

use super::Store;
use crate::Result;
use crate::ids::RoomId;
use crate::room_state::RoomState;

impl Store {
    /// The room's state as stored, or `None` if the room does not exist. Online members are
    /// not stored; the caller adds them as they connect.
    pub async fn load_room_state(
        &self,
        id: &RoomId,
        recent_chat: usize,
    ) -> Result<Option<RoomState>> {
        let Some(room) = self.get_room(id).await? else {
            return Ok(None);
        };
        let playlist = self.playlist(id).await?;
        let playback = self.get_playback(id).await?;
        let chat = self.recent_chat(id, recent_chat).await?;
        Ok(Some(RoomState::new(
            room.info(),
            playlist,
            playback,
            chat,
            recent_chat,
        )))
    }
}
