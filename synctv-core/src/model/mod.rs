//! The room domain: who may do what (roles, permissions, settings), what a room holds
//! (playlist, playback, chat) and the validation rules for client-supplied values.
//! Pure data and rules; storage is in `store`, delivery in synctv-cluster.

mod chat;
mod member;
mod movie;
mod playback;
mod role;
mod room;
mod settings;
pub mod validate;

pub use chat::ChatMessage;
pub use member::{Member, MemberPresence};
pub use movie::Movie;
pub use playback::{PlaybackAction, PlaybackCommand, PlaybackError, PlaybackState};
pub use role::{Permission, Permissions, Role, allowed};
pub use room::{RoomInfo, RoomObject, RoomRecord};
pub use settings::{RoomSettings, SettingsPatch};
