//! synctv-cluster: getting room events to every socket that should see them, on one node or
//! many.
//!
//! - [`hub::RoomMessageHub`]: this node's rooms, their materialized state and subscribers;
//!   applies each event exactly once in `seq` order and fans its bytes out to local sockets.
//!   Never touches the network.
//! - [`broker::Broker`]: the seam between nodes: each room's gapless `seq` and `epoch`, its
//!   replay history, cluster-wide presence, and delivery to the other nodes.
//!   [`broker::LocalBroker`] serves one process, [`redis::RedisBroker`] a cluster (Redis or
//!   Redis Cluster).
//! - [`manager::ClusterManager`]: the one API the gateway uses (room lock, join, leave,
//!   changes), identical in single-node and cluster mode; it also repairs gaps, reconciles
//!   after outages, heartbeats and cleans up after dead nodes.
//! - [`registry`], [`lock`], [`cache`], [`dedup`]: the node registry, distributed locks,
//!   the room metadata cache and the echo deduplicator.
//! - [`connection::ConnectionManager`]: every socket of this node, its limits, heartbeat and
//!   shutdown broadcast; [`outbound`]: the bounded per-socket queue and close signalling.

pub mod broker;
pub mod cache;
pub mod connection;
pub mod dedup;
pub mod error;
pub mod history;
pub mod hub;
pub mod lock;
pub mod manager;
pub mod metrics;
pub mod node;
pub mod outbound;
pub mod redis;
pub mod registry;

pub use error::{Error, Result};
