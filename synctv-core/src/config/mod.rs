//! Typed configuration. Every field has a default that works on a laptop (one node, SQLite
//! under `./data`, no Redis); `config.yaml` documents the same defaults for operators.
//! Loading (file, then `SYNCTV__SECTION__KEY` environment variables) and validation live in
//! [`load`]; this module only declares the shape.

mod load;
#[cfg(test)]
mod tests;

pub use load::{LoadOptions, SAMPLE_JWT_SECRET};

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub server: ServerConfig,
    pub database: DatabaseConfig,
    pub redis: RedisConfig,
    pub cluster: ClusterConfig,
    pub auth: AuthConfig,
    pub ws: WsConfig,
    pub rooms: RoomsConfig,
    pub limits: LimitsConfig,
    pub log: LogConfig,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Listen address.
    pub bind: SocketAddr,
    /// Address other nodes and operators should use to reach this node (cluster status).
    /// Empty: the bind address.
    pub public_address: String,
    /// Directory for node-local files: the SQLite database (default URL) and, on a single
    /// node without a configured secret, the generated JWT secret.
    pub data_dir: PathBuf,
    /// Seconds to keep serving connected clients after SIGTERM before closing them with 1001.
    pub shutdown_drain_secs: u64,
    /// `reconnect_after_ms` sent in the `shutdown` frame.
    pub shutdown_reconnect_after_ms: u64,
    /// Largest accepted HTTP request body.
    pub max_body_bytes: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            public_address: String::new(),
            data_dir: PathBuf::from("data"),
            shutdown_drain_secs: 10,
            shutdown_reconnect_after_ms: 1000,
            max_body_bytes: 64 * 1024,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `sqlite://path` (embedded, created if missing) or `postgres://user@host/db`.
    pub url: String,
    pub max_connections: u32,
    /// How long a request waits for a pooled connection before failing (and /ready reports
    /// the database as down).
    pub acquire_timeout_secs: u64,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: "sqlite://data/synctv.db".into(),
            max_connections: 10,
            acquire_timeout_secs: 5,
        }
    }
}

impl DatabaseConfig {
    /// True when the URL names a PostgreSQL server, i.e. a database other nodes can share.
    pub fn is_shared(&self) -> bool {
        self.url.starts_with("postgres://") || self.url.starts_with("postgresql://")
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RedisConfig {
    /// Empty: single-node mode (no Redis). Otherwise `redis://host:port`.
    pub url: String,
    /// Prefix of every key and channel this deployment uses.
    pub key_prefix: String,
    /// True when `url` points at a Redis Cluster.
    pub cluster_mode: bool,
}

impl Default for RedisConfig {
    fn default() -> Self {
        Self {
            url: String::new(),
            key_prefix: "synctv:".into(),
            cluster_mode: false,
        }
    }
}

impl RedisConfig {
    pub fn enabled(&self) -> bool {
        !self.url.trim().is_empty()
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClusterConfig {
    /// This node's name in cluster status. Empty: `NODE_NAME`, else the host name.
    pub node_name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// HMAC secret for JWTs, shared by every node of a cluster. Empty on a single node with
    /// SQLite: a random secret is generated once and kept in `<data_dir>/jwt_secret`.
    pub jwt_secret: String,
    /// Token lifetime.
    pub token_ttl_secs: u64,
    /// Whether guest identities may create rooms (they become the room's owner).
    pub guests_may_create_rooms: bool,
    /// Shortest accepted account password. The wire contract states no rule, so the default
    /// is lenient; raise it for public deployments.
    pub min_password_len: usize,
    /// argon2id memory cost in KiB (OWASP minimum: 19456).
    pub password_hash_memory_kib: u32,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            jwt_secret: String::new(),
            token_ttl_secs: 7 * 24 * 3600,
            guests_may_create_rooms: true,
            min_password_len: 4,
            password_hash_memory_kib: 19456,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WsConfig {
    /// tungstenite read buffer per socket (axum's default is 128 KiB; a few KiB is enough).
    pub read_buffer_bytes: usize,
    /// tungstenite write buffer target per socket.
    pub write_buffer_bytes: usize,
    /// Largest accepted client message; larger ones close the socket with 1009.
    pub max_message_bytes: usize,
    /// Frames queued for one socket before it counts as too slow and is closed with 4003.
    pub send_queue_len: usize,
    /// How often the shared ticker pings every socket.
    pub heartbeat_interval_secs: u64,
    /// A socket that sent nothing (not even a pong) for this long is closed with 4004.
    pub idle_timeout_secs: u64,
    /// After deciding to close a socket, how long its writer may keep flushing queued bytes.
    pub close_grace_ms: u64,
    /// Sustained client frames per second per socket, and the burst allowed above it.
    pub rate_per_sec: u32,
    pub rate_burst: u32,
    /// Rejected (rate-limited) frames in a row before the socket is closed with 1008.
    pub max_rate_violations: u32,
}

impl Default for WsConfig {
    fn default() -> Self {
        Self {
            read_buffer_bytes: 4096,
            write_buffer_bytes: 4096,
            max_message_bytes: 64 * 1024,
            send_queue_len: 512,
            heartbeat_interval_secs: 20,
            idle_timeout_secs: 60,
            close_grace_ms: 5000,
            rate_per_sec: 20,
            rate_burst: 60,
            max_rate_violations: 100,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RoomsConfig {
    /// Events kept per room for `since` resumes (like Centrifugo's history_size).
    pub history_size: usize,
    /// How long those events stay available (like Centrifugo's history_ttl).
    pub history_ttl_secs: u64,
    /// Chat messages included in a room snapshot.
    pub recent_chat: usize,
    pub max_chat_len: usize,
    pub max_name_len: usize,
    pub max_movie_url_len: usize,
    pub max_movie_title_len: usize,
    /// Movies a playlist may hold.
    pub max_playlist_len: usize,
    /// How often idle rooms and expired history are swept from memory.
    pub sweep_interval_secs: u64,
}

impl Default for RoomsConfig {
    fn default() -> Self {
        Self {
            history_size: 1000,
            history_ttl_secs: 300,
            recent_chat: 50,
            max_chat_len: 2000,
            max_name_len: 100,
            max_movie_url_len: 2048,
            max_movie_title_len: 200,
            max_playlist_len: 500,
            sweep_interval_secs: 30,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// WebSocket connections this node accepts at once (one process may open 20,000 files).
    pub max_connections: usize,
    /// Register/login requests per second per client IP (0 disables), and the burst.
    pub auth_per_sec: u32,
    pub auth_burst: u32,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            max_connections: 16_000,
            auth_per_sec: 20,
            auth_burst: 100,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// A tracing filter (`info`, `synctv_api=debug,info`); `RUST_LOG` wins when set.
    pub level: String,
    /// `text` or `json`.
    pub format: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            level: "info".into(),
            format: "text".into(),
        }
    }
}
