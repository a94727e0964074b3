//! A chat message. The wire shape is exactly the contract's `chat` event data.

use serde::{Deserialize, Serialize};

use crate::ids::{MessageId, UserId};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    pub message_id: MessageId,
    pub user_id: UserId,
    pub username: String,
    pub text: String,
}
