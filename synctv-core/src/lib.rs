//! synctv-core: everything about a watch-together room that does not touch the network.
//!
//! Owns configuration, the domain model (rooms, members, permissions, playback, playlist,
//! chat), the room events and their wire encoding, the WebSocket protocol frames, the
//! materialized room state, storage (sqlx over PostgreSQL or embedded SQLite) and auth
//! (JWT, argon2). It does not own sockets, fan-out or HTTP: see synctv-cluster and synctv-api.

pub mod auth;
pub mod config;
pub mod error;
pub mod event;
pub mod ids;
pub mod model;
pub mod private_files;
pub mod protocol;
pub mod room_state;
pub mod store;
pub mod text;
pub mod time;

pub use error::{Error, Result};
