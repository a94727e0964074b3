//! Sending chat messages.

use synctv_core::event::RoomEvent;
use synctv_core::ids::{MessageId, RoomId};
use synctv_core::model::{ChatMessage, Permission, validate};
use synctv_core::store::RoomLock;

use crate::error::{Error, Result};
use crate::extract::Actor;
use crate::state::AppState;

/// Store and publish a chat message; returns its event's `seq`. The sender must be online in
/// the room (the permission check reads the live room state).
pub async fn send(state: &AppState, room: &RoomId, actor: &Actor, text: &str) -> Result<u64> {
    let text = validate::chat_text(text, state.config.rooms.max_chat_len)?;
    let g = state.cluster.lock_room(room).await;
    if !g.may(&actor.user_id, Permission::Chat) {
        return Err(Error::forbidden("your role may not chat in this room"));
    }
    let msg = ChatMessage {
        message_id: MessageId::generate(),
        user_id: actor.user_id.clone(),
        username: actor.username.clone(),
        text,
    };
    let ts = synctv_core::time::now_ms();
    let mut tx = state.store.room_tx(room, RoomLock::ByInsert).await?;
    tx.insert_chat(&msg, ts).await?;
    Ok(g.commit(tx, vec![(RoomEvent::Chat(msg), ts)]).await?)
}
