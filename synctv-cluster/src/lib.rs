//! synctv-cluster: getting room events to every socket that should see them.
//!
//! - [`hub::RoomMessageHub`]: this node's rooms, their materialized state and subscribers;
//!   fans each event's bytes out to local sockets. Never touches the network.
//! - [`broker::Broker`]: the seam between nodes. It assigns each room's gapless `seq`, keeps
//!   the replay history and carries events to every node's hub. [`broker::LocalBroker`]
//!   serves a single node; a Redis broker slots in behind the same trait.
//! - [`manager::ClusterManager`]: the one API the gateway uses (room lock, join, leave,
//!   publish), identical in single-node and cluster mode.
//! - [`connection::ConnectionManager`]: every socket of this node, its limits, heartbeat and
//!   shutdown broadcast.
//! - [`outbound`]: the bounded per-socket queue and close signalling.

pub mod broker;
pub mod connection;
pub mod error;
pub mod history;
pub mod hub;
pub mod manager;
pub mod metrics;
pub mod node;
pub mod outbound;

pub use error::{Error, Result};
