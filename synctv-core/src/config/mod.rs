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
    pub metrics: MetricsConfig,
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
    /// `reconnect_after_ms` sent in the `shutdown` frame: at least this...
    pub shutdown_reconnect_after_ms: u64,
    /// ...plus a per-client share of this, so clients of a stopping node do not all
    /// reconnect to the others at the same moment.
    pub shutdown_reconnect_jitter_ms: u64,
    /// Largest accepted HTTP request body.
    pub max_body_bytes: usize,
    /// Load balancers and proxies (IP addresses or CIDR ranges) whose `X-Forwarded-For`
    /// is believed: the client address is the rightmost address in it not in this list.
    /// Empty: the TCP peer is the client.
    pub trusted_proxies: Vec<String>,
    /// A request (its head, then its body) must arrive within this long of its first byte,
    /// and the first request within this long of the connection: a client that sends half a
    /// request and waits is disconnected instead of holding a file descriptor forever.
    pub header_read_timeout_secs: u64,
    /// A keep-alive connection with no request for this long is closed. WebSocket
    /// connections are not affected (they have their own heartbeat, `ws.idle_timeout_secs`).
    pub http_idle_timeout_secs: u64,
    /// TCP connections this node keeps open at once, WebSockets included; beyond it a new
    /// connection gets an immediate 503 `overloaded` and is closed. Never more than the
    /// process's soft open-file limit minus a reserve for the database, Redis and logs.
    pub max_http_connections: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            public_address: String::new(),
            data_dir: PathBuf::from("data"),
            shutdown_drain_secs: 10,
            shutdown_reconnect_after_ms: 1000,
            shutdown_reconnect_jitter_ms: 4000,
            max_body_bytes: 64 * 1024,
            trusted_proxies: Vec::new(),
            header_read_timeout_secs: 10,
            http_idle_timeout_secs: 60,
            max_http_connections: 110_000,
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
    /// SQLite's `synchronous` setting (WAL mode). `full`: a commit is fsynced before it
    /// returns, so an acknowledged change survives a power loss. `normal`: faster commits,
    /// but the last ones before a power loss or kernel crash may be lost. Ignored for
    /// PostgreSQL, whose `synchronous_commit` must stay `on` for the same promise.
    pub sqlite_synchronous: SqliteSynchronous,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: "sqlite://data/synctv.db".into(),
            max_connections: 10,
            acquire_timeout_secs: 5,
            sqlite_synchronous: SqliteSynchronous::Full,
        }
    }
}

/// `database.sqlite_synchronous`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SqliteSynchronous {
    /// fsync every commit: acknowledged means durable.
    #[default]
    Full,
    /// fsync only at checkpoints: the newest commits may be lost on power loss.
    Normal,
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
    /// Empty: single-node mode (no Redis). Otherwise `redis://host:port` (`rediss://` for TLS).
    /// With `cluster_mode`, one or more seed nodes separated by commas.
    pub url: String,
    /// Prefix of every key and channel this deployment uses.
    pub key_prefix: String,
    /// True when `url` points at a Redis Cluster (sharded pub/sub, hash-tagged keys).
    pub cluster_mode: bool,
    /// How long a node remembers the ids of events it sent, to drop their echo from Redis.
    pub dedup_window_secs: u64,
    /// Events remembered for that (bounds the deduplicator's memory).
    pub dedup_capacity: usize,
    /// A Redis command that takes longer fails; the node then serves its clients alone.
    pub command_timeout_ms: u64,
    /// Connecting to Redis (at start and on reconnects) gives up after this long.
    pub connect_timeout_ms: u64,
    /// How often each node publishes its canary through Redis and expects it back.
    pub canary_interval_ms: u64,
    /// A canary not back within this long marks Redis as failing (`/ready` says so) and
    /// restarts the subscription.
    pub canary_timeout_ms: u64,
    /// Reconnect backoff: first delay and cap.
    pub reconnect_min_ms: u64,
    pub reconnect_max_ms: u64,
    /// A node that received its own event before an earlier one waits this long for the
    /// earlier one to arrive before reading it from the room's stream.
    pub gap_timeout_ms: u64,
    /// A room's seq/epoch hash lives this long after the room's last event (it must outlive
    /// the replay history; an idle room costs one small hash until then).
    pub meta_ttl_secs: u64,
}

impl Default for RedisConfig {
    fn default() -> Self {
        Self {
            url: String::new(),
            key_prefix: "synctv:".into(),
            cluster_mode: false,
            dedup_window_secs: 60,
            dedup_capacity: 100_000,
            command_timeout_ms: 1000,
            connect_timeout_ms: 2000,
            canary_interval_ms: 1000,
            canary_timeout_ms: 3000,
            reconnect_min_ms: 100,
            reconnect_max_ms: 5000,
            gap_timeout_ms: 250,
            meta_ttl_secs: 86_400,
        }
    }
}

impl RedisConfig {
    pub fn enabled(&self) -> bool {
        !self.url.trim().is_empty()
    }

    /// The seed URLs (`url` split at commas).
    pub fn urls(&self) -> Vec<String> {
        self.url
            .split(',')
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .map(String::from)
            .collect()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClusterConfig {
    /// This node's name in cluster status. Empty: `NODE_NAME`, else the host name.
    pub node_name: String,
    /// A node's registry entry expires this long after its last heartbeat; a surviving node
    /// then removes the dead node's users from presence.
    pub node_ttl_secs: u64,
    /// Enables the operator API (`Authorization: Bearer <token>`). Empty: disabled.
    pub operator_token: String,
    /// Distributed locks (migrations, housekeeping) expire after this long if their holder
    /// dies without releasing them.
    pub lock_ttl_secs: u64,
    /// How often a node looks for dead nodes and runs the cluster's housekeeping.
    pub housekeeping_interval_secs: u64,
    /// How long a node caches room metadata (settings, roles, password hash) at most;
    /// changes invalidate the cache on every node at once, this only bounds staleness if an
    /// invalidation is lost.
    pub cache_ttl_secs: u64,
    /// Room metadata entries cached per node.
    pub cache_capacity: usize,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        Self {
            node_name: String::new(),
            node_ttl_secs: 15,
            operator_token: String::new(),
            lock_ttl_secs: 60,
            housekeeping_interval_secs: 2,
            cache_ttl_secs: 30,
            cache_capacity: 10_000,
        }
    }
}

impl ClusterConfig {
    /// Heartbeats go out three times per TTL, so one lost heartbeat never expires a node.
    pub fn heartbeat_interval_ms(&self) -> u64 {
        (self.node_ttl_secs * 1000 / 3).max(200)
    }
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
    /// A socket open this long is closed with 4006 (reconnect to resume; 0: no limit).
    pub max_connection_secs: u64,
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
            max_connection_secs: 24 * 3600,
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
    /// Shortest room password.
    pub min_password_len: usize,
    /// Movies a playlist may hold.
    pub max_playlist_len: usize,
    /// Bytes of URLs and titles a playlist may hold together (it travels in every welcome).
    pub max_playlist_bytes: usize,
    /// How often idle rooms and expired history are swept from memory.
    pub sweep_interval_secs: u64,
    /// Chat messages older than this are deleted (0 keeps them forever).
    pub chat_retention_days: u64,
    /// At most this many chat messages are kept per room, the newest (0: no limit).
    pub chat_retention_per_room: u64,
    /// How often the chat retention runs (on one node of a cluster at a time).
    pub chat_retention_interval_secs: u64,
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
            min_password_len: 6,
            max_playlist_len: 500,
            max_playlist_bytes: 256 * 1024,
            sweep_interval_secs: 30,
            chat_retention_days: 90,
            chat_retention_per_room: 10_000,
            chat_retention_interval_secs: 3600,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// WebSocket connections this node accepts at once; lowered at start to what the
    /// process's file limit allows (see `limits::effective_max_connections`).
    pub max_connections: usize,
    /// Sockets one user may hold on this node (0: no limit).
    pub max_connections_per_user: usize,
    /// Sockets one room may hold on this node (0: no limit). It also bounds the member list
    /// of a welcome snapshot (see `RoomsConfig::welcome_max_bytes`).
    pub max_connections_per_room: usize,
    /// Sockets one client address may hold on this node (0: no limit).
    pub max_connections_per_address: usize,
    /// Register/login requests per second per client IP (0 disables), and the burst.
    pub auth_per_sec: u32,
    pub auth_burst: u32,
    /// argon2 hashes/verifications running at once (0: the number of cores).
    pub password_hash_concurrency: usize,
    /// Room-password attempts per minute per room and client address, and per room from
    /// all addresses together (0 disables each).
    pub room_password_attempts_per_min: u32,
    pub room_password_attempts_per_room_per_min: u32,
    /// Guest identities per minute per client address (0 disables).
    pub guests_per_min: u32,
    /// Rooms created per minute per client address (0 disables).
    pub rooms_per_min: u32,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            max_connections: 100_000,
            max_connections_per_user: 10,
            max_connections_per_room: 1000,
            max_connections_per_address: 100,
            auth_per_sec: 20,
            auth_burst: 100,
            password_hash_concurrency: 0,
            room_password_attempts_per_min: 10,
            room_password_attempts_per_room_per_min: 100,
            guests_per_min: 30,
            rooms_per_min: 10,
        }
    }
}

/// Per-room and per-user series are bounded: with 100k rooms and users, one series each
/// would make every scrape megabytes and the server's metric memory grow with its users.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    /// `synctv_connections_per_room{room,node}` for this many rooms with the most sockets
    /// on the node, computed at each scrape (0: none).
    pub per_room_top: usize,
    /// `synctv_connections_per_user{user,node}` likewise (0: none).
    pub per_user_top: usize,
    /// Label `synctv_events_published_total` by room as well as by type: one series per
    /// room ever active on the node, so only for small deployments.
    pub per_room_events: bool,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        Self {
            per_room_top: 20,
            per_user_top: 20,
            per_room_events: false,
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
