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

    /// The broker cannot be reached (connection lost, timeout): the node serves its own
    /// clients alone until it is back.
    #[error("broker unavailable: {0}")]
    Unavailable(String),

    /// The broker answered with an error, or something else went wrong in it.
    #[error("broker error: {0}")]
    Broker(String),
}

impl Error {
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Error::Unavailable(_))
    }
}
