//! The one error type of synctv-cluster.

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Storage failed (loading a room, persisting an event's effects).
    #[error(transparent)]
    Store(#[from] synctv_core::Error),

    /// The room does not exist (or was deleted while joining).
    #[error("room not found")]
    RoomNotFound,

    /// The broker could not publish or read history (e.g. Redis unreachable).
    #[error("broker unavailable: {0}")]
    Broker(String),
}
